"""The checkpoint file: the access log's external anchor, outside the database (SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE).

One JSON object per line, appended and never rewritten: the chain's head (`seq`, `hash`) and start
(`first_seq`) at a moment, signed with the chain key (server/access_log.py, `external_checkpoint`). Each line
is written with a single `write` on a descriptor opened with O_APPEND and then fsynced, so that the file can
be made append-only for the operating system (`chattr +a`) and shipped elsewhere line by line. Whoever
controls the database cannot reach it: verification compares the database with every line and so sees a
removed tail, or a log rolled back as a whole, that the hash chain alone cannot show.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server import access_log
from server.access_log import ExternalCheckpoints

NOT_CONFIGURED = ("no checkpoint file (SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE) is configured: rows removed from the end "
                  "of the log, or the whole log rolled back, cannot be detected")


def append(path: Path, line: dict[str, Any]) -> None:
    """Append one line and fsync it (and the folder, when the file is new: mode 0600, folders 0700). A previous
    line cut short by a crash is ended first, so that it does not swallow this one."""
    data = (json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if not created and not _ends_with_newline(path):
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        if file.seek(0, os.SEEK_END) == 0:
            return True
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def read(path: Path) -> ExternalCheckpoints:
    """Every line of the file (numbered from 1); lines that are not JSON are listed apart. A missing file reads
    as empty (`missing`): no checkpoint has been written yet."""
    if not path.exists():
        return ExternalCheckpoints(str(path), missing=True)
    lines: list[tuple[int, Any]] = []
    unreadable: list[int] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            lines.append((number, json.loads(raw)))
        except ValueError:
            unreadable.append(number)
    return ExternalCheckpoints(str(path), lines, unreadable)


async def verify(session: AsyncSession, keyring: access_log.Keyring, path: Path | None, *, warn_without: bool,
                 **options: Any) -> access_log.Verification:
    """`access_log.verify` against the checkpoint file at `path` (read first, in a thread); without a file, a
    warning when `warn_without` (outside development mode)."""
    external = await asyncio.to_thread(read, path) if path is not None else None
    result = await access_log.verify(session, keyring, external=external, **options)
    if path is None and warn_without:
        result.notes.append(NOT_CONFIGURED)
    return result
