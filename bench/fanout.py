"""Stream fan-out: commit → receipt latency at N websocket subscribers of one unit feed, against a bare relay.

Per N: two fresh `samplan api` processes on one PostgreSQL database (created, migrated and seeded for the run)
and a Redis; N subscribers (all `ward.nurse`, following the main ward's feed from now) split evenly across the
two instances and held by `--client-procs` client processes; W planning commands POSTed one after the other,
alternating between the instances, paced at `--rate` per second. Every subscriber timestamps each frame on
receipt. Lost = feed positions a subscriber should have had (after the head its `subscribed` frame named, up to
the final head) but did not get; duplicates = positions it got more than once.

Latency basis (`--latency-from`, both are always printed):
- publish (default): from the moment the event frame came out of Redis, timestamped by a tap subscriber in this
  process. The API publishes right after its commit, so this is commit → receipt less the publish round trip.
- occurred: from the event's `occurred_at` (server clock, same machine), which the command takes when it starts,
  before its database work and commit; it overstates commit → receipt by most of the command's time.

The baseline, in the same run and per N: two processes of `bench/_baseline_relay.py` (a `websockets` server that
broadcasts each message of a Redis channel to its clients: no queue or task per client, no auth, no database),
the same N clients and client code, W payloads of the same size and shape (a captured Samplan event frame with
its position and `occurred_at` replaced) published by this process at the same pace, measured the same way (the
tap). `ratio_p99` = Samplan p99 / baseline p99. `--rounds R` alternates R rounds of (Samplan, baseline) per N
and pools their samples, so that load from elsewhere on the machine falls on both alike.

Everything shares the machine's CPUs: the client processes compete with the servers (the default client is a
minimal RFC 6455 protocol, far cheaper per frame than a websocket library; `--client websockets` uses the
`websockets` library). Redis is, by default, a private `redis-server` of this bench: the API's channel name is
fixed, and other processes publishing on a shared Redis would disturb positions. Prints one JSON line per N.

    .venv/bin/python bench/fanout.py [--n 1000] [--w 200] [--rate 20] [--rounds 1] [--sweep] [--client-procs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio as aioredis
import sqlalchemy
import uvloop
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import AUDIENCE, ISSUER, free_port, percentile, pg_database, prepare  # noqa: E402
from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo.seed import DEMO_USERS, MAIN_WARD, stable_id  # noqa: E402
from server.persistence.database import create_engine  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402

SAMPLAN_CHANNEL = "samplan:events"  # realtime.broker.CHANNEL
SWEEP = (100, 1000, 2000)
WARMUP_WRITES = 10


# ---------------------------------------------------------------- client processes


class _Event(msgspec.Struct):
    feed: str
    position: int
    occurred_at: datetime
    aggregate_id: str = ""


class _Frame(msgspec.Struct):
    op: str
    event: _Event | None = None
    feeds: dict[str, int] | list[str] | None = None


_decode = msgspec.json.Decoder(_Frame).decode


class _RawWebSocket(asyncio.Protocol):
    """A minimal websocket client (RFC 6455, no extensions) that timestamps and keeps every data frame.

    Parsing an unmasked server frame is a few slices, so one client process can receive tens of thousands of
    frames a second: the measurement is about the servers, not about the clients' websocket library."""

    def __init__(self, records: list[tuple[float, bytes | str]]) -> None:
        self.records = records
        self.buf = bytearray()
        self.upgraded = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.fragments: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        at = time.time()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not bytes(buf[:end]).startswith(b"HTTP/1.1 101"):
                self.closed = True
                self._wake()
                return
            del buf[:end + 4]
            self.upgraded = True
        pos, size = 0, len(buf)
        while size - pos >= 2:
            first, length, head = buf[pos], buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buf[pos + head:end])
            pos = end
            opcode = first & 0x0F
            if opcode <= 2:  # continuation, text, binary
                self.fragments.append(payload)
                if first & 0x80:
                    message = payload if len(self.fragments) == 1 else b"".join(self.fragments)
                    self.records.append((at, message))
                    self.fragments = []
            elif opcode == 9:  # ping
                self.send(payload, opcode=0xA)
            elif opcode == 8:  # close: answer it
                self.send(payload[:2], opcode=0x8)
                self.closed = True
                if self.transport is not None:
                    self.transport.close()
        if pos:
            del buf[:pos]
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def changed(self, within: float) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self.waiter, within)

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        key = os.urandom(4)
        n = len(payload)
        mask = (key * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big") if n else b""
        if n < 126:
            header = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(header + key + masked)


@dataclass
class _Client:
    url: str
    kind: str  # "raw" or "websockets"
    head: int = -1
    ws: ClientConnection | None = None
    raw: _RawWebSocket | None = None
    reader: asyncio.Task[None] | None = None
    records: list[tuple[float, bytes | str]] = field(default_factory=list)
    error: str | None = None
    _closed: bool = False

    @property
    def connected(self) -> bool:
        return self.ws is not None or self.raw is not None

    @property
    def closed(self) -> bool:
        return self.raw.closed if self.raw is not None else self._closed

    def last_position(self) -> int:
        for _, raw in reversed(self.records[-8:]):
            frame = _decode(raw)
            if frame.event is not None:
                return frame.event.position
        return -1

    async def open(self, token: str, feed: str, deflate: bool, gate: asyncio.Semaphore) -> None:
        auth = json.dumps({"op": "auth", "token": token}).encode()
        subscribe = json.dumps({"op": "subscribe", "feeds": {feed: None}}).encode()
        try:
            async with gate:
                if self.kind == "raw":
                    subscribed = await self._open_raw(auth, subscribe)
                else:
                    subscribed = await self._open_websockets(auth, subscribe, deflate)
            assert isinstance(subscribed.feeds, dict)
            self.head = subscribed.feeds[feed]
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:200]
            self.ws = self.raw = None

    async def _open_raw(self, auth: bytes, subscribe: bytes) -> _Frame:
        rest = self.url.removeprefix("ws://")
        address, path = rest.split("/", 1)
        host, port = address.rsplit(":", 1)
        loop = asyncio.get_running_loop()
        _, proto = await asyncio.wait_for(loop.create_connection(lambda: _RawWebSocket(self.records), host,
                                                                 int(port)), 60)
        key = base64.b64encode(os.urandom(16)).decode()
        assert proto.transport is not None
        proto.transport.write(f"GET /{path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        while not proto.upgraded:
            if proto.closed:
                raise RuntimeError("upgrade refused")
            await proto.changed(60)
        self.raw = proto
        proto.send(auth)
        await self._expect_raw(proto, "authenticated")
        proto.send(subscribe)
        subscribed = await self._expect_raw(proto, "subscribed")
        self.records.clear()
        return subscribed

    async def _expect_raw(self, proto: _RawWebSocket, op: str) -> _Frame:
        seen = 0
        while True:
            while seen < len(self.records):
                frame = _decode(self.records[seen][1])
                seen += 1
                if frame.op == op:
                    return frame
                if frame.op == "error":
                    raise RuntimeError(f"server said error while waiting for {op}")
            if proto.closed:
                raise RuntimeError(f"closed while waiting for {op}")
            await proto.changed(60)

    async def _open_websockets(self, auth: bytes, subscribe: bytes, deflate: bool) -> _Frame:
        ws = await connect(self.url, compression="deflate" if deflate else None, ping_interval=None,
                           max_queue=None, open_timeout=120, close_timeout=5, max_size=None)
        self.ws = ws
        await ws.send(auth.decode())
        await _expect(ws, "authenticated")
        await ws.send(subscribe.decode())
        subscribed = await _expect(ws, "subscribed")
        self.reader = asyncio.create_task(self._read(ws))
        return subscribed

    async def _read(self, ws: ClientConnection) -> None:
        record = self.records.append
        clock = time.time
        try:
            async for raw in ws:
                record((clock(), raw))
        except ConnectionClosed:
            pass
        self._closed = True

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.raw is not None and self.raw.transport is not None:
            self.raw.send((1000).to_bytes(2, "big"), opcode=0x8)
            with contextlib.suppress(TimeoutError):
                while not self.raw.closed:
                    await self.raw.changed(5)
            self.raw.transport.abort()


async def _expect(ws: ClientConnection, op: str) -> _Frame:
    while True:
        frame = _decode(await asyncio.wait_for(ws.recv(), 60))
        if frame.op == op:
            return frame
        if frame.op == "error":
            raise RuntimeError(f"server said error while waiting for {op}")


def _summarise(client: _Client, feed: str) -> dict[str, Any]:
    positions, received, occurred, others = [], [], [], {}
    for at, raw in client.records:
        frame = _decode(raw)
        if frame.event is not None and frame.event.feed == feed:
            positions.append(frame.event.position)
            received.append(at)
            occurred.append(frame.event.occurred_at.timestamp())
        else:
            others[frame.op] = others.get(frame.op, 0) + 1
    return {"url": client.url.split("/")[2], "head": client.head, "error": client.error,
            "closed_early": client.closed, "positions": positions,
            "received": received, "occurred": occurred, "other_frames": others}


async def _client_main(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients: list[_Client] = []
    feed = ""
    while True:
        command, *args = await loop.run_in_executor(None, pipe.recv)
        if command == "exit":
            return
        if command == "connect":
            urls, token, feed, deflate, kind = args
            clients = [_Client(url, kind) for url in urls]
            gate = asyncio.Semaphore(50)
            await asyncio.gather(*(c.open(token, feed, deflate, gate) for c in clients))
            pipe.send(("ready", sum(c.connected for c in clients), [c.error for c in clients if c.error]))
        elif command == "finish":
            final, timeout = args
            deadline = time.monotonic() + timeout
            waiting = [c for c in clients if c.connected]
            while waiting and time.monotonic() < deadline:
                waiting = [c for c in waiting if not c.closed and c.last_position() < final]
                if waiting:
                    await asyncio.sleep(0.05)
            pipe.send(("result", [_summarise(c, feed) for c in clients]))
        elif command == "close":
            await asyncio.gather(*(c.close() for c in clients if c.connected), return_exceptions=True)
            clients = []
            pipe.send(("closed",))


def client_process(pipe: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us (and everything else) on Ctrl-C
    with contextlib.suppress(EOFError, BrokenPipeError):
        uvloop.run(_client_main(pipe))


# ---------------------------------------------------------------- the bench process


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds of the processes."""
    user = system = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / os.sysconf("SC_CLK_TCK")
        system += int(fields[12]) / os.sysconf("SC_CLK_TCK")
    return user, system


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def _receive(pipe: Connection) -> Any:
    """A client process's reply, without a blocking thread (so Ctrl-C never waits on one)."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(pipe.fileno(), readable.set)
    try:
        await readable.wait()
    finally:
        loop.remove_reader(pipe.fileno())
        os.set_blocking(pipe.fileno(), True)  # the loop made it non-blocking; recv() reads whole messages
    return pipe.recv()


@dataclass
class Phase:
    """What one phase (Samplan or baseline) measured."""

    latencies: list[float]
    from_publish: list[float]
    lost: int
    duplicates: int
    connected: int
    connect_errors: list[str]
    closed_early: int
    other_frames: dict[str, int]
    rss_per_subscriber_kb: float
    extra: dict[str, Any] = field(default_factory=dict)


def merge(phases: list[Phase]) -> Phase:
    """The rounds of one system pooled: samples and counts added up, RSS per subscriber averaged."""
    extra: dict[str, Any] = {"cpu_s": tuple(sum(p.extra["cpu_s"][i] for p in phases) for i in range(2))}
    for key in ("events", "foreign_messages_on_channel"):
        if key in phases[0].extra:
            extra[key] = sum(p.extra[key] for p in phases)
    for key in ("write_ms",):
        if key in phases[0].extra:
            extra[key] = [x for p in phases for x in p.extra[key]]
    for key in ("rss_before_kb", "rss_after_kb"):
        if key in phases[0].extra:
            extra[key] = [p.extra[key] for p in phases]
    if "server_metrics" in phases[0].extra:
        extra["server_metrics"] = {k: sum(p.extra["server_metrics"].get(k, 0) for p in phases)
                                   for k in phases[0].extra["server_metrics"]}
    if "payload_bytes" in phases[0].extra:
        extra["payload_bytes"] = phases[0].extra["payload_bytes"]
    others: dict[str, int] = {}
    for p in phases:
        for op, count in p.other_frames.items():
            others[op] = others.get(op, 0) + count
    return Phase(
        latencies=[x for p in phases for x in p.latencies], from_publish=[x for p in phases for x in p.from_publish],
        lost=sum(p.lost for p in phases), duplicates=sum(p.duplicates for p in phases),
        connected=min(p.connected for p in phases), connect_errors=[e for p in phases for e in p.connect_errors],
        closed_early=sum(p.closed_early for p in phases), other_frames=others,
        rss_per_subscriber_kb=statistics.mean(p.rss_per_subscriber_kb for p in phases), extra=extra)


class FanoutBench:
    def __init__(self, args: argparse.Namespace, tmp: Path, database_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.database_url = database_url
        self.redis_url: str = args.redis_url
        self.ward = stable_id("unit", MAIN_WARD)
        self.feed = f"unit:{self.ward}"
        key = DevSigningKey.load_or_create(tmp / "dev-signing-key.json")
        nurse = next(u for u in DEMO_USERS if u.username == "ward.nurse")
        self.token = key.issue(subject=nurse.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": nurse.hsa_id})
        self.procs: list[subprocess.Popen[Any]] = []
        self.workers: list[tuple[Any, Connection]] = []
        self.case_id = ""
        self.version = 0
        self.sample_frame: dict[str, Any] | None = None
        self.round = 0

    # -- processes

    def start_workers(self) -> None:
        ctx = mp.get_context("spawn")
        for _ in range(self.args.client_procs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(child,), daemon=True)
            proc.start()
            self.workers.append((proc, parent))

    def stop_workers(self) -> None:
        for _, pipe in self.workers:
            with contextlib.suppress(Exception):
                pipe.send(("exit",))
        for proc, _ in self.workers:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        self.workers = []

    def spawn(self, argv: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[Any]:
        log = (self.tmp / log_name).open("ab")
        # A session of its own: Ctrl-C reaches only the bench, which then stops everything in order.
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def stop_procs(self) -> None:
        for proc in self.procs:
            stop(proc)
        self.procs = []

    def start_apis(self) -> list[tuple[str, int]]:
        instances = []
        for i in range(2):
            port = free_port()
            env = {**os.environ, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
                   "SAMPLAN_DATA_DIR": str(self.tmp), "SAMPLAN_DEV_MODE": "1", "OIDC_ISSUER": ISSUER,
                   "OIDC_AUDIENCE": AUDIENCE, "SAMPLAN_API_PORT": str(port), "OIDC_JWKS_URL": "",
                   # every subscriber is the same demo user: lift the per-user connection limit (0 = none)
                   "SAMPLAN_STREAM_MAX_CONNECTIONS_PER_USER": "0",
                   "PYTHONPATH": str(ROOT)}
            proc = self.spawn([sys.executable, "-m", "server.cli", "api"], env, f"api-{i}.log")
            instances.append((f"127.0.0.1:{port}", proc.pid))
        for address, _ in instances:
            self.wait_http(f"http://{address}/health")
        return instances

    def start_relays(self, channel: str) -> list[tuple[str, int]]:
        instances = []
        for i in range(2):
            port = free_port()
            argv = [sys.executable, str(ROOT / "bench" / "_baseline_relay.py"), "--port", str(port),
                    "--redis-url", self.redis_url, "--channel", channel, "--feed", self.feed]
            if self.args.deflate:
                argv.append("--compression")
            proc = self.spawn(argv, dict(os.environ), f"relay-{i}.log")
            instances.append((f"127.0.0.1:{port}", proc.pid))
        for address, _ in instances:
            self.wait_tcp(address)
        return instances

    def start_profilers(self, pids: list[int], n: int) -> list[subprocess.Popen[Any]]:
        if not self.args.profile:
            return []
        spy = str(Path(sys.executable).parent / "py-spy")
        seconds = str(int(self.args.w / self.args.rate) + 1)
        return [subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking",
                                  "--duration", seconds, "--output", str(Path(self.args.profile) / f"api-{n}-{i}.txt")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i, pid in enumerate(pids)]

    def wait_http(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not come up")

    def wait_tcp(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"baseline relay at {address} did not come up")

    # -- clients

    async def connect_clients(self, addresses: list[str], n: int) -> tuple[int, list[str]]:
        """Open n subscribers, subscriber i on instance i % 2, spread over the client processes."""
        urls = [f"ws://{addresses[i % len(addresses)]}/api/v1/events" for i in range(n)]
        k = len(self.workers)
        for j, (_, pipe) in enumerate(self.workers):
            pipe.send(("connect", urls[j::k], self.token, self.feed, self.args.deflate, self.args.client))
        replies = await asyncio.gather(*(_receive(pipe) for _, pipe in self.workers))
        return sum(r[1] for r in replies), [e for r in replies for e in r[2]]

    async def finish_clients(self, final: int) -> list[dict[str, Any]]:
        for _, pipe in self.workers:
            pipe.send(("finish", final, self.args.drain_timeout))
        replies = await asyncio.gather(*(_receive(pipe) for _, pipe in self.workers))
        return [summary for reply in replies for summary in reply[1]]

    async def close_clients(self) -> None:
        for _, pipe in self.workers:
            pipe.send(("close",))
        await asyncio.gather(*(_receive(pipe) for _, pipe in self.workers))

    @staticmethod
    def score(summaries: list[dict[str, Any]], final: int, publish_times: dict[int, float]) -> dict[str, Any]:
        latencies, from_publish, lost, duplicates, closed_early, others = [], [], 0, 0, 0, {}
        for s in summaries:
            if s["error"] is not None:
                continue
            closed_early += s["closed_early"]
            for op, count in s["other_frames"].items():
                others[op] = others.get(op, 0) + count
            expected = set(range(s["head"] + 1, final + 1))
            got = s["positions"]
            lost += len(expected - set(got))
            duplicates += len(got) - len(set(got))
            for position, at, occurred in zip(got, s["received"], s["occurred"], strict=True):
                if position in expected:
                    latencies.append((at - occurred) * 1000)
                    if position in publish_times:
                        from_publish.append((at - publish_times[position]) * 1000)
        return {"latencies": latencies, "from_publish": from_publish, "lost": lost, "duplicates": duplicates,
                "closed_early": closed_early, "other_frames": others}

    def dump(self, name: str, summaries: list[dict[str, Any]], publish_times: dict[int, float]) -> None:
        """With --dump DIR: one CSV line per delivery (subscriber, server, position, publish time, receipt)."""
        if not self.args.dump:
            return
        with (Path(self.args.dump) / f"{name}.csv").open("w") as out:
            out.write("subscriber,server,position,published,received,occurred\n")
            for i, s in enumerate(summaries):
                for position, at, occurred in zip(s["positions"], s["received"], s["occurred"], strict=True):
                    out.write(f"{i},{s['url']},{position},{publish_times.get(position, '')},{at:.6f},{occurred:.6f}\n")

    # -- Samplan

    async def feed_head(self, client: httpx.AsyncClient) -> int:
        response = await client.get(f"/api/v1/units/{self.ward}/events", params={"after": 0, "limit": 1})
        response.raise_for_status()
        return int(response.json()["head"])

    async def write(self, client: httpx.AsyncClient, i: int) -> None:
        body = {"expected_version": self.version, "notes": f"Fan-out bench {i}", "expected_needs": ["home_help"]}
        response = await client.post(f"/api/v1/cases/{self.case_id}/planning", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"write {i} failed: {response.status_code} {response.text[:300]}")
        self.version = response.json()["version"]

    async def tap(self, channel: str, times: dict[int, float], counts: dict[str, int], ready: asyncio.Event) -> None:
        """Timestamps each frame of our feed as it comes out of Redis (≈ when the servers get it)."""
        client = aioredis.from_url(self.redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            ready.set()
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                at = time.time()
                with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                    frame = _decode(message["data"])
                    if frame.event is None or frame.event.aggregate_id != self.case_id:
                        counts["foreign"] += 1
                        continue
                    if frame.event.feed == self.feed:
                        times.setdefault(frame.event.position, at)
                        if self.sample_frame is None:
                            self.sample_frame = json.loads(message["data"])
                    counts["ours"] += 1
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()

    async def samplan_phase(self, n: int) -> Phase:
        args = self.args
        instances = self.start_apis()
        addresses, pids = [a for a, _ in instances], [p for _, p in instances]
        http = [httpx.AsyncClient(base_url=f"http://{a}", headers={"Authorization": f"Bearer {self.token}"},
                                  timeout=30) for a in addresses]
        times: dict[int, float] = {}
        counts = {"foreign": 0, "ours": 0}
        ready = asyncio.Event()
        tap = asyncio.create_task(self.tap(SAMPLAN_CHANNEL, times, counts, ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            if not self.case_id:
                page = (await http[0].get("/api/v1/cases", params={"unit_id": self.ward, "limit": 100})).json()
                case = next(c for c in page["items"] if c["state"] == "planning")
                self.case_id, self.version = case["id"], case["version"]
            # warm-up: one subscriber per instance, a few writes through both instances
            warm = [await connect(f"ws://{a}/api/v1/events", compression=None) for a in addresses]
            for ws in warm:
                await ws.send(json.dumps({"op": "auth", "token": self.token}))
                await _expect(ws, "authenticated")
                await ws.send(json.dumps({"op": "subscribe", "feeds": {self.feed: None}}))
                await _expect(ws, "subscribed")
            for i in range(WARMUP_WRITES):
                await self.write(http[i % 2], -i)
            for ws in warm:
                await ws.close()
            await asyncio.sleep(1.0)
            rss_before = [rss_kb(p) for p in pids]
            connected, errors = await self.connect_clients(addresses, n)
            if errors:
                print(f"{len(errors)} of {n} subscribers failed to connect, e.g. {errors[0]}", file=sys.stderr)
            if not connected:
                raise RuntimeError("no subscriber connected")
            await asyncio.sleep(2.0)
            rss_after = [rss_kb(p) for p in pids]
            start = await self.feed_head(http[0])
            profilers = self.start_profilers(pids, n)
            write_ms: list[float] = []
            cpu_before = cpu_seconds(pids)
            t0 = time.monotonic() + 0.5
            for i in range(args.w):
                delay = t0 + i / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = time.perf_counter()
                await self.write(http[i % 2], i)
                write_ms.append((time.perf_counter() - sent) * 1000)
            final = await self.feed_head(http[0])
            for profiler in profilers:
                await asyncio.to_thread(profiler.wait, 60)
            summaries = await self.finish_clients(final)
            cpu_after = cpu_seconds(pids)
            cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
            await self.close_clients()
            metrics = {}
            for client in http:
                text = (await client.get("/metrics")).text
                for line in text.splitlines():
                    name = line.split(" ")[0]
                    if name in ("samplan_events_replayed_total", "samplan_duplicates_dropped_total",
                                "samplan_subscriber_overflows_total", "samplan_events_relayed_total"):
                        key = name.removeprefix("samplan_").removesuffix("_total")
                        metrics[key] = metrics.get(key, 0) + int(float(line.split(" ")[1]))
        finally:
            tap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tap
            for client in http:
                await client.aclose()
            self.stop_procs()
        scored = self.score(summaries, final, times)
        self.dump(f"samplan-{n}-r{self.round}", summaries, times)
        return Phase(
            latencies=scored["latencies"], from_publish=scored["from_publish"], lost=scored["lost"],
            duplicates=scored["duplicates"], connected=connected, connect_errors=errors,
            closed_early=scored["closed_early"], other_frames=scored["other_frames"],
            rss_per_subscriber_kb=(sum(rss_after) - sum(rss_before)) / max(connected, 1),
            extra={"cpu_s": cpu, "events": final - start, "write_ms": write_ms,
                   "server_metrics": metrics, "foreign_messages_on_channel": counts["foreign"],
                   "rss_before_kb": rss_before, "rss_after_kb": rss_after})

    # -- baseline

    async def baseline_phase(self, n: int) -> Phase:
        args = self.args
        assert self.sample_frame is not None, "no Samplan frame was captured to copy"
        channel = f"samplan-bench-baseline:{uuid.uuid4().hex}"
        instances = self.start_relays(channel)
        addresses, pids = [a for a, _ in instances], [p for _, p in instances]
        redis = aioredis.from_url(self.redis_url)
        frame = self.sample_frame
        sizes = []
        times: dict[int, float] = {}
        counts = {"foreign": 0, "ours": 0}
        ready = asyncio.Event()
        tap = asyncio.create_task(self.tap(channel, times, counts, ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            await asyncio.sleep(0.5)
            rss_before = [rss_kb(p) for p in pids]
            connected, errors = await self.connect_clients(addresses, n)
            if errors:
                print(f"{len(errors)} of {n} subscribers failed to connect, e.g. {errors[0]}", file=sys.stderr)
            if not connected:
                raise RuntimeError("no subscriber connected")
            await asyncio.sleep(2.0)
            rss_after = [rss_kb(p) for p in pids]
            cpu_before = cpu_seconds(pids)
            t0 = time.monotonic() + 0.5
            for i in range(args.w):
                delay = t0 + i / args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                frame["event"]["position"] = i + 1
                frame["event"]["occurred_at"] = datetime.now(UTC)
                payload = msgspec.json.encode(frame)
                sizes.append(len(payload))
                await redis.publish(channel, payload)
            summaries = await self.finish_clients(args.w)
            cpu_after = cpu_seconds(pids)
            cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
            await self.close_clients()
        finally:
            tap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tap
            await redis.aclose()
            self.stop_procs()
        scored = self.score(summaries, args.w, times)
        self.dump(f"baseline-{n}-r{self.round}", summaries, times)
        return Phase(
            latencies=scored["latencies"], from_publish=scored["from_publish"], lost=scored["lost"],
            duplicates=scored["duplicates"],
            connected=connected, connect_errors=errors, closed_early=scored["closed_early"],
            other_frames=scored["other_frames"],
            rss_per_subscriber_kb=(sum(rss_after) - sum(rss_before)) / max(connected, 1),
            extra={"cpu_s": cpu, "payload_bytes": round(statistics.mean(sizes))})

    # -- one N

    def run(self, n: int) -> dict[str, Any]:
        loadavg = [round(x, 2) for x in os.getloadavg()]
        samplans, baselines = [], []
        for i in range(self.args.rounds):  # alternating, so that load from elsewhere hits both alike
            self.round = i
            samplans.append(uvloop.run(self.samplan_phase(n)))
            baselines.append(uvloop.run(self.baseline_phase(n)))
        samplan, baseline = merge(samplans), merge(baselines)
        write_ms = samplan.extra["write_ms"]

        def ms(values: list[float], q: float) -> float | None:
            return round(percentile(values, q), 2) if values else None

        def top(values: list[float]) -> float | None:
            return round(max(values), 2) if values else None

        def ratio(a: float | None, b: float | None) -> float | None:
            return round(a / b, 2) if a is not None and b else None

        by_publish = self.args.latency_from == "publish"
        primary = samplan.from_publish if by_publish else samplan.latencies
        base = baseline.from_publish if by_publish else baseline.latencies
        p99, base_p99 = ms(primary, 0.99), ms(base, 0.99)
        a = self.args
        return {
            "bench": "fanout", "n": n, "w": a.w, "rounds": a.rounds,
            "p50_ms": ms(primary, 0.5), "p99_ms": p99, "max_ms": top(primary),
            "lost": samplan.lost, "duplicates": samplan.duplicates,
            "rss_per_subscriber_kb": round(samplan.rss_per_subscriber_kb, 1),
            "baseline_p50_ms": ms(base, 0.5), "baseline_p99_ms": base_p99,
            "ratio_p99": ratio(p99, base_p99),
            "latency_from": a.latency_from,
            "from_publish_p50_ms": ms(samplan.from_publish, 0.5), "from_publish_p99_ms": ms(samplan.from_publish, 0.99),
            "from_publish_max_ms": top(samplan.from_publish),
            "from_occurred_p50_ms": ms(samplan.latencies, 0.5), "from_occurred_p99_ms": ms(samplan.latencies, 0.99),
            "from_occurred_max_ms": top(samplan.latencies),
            "ratio_p99_from_occurred": ratio(ms(samplan.latencies, 0.99), ms(baseline.latencies, 0.99)),
            "baseline_max_ms": top(base),
            "baseline_from_publish_call_p50_ms": ms(baseline.latencies, 0.5),
            "baseline_from_publish_call_p99_ms": ms(baseline.latencies, 0.99),
            "baseline_lost": baseline.lost, "baseline_duplicates": baseline.duplicates,
            "baseline_rss_per_subscriber_kb": round(baseline.rss_per_subscriber_kb, 1),
            "setup": {
                "latency_bases": {
                    "publish": "receipt minus the moment the frame came out of Redis, timestamped by a tap subscriber "
                               "in the bench process: the API publishes right after its commit, so this is "
                               "commit→receipt minus the publish round trip (well under 1 ms here); the baseline is "
                               "measured the same way (baseline_p50/p99/max)",
                    "occurred": "receipt minus the event's occurred_at (server clock, same machine), which the command "
                                "takes when it starts, before its database work and commit: overstates "
                                "commit→receipt by most of write_http_ms",
                    "baseline_from_publish_call": "baseline receipt minus the time embedded in the payload, taken "
                                                  "just before PUBLISH (the Redis hop included)"},
                "server_cpu_user_system_s": [round(x, 2) for x in samplan.extra["cpu_s"]],
                "server_cpu_us_per_delivery": round(sum(samplan.extra["cpu_s"]) * 1e6 / max(len(samplan.latencies), 1),
                                                    1),
                "baseline_cpu_user_system_s": [round(x, 2) for x in baseline.extra["cpu_s"]],
                "baseline_cpu_us_per_delivery": round(sum(baseline.extra["cpu_s"]) * 1e6
                                                      / max(len(baseline.latencies), 1), 1),
                "cpu_note": "user+system CPU of the two server processes from the first write until every subscriber "
                            "had the last event; Samplan's includes handling the W commands",
                "samplan_events": samplan.extra["events"], "samples": len(samplan.latencies),
                "samples_with_publish_time": len(samplan.from_publish), "baseline_samples": len(baseline.latencies),
                "baseline_samples_with_publish_time": len(baseline.from_publish),
                "connected": samplan.connected, "connect_errors": len(samplan.connect_errors),
                "connect_error_sample": samplan.connect_errors[:3],
                "baseline_connected": baseline.connected, "baseline_connect_errors": len(baseline.connect_errors),
                "closed_early": samplan.closed_early, "baseline_closed_early": baseline.closed_early,
                "other_frames": samplan.other_frames,
                "write_http_p50_ms": round(statistics.median(write_ms), 2),
                "write_http_p99_ms": round(percentile(write_ms, 0.99), 2),
                "server_metrics": samplan.extra["server_metrics"],
                "rss_before_kb": samplan.extra["rss_before_kb"], "rss_after_kb": samplan.extra["rss_after_kb"],
                "foreign_messages_on_channel": samplan.extra["foreign_messages_on_channel"],
                "payload_bytes": baseline.extra["payload_bytes"],
                "rounds": a.rounds, "rate_per_s": a.rate, "warmup_writes": WARMUP_WRITES,
                "writes": "planning command POSTs on one case, sequential, alternating between the two instances",
                "api_processes": 2, "baseline_processes": 2, "client_processes": a.client_procs,
                "client": (f"websockets {websockets.__version__} asyncio client on uvloop, permessage-deflate "
                           f"{'offered' if a.deflate else 'off'}" if a.client == "websockets" else
                           "minimal RFC 6455 client protocol of this bench on uvloop (no extensions)"),
                "server": "samplan api (uvicorn, default ws implementation, uvloop), PostgreSQL, Redis pub/sub",
                "stream_queue_size": int(os.environ.get("SAMPLAN_STREAM_QUEUE_SIZE", "1000")),
                "shared_machine": "servers, PostgreSQL, Redis and the client processes share the same "
                                  f"{os.cpu_count()} CPUs: client-side receive work competes with the servers "
                                  "and is included in every latency, Samplan's and the baseline's alike; other "
                                  "work on the machine (see loadavg_before) adds noise",
                "redis": f"{a.redis_url} ({a.redis_kind})", "loadavg_before": loadavg,
                "cpus": os.cpu_count(), "python": platform.python_version(),
            },
        }


async def mark_seed_published(url: str) -> None:
    """The seed leaves its events unpublished; a running system has no such backlog for the relays to send."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sqlalchemy.text("UPDATE events SET published_at = now() WHERE published_at IS NULL"))
    await engine.dispose()


def start_private_redis(tmp: Path) -> tuple[subprocess.Popen[Any], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    stop(proc)
    raise RuntimeError("the private redis-server did not start")


def raise_file_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, needed))
    if target != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="stream subscribers")
    parser.add_argument("--w", type=int, default=200, help="writes")
    parser.add_argument("--rate", type=float, default=20.0, help="writes per second")
    parser.add_argument("--sweep", action="store_true", help=f"run for N = {', '.join(map(str, SWEEP))}")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes holding the subscribers")
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw",
                        help="subscriber implementation: a minimal RFC 6455 client protocol (default; cheap, so the "
                             "client side takes less CPU from the servers) or the `websockets` library")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate (as browsers do)")
    parser.add_argument("--latency-from", choices=("publish", "occurred"), default="publish",
                        help="basis of p50/p99/max: the frame's arrival on Redis right after commit (default), or "
                             "the event's occurred_at (command start); both are always printed")
    parser.add_argument("--profile", metavar="DIR",
                        help="record the API processes with py-spy during the writes (collapsed stacks into DIR)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of (Samplan, baseline) per N, alternating; samples are pooled")
    parser.add_argument("--dump", metavar="DIR", help="write every delivery to DIR/<system>-<n>.csv")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for the last event")
    parser.add_argument("--redis-url", default="private",
                        help="'private' (default): a redis-server of this bench on a free port, because the API's "
                             "channel name is fixed and other processes on a shared Redis may publish on it; "
                             "or a URL such as redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.deflate and args.client == "raw":
        parser.error("--deflate needs --client websockets")
    ns = list(SWEEP) if args.sweep else [args.n]
    raise_file_limit(2 * max(ns) + 1024)

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)  # also inside uvloop.run, whose own handler would only cancel a task
    db_name = f"samplan_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        bench: FanoutBench | None = None
        redis_proc = None
        try:
            if args.redis_url == "private":
                redis_proc, args.redis_url = start_private_redis(Path(tmp))
                args.redis_kind = "private redis-server started by the bench"
            else:
                args.redis_kind = "given"
            url = asyncio.run(pg_database("create", db_name))
            upgrade(url)
            asyncio.run(prepare(url))
            asyncio.run(mark_seed_published(url))
            bench = FanoutBench(args, Path(tmp), url)
            bench.start_workers()
            for n in ns:
                print(json.dumps(bench.run(n)), flush=True)
        except KeyboardInterrupt:
            print("interrupted; cleaning up", file=sys.stderr)
            sys.exit(130)
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):  # the temporary directory goes away with them
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
            raise
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            if bench is not None:
                bench.stop_procs()
                bench.stop_workers()
            if redis_proc is not None:
                stop(redis_proc)
            asyncio.run(pg_database("drop", db_name))


if __name__ == "__main__":
    main()
