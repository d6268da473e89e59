"""The pixel's access token is a secret: encrypted at rest, shown only by its
last four characters, never logged, never in an error or a delivery log."""

import logging
from pathlib import Path

from click.testing import CliRunner

from affnet.cli import cli
from affnet.commands import register_all

from affnet.core.deliveries import outbox, setting_versions
from affnet.core.storage.db import db, is_postgres
from affnet.core.storage.models import ALL_MODELS, Delivery, DeliveryAttempt, SettingVersion
from affnet.testing import click_id_of, ingest, sale_body
from fb_capi_fake_graph import VALID_TOKEN, meta_error
from test_fb_capi_delivery import PIXEL, sample_test_event

REVOKED = "EAAGrevokedSECRETtokenNoOneMaySee0000wxyz"


def database_text(settings) -> bytes:
    """Everything the database holds: the SQLite files' bytes (with the WAL),
    or every row of every table as text on PostgreSQL."""
    if is_postgres():
        rows = []
        for model in ALL_MODELS:
            table = model._meta.table_name
            rows += [row[0] for row in db.execute_sql(f'SELECT CAST(t AS text) FROM "{table}" t').fetchall()]
        return "\n".join(rows).encode()
    path = Path(settings.database_url.split("sqlite:///", 1)[1])
    return b"".join(
        Path(str(path) + suffix).read_bytes()
        for suffix in ("", "-wal", "-shm", "-journal")
        if Path(str(path) + suffix).exists()
    )


def test_the_token_is_nowhere_in_plain_text_database_logs_or_outputs(
    affnet_client,
    affnet_services,
    affnet_settings,
    affnet_network,
    affnet_worker,
    affnet_clock,
    fake_graph,
    caplog,
    capsys,
):
    caplog.set_level(logging.DEBUG)
    kind = affnet_services.registry.kinds["fb_capi"]
    version, _ = setting_versions.save(
        kind, affnet_network.affiliate, {"pixel_id": PIXEL, "access_token": VALID_TOKEN, "test_event_code": "TEST1"}
    )
    other = affnet_network.add_affiliate("revoked@example.com")
    setting_versions.save(kind, other.affiliate, {"pixel_id": PIXEL, "access_token": REVOKED})
    outputs = []
    for ref, payment in ((affnet_network.ref, "pi_1"), (other.ref_code, "pi_2")):
        response = affnet_client.get("/r", query_string={"ref": ref, "fbclid": "IwAR1"}, headers={"User-Agent": "UA"})
        answer = ingest(affnet_client, affnet_network, "conversion", sale_body(click_id_of(response), payment=payment))
        outputs += [response.get_data(as_text=True), answer.get_data(as_text=True)]
    fake_graph.answer_next(503, meta_error("Service temporarily unavailable", 2, is_transient=True))
    affnet_worker.run_once()
    affnet_clock.advance(hours=1)
    affnet_worker.run_once()
    for token in (VALID_TOKEN, REVOKED):
        values = {"pixel_id": PIXEL, "access_token": token, "test_event_code": "TEST1"}
        outbox.send_test(
            affnet_services.pm,
            affnet_services.registry,
            affnet_services.plugin_config,
            "fb_capi",
            sample_test_event(affnet_network),
            values,
        )
    statuses = sorted((d.is_test, d.status) for d in Delivery.select())
    assert statuses == [(False, "failed"), (False, "sent"), (True, "failed"), (True, "sent")], (
        "every path ran: sent, retried, refused token, test sends"
    )
    assert fake_graph.answered.count(503) == 1

    shown = setting_versions.masked_values(SettingVersion.get_by_id(version.id).values)
    assert shown["access_token"] == "…" + VALID_TOKEN[-4:]
    attempts = [f"{a.url} {a.error} {a.response_excerpt}" for a in DeliveryAttempt.select()]
    deliveries = [f"{d.last_error} {d.payload}" for d in Delivery.select()]
    logged = [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    captured = capsys.readouterr()
    stored = database_text(affnet_settings)
    assert PIXEL.encode() in stored and b"fernet:" in stored, "the dump does hold the settings"
    assert any("refused the Conversions API access token ending …wxyz" in text for text in attempts)
    for token in (VALID_TOKEN, REVOKED):
        assert token.encode() not in stored
        for text in attempts + deliveries + logged + outputs + [str(shown), captured.out, captured.err]:
            assert token not in text


def test_the_command_line_saves_shows_tests_and_lists_the_pixel_without_ever_printing_the_token(
    affnet_client, affnet_settings, affnet_network, affnet_worker, fake_graph, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    register_all(cli)
    config = tmp_path / "affnet.toml"
    config.write_text(
        f'database_url = "{affnet_settings.database_url}"\n'
        f'instance_path = "{affnet_settings.instance_path}"\n'
        '[plugins]\nenabled = ["fb_capi"]\n'
        f'[plugin.fb_capi]\ngraph_base_url = "{fake_graph.base_url}"\n'
    )
    email = affnet_network.affiliate.email

    def run(*args):
        db.close()
        db.obj.close_all()  # each command opens the database afresh
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        return result.output

    outputs = []
    for as_json in ([], ["--json"]):
        outputs.append(
            run(
                "settings",
                "set",
                "fb_capi",
                f"pixel_id={PIXEL}",
                f"access_token={VALID_TOKEN}",
                "test_event_code=TEST1",
                "--affiliate",
                email,
                *as_json,
            )
        )
        outputs.append(run("settings", "show", "fb_capi", "--affiliate", email, *as_json))
        outputs.append(run("settings", "test", "fb_capi", "--affiliate", email, *as_json))
        outputs.append(run("deliveries", "list", "--affiliate", email, *as_json))
    assert "…" + VALID_TOKEN[-4:] in outputs[1], outputs[1]
    assert len(fake_graph.received) == 2 and fake_graph.received[0].body["test_event_code"] == "TEST1", outputs
    for text in outputs + [caplog.text]:
        assert VALID_TOKEN not in text
