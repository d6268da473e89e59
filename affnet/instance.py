"""The instance folder: this installation's own secrets, made once by `affnet init`.

``secret_key`` signs sessions; ``encryption.keys`` encrypts stored secrets.
Both are created with mode 600 and never leave the folder.
"""

import os
import secrets
from pathlib import Path

from .core.storage.secrets import KEYS_FILE, new_fernet_key, write_keys_file

SECRET_KEY_FILE = "secret_key"


def init_instance(instance_path: Path) -> list[str]:
    """Create the folder and any missing secret; returns what was made."""
    instance_path = Path(instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)
    made = []
    secret_file = instance_path / SECRET_KEY_FILE
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32) + "\n")
        os.chmod(secret_file, 0o600)
        made.append(str(secret_file))
    if not (instance_path / KEYS_FILE).exists():
        write_keys_file(instance_path, [new_fernet_key()])
        made.append(str(instance_path / KEYS_FILE))
    return made


def load_flask_secret(instance_path: Path) -> str:
    if os.environ.get("AFFNET_SECRET_KEY"):
        return os.environ["AFFNET_SECRET_KEY"]
    path = Path(instance_path) / SECRET_KEY_FILE
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `affnet init` first")
    return path.read_text().strip()
