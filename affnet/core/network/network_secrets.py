"""The operator's own credentials for plugins (a Wise API token, a PayPal
client secret), encrypted at rest and shown again only as a hint."""

from .. import clock
from . import audit
from ..storage.db import db
from ..storage.models import NetworkSecret
from ..storage.secrets import hint, keyring


def set_network_secret(name: str, value: str) -> None:
    encrypted = keyring.encrypt(value)
    with db.atomic():
        updated = (
            NetworkSecret.update(value=encrypted, hint=hint(value), updated_at=clock.now())
            .where(NetworkSecret.name == name)
            .execute()
        )
        if not updated:
            NetworkSecret.create(name=name, value=encrypted, hint=hint(value))
        audit.record("network.secret", name, {name: dict(audit.SECRET)})


def network_secret(name: str) -> str | None:
    row = NetworkSecret.get_or_none(NetworkSecret.name == name)
    return keyring.decrypt(row.value) if row else None


def network_secrets(prefix: str) -> dict[str, str]:
    """``{name without the prefix: value}`` of every secret named ``<prefix><name>``, decrypted."""
    rows = NetworkSecret.select().where(NetworkSecret.name.startswith(prefix))
    return {row.name[len(prefix) :]: keyring.decrypt(row.value) for row in rows}


def network_secret_hints(prefix: str) -> dict[str, str]:
    rows = NetworkSecret.select().where(NetworkSecret.name.startswith(prefix))
    return {row.name[len(prefix) :]: row.hint for row in rows}


def reencrypt_network_secrets() -> int:
    count = 0
    for row in NetworkSecret.select():
        NetworkSecret.update(value=keyring.rotate(row.value)).where(NetworkSecret.id == row.id).execute()
        count += 1
    return count
