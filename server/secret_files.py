"""Secrets kept in files of the data directory (development keys): written once, atomically, owner-only."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def create_once(path: Path, content: str) -> None:
    """Write `content` to `path` unless it exists: parent folders 0700, the file 0600 (mkstemp's mode), fsynced.
    A temporary file is linked into place, so processes racing to create the same secret all end up with the
    winner's content (a file system without hard links falls back to an atomic replace)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)  # refuses to overwrite a secret another process has just created
        except FileExistsError:
            pass
        except OSError:
            os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
