"""Two-factor log-in: an authenticator app's codes (TOTP, RFC 6238, by
``pyotp``) and one-time recovery codes.

The shared secret is stored encrypted (``storage.secrets.keyring``); a
secret without ``totp_enabled_at`` is a set-up not confirmed yet, and logs
nobody in. A code is accepted for its own 30-second step and the steps on
either side (clocks drift), and only once: the newest step used is kept in
``totp_last_step`` and claimed with one conditional UPDATE, so two uses of
one code at the same moment cannot both pass. Recovery codes are shown
once, when they are made; only their hashes are kept, and each works once
(again one conditional UPDATE).

Every change is in the audit log, in the transaction of the change, and
never with a secret or a code in it.
"""

import secrets as _random

import pyotp
import segno
from pyotp.utils import strings_equal
from urllib.parse import urlsplit
from werkzeug.security import check_password_hash

from .. import clock
from . import audit
from .accounts import AccountError
from ..storage.db import db
from ..storage.models import RecoveryCode, User
from ..storage.secrets import hash_token, keyring

RECOVERY_CODES = 10
# 31 letters and digits that cannot be taken for one another (no i, l, o, 0, 1): 10 of them hold ~49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10
DRIFT_STEPS = 1  # a code of the step before or after the current one still works
REQUIRED_ROLES = ("admin", "advertiser")
WRONG_CODE = "that code is not right: try the newest one your app shows"


class TwoFactorError(AccountError):
    """A two-factor change that cannot be made; says why, and names it in ``reason``: ``code`` (a wrong
    code), ``password`` (a wrong password) or ``state`` (nothing to confirm, on or off already)."""

    def __init__(self, message: str, reason: str = "state"):
        super().__init__(message)
        self.reason = reason


def is_enabled(user: User) -> bool:
    return user.totp_enabled_at is not None


def is_pending(user: User) -> bool:
    """A set-up started and not confirmed yet."""
    return bool(user.totp_secret) and user.totp_enabled_at is None


def required(user: User, settings) -> bool:
    """Whether the network requires two-factor log-in of this account (``accounts.require_two_factor``
    names the operator and product owners); read ``settings`` at request time, never copied."""
    return user.role in REQUIRED_ROLES and bool(settings["accounts.require_two_factor"])


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.select().where((RecoveryCode.user == user.id) & RecoveryCode.used_at.is_null()).count()


def _state(user: User) -> dict:
    """What the audit log compares before and after a change: never the secret itself."""
    return {
        "enabled": is_enabled(user),
        "pending": is_pending(user),
        "recovery_codes_left": recovery_codes_left(user),
    }


def reset(user: User) -> User:
    """The operator's way back in for someone who lost the authenticator and the recovery codes: the
    secret and the codes are gone, two-factor log-in is off, and every session of the account ends."""
    before = _state(user)
    with db.atomic():
        RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
        User.update(totp_secret="", totp_enabled_at=None, session_version=User.session_version + 1).where(
            User.id == user.id
        ).execute()
        user.totp_secret, user.totp_enabled_at = "", None
        user.session_version = User.get_by_id(user.id).session_version
        changes = audit.diff(before, _state(user))
        changes["sessions"] = {"old": "open", "new": "ended"}
        audit.record("two_factor.reset", user.email, changes, account=user)
    return user


def start(user: User) -> str:
    """A new secret for the authenticator app, stored encrypted and waiting for ``confirm``; it replaces
    a set-up not confirmed. The caller shows it (and its QR code) to the account, nobody else."""
    if is_enabled(user):
        raise TwoFactorError("two-factor log-in is on already: turn it off first")
    secret = pyotp.random_base32()
    with db.atomic():
        User.update(totp_secret=keyring.encrypt(secret)).where(
            (User.id == user.id) & User.totp_enabled_at.is_null()
        ).execute()
        user.totp_secret = User.get_by_id(user.id).totp_secret
        audit.record("two_factor.start", user.email, {"secret": dict(audit.SECRET)}, account=user)
    return secret


def secret_of(user: User) -> str:
    """The authenticator's secret in clear ("" without one): for the set-up page only."""
    return keyring.decrypt(user.totp_secret) if user.totp_secret else ""


def issuer(base_url: str) -> str:
    """The name the authenticator app shows for this network: ``affnet (network.example)``."""
    host = urlsplit(base_url).hostname or ""
    return f"affnet ({host})" if host else "affnet"


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str, title: str = "") -> str:
    """The QR code of ``uri`` as an inline SVG element, drawn here (segno): no network call, no
    third-party service ever sees the secret."""
    return segno.make(uri, error="m").svg_inline(
        scale=5, light="#fff", omitsize=True, svgclass="qr", title=title or None
    )


def _claim_step(user: User, code: str) -> bool:
    """Accept ``code`` for the stored secret (confirmed or not) when it is of a step newer than the last
    one used; the step is claimed in the database, so a code works once even under concurrent use."""
    code = "".join((code or "").split())
    if not user.totp_secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret_of(user))
    now = totp.timecode(clock.unix_seconds(clock.now()))
    for step in range(now + DRIFT_STEPS, now - DRIFT_STEPS - 1, -1):
        if strings_equal(totp.generate_otp(step), code):
            claimed = User.update(totp_last_step=step).where(
                (User.id == user.id) & (User.totp_last_step < step) & (User.totp_secret == user.totp_secret)
            )
            if claimed.execute():
                user.totp_last_step = step
                return True
            return False
    return False


def verify(user: User, code: str) -> bool:
    """Whether ``code`` is a right authenticator code of this account, not used before; it is then used."""
    return is_enabled(user) and _claim_step(user, code)


def _normal_recovery(code: str) -> str:
    return "".join(char for char in (code or "").lower() if char not in " -\t\r\n")


def _recovery_hash(user: User, code: str) -> str:
    # The account's id is part of what is hashed: a table of hashed guesses serves one account only.
    return hash_token(f"{user.id}:{_normal_recovery(code)}")


def _new_codes(user: User) -> list[str]:
    """New recovery codes (``abcde-fghij``) in place of every earlier one; call inside a transaction."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(_random.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
    now = clock.now()
    RecoveryCode.insert_many(
        [{"user": user.id, "code_hash": _recovery_hash(user, code), "created_at": now} for code in codes]
    ).execute()
    return codes


def confirm(user: User, code: str) -> list[str]:
    """Turn two-factor log-in on with a code of the authenticator set up by ``start``; returns the
    recovery codes, to be shown this once."""
    if not is_pending(user):
        raise TwoFactorError("there is no set-up to confirm: start one first")
    if not _claim_step(user, code):
        raise TwoFactorError(WRONG_CODE, "code")
    before = _state(user)
    with db.atomic():
        now = clock.now()
        enabled = User.update(totp_enabled_at=now).where(
            (User.id == user.id) & User.totp_enabled_at.is_null() & (User.totp_secret == user.totp_secret)
        )
        if not enabled.execute():
            raise TwoFactorError("the set-up changed meanwhile: start again")
        user.totp_enabled_at = now
        codes = _new_codes(user)
        audit.record("two_factor.enable", user.email, audit.diff(before, _state(user)), account=user)
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Whether ``code`` is an unused recovery code of this account; it is then used up."""
    normal = _normal_recovery(code)
    if not is_enabled(user) or len(normal) != RECOVERY_LENGTH:
        return False
    with db.atomic():
        left = recovery_codes_left(user)
        used = RecoveryCode.update(used_at=clock.now()).where(
            (RecoveryCode.user == user.id)
            & (RecoveryCode.code_hash == _recovery_hash(user, normal))
            & RecoveryCode.used_at.is_null()
        )
        if not used.execute():
            return False
        changes = {"recovery_codes_left": {"old": left, "new": left - 1}}
        audit.record("two_factor.recovery_used", user.email, changes, account=user)
    return True


def new_recovery_codes(user: User, code: str) -> list[str]:
    """Recovery codes in place of the earlier ones (which stop working), for a right authenticator code;
    shown this once."""
    if not verify(user, code):
        raise TwoFactorError(WRONG_CODE, "code")
    before = _state(user)
    with db.atomic():
        codes = _new_codes(user)
        changes = audit.diff(before, _state(user))
        changes["recovery_codes"] = {"old": "replaced", "new": f"{RECOVERY_CODES} new"}
        audit.record("two_factor.recovery_codes", user.email, changes, account=user)
    return codes


def disable(user: User, password: str, code: str) -> User:
    """Turn two-factor log-in off; takes the account's password and an authenticator code (or, with the
    phone lost, a recovery code)."""
    if not is_enabled(user):
        raise TwoFactorError("two-factor log-in is off already")
    if not check_password_hash(user.password_hash, password or ""):
        raise TwoFactorError("the password is not right", "password")
    if not (verify(user, code) or use_recovery_code(user, code)):
        raise TwoFactorError(WRONG_CODE, "code")
    before = _state(user)
    with db.atomic():
        RecoveryCode.delete().where(RecoveryCode.user == user.id).execute()
        User.update(totp_secret="", totp_enabled_at=None).where(User.id == user.id).execute()
        user.totp_secret, user.totp_enabled_at = "", None
        audit.record("two_factor.disable", user.email, audit.diff(before, _state(user)), account=user)
    return user


def reencrypt_secrets() -> int:
    """Re-encrypt every stored authenticator secret under the newest key (``affnet keys rotate``)."""
    count = 0
    for user_id, secret in User.select(User.id, User.totp_secret).where(User.totp_secret != "").tuples():
        User.update(totp_secret=keyring.rotate(secret)).where(User.id == user_id).execute()
        count += 1
    return count
