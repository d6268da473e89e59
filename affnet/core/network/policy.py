"""Network policies: the settings the operator may change on the network settings page.

A policy is a key of the config file (``affnet.config.FIELDS``) that is the
network's rule rather than the server's make-up: who may log in after
signing up, the payout minimums and schedule, where an unknown link goes,
the 24-hour rule's delay, the rate limits. A value saved on the page is kept in
``NetworkSetting`` as text, written as in the config file and checked by
the same parser, and overrides the file's value; resetting deletes it, and
the file's value is in force again. Every other key (the database, the
instance folder, the server's address, rate-limit storage, ...) belongs to
the server and is only read from the file and the environment.

``install(settings)`` makes ``settings[key]`` of a policy read the saved
value. The saved values are read from the database once per
``cache_seconds`` per process (a change made on another server is seen
within that time; on the server that saved it, at once). While the database
does not answer, the last values read are used, or the file's when none
were read: reading a policy never fails a request.
"""

import logging
from decimal import Decimal
from typing import Any

from ...config import FIELDS_BY_KEY, NOT_SET, Settings
from .. import clock
from . import audit
from ..storage.cache import TTLCache
from ..storage.db import DATABASE_ERRORS, db
from ..storage.models import NetworkSetting, User

log = logging.getLogger("affnet.policy")

# The keys that are network policy (each a key of ``config.FIELDS``), in the order the page shows them.
POLICY_KEYS = (
    "accounts.auto_approve_affiliates",
    "accounts.require_two_factor",
    "tracking.fallback_url",
    "settings.change_delay_hours",
    "payouts.mode",
    "payouts.weekday",
    "payouts.time",
    "payouts.minimum",
    "payouts.minimums",
    "ingest.rate_limit",
    "stats_api.rate_limit",
    "accounts.login_rate_limit",
    "accounts.signup_rate_limit",
    "tracking.click_rate_limit",
)
_ALL = "all"
_saved = TTLCache(5)


class PolicyError(ValueError):
    """A policy value that cannot be saved; ``fields`` says why, per key."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{key}: {why}" for key, why in fields.items()))
        self.fields = fields


def is_policy(key: str) -> bool:
    return key in POLICY_KEYS


def install(settings: Settings) -> None:
    """Let the saved policies override the file's values in ``settings`` (every server process does)."""
    _saved.seconds = settings["cache_seconds"]
    _saved.forget()
    settings.use_overlay(POLICY_KEYS, saved_value)


def saved_value(key: str) -> Any:
    """The parsed value saved for ``key``, or ``NOT_SET``; never raises for a database that does not answer."""
    try:
        return _saved.get(_ALL, _load, stale_on=DATABASE_ERRORS).get(key, NOT_SET)
    except DATABASE_ERRORS:
        return NOT_SET


def _load() -> dict[str, Any]:
    opened = db.is_closed()  # the click path has no connection of its own: take one from the pool, give it back
    if opened:
        db.connect()
    try:
        if db.in_transaction():  # a failed read must not spoil the caller's transaction (PostgreSQL)
            with db.savepoint():
                rows = list(NetworkSetting.select(NetworkSetting.key, NetworkSetting.value).tuples())
        else:
            rows = list(NetworkSetting.select(NetworkSetting.key, NetworkSetting.value).tuples())
    finally:
        if opened:
            db.close()
    values = {}
    for key, text in rows:
        if not is_policy(key):
            continue
        try:
            values[key] = FIELDS_BY_KEY[key].parse(text)
        except (ValueError, TypeError) as error:  # saved by an older version whose parser was kinder
            log.error("network setting %s = %r is not valid (%s): the config file's value is used", key, text, error)
    return values


def as_text(key: str, value: Any) -> str:
    """A value as it is written in the config file (and stored): ``true``, ``50``, ``JPY=7000, EUR=40``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return ", ".join(f"{code}={amount:f}" for code, amount in value.items())
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def parse(key: str, text: str) -> Any:
    """``text`` parsed by the key's own parser (the config file's); raises PolicyError with its message."""
    if not is_policy(key):
        raise PolicyError({key: "not a network policy: it is set in the config file"})
    try:
        return FIELDS_BY_KEY[key].parse(text)
    except (ValueError, TypeError) as error:
        raise PolicyError({key: str(error)}) from None


def saved_rows() -> dict[str, NetworkSetting]:
    """The policies saved on the page, by key, with who saved them and when."""
    return {row.key: row for row in NetworkSetting.select().where(NetworkSetting.key.in_(POLICY_KEYS))}


def save(settings: Settings, texts: dict[str, str], user: User | None = None) -> list[str]:
    """Save the values that differ from those in force; returns their keys. Every value is checked first:
    one that its parser refuses raises PolicyError (each refused key with the parser's words) and nothing
    is written."""
    parsed, refused = {}, {}
    for key, text in texts.items():
        text = (text or "").strip()
        try:
            parsed[key] = (text, parse(key, text))
        except PolicyError as error:
            refused.update(error.fields)
    if refused:
        raise PolicyError(refused)
    changed = [key for key, (_, value) in parsed.items() if value != settings[key]]
    if not changed:
        return []
    now = clock.now()
    with db.atomic():
        for key in changed:
            text, value = parsed[key]
            old = as_text(key, settings[key])
            updated = (
                NetworkSetting.update(value=text, updated_at=now, updated_by=user)
                .where(NetworkSetting.key == key)
                .execute()
            )
            if not updated:
                NetworkSetting.create(key=key, value=text, updated_at=now, updated_by=user)
            audit.record("network.setting", key, {key: {"old": old, "new": text}})
    _saved.forget()
    return changed


def reset(settings: Settings, key: str) -> bool:
    """Delete the value saved for ``key``: the file's value is in force again. False when none was saved."""
    if not is_policy(key):
        raise PolicyError({key: "not a network policy: it is set in the config file"})
    with db.atomic():
        row = NetworkSetting.get_or_none(NetworkSetting.key == key)
        if row is None:
            return False
        NetworkSetting.delete().where(NetworkSetting.id == row.id).execute()
        audit.record(
            "network.setting",
            key,
            {key: {"old": row.value, "new": as_text(key, settings.file_value(key))}, "reset": {"new": True}},
        )
    _saved.forget()
    return True


def described(settings: Settings) -> list[dict]:
    """Each policy as the page shows it: the value in force, where it comes from (``database``, or the
    file's origin: ``file``, ``environment``, ``default``, ``override``), and the file's value."""
    rows = saved_rows()
    shown = []
    for key in POLICY_KEYS:
        row = rows.get(key)
        in_database = row is not None and saved_value(key) is not NOT_SET
        shown.append(
            {
                "key": key,
                "field": FIELDS_BY_KEY[key],
                "value": as_text(key, settings[key]),
                "origin": "database" if in_database else settings.origins.get(key, "default"),
                "file_value": as_text(key, settings.file_value(key)),
                "file_origin": settings.origins.get(key, "default"),
                "saved": row,
            }
        )
    return shown


def server_settings(settings: Settings) -> list[dict]:
    """Every key that is not a policy, with its value (a URL's password masked) and where it came from."""
    from ...config import FIELDS, masked_url

    shown = []
    for field in FIELDS:
        if is_policy(field.key):
            continue
        value = as_text(field.key, settings.file_value(field.key))
        shown.append(
            {
                "key": field.key,
                "field": field,
                "value": masked_url(value) if "://" in value else value,
                "origin": settings.origins.get(field.key, "default"),
            }
        )
    return shown
