"""The audit log: every change of an offer, a commission, a key, a secret, a
postback or pixel setting, an approval, a role, a two-factor setting or a
payout action, with who made it, when, from which address, and what changed.

The domain functions that make those changes call ``record`` in the same
transaction as the change, so a change is never without its entry. Who is
acting comes from ``actor()``: the web app installs a resolver that names the
logged-in account and its address; the ``affnet`` command names itself with
``acting(...)``; anything else (the worker) is "system".

``changes`` holds old and new values, ``{"landing_url": {"old": ..., "new":
...}}``; a secret field only ``{"changed": true}``, never a value. Entries are
only added: the database refuses an UPDATE or a DELETE of one (a trigger,
``storage.migrations.guard_audit_log``).

Who may read an entry: the operator every one; a product owner those of their
offers (``offer``); any account those about itself (``account``).
"""

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from peewee import JOIN

from ..storage.models import AuditEntry, Offer, User

SECRET = {"changed": True}


@dataclass(frozen=True)
class Actor:
    """Who is making a change: an account (``user``) or a named non-person (the command line)."""

    user: User | None = None
    label: str = "system"
    ip: str = ""


SYSTEM = Actor()
_acting: ContextVar[Actor | None] = ContextVar("affnet_audit_actor", default=None)
_resolvers: list[Callable[[], Actor | None]] = []


def install_resolver(resolver: Callable[[], Actor | None]) -> None:
    """Add a way to find the actor (the web app's: the logged-in account, or None outside a request)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


@contextmanager
def acting(actor: Actor):
    """Name the actor of every change made inside the block."""
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def actor() -> Actor:
    named = _acting.get()
    if named is not None:
        return named
    for resolve in _resolvers:
        found = resolve()
        if found is not None:
            return found
    return SYSTEM


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def diff(before: dict, after: dict, secrets: Iterable[str] = ()) -> dict:
    """The fields whose value differs, as ``{field: {"old", "new"}}``; a secret field as ``{"changed": true}``."""
    secret = set(secrets)
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = _plain(before.get(name)), _plain(after.get(name))
        if old != new:
            changes[name] = dict(SECRET) if name in secret else {"old": old, "new": new}
    return changes


def created(values: dict, secrets: Iterable[str] = ()) -> dict:
    """The fields of something new, as ``{field: {"new": value}}`` (secrets as changed)."""
    secret = set(secrets)
    return {
        name: dict(SECRET) if name in secret else {"new": _plain(value)}
        for name, value in sorted(values.items())
        if value not in (None, "")
    }


def record(
    action: str,
    subject: str = "",
    changes: dict | None = None,
    offer: Offer | int | None = None,
    account: User | int | None = None,
) -> AuditEntry:
    """Add one entry; call it inside the transaction of the change it records."""
    who = actor()
    return AuditEntry.create(
        actor=who.user,
        actor_label=who.label if who.user is None else who.user.email,
        ip=(who.ip or "")[:64],
        action=action,
        subject=str(subject)[:255],
        offer=offer,
        account=account,
        changes=changes or {},
    )


def entries_for(
    viewer: User, action_prefix: str = "", offer: Offer | None = None, limit: int = 200, before: int | None = None
):
    """What ``viewer`` may read, newest first (``before``: only entries older than that id): the operator
    everything; a product owner the entries of their offers and about themselves; anyone else the entries
    about themselves."""
    query = AuditEntry.select(AuditEntry, User).join(User, JOIN.LEFT_OUTER, on=(AuditEntry.actor == User.id))
    if viewer.role != "admin":
        mine = AuditEntry.account == viewer.id
        if viewer.role == "advertiser":
            owned = Offer.select(Offer.id).where(Offer.advertiser == viewer.id)
            mine = mine | AuditEntry.offer.in_(owned)
        query = query.where(mine)
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    if offer is not None:
        query = query.where(AuditEntry.offer == offer.id)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(query.order_by(AuditEntry.id.desc()).limit(limit))
