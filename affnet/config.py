"""One Settings object from defaults, a TOML file and ``AFFNET_*`` variables.

Every key is declared once in ``FIELDS`` with its type, default and help; the
example config in ``config/affnet.example.toml`` documents the same keys and a
test keeps the two in step. A key ``tracking.fallback_url`` is overridden by
the variable ``AFFNET_TRACKING_FALLBACK_URL``. A wrong value stops start-up
with a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from collections.abc import Callable


class ConfigError(Exception):
    """A config value is wrong; the message names the key."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected a whole number")
    return int(value)


def _positive_int(value: Any) -> int:
    number = _int(value)
    if number < 0:
        raise ValueError("expected a number of 0 or more")
    return number


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("expected a decimal number such as 50 or 49.99") from None
    if not number.is_finite() or number < 0:
        raise ValueError("expected a decimal number of 0 or more")
    return number


def _minimums(value: Any) -> dict[str, Decimal]:
    """Per-currency amounts, written ``JPY=7000, EUR=40``."""
    if not isinstance(value, str):
        raise ValueError("expected CURRENCY=AMOUNT pairs such as JPY=7000, EUR=40")
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("expected CURRENCY=AMOUNT pairs such as JPY=7000, EUR=40")
    result = {}
    for code, amount in pairs:
        code = code.strip()
        if not (len(code) == 3 and code.isalpha()):
            raise ValueError(f"{code!r} is not a currency code such as JPY")
        result[code.upper()] = _decimal(amount.strip())
    return result


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in _WEEKDAYS:
        raise ValueError("expected a day of the week such as monday")
    return value.strip().lower()


def _clock_time(value: Any) -> str:
    if not (isinstance(value, str) and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value.strip())):
        raise ValueError("expected a time of day such as 10:00")
    return value.strip()


def _payout_mode(value: Any) -> str:
    if value not in ("review", "auto"):
        raise ValueError("expected review or auto")
    return value


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError("expected a list of names")


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value


def _rate(value: Any) -> str:
    from limits import parse_many

    text = _str(value)
    try:
        parse_many(text)
    except ValueError:
        raise ValueError("expected a rate such as '120000 per minute' or '2000/second'") from None
    return text


def _rate_storage(value: Any) -> str:
    text = _str(value)
    if not text.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
        raise ValueError("expected memory:// or a Redis URL such as redis://127.0.0.1:6379/0")
    return text


def _url(value: Any) -> str:
    text = _str(value)
    if text and not (text.startswith("http://") or text.startswith("https://")):
        raise ValueError("expected an http:// or https:// URL, or nothing")
    return text


def _database_url(value: Any) -> str:
    text = _str(value)
    if text.split("://", 1)[0] not in ("sqlite", "postgres", "postgresql"):
        raise ValueError("expected sqlite:///path/to/file.db or postgresql://user@host/db")
    return text


def _log_level(value: Any) -> str:
    text = _str(value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return text


@dataclass(frozen=True)
class Field:
    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


FIELDS: tuple[Field, ...] = (
    Field(
        "database_url",
        _database_url,
        "sqlite:///instance/affnet.db",
        "Where the data lives: sqlite:///relative/or//absolute/path.db or postgresql://user:password@host:5432/dbname.",
    ),
    Field(
        "instance_path",
        _str,
        "instance",
        "The folder of this installation's own files: secrets, the SQLite database, spools.",
    ),
    Field(
        "base_url", _url, "http://127.0.0.1:8000", "The public address of the tracker, used in links shown to users."
    ),
    Field("log_level", _log_level, "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Field(
        "behind_proxy", _bool, False, "True when nginx (or another proxy) sets X-Forwarded-For and X-Forwarded-Proto."
    ),
    Field(
        "cache_seconds",
        _positive_int,
        5,
        "How long a process keeps refCode routes, offer keys and commission rules in memory; "
        "a change made on another server is seen after at most this long (0: no cache).",
    ),
    Field(
        "rate_limit_storage",
        _rate_storage,
        "memory://",
        "Where rate-limit counters live: memory:// (each process counts on its own) or redis://host:6379/0 "
        "(every server shares the counts; see docs/deploy.md).",
    ),
    Field("server.host", _str, "127.0.0.1", "The address `affnet serve` listens on."),
    Field("server.port", _positive_int, 8000, "The port `affnet serve` listens on."),
    Field("server.workers", _positive_int, 2, "gunicorn worker processes (0: one per core)."),
    Field("server.threads", _positive_int, 4, "Threads per gunicorn worker."),
    Field(
        "tracking.fallback_url", _url, "", "Where an unknown, paused or unapproved ref is sent; empty shows a 404 page."
    ),
    Field("tracking.cookie_secure", _str, "auto", "auto (Secure when the request came over HTTPS), always, or never."),
    Field(
        "tracking.click_rate_limit",
        _rate,
        "120 per minute",
        "Clicks per IP address before that address's further clicks are flagged as over the limit: they are "
        "still redirected and recorded, never counted as unique.",
    ),
    Field(
        "tracking.spool_flush_ms",
        _positive_int,
        200,
        "How often each web process loads its spooled clicks into the database (milliseconds).",
    ),
    Field(
        "tracking.spool_fsync", _bool, False, "fsync every spooled click: survives a power cut, at a cost per click."
    ),
    Field("ingest.max_body_bytes", _positive_int, 16384, "Largest accepted ingest body; a larger one answers 413."),
    Field(
        "ingest.rate_limit",
        _rate,
        "120000 per minute",
        "Ingest calls allowed per offer key, in the notation of the limits library ('2000/second').",
    ),
    Field(
        "stats_api.rate_limit",
        _rate,
        "60 per minute",
        "Calls to the stats and report APIs allowed per token (the two APIs count together); over it they "
        "answer 429 with Retry-After.",
    ),
    Field(
        "accounts.auto_approve_affiliates",
        _bool,
        False,
        "True: an affiliate who signs up can log in at once; false: the operator approves each sign-up.",
    ),
    Field(
        "accounts.login_rate_limit",
        _rate,
        "10 per minute",
        "Log-in tries allowed per IP address and, separately, per account; over it the page answers 429.",
    ),
    Field("accounts.signup_rate_limit", _rate, "5 per hour", "Sign-ups allowed per IP address."),
    Field(
        "accounts.require_two_factor",
        _bool,
        False,
        "True: admins and product owners must set up two-factor log-in before they reach any other page.",
    ),
    Field(
        "settings.change_delay_hours",
        _positive_int,
        24,
        "The 24-hour rule: how long a changed postback or pixel setting waits before it takes effect.",
    ),
    Field(
        "deliveries.allow_private_targets",
        _bool,
        False,
        "Let postbacks reach loopback and private addresses (a private deployment or tests only).",
    ),
    Field("deliveries.timeout_seconds", _positive_int, 10, "Connect and read timeout of one delivery."),
    Field("deliveries.parallelism", _positive_int, 16, "Deliveries of one kind sent at the same time."),
    Field("worker.poll_seconds", _positive_int, 1, "How often the worker looks for due deliveries."),
    Field("worker.batch_size", _positive_int, 200, "Deliveries claimed at once by one worker."),
    Field(
        "worker.claim_seconds",
        _positive_int,
        300,
        "How long a claim holds; a worker that died releases its claims when this runs out.",
    ),
    Field("worker.max_attempts", _positive_int, 12, "Attempts of one delivery before it fails for good."),
    Field("worker.retry_base_seconds", _positive_int, 60, "The first retry waits this long."),
    Field("worker.retry_factor", _positive_int, 3, "Each next retry waits this many times longer."),
    Field("worker.retry_max_seconds", _positive_int, 21600, "No retry waits longer than this."),
    Field(
        "payouts.minimum",
        _decimal,
        Decimal("50"),
        "The smallest payable balance that a payout run pays, in each currency without its own minimum.",
    ),
    Field(
        "payouts.minimums",
        _minimums,
        "",
        "Minimums of their own for some currencies, such as JPY=7000, EUR=40 (the operator may raise one "
        "affiliate's with `affnet payouts minimum`).",
    ),
    Field(
        "payouts.mode",
        _payout_mode,
        "review",
        "review: a run's payouts wait for the operator's approval; auto: they are sent at once.",
    ),
    Field("payouts.weekday", _weekday, "monday", "The day of the weekly payout run."),
    Field("payouts.time", _clock_time, "10:00", "The hour of the weekly payout run (server time, HH:MM)."),
    Field(
        "retention.anonymize_after_days",
        _positive_int,
        0,
        "Clear clicks' IP, user agent and referer this many days after the click (0: never). "
        "Clicks of commissions still on hold or unpaid keep them until paid; see docs/deploy.md.",
    ),
    Field(
        "retention.delete_clicks_after_days",
        _positive_int,
        0,
        "Delete clicks this many days old (0: never); never a click inside its offer's cookie "
        "window or one an event points to.",
    ),
    Field(
        "plugins.enabled",
        _list,
        ["keitaro", "fb_capi", "stripe_ingest", "payout_usdt"],
        "The plugins to enable, by entry point name; an installed plugin not named here has no effect. "
        "The default names the bundled ones that need nothing from you; payout_wise and payout_paypal "
        "(installed too) are enabled once their credentials are set (docs/payouts.md).",
    ),
)

FIELDS_BY_KEY = {field.key: field for field in FIELDS}


# Keys that were renamed: a file that still uses the old name keeps working.
RENAMED = {"ingest.rate_limit_storage": "rate_limit_storage"}


def env_name(key: str) -> str:
    return "AFFNET_" + key.replace(".", "_").upper()


# What a policy overlay answers for a key it holds no value of: the file's value stands.
NOT_SET = object()


class Settings:
    """Read-only settings: ``settings["tracking.fallback_url"]``.

    Plugin sections (``[plugin.<name>]``) are kept as given and handed to the
    plugin through ``plugin_config(name)``.

    A few keys are network policy, which the operator may also set on a page
    (``affnet.core.network.policy``): once ``use_overlay`` is called, reading
    one of those keys asks the overlay first and falls back to the file's
    value. Every other key is a plain dict lookup.
    """

    def __init__(
        self, values: dict[str, Any], plugin_sections: dict[str, dict], source: str, origins: dict | None = None
    ):
        self._values = values
        self._plugins = plugin_sections
        self.source = source
        self.origins = origins or {}  # key -> "default", "file", "environment" or "override"
        self._overlaid: frozenset[str] = frozenset()
        self._overlay: Callable[[str], Any] = lambda key: NOT_SET

    def __getitem__(self, key: str) -> Any:
        if key in self._overlaid:
            value = self._overlay(key)
            if value is not NOT_SET:
                return value
        return self._values[key]

    def use_overlay(self, keys, lookup: Callable[[str], Any]) -> None:
        """Let ``lookup(key)`` answer for ``keys`` (its value, or ``NOT_SET`` for the file's)."""
        self._overlaid = frozenset(key for key in keys if key in FIELDS_BY_KEY)
        self._overlay = lookup

    def file_value(self, key: str) -> Any:
        """The value of the defaults, the file and the environment, whatever an overlay says."""
        return self._values[key]

    def plugin_config(self, name: str) -> dict:
        return dict(self._plugins.get(name, {}))

    def as_dict(self) -> dict[str, Any]:
        return {key: self[key] for key in self._values}

    @property
    def instance_path(self) -> Path:
        return Path(self._values["instance_path"]).resolve()

    @property
    def database_url(self) -> str:
        """The database URL (a relative SQLite path is relative to the working folder)."""
        return self._values["database_url"]


def masked_url(url: str) -> str:
    """A URL without its password (``postgresql://affnet:***@host/db``), for pages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password:
        netloc = parts.netloc.replace(":" + password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


def load_settings(
    path: str | os.PathLike | None = None, overrides: dict | None = None, environ: dict | None = None
) -> Settings:
    """Defaults, then the TOML file (``path`` or ``AFFNET_CONFIG``), then the
    environment, then ``overrides`` (tests). Raises ConfigError on any fault."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("AFFNET_CONFIG")
    raw: dict[str, Any] = {}
    origins: dict[str, str] = {}
    plugin_sections: dict[str, dict] = {}
    source = "defaults"
    if path:
        try:
            with open(path, "rb") as handle:
                document = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file {path}: not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {path}: {error}") from None
        plugin_sections = document.pop("plugin", {}) or {}
        raw = _flatten(document)
        origins = dict.fromkeys(raw, "file")
        source = str(path)
        for old_key, key in RENAMED.items():
            if old_key in raw:
                raw.setdefault(key, raw.pop(old_key))
        for key in raw:
            if key not in FIELDS_BY_KEY:
                raise ConfigError(f"config key {key}: unknown key (see config/affnet.example.toml)")
    for field in FIELDS:
        if env_name(field.key) in environ:
            raw[field.key] = environ[env_name(field.key)]
            origins[field.key] = "environment"
    overrides = dict(overrides or {})
    for key in [key for key in overrides if key.startswith("plugin.")]:
        plugin_sections[key.split(".", 1)[1]] = dict(overrides.pop(key))
    raw.update(overrides)
    origins.update(dict.fromkeys(overrides, "override"))
    values = {}
    for field in FIELDS:
        value = raw.get(field.key, field.default)
        try:
            values[field.key] = field.parse(value)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"config key {field.key} ({env_name(field.key)}): {error}, got {value!r}") from None
    if values["tracking.cookie_secure"] not in ("auto", "always", "never"):
        raise ConfigError("config key tracking.cookie_secure: expected auto, always or never")
    for key in overrides:
        if key not in FIELDS_BY_KEY:
            raise ConfigError(f"config key {key}: unknown key")
    return Settings(values, plugin_sections, source, {key: origins.get(key, "default") for key in values})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    return f'"{value}"'


def example_toml(plugin_sections: dict | None = None) -> str:
    """The commented example config: every key with its default and help,
    and the sections of the plugins given (name -> their ``ConfigKey``s)."""
    import textwrap

    lines = [
        "# affnet configuration: every key, with its default.",
        "# Copy this file, change what you need, and point affnet at it with",
        "# --config path/to/affnet.toml or AFFNET_CONFIG=path/to/affnet.toml.",
        "# Every key can be overridden by an environment variable named after it:",
        "# tracking.fallback_url -> AFFNET_TRACKING_FALLBACK_URL (lists: comma-separated).",
        "# A wrong value stops start-up with one line naming the key.",
        "# Secrets never go here: they live in the instance folder (see instance_path).",
        "",
    ]
    section = None
    for field in FIELDS:
        prefix, _, name = field.key.rpartition(".")
        if prefix != section:
            lines += ["", f"[{prefix}]"] if prefix else []
            section = prefix
        lines += ["# " + line for line in textwrap.wrap(field.help, 76)]
        lines += [f"# ({env_name(field.key)})", f"{name} = {_toml_value(field.default)}"]
    lines += [
        "",
        "# Settings of one plugin go in a section named after it, read only when",
        "# the plugin is enabled. A key the plugin does not declare stops start-up.",
    ]
    for name, keys in sorted((plugin_sections or {}).items()):
        lines += ["", f"[plugin.{name}]"]
        if not keys:
            lines += ["# (this plugin has no settings here)"]
        for key in keys.values():
            lines += ["# " + line for line in textwrap.wrap(key.help, 76)]
            lines += [f"# {key.name} = {_toml_value(key.default)}" if key.default is not None else f"# {key.name} ="]
    lines += [""]
    return "\n".join(lines)
