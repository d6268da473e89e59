"""Accounts as people use them: signing up, logging in, passwords, one-time
reset links, approval by the operator, disabling.

Passwords are hashed with scrypt (Werkzeug's ``generate_password_hash``).
A reset link holds a random token of which only the hash is stored; it
works once, for ``RESET_HOURS``. Setting a password raises the account's
``session_version``, which ends every session made before.
"""

from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .. import clock
from . import audit
from ..storage.db import db
from ..storage.models import PasswordReset, User
from ..storage.secrets import hash_token, new_token
from .accounts import AccountError, create_user

MIN_PASSWORD = 10
MAX_PASSWORD = 256
RESET_HOURS = 24
# Checked against when the email is unknown, so an answer takes as long either way.
_NOBODY_HASH = generate_password_hash("not a password of anybody")


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")


def find(email: str) -> User | None:
    return User.get_or_none(User.email == (email or "").strip().lower())


def authenticate(email: str, password: str) -> User | None:
    """The account these credentials open, or None (a wrong password, an
    unknown email, a disabled account or one still waiting for approval:
    the caller says "wrong email or password" for all but the last two)."""
    user = find(email)
    if not check_password_hash(user.password_hash if user else _NOBODY_HASH, password or ""):
        return None
    return user


def may_log_in(user: User) -> str | None:
    """Why this account may not log in now, or None."""
    if not user.is_active:
        return "disabled"
    if user.approved_at is None:
        return "pending"
    return None


def record_login(user: User) -> None:
    User.update(last_login_at=clock.now()).where(User.id == user.id).execute()


def sign_up(email: str, password: str, name: str = "", auto_approve: bool = False) -> User:
    """A new affiliate account, waiting for the operator unless ``auto_approve``."""
    check_password_rules(password)
    user, _ = create_user(email, "affiliate", name=name, password=password)
    if not auto_approve:
        User.update(approved_at=None).where(User.id == user.id).execute()
        user.approved_at = None
    return user


def approve(user: User) -> User:
    if user.approved_at is None:
        user.approved_at = clock.now()
        with db.atomic():
            user.save(only=[User.approved_at])
            audit.record("user.approve", user.email, {"approved": {"old": False, "new": True}}, account=user)
    return user


def set_active(user: User, active: bool) -> User:
    """Disable (every session ends) or enable an account."""
    was = user.is_active
    user.is_active = active
    if not active:
        user.session_version += 1
    with db.atomic():
        user.save(only=[User.is_active, User.session_version])
        if was != active:
            audit.record("user.active", user.email, {"active": {"old": was, "new": active}}, account=user)
    return user


def set_role(user: User, role: str) -> User:
    """Give an account another role; its sessions end, so its pages change at the next log-in."""
    from ..storage.models import ROLES

    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == user.role:
        return user
    was = user.role
    user.role = role
    user.session_version += 1
    with db.atomic():
        user.save(only=[User.role, User.session_version])
        audit.record("user.role", user.email, {"role": {"old": was, "new": role}}, account=user)
    return user


def set_password(user: User, password: str) -> User:
    """A new password; every session of the account made before ends."""
    check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    with db.atomic():
        user.save(only=[User.password_hash, User.session_version])
        audit.record("user.password", user.email, {"password": dict(audit.SECRET)}, account=user)
    return user


def change_password(user: User, current: str, new: str) -> User:
    if not check_password_hash(user.password_hash, current or ""):
        raise AccountError("the current password is not right")
    return set_password(user, new)


def end_sessions(user: User) -> None:
    """End every session of the account (log-out does: a copy of its cookie opens nothing after)."""
    User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()


def set_profile(user: User, name: str, language: str) -> User:
    user.name = (name or "").strip()[:100] or user.email.split("@")[0]
    user.language = language
    user.save(only=[User.name, User.language])
    return user


def reset_link_token(user: User) -> str:
    """A one-time token for a new password (valid ``RESET_HOURS``); earlier
    unused ones stop working. Shown once: only its hash is stored."""
    token = new_token("pr")
    now = clock.now()
    with db.atomic():
        PasswordReset.update(used_at=now).where(
            (PasswordReset.user == user) & PasswordReset.used_at.is_null()
        ).execute()
        PasswordReset.create(
            user=user, token_hash=hash_token(token), created_at=now, expires_at=now + timedelta(hours=RESET_HOURS)
        )
        audit.record("user.reset_link", user.email, {"reset_link": dict(audit.SECRET)}, account=user)
    return token


def reset_for(token: str) -> PasswordReset | None:
    """The unused, unexpired reset of this token, or None."""
    found = PasswordReset.get_or_none(PasswordReset.token_hash == hash_token(token or ""))
    if found is None or found.used_at is not None or found.expires_at <= clock.now():
        return None
    return found


def use_reset(token: str, password: str) -> User:
    """Set the password through a reset link; the link works once."""
    check_password_rules(password)
    with db.atomic():
        reset = reset_for(token)
        if reset is None:
            raise AccountError("this link has been used or has expired: ask for a new one")
        claimed = (
            PasswordReset.update(used_at=clock.now())
            .where((PasswordReset.id == reset.id) & PasswordReset.used_at.is_null())
            .execute()
        )
        if not claimed:
            raise AccountError("this link has been used or has expired: ask for a new one")
        return set_password(reset.user, password)
