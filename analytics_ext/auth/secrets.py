"""Server secrets (signing keys, credential keys): from config, or generated once into a 0600 file.

There is never a built-in default value: a missing secret is created with ``secrets`` and kept
in the secrets folder, readable by the server's user only.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class InsecureSecretFile(RuntimeError):
    """A secret file others can read: refuse to use a key that may have leaked."""


def load_or_create_secret(directory: Path, name: str, *, nbytes: int = 32) -> bytes:
    """The secret ``name`` from ``directory``, created atomically with mode 0600 on first use."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / name
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(nbytes).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another server process created it between our read and our write: use theirs.
        return _read_private(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value


def _read_private(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureSecretFile(
            f"{path} is readable by other users (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}` or delete it to generate a new secret"
        )
    value = path.read_bytes().strip()
    if not value:
        raise InsecureSecretFile(f"{path} is empty; delete it to generate a new secret")
    return value
