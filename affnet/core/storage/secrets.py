"""Secrets at rest: encryption of stored secrets, hashing of keys and tokens.

Encryption keys are Fernet keys kept in ``instance/encryption.keys`` (one per
line, the newest first) or in ``AFFNET_ENCRYPTION_KEYS`` (comma-separated);
never in the database. MultiFernet decrypts with any listed key and encrypts
with the first, so keys rotate by adding a new first key, re-encrypting, and
then dropping the old one (``affnet keys rotate``).

Offer keys and API tokens are random and long, so a plain SHA-256 is a safe
way to store them: the stored hash finds the row, and the secret itself is
shown once and never kept.

A URL an affiliate types (a postback address) may carry a password or an API
key; ``mask_url`` is the one way such a URL is shown on a page or in a log.
"""

import hashlib
import os
import re
import secrets as _random
from pathlib import Path
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEYS_FILE = "encryption.keys"


class SecretError(Exception):
    """A stored secret could not be decrypted with the keys at hand."""


class Keyring:
    def __init__(self):
        self._keys: list[bytes] = []
        self._fernet: MultiFernet | None = None

    def load(self, instance_path: Path, environ=os.environ) -> None:
        if environ.get("AFFNET_ENCRYPTION_KEYS"):
            keys = [key.strip().encode() for key in environ["AFFNET_ENCRYPTION_KEYS"].split(",") if key.strip()]
        else:
            path = Path(instance_path) / KEYS_FILE
            if not path.exists():
                raise SecretError(f"{path} is missing: run `affnet init` first")
            keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
        self.use(keys)

    def use(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretError("no encryption key configured")
        self._keys = list(keys)
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @property
    def keys(self) -> list[bytes]:
        return list(self._keys)

    def encrypt(self, plaintext: str) -> str:
        return self._require().encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._require().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError("a stored secret cannot be decrypted with the configured keys") from None

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the first key."""
        return self._require().rotate(token.encode()).decode()

    def _require(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretError("encryption keys are not loaded")
        return self._fernet


keyring = Keyring()


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def write_keys_file(instance_path: Path, keys: list[str]) -> None:
    path = Path(instance_path) / KEYS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(key + "\n" for key in keys))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def new_token(prefix: str, nbytes: int = 24) -> str:
    """A random, URL-safe secret such as an offer key (``ok_...``)."""
    return f"{prefix}_{_random.token_urlsafe(nbytes)}"


def hash_token(token: str) -> str:
    """The SHA-256 a key or token is stored and looked up by. A lookup by the
    hash (a dict, an indexed column) needs no constant-time comparison: its
    time depends on the hash, which tells a guesser nothing of the secret's
    characters (tests/core/test_constant_time.py holds the code to that)."""
    return hashlib.sha256(token.encode()).hexdigest()


def hint(token: str) -> str:
    """What may be shown of a secret after it was saved: its last four characters."""
    return "…" + token[-4:]


SECRET_NAME = re.compile(r"token|key|secret|pass|auth|sig|hash", re.IGNORECASE)
MASK = "***"


def _user_info(netloc: str) -> tuple[str | None, str]:
    """(what is before the ``@``, or None without one; the host[:port])."""
    user_info, at, host = netloc.rpartition("@")
    return (user_info if at else None), host


def _masked_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    return f"{name}={MASK}" if equals and value and SECRET_NAME.search(unquote_plus(name)) else pair


def mask_url(url: str) -> str:
    """The URL fit for a page or a log: the password in the address (or the
    whole user part when it has no password: a token used as a user name),
    and the values of query parameters named like a token, key, secret,
    password or signature, as ``***``; every other character as it was. A
    URL that cannot be read is shown as a placeholder, never as it is."""
    if "@" not in url and not SECRET_NAME.search(url.partition("?")[2]):
        return url  # nothing to hide (most postbacks): no need to take it apart
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    user_info, host = _user_info(parts.netloc)
    netloc = parts.netloc
    if user_info:
        user, colon, _ = user_info.partition(":")
        netloc = (f"{user}:{MASK}" if colon else MASK) + "@" + host
    query = "&".join(_masked_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def unmask_url(given: str, saved: str) -> str:
    """``given`` (typed over a URL shown by ``mask_url``) with each ``***``
    that stands where ``saved`` had a secret put back: the password of the same
    user (or the user part), the value of a query parameter of the same name.
    Anything typed in place of a ``***`` is kept as typed."""
    if MASK not in given or not saved:
        return given
    try:
        new, old = urlsplit(given), urlsplit(saved)
    except ValueError:
        return given
    (new_info, host), (old_info, _) = _user_info(new.netloc), _user_info(old.netloc)
    netloc = new.netloc
    if new_info and old_info:
        user, colon, password = new_info.partition(":")
        old_user, old_colon, old_password = old_info.partition(":")
        if colon and password == MASK and old_colon and user == old_user:
            netloc = f"{user}:{old_password}@{host}"
        elif new_info == MASK and not old_colon:
            netloc = f"{old_info}@{host}"
    saved_values: dict[str, str] = {}
    for pair in old.query.split("&"):
        name, equals, value = pair.partition("=")
        if equals:
            saved_values.setdefault(name, value)
    pairs = [pair.partition("=") for pair in new.query.split("&")] if new.query else []
    query = "&".join(
        f"{name}={saved_values[name]}" if equals and value == MASK and name in saved_values else name + equals + value
        for name, equals, value in pairs
    )
    return urlunsplit(new._replace(netloc=netloc, query=query))
