"""Secrets at rest: Fernet with rotating keys, hashed keys and tokens."""

import pytest
import subprocess
import sys

from cryptography.fernet import Fernet

from affnet.core.storage.secrets import Keyring, SecretError, hash_token, hint, new_token


def test_a_secret_encrypts_and_decrypts_and_is_not_kept_in_clear():
    keyring = Keyring()
    keyring.use([Fernet.generate_key()])
    stored = keyring.encrypt("EAAB-token-1234")
    assert "EAAB-token-1234" not in stored
    assert keyring.decrypt(stored) == "EAAB-token-1234"


def test_a_secret_under_an_old_key_decrypts_after_a_new_key_is_added_and_rotates_to_it():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keyring = Keyring()
    keyring.use([old])
    stored = keyring.encrypt("s3cret")
    keyring.use([new, old])
    assert keyring.decrypt(stored) == "s3cret"
    rotated = keyring.rotate(stored)
    keyring.use([new])
    assert keyring.decrypt(rotated) == "s3cret"
    with pytest.raises(SecretError):
        keyring.decrypt(stored)


def test_tokens_are_random_and_stored_as_a_hash():
    first, second = new_token("ok"), new_token("ok")
    assert first != second and first.startswith("ok_") and len(first) >= 32
    assert hash_token(first) != first and len(hash_token(first)) == 64
    assert hint(first) == "…" + first[-4:]


def test_a_token_hashes_the_same_every_time_and_in_every_process():
    """Tokens are looked up by their hash: a hash that changed between calls,
    restarts or servers (a random salt, a per-process key) would lock every
    tracker out. SHA-256 of the token, as the stored hashes were made."""
    token = "st_4zS1mPl3-t0k3n"
    again = subprocess.run(
        [sys.executable, "-c", f"from affnet.core.storage.secrets import hash_token; print(hash_token({token!r}))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert hash_token(token) == hash_token(token) == again
    assert hash_token(token) == "6ee865abef4b7ab6f9fcbfb0216e9da0a4bf5167b79702a54c3ea383d3586058"
    assert hash_token(token + "x") != hash_token(token)


def test_keys_come_from_the_environment_when_set(tmp_path):
    key = Fernet.generate_key().decode()
    keyring = Keyring()
    keyring.load(tmp_path, environ={"AFFNET_ENCRYPTION_KEYS": key})
    assert keyring.keys == [key.encode()]


def test_a_missing_keys_file_says_to_run_init(tmp_path):
    with pytest.raises(SecretError, match="affnet init"):
        Keyring().load(tmp_path, environ={})
