"""Helpers for multi-instance stream tests: a fresh PostgreSQL database, a private Redis, API processes, and a
small websocket stream client that records every frame it receives.

Plain helpers (no fixtures), so they cannot clash with a `tests/realtime/conftest.py`; the test modules wrap
them in their own fixtures. Nothing here sleeps to synchronise: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection

from server.auth.tokens import DevSigningKey
from server.demo.seed import DEMO_USERS
from server.persistence.database import create_engine
from server.persistence.migrate import upgrade
from server.persistence.models import EventRow
from tests.conftest import _create_pg_database, _drop_pg_database, _seed

REPO = Path(__file__).resolve().parents[2]
ISSUER = "http://samplan.test/dev-idp"
AUDIENCE = "samplan"
_USERS = {u.username: u for u in DEMO_USERS}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll a condition (blocking; for fixtures outside the event loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A private redis-server without persistence that a test may stop and start again on the same port."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self._log = log_dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "redis is already running"
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: _port_open(self.port), 10, f"redis on port {self.port}")

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open and nothing answers, as with a hung server or network."""
        assert self.proc is not None, "redis was never started"
        assert self.proc.poll() is None, "redis is not running"
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill it (no goodbye to the clients: what an outage looks like) and wait until the port is closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        wait_until(lambda: not _port_open(self.port), 10, f"redis on port {self.port} to stop")


@dataclass
class ApiProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/events"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@dataclass
class Cluster:
    database_url: str
    data_dir: Path
    redis: RedisServer
    key: DevSigningKey
    instances: list[ApiProcess] = field(default_factory=list)

    @property
    def a(self) -> ApiProcess:
        return self.instances[0]

    @property
    def b(self) -> ApiProcess:
        return self.instances[1]

    def token(self, username: str) -> str:
        user = _USERS[username]
        return self.key.issue(subject=user.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user.hsa_id},
                              lifetime=timedelta(hours=1))

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def start_api(self, name: str, **extra_env: str) -> ApiProcess:
        """Start one `samplan api` process on a free port sharing the database and Redis; wait until ready."""
        port = free_port()
        env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url,
               "SAMPLAN_DATA_DIR": str(self.data_dir), "SAMPLAN_API_HOST": "127.0.0.1",
               "SAMPLAN_API_PORT": str(port), "SAMPLAN_DEV_MODE": "1", "OIDC_ISSUER": ISSUER,
               "OIDC_AUDIENCE": AUDIENCE, "OIDC_JWKS_URL": "", "SAMPLAN_RELAY_INTERVAL_SECONDS": "0.2",
               "PYTHONUNBUFFERED": "1", **extra_env}
        log_path = self.data_dir / f"api-{name}-{port}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "server.cli", "api"], cwd=REPO, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
        api = ApiProcess(name, port, proc, log_path)
        self.instances.append(api)

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"api {name} exited with {proc.returncode}:\n{api.log_tail()}")
            try:
                return httpx.get(f"{api.http}/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 90, f"api {name} to be ready", interval=0.1)  # a loaded 2-core machine: slow imports
        return api

    async def unpublished(self) -> int:
        """Committed events the broker has not confirmed yet (the relay's backlog)."""
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as conn:
                count = await conn.scalar(select(func.count()).select_from(EventRow)
                                          .where(EventRow.published_at.is_(None)))
                return int(count or 0)
        finally:
            await engine.dispose()

    async def execute(self, sql: str) -> None:
        """Run one statement on the shared database (to make it misbehave)."""
        engine = create_engine(self.database_url)
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                await conn.exec_driver_sql(sql)
        finally:
            await engine.dispose()

    async def until_all_published(self, within: float) -> None:
        deadline = time.monotonic() + within
        while (left := await self.unpublished()) > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{left} events still unpublished after {within}s:\n{self.logs()}")
            await asyncio.sleep(0.1)  # polling the database; the relay runs every 0.2 s

    def logs(self) -> str:
        return "\n".join(f"--- {api.name} ---\n{api.log_tail()}" for api in self.instances)


@contextlib.contextmanager
def running_cluster(data_dir: Path, instances: int = 2) -> Iterator[Cluster]:
    """A fresh PostgreSQL database (migrated, seeded without cases), a private Redis and N API processes."""
    name = f"samplan_rt_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_create_pg_database(name))
    redis = RedisServer(data_dir)
    cluster: Cluster | None = None
    try:
        upgrade(url)
        asyncio.run(_seed(url))
        redis.start()
        key = DevSigningKey.load_or_create(data_dir / "dev-signing-key.json")
        cluster = Cluster(url, data_dir, redis, key)
        for i in range(instances):
            cluster.start_api("ab"[i] if i < 2 else str(i))
        yield cluster
    finally:
        if cluster is not None:
            for api in cluster.instances:
                api.stop()
        redis.stop()
        asyncio.run(_drop_pg_database(name))


# ----- the stream client ------------------------------------------------------------------------------------


class Stream:
    """One websocket on `/api/v1/events`: a reader task records every frame; waits poll the record."""

    def __init__(self, ws: ClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label
        self.frames: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"stream-{label}")
        self.closed = False

    @classmethod
    async def open(cls, url: str, token: str, label: str = "") -> Stream:
        ws = await websockets.connect(url, open_timeout=10, max_size=2**22)
        stream = cls(ws, label or url)
        await stream.send({"op": "auth", "token": token})
        await stream.wait_for(lambda f: f["op"] == "authenticated")
        return stream

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def subscribe(self, feeds: dict[str, int | None], within: float = 10) -> dict[str, int]:
        """Send `subscribe`; returns the heads of the `subscribed` frame that answers it."""
        seen = sum(1 for f in self.frames if f["op"] == "subscribed")
        await self.send({"op": "subscribe", "feeds": feeds})
        await self.until(lambda: sum(1 for f in self.frames if f["op"] == "subscribed") > seen, within,
                         "a subscribed frame")
        heads: dict[str, int] = [f for f in self.frames if f["op"] == "subscribed"][seen]["feeds"]
        return heads

    async def until(self, condition: Callable[[], bool], within: float, what: str) -> None:
        """Wait (without sleeping) until a condition on the received frames holds."""
        async def wait() -> None:
            while not condition():
                if self.closed and not condition():
                    raise ConnectionError(f"{self.label}: stream closed while waiting for {what}")
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise AssertionError(f"{self.label}: timed out after {within}s waiting for {what}; "
                                 f"last frames: {self.frames[-5:]}") from None

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], within: float = 10) -> dict[str, Any]:
        await self.until(lambda: any(predicate(f) for f in self.frames), within, "a matching frame")
        return next(f for f in self.frames if predicate(f))

    def events(self, feed: str | None = None) -> list[dict[str, Any]]:
        """The envelopes received, in order (optionally of one feed)."""
        return [f["event"] for f in self.frames
                if f["op"] == "event" and (feed is None or f["event"]["feed"] == feed)]

    def positions(self, feed: str) -> list[int]:
        return [e["position"] for e in self.events(feed)]

    async def wait_position(self, feed: str, position: int, within: float = 15) -> None:
        await self.until(lambda: position in self.positions(feed), within, f"{feed} position {position}")

    async def ping(self, within: float = 10) -> None:
        """A round trip through this subscriber's writer: everything queued before it has been sent."""
        seen = sum(1 for f in self.frames if f["op"] == "pong")
        await self.send({"op": "ping"})
        await self.until(lambda: sum(1 for f in self.frames if f["op"] == "pong") > seen, within, "pong")

    def cut(self) -> None:
        """The network goes away: abort the TCP connection without a closing handshake."""
        transport = self.ws.transport
        transport.abort()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


class RawStream:
    """A websocket client that reads nothing unless asked: a slow consumer.

    Plain socket, handshake by hand, no compression offered, a tiny receive buffer and segment size, so the
    server's writes block after a few kilobytes instead of disappearing into the operating system's buffers.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    @classmethod
    async def open(cls, port: int, token: str) -> RawStream:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        stream = cls(sock)
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (
            f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        while b"\r\n\r\n" not in stream._buffer:
            stream._buffer += await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
        status, _, stream._buffer = stream._buffer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status
        await stream.send({"op": "auth", "token": token})
        return stream

    async def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await asyncio.get_running_loop().sock_sendall(self._sock, header + mask + masked)

    async def read_frames(self, until: Callable[[dict[str, Any]], bool], within: float) -> list[dict[str, Any]]:
        """Read (now, at last) every frame up to and including the first one `until` accepts."""
        loop = asyncio.get_running_loop()
        frames: list[dict[str, Any]] = []

        async def read() -> None:
            while True:
                frame = self._next_frame()
                if frame is None:
                    chunk = await loop.sock_recv(self._sock, 65536)
                    if not chunk:
                        raise ConnectionError(f"closed by the server after {len(frames)} frames")
                    self._buffer += chunk
                    continue
                frames.append(frame)
                if until(frame):
                    return

        try:
            await asyncio.wait_for(read(), within)
        except TimeoutError:
            raise AssertionError(f"timed out after {within}s; last frames: {frames[-5:]}") from None
        return frames

    def _next_frame(self) -> dict[str, Any] | None:
        data = self._buffer
        if len(data) < 2:
            return None
        opcode, length, offset = data[0] & 0x0F, data[1] & 0x7F, 2
        assert data[0] & 0x80, "fragmented frames are not expected"
        if length == 126:
            if len(data) < 4:
                return None
            length, offset = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, offset = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < offset + length:
            return None
        payload, self._buffer = data[offset:offset + length], data[offset + length:]
        if opcode == 0x9:  # ping: skipped (a slow consumer's pings go unanswered; its API pings rarely)
            return self._next_frame()
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise ConnectionError(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
        assert opcode == 0x1, f"unexpected opcode {opcode}"
        result: dict[str, Any] = json.loads(payload)
        return result

    def close(self) -> None:
        self._sock.close()
