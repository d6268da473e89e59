"""Stats API tokens: an affiliate's named keys for pulling its own stats.

A token is shown once, by ``create_token``; only its SHA-256 and its last
four characters (``hint``) are kept. An affiliate may hold several at once
(one per tracker), each revocable on its own. ``authenticate`` finds the live
token and notes when it was last used, writing that time at most once a
minute so a tracker polling every few seconds does not turn reads into writes.
"""

from datetime import timedelta

from .. import clock
from . import audit
from ..storage.db import db
from ..storage.models import ApiToken, User
from ..storage.secrets import hash_token, hint, new_token

TOKEN_PREFIX = "st"
NAME_LIMIT = 100
LIVE_TOKEN_LIMIT = 20
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made or revoked; the message says why."""


def create_token(affiliate: User, name: str) -> tuple[ApiToken, str]:
    """Make a token for ``affiliate``; returns the row and the token itself,
    which is never available again."""
    if affiliate.role != "affiliate":
        raise TokenError("stats API tokens are for affiliates")
    if not affiliate.is_active:
        raise TokenError(f"{affiliate.email} is deactivated")
    name = (name or "").strip()
    if not name:
        raise TokenError("a token needs a name, such as the tracker that will use it")
    if len(name) > NAME_LIMIT:
        raise TokenError(f"a token's name must be at most {NAME_LIMIT} characters")
    live = _live(affiliate)
    if live.where(ApiToken.name == name).exists():
        raise TokenError(f"a live token named {name!r} exists already: revoke it or pick another name")
    if live.count() >= LIVE_TOKEN_LIMIT:
        raise TokenError(f"at most {LIVE_TOKEN_LIMIT} live tokens: revoke one first")
    token = new_token(TOKEN_PREFIX)
    with db.atomic():
        row = ApiToken.create(affiliate=affiliate, name=name, token_hash=hash_token(token), hint=hint(token))
        audit.record("token.create", name, {"token": dict(audit.SECRET)}, account=affiliate)
    return row, token


def list_tokens(affiliate: User) -> list[ApiToken]:
    """Every token of the affiliate, revoked ones included, oldest first."""
    return list(ApiToken.select().where(ApiToken.affiliate == affiliate.id).order_by(ApiToken.created_at, ApiToken.id))


def revoke_token(token_id: int, affiliate: User | None = None) -> ApiToken:
    """Revoke a token at once. With ``affiliate``, only that affiliate's own
    token (what a settings page passes); without it, any (the operator)."""
    query = ApiToken.select().where(ApiToken.id == token_id)
    if affiliate is not None:
        query = query.where(ApiToken.affiliate == affiliate.id)
    row = query.first()
    if row is None:
        raise TokenError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        with db.atomic():
            revoked = (
                ApiToken.update(revoked_at=row.revoked_at)
                .where((ApiToken.id == row.id) & ApiToken.revoked_at.is_null())
                .execute()
            )
            if revoked:
                audit.record(
                    "token.revoke", row.name, {"revoked": {"old": False, "new": True}}, account=row.affiliate_id
                )
    return row


def authenticate(token: str | None) -> ApiToken | None:
    """The live token ``token`` names, of an active affiliate, or None."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    row = (
        ApiToken.select(ApiToken, User)
        .join(User)
        .where((ApiToken.token_hash == hash_token(token)) & ApiToken.revoked_at.is_null())
        .first()
    )
    if row is None or not row.affiliate.is_active or row.affiliate.role != "affiliate":
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
    return row


def _live(affiliate: User):
    return ApiToken.select().where((ApiToken.affiliate == affiliate.id) & ApiToken.revoked_at.is_null())
