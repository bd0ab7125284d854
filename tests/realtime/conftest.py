"""Stream fixtures: the real API served by uvicorn on real ports, a websocket proxy, counted token providers.

The app, its runtime and the demo users' tokens are the API tests' fixtures (tests/server/conftest.py). Every
`ApiServer` serves that one app, so several of them are several API instances sharing one database and one
live pipeline: stopping one drops its websockets, the others keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from realtime.client import STREAM_PATH
from tests.server.conftest import app, signing_key, token  # noqa: F401 - the API tests' fixtures, shared

HOST = "127.0.0.1"


class ApiServer:
    """One API instance: uvicorn on a fixed port, in this event loop; stop and start it again on the same port."""

    def __init__(self, application: Litestar) -> None:
        self._app = application
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._main: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}{STREAM_PATH}"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, lifespan="off", log_config=None, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=5)
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])  # listening when this returns: no waiting for "started"
        self._server, self._socket = server, sock
        self._main = asyncio.create_task(server.main_loop())

    async def stop(self) -> None:
        """Shut down like a restarting instance: websockets are closed (1012), then the port is released."""
        server, sock, main = self._server, self._socket, self._main
        if server is None or main is None:
            return
        self._server = self._socket = self._main = None
        server.should_exit = True
        await main
        await server.shutdown(sockets=[sock] if sock else None)


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[Callable[[], Awaitable[ApiServer]]]:  # noqa: F811 - the fixture
    """Start API instances on the session's app; all are stopped after the test."""
    servers: list[ApiServer] = []

    async def start() -> ApiServer:
        server = ApiServer(app)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def http(api: Callable[[], Awaitable[ApiServer]], clean_cases: None) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a separate API instance that no test stops: commands keep working during outages."""
    server = await api()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


class Tokens:
    """A token provider for `StreamClient` that counts its calls (each call issues a fresh token)."""

    def __init__(self, issue: Callable[..., str], username: str, *, bad_first: int = 0, **first: Any) -> None:
        self._issue = issue
        self._username = username
        self._bad_first = bad_first
        self._first = first
        self.calls = 0
        self._changed = asyncio.Condition()

    async def __call__(self) -> str:
        self.calls += 1
        async with self._changed:
            self._changed.notify_all()
        if self.calls <= self._bad_first:
            return "not-a-token"
        return self._issue(self._username, **(self._first if self.calls == self._bad_first + 1 else {}))

    async def called(self, times: int) -> None:
        """Wait until the provider has been called at least `times` times (at most 10 s)."""
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: self.calls >= times)


class Proxy:
    """A websocket proxy in front of an API instance, to misbehave like a network or a load balancer can.

    `duplicate` sends every event frame twice; `replay` re-sends, right after a new connection's `subscribed`
    frame, every event frame forwarded before; `silence()` swallows what the server sends on the open connections
    (a half-dead connection); `drop()` closes the open connections (1012, like a restarting instance).
    """

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._server: Server | None = None
        self.duplicate = False
        self.replay = False
        self.injected = 0  # frames sent that the server did not send
        self.connections = 0
        self._forwarded: list[str | bytes] = []
        self._open: dict[ServerConnection, list[bool]] = {}  # connection -> [silenced]

    @property
    def ws_url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://{HOST}:{port}{STREAM_PATH}"

    async def start(self) -> None:
        self._server = await serve(self._handle, HOST, 0, ping_interval=None)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def silence(self) -> None:
        for state in self._open.values():
            state[0] = True

    async def drop(self) -> None:
        for connection in list(self._open):
            await connection.close(code=1012, reason="restart")

    async def _handle(self, downstream: ServerConnection) -> None:
        self.connections += 1
        state = [False]
        self._open[downstream] = state
        try:
            async with connect(self._upstream, ping_interval=None, proxy=None) as upstream:
                to_server = asyncio.create_task(self._pipe_up(downstream, upstream))
                try:
                    async for frame in upstream:
                        if not state[0]:
                            await self._forward(downstream, frame)
                finally:
                    to_server.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await to_server
        except ConnectionClosed:
            pass
        finally:
            self._open.pop(downstream, None)

    async def _forward(self, downstream: ServerConnection, frame: str | bytes) -> None:
        await downstream.send(frame)
        text = frame if isinstance(frame, str) else frame.decode()
        if text.startswith('{"op":"event"'):
            if self.duplicate:
                await downstream.send(frame)
                self.injected += 1
            self._forwarded.append(frame)
        elif text.startswith('{"op":"subscribed"') and self.replay:
            for old in self._forwarded:
                await downstream.send(old)
                self.injected += 1

    @staticmethod
    async def _pipe_up(downstream: ServerConnection, upstream: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in downstream:
                await upstream.send(frame)
        await upstream.close()


@pytest.fixture
async def proxy(api: Callable[[], Awaitable[ApiServer]]) -> AsyncIterator[Proxy]:
    server = await api()
    front = Proxy(server.ws_url)
    await front.start()
    yield front
    await front.stop()
