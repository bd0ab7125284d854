"""SQLite locking: writing transactions queue on BEGIN IMMEDIATE; the background readers (relay, feed reads, the
sealer's look) take no write lock, so a reader that is slow or paused mid-transaction never makes a writer wait
until its busy timeout.

Regression: the relay's and sealer's reads began with BEGIN IMMEDIATE; a round paused between its statements
(a loaded machine, or a test event loop that stops between tests) held the write lock, and a request on another
connection failed after the busy timeout with "database is locked" (500 / a websocket closed with 1011)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from server.persistence.database import create_engine, read_only, session_factory


def _write_from_another_connection(path: Path) -> None:
    other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (v) VALUES (2)")
        other.execute("COMMIT")
    finally:
        other.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "lock.db"
    with sqlite3.connect(db) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (v INTEGER)")
        setup.execute("INSERT INTO t (v) VALUES (1)")
    return db


async def test_an_open_read_only_transaction_lets_another_connection_write(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with read_only(session_factory(engine))() as session:
            assert await session.scalar(text("SELECT count(*) FROM t")) == 1  # the transaction is open now
            _write_from_another_connection(path)
            assert await session.scalar(text("SELECT count(*) FROM t")) == 1  # its snapshot, unchanged
        async with read_only(session_factory(engine))() as session:
            assert await session.scalar(text("SELECT count(*) FROM t")) == 2
    finally:
        await engine.dispose()


async def test_an_open_writing_transaction_holds_the_write_lock(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with session_factory(engine)() as session:
            assert await session.scalar(text("SELECT count(*) FROM t")) == 1
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                _write_from_another_connection(path)
    finally:
        await engine.dispose()
