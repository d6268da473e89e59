"""Secrets at rest: encryption of stored secrets, hashing of keys and tokens.

Encryption keys are Fernet keys kept in ``instance/encryption.keys`` (one per
line, the newest first) or in ``AFFNET_ENCRYPTION_KEYS`` (comma-separated);
never in the database. MultiFernet decrypts with any listed key and encrypts
with the first, so keys rotate by adding a new first key, re-encrypting, and
then dropping the old one (``affnet keys rotate``).

Offer keys and API tokens are random and long, so a plain SHA-256 is a safe
way to store them: the stored hash finds the row, and the secret itself is
shown once and never kept.
"""

import hashlib
import os
import secrets as _random
from pathlib import Path

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
    return hashlib.sha256(token.encode()).hexdigest()


def hint(token: str) -> str:
    """What may be shown of a secret after it was saved: its last four characters."""
    return "…" + token[-4:]
