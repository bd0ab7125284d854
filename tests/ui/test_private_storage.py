"""The UI keeps each browser's session, with its access and refresh tokens, in NiceGUI's storage files: only the
UI's own user may read them (regression: they were written world-readable, 0644)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a process of its own (the umask is process-wide): what `samplan ui` does first, then a session stored the way
# NiceGUI stores a browser's user storage.
SCRIPT = """
from nicegui.persistence.file_persistent_dict import FilePersistentDict
from ui.app import private_storage

path = private_storage()
storage = FilePersistentDict(path / "storage-user-0123.json")
storage["samplan_session"] = {"access_token": "a", "refresh_token": "r"}
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_session_files_are_readable_by_the_ui_process_user_only(tmp_path: Path) -> None:
    folder = tmp_path / "nicegui"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    earlier = folder / "storage-user-earlier.json"  # left by a run before the fix
    earlier.write_text("{}")
    earlier.chmod(0o644)
    env = {**os.environ, "NICEGUI_STORAGE_PATH": str(folder)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    written = folder / "storage-user-0123.json"
    assert '"refresh_token"' in written.read_text()
    assert mode(written) == 0o600
    assert mode(earlier) == 0o600
    assert mode(folder) == 0o700
