"""GOVSHARE_HOME: the node's local directory (SQLite file, generated secrets, key-encryption key).

This module has no Django imports so that settings can use it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def home_dir() -> Path:
    raw = os.environ.get("GOVSHARE_HOME") or str(Path.home() / ".local" / "share" / "govshare")
    path = Path(raw).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(name: str, nbytes: int = 32) -> str:
    """Return the hex secret stored in ``GOVSHARE_HOME/name``, creating it with mode 0600 on first use."""
    path = home_dir() / name
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    value = secrets.token_hex(nbytes)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value + "\n")
    return value
