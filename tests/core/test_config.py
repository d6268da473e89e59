"""One config file, every key overridable by AFFNET_*, a clear line for a wrong value."""

from decimal import Decimal

import pytest

from affnet.config import ConfigError, load_settings


def write(tmp_path, text):
    path = tmp_path / "affnet.toml"
    path.write_text(text)
    return path


def test_defaults_apply_without_a_file():
    settings = load_settings(None, environ={})
    assert settings["database_url"] == "sqlite:///instance/affnet.db"
    assert settings["settings.change_delay_hours"] == 24
    assert settings["payouts.minimum"] == Decimal("50")


def test_the_file_sets_keys_by_section(tmp_path):
    path = write(tmp_path, '[tracking]\nfallback_url = "https://n.example/"\n[payouts]\nminimum = "75.5"\n')
    settings = load_settings(path, environ={})
    assert settings["tracking.fallback_url"] == "https://n.example/"
    assert settings["payouts.minimum"] == Decimal("75.5")


def test_every_key_is_overridden_by_its_environment_variable(tmp_path):
    path = write(tmp_path, '[server]\nport = 9000\n')
    settings = load_settings(
        path,
        environ={
            "AFFNET_SERVER_PORT": "9100",
            "AFFNET_PLUGINS_ENABLED": "keitaro, fb_capi",
            "AFFNET_DELIVERIES_ALLOW_PRIVATE_TARGETS": "true",
        },
    )
    assert settings["server.port"] == 9100
    assert settings["plugins.enabled"] == ["keitaro", "fb_capi"]
    assert settings["deliveries.allow_private_targets"] is True


def test_config_file_comes_from_affnet_config(tmp_path):
    path = write(tmp_path, 'log_level = "debug"\n')
    assert load_settings(None, environ={"AFFNET_CONFIG": str(path)})["log_level"] == "DEBUG"


@pytest.mark.parametrize(
    "text, key",
    [
        ('[server]\nport = "eighty"\n', "server.port"),
        ('[tracking]\nfallback_url = "ftp://x"\n', "tracking.fallback_url"),
        ('database_url = "mysql://x"\n', "database_url"),
        ('[payouts]\nminimum = "-1"\n', "payouts.minimum"),
        ('[payouts]\nminimums = "JPY:7000"\n', "payouts.minimums"),
        ('[payouts]\nweekday = "someday"\n', "payouts.weekday"),
        ('[payouts]\ntime = "25:00"\n', "payouts.time"),
        ('[payouts]\nmode = "sometimes"\n', "payouts.mode"),
        ('[tracking]\ncookie_secure = "sometimes"\n', "tracking.cookie_secure"),
        ('[trackin]\nfallback_url = ""\n', "trackin.fallback_url"),
        ('[ingest]\nrate_limit = "lots"\n', "ingest.rate_limit"),
    ],
)
def test_a_wrong_value_stops_start_up_with_one_line_naming_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text), environ={})
    assert key in str(error.value) and "\n" not in str(error.value)


def test_a_wrong_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="AFFNET_WORKER_BATCH_SIZE"):
        load_settings(None, environ={"AFFNET_WORKER_BATCH_SIZE": "many"})


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_broken_toml_is_reported_with_the_file(tmp_path):
    with pytest.raises(ConfigError, match="affnet.toml"):
        load_settings(write(tmp_path, "this is = = not toml"), environ={})


def test_plugin_sections_are_handed_to_their_plugin(tmp_path):
    settings = load_settings(write(tmp_path, '[plugin.fb_capi]\ngraph_version = "v21.0"\n'), environ={})
    assert settings.plugin_config("fb_capi") == {"graph_version": "v21.0"}
    assert settings.plugin_config("keitaro") == {}


def test_payout_minimums_are_read_per_currency(tmp_path):
    settings = load_settings(write(tmp_path, '[payouts]\nminimums = "jpy=7000, EUR=40.5"\n'), environ={})
    assert settings["payouts.minimums"] == {"JPY": Decimal("7000"), "EUR": Decimal("40.5")}
    assert load_settings(None, environ={})["payouts.minimums"] == {}, "none of their own by default"


def test_the_older_name_of_the_rate_limit_storage_is_still_read(tmp_path):
    path = tmp_path / "affnet.toml"
    path.write_text('[ingest]\nrate_limit_storage = "redis://127.0.0.1:6379/2"\n')
    assert load_settings(path, environ={})["rate_limit_storage"] == "redis://127.0.0.1:6379/2"


def test_a_rate_limit_storage_that_is_neither_memory_nor_redis_stops_start_up():
    with pytest.raises(ConfigError, match="rate_limit_storage"):
        load_settings(None, overrides={"rate_limit_storage": "memcached://127.0.0.1:11211"}, environ={})
