"""Versions of affiliates' plugin settings and the 24-hour rule, in one place.

Every save is a new ``SettingVersion`` that takes effect ``delay_hours`` after
it is saved; the previous version stays in force until then, and an event is
always sent with the version in force when it happened. An affiliate's very
first version of a kind takes effect at once: there is nothing earlier to
protect.

Secret fields are encrypted before they are stored (``fernet:``, shown by
their last four characters). URL fields are encrypted too (``sealed:``): an
affiliate's postback address may carry a password or an API key; they are
shown, and audited, through ``mask_url``. A value without either prefix
(a URL saved before URLs were sealed) is read as it is, and sealed by
``affnet keys rotate``.
"""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from .. import clock
from ..network import audit
from ..storage import sql
from ..storage.db import db
from ..storage.cache import TTLCache
from ..storage.models import Participation, SettingVersion, User
from ..storage.secrets import hint, keyring, mask_url

ENCRYPTED = "fernet:"
SEALED = "sealed:"


class SettingsError(ValueError):
    """Values that cannot be saved; ``fields`` maps a field to its fault."""

    def __init__(self, fields: dict):
        super().__init__("; ".join(f"{name}: {why}" for name, why in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class InForce:
    version_id: int
    values: dict  # secrets decrypted


def validate(kind, values: dict) -> list[str]:
    """Check values against a DeliveryKind; raises SettingsError, returns warnings."""
    faults, warnings = {}, []
    known = {field.name for field in kind.fields}
    for name in values:
        if name not in known:
            faults[name] = "is not a setting of " + kind.label
    for field in kind.fields:
        value = values.get(field.name)
        if field.required and not value:
            faults[field.name] = "is required"
        elif value and field.url:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                faults[field.name] = "must be an absolute http:// or https:// URL"
        if value is not None and not isinstance(value, str):
            faults[field.name] = "must be text"
    if not faults and kind.validate:
        extra = dict(kind.validate(values) or {})
        warnings = list(extra.pop("_warnings", []))
        faults.update(extra)
    if faults:
        raise SettingsError(faults)
    return warnings


def _scope(query, affiliate_id, participation_id):
    if participation_id is None:
        return query.where((SettingVersion.affiliate == affiliate_id) & SettingVersion.participation.is_null())
    return query.where((SettingVersion.affiliate == affiliate_id) & (SettingVersion.participation == participation_id))


def save(
    kind,
    affiliate: User,
    values: dict,
    *,
    participation: Participation | None = None,
    enabled: bool = True,
    delay_hours: int = 24,
    now=None,
) -> tuple[SettingVersion, list[str]]:
    """Store a new version; returns it and the validation warnings."""
    warnings = validate(kind, values) if enabled else []
    now = now or clock.now()
    participation_id = participation.id if participation else None
    earlier = _scope(SettingVersion.select(), affiliate.id, participation_id).where(SettingVersion.kind == kind.name)
    effective_at = now + timedelta(hours=delay_hours) if earlier.exists() else now
    secret = {field.name for field in kind.fields if field.secret}
    urls = {field.name for field in kind.fields if field.url and not field.secret}
    stored = _stored(kind, values)
    with db.atomic():
        latest = (
            _scope(SettingVersion.select(), affiliate.id, participation_id)
            .where(SettingVersion.kind == kind.name)
            .order_by(SettingVersion.created_at.desc(), SettingVersion.id.desc())
            .first()
        )
        version = SettingVersion.create(
            kind=kind.name,
            affiliate=affiliate,
            participation=participation_id,
            values=stored,
            enabled=enabled,
            effective_at=effective_at,
            created_at=now,
        )
        before = {**(decrypt_values(latest.values) if latest else {}), "enabled": latest.enabled if latest else None}
        changes = _masked_urls(audit.diff(before, {**values, "enabled": enabled}, secrets=secret), urls)
        changes["effective_at"] = {"new": effective_at.isoformat()}
        audit.record(
            f"setting.{kind.name}",
            participation.ref_code if participation else affiliate.email,
            changes,
            offer=participation.offer_id if participation else None,
            account=affiliate,
        )
    _versions.forget(affiliate.id)
    return version, warnings


def _stored(kind, values: dict) -> dict:
    """``values`` as they are stored: secret fields under ``fernet:``, URL
    fields under ``sealed:`` (decrypting one costs about 6 µs: nothing next to
    the ingest call that reads it)."""
    prefixes = {field.name: ENCRYPTED if field.secret else SEALED for field in kind.fields if field.secret or field.url}
    return {
        name: prefixes[name] + keyring.encrypt(value)
        if name in prefixes and value and isinstance(value, str)
        else value
        for name, value in values.items()
    }


def _masked_urls(changes: dict, urls: set) -> dict:
    """An audit diff with each URL through ``mask_url``; a change hidden by the
    mask (a new password in the address) is recorded as changed."""
    for name in urls & set(changes):
        shown = {side: mask_url(value) if isinstance(value, str) else value for side, value in changes[name].items()}
        changes[name] = shown if shown.get("old") != shown.get("new") else dict(audit.SECRET)
    return changes


def _opened(value):
    if isinstance(value, str):
        if value.startswith(ENCRYPTED):
            return keyring.decrypt(value[len(ENCRYPTED) :])
        if value.startswith(SEALED):
            return keyring.decrypt(value[len(SEALED) :])
    return value


def decrypt_values(values: dict) -> dict:
    return {name: _opened(value) for name, value in values.items()}


def masked_values(values: dict) -> dict:
    """Values fit to show: secrets as their last four characters, URLs through ``mask_url``."""
    shown = {}
    for name, value in values.items():
        if isinstance(value, str) and value.startswith(ENCRYPTED):
            shown[name] = hint(_opened(value))
        elif isinstance(value, str) and value.startswith(SEALED):
            shown[name] = mask_url(_opened(value))
        else:
            shown[name] = mask_url(value) if isinstance(value, str) and "://" in value else value
    return shown


def version_in_force(kind_name: str, affiliate_id: int, participation_id: int | None, at) -> SettingVersion | None:
    """The participation's own version in force at ``at``, else the
    affiliate-wide one; None when neither exists or the one in force is off."""
    scopes = [participation_id, None] if participation_id is not None else [None]
    for scope in scopes:
        version = (
            _scope(SettingVersion.select(), affiliate_id, scope)
            .where((SettingVersion.kind == kind_name) & (SettingVersion.effective_at <= at))
            .order_by(SettingVersion.effective_at.desc(), SettingVersion.id.desc())
            .first()
        )
        if version is not None:
            return version if version.enabled else None
    return None


_versions = TTLCache(5)


def _versions_of(affiliate_id: int) -> list[tuple]:
    """Every version of the affiliate, newest first, as (id, kind,
    participation id, stored values, enabled, effective_at); kept in memory
    for ``cache_seconds`` (a save in this process drops it at once)."""

    def load():
        found = sql.fetch(
            "settings.versions_of",
            lambda: (
                SettingVersion.select(
                    SettingVersion.id,
                    SettingVersion.kind,
                    SettingVersion.participation,
                    SettingVersion.values,
                    SettingVersion.enabled,
                    SettingVersion.effective_at,
                )
                .where(SettingVersion.affiliate == affiliate_id)
                .order_by(SettingVersion.effective_at.desc(), SettingVersion.id.desc())
            ),
            [affiliate_id],
        )
        return [
            (version_id, kind, scope, values, enabled, SettingVersion.effective_at.python_value(effective_at))
            for version_id, kind, scope, values, enabled, effective_at in found
        ]

    return _versions.get(affiliate_id, load)


def all_in_force(kind_names, affiliate_id: int, participation_id: int | None, at) -> dict[str, InForce]:
    """The values in force (``version_in_force``, secrets decrypted) of several
    kinds at once. The ingest path asks it for every attributed event, so the
    versions come from memory: a version saved on another server is seen
    within ``cache_seconds``, long before the 24-hour rule lets it act (only
    an affiliate's very first version acts at once)."""
    if not kind_names:
        return {}
    newest: dict[tuple, tuple] = {}
    for version_id, kind, scope, values, enabled, effective_at in _versions_of(affiliate_id):
        if effective_at <= at and (scope is None or scope == participation_id):
            newest.setdefault((kind, scope), (version_id, values, enabled))
    found = {}
    for name in kind_names:
        version = newest.get((name, participation_id)) or newest.get((name, None))
        if version is not None and version[2]:
            found[name] = InForce(version[0], decrypt_values(SettingVersion.values.python_value(version[1])))
    return found


def history(kind_name: str, affiliate_id: int, participation_id: int | None) -> list[SettingVersion]:
    """Every version of one scope, newest first."""
    return list(
        _scope(SettingVersion.select(), affiliate_id, participation_id)
        .where(SettingVersion.kind == kind_name)
        .order_by(SettingVersion.effective_at.desc(), SettingVersion.id.desc())
    )


def reencrypt_all() -> int:
    """Re-encrypt every stored secret and URL under the first key, and seal
    a URL still stored in clear (saved before URLs were sealed); returns how many."""
    count = 0
    for version in SettingVersion.select():
        changed = False
        values = dict(version.values)
        for name, value in values.items():
            if not isinstance(value, str):
                continue
            if value.startswith(ENCRYPTED):
                values[name] = ENCRYPTED + keyring.rotate(value[len(ENCRYPTED) :])
            elif value.startswith(SEALED):
                values[name] = SEALED + keyring.rotate(value[len(SEALED) :])
            elif value.startswith(("http://", "https://")):
                values[name] = SEALED + keyring.encrypt(value)
            else:
                continue
            changed = True
            count += 1
        if changed:
            SettingVersion.update(values=values).where(SettingVersion.id == version.id).execute()
    return count
