"""The access log's chain key: HMAC-SHA256 over every sealed row and signed checkpoint, kept outside the database.

`SAMPLAN_ACCESS_LOG_KEY` is the key (at least 32 characters: `python -c "import secrets;
print(secrets.token_urlsafe(32))"`); it is required outside development mode, like the identity provider's
keys. `SAMPLAN_ACCESS_LOG_OLD_KEYS` (comma-separated, oldest first) keeps the keys a rotation replaced, for
verifying the rows sealed with them. Development mode without a key creates one in
`$SAMPLAN_DATA_DIR/access-log-key` (mode 0600) the first time, the way it creates its signing key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from server.access_log import Keyring
from server.secret_files import create_once
from server.settings import Settings


def keyring(settings: Settings) -> Keyring:
    """The chain key and the retired keys from the settings (ValueError: none outside development mode, or one
    shorter than 32 characters)."""
    if settings.access_log_key:
        current = settings.access_log_key
    elif settings.dev_mode:
        current = load_or_create_key_file(settings.access_log_key_path)
    else:
        raise ValueError("SAMPLAN_ACCESS_LOG_KEY must be set outside development mode")
    return Keyring(current.encode(), tuple(k.encode() for k in settings.access_log_old_keys))


def load_or_create_key_file(path: Path) -> str:
    """The key in `path`, created first (random, mode 0600, parent folders 0700) if there is none. Creation is
    atomic: a temporary file is linked into place, so racing processes all end up with the winner's key."""
    if not path.exists():
        _create(path)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a secret; tighten what someone loosened
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise ValueError(f"the access-log key file {path} is empty")
    return key


def _create(path: Path) -> None:
    create_once(path, secrets.token_urlsafe(32) + "\n")
