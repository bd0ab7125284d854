"""The Python client of the event stream at `/api/v1/events` (protocol: `realtime/protocol.py`, docs: docs/events.md).

Used by the UI process and by outside integrators::

    async with StreamClient("ws://127.0.0.1:8000/api/v1/events", token, {"unit:<id>": None}) as stream:
        await stream.connected.wait()      # subscribed: now fetch the snapshot, then apply what follows
        async for item in stream:          # Envelope | protocol.Resync | protocol.Presence
            ...

A background task keeps one connection open: it authenticates (asking the token provider every time, so a
refreshed token is used), subscribes from `positions`, and puts what arrives in a bounded buffer that the
iterator reads. Any disconnect, error frame about authentication, close 4401 or silence longer than
`heartbeat_timeout` makes it reconnect with exponential back-off and jitter, to the next URL (fail-over between
API instances), resuming from `positions`. Events are deduplicated by feed position, so the consumer sees every
event of a feed once, in order; a `Resync` item means "refetch your snapshot" and moves the feed to its head.

`positions` holds the last position *received* per feed (what a resume sends); events still in the buffer have
not been seen by the consumer yet. A consumer that persists where it got to should store the position of the
envelopes it has handled, and pass those as `feeds` when it starts again.

Nothing personal is logged: frames carry ids and codes only, and the token never appears in a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Final, cast, get_args
from urllib.parse import urlsplit, urlunsplit

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from realtime import protocol
from realtime.envelope import Envelope

__all__ = ["STREAM_PATH", "StreamClient", "StreamItem", "TokenProvider", "stream_url"]

StreamItem = Envelope | protocol.Resync | protocol.Presence
TokenProvider = Callable[[], Awaitable[str]]

STREAM_PATH: Final = "/api/v1/events"
BUFFER_SIZE: Final = 1000  # items waiting for the consumer; a full buffer stops reading (the server may resync)
AUTH_ERRORS: Final = frozenset({"unauthenticated", "token_expired", "token_revoked"})
CLOSE_UNAUTHENTICATED: Final = 4401
PRESENCE_STATES: Final = frozenset(get_args(protocol.PresenceState))

log = logging.getLogger("samplan.realtime.client")
# The websockets library logs whole frames at DEBUG, and the first frame carries the token: its logger for our
# connections never logs below INFO, whatever the application's log level.
_ws_log = logging.getLogger("samplan.realtime.client.websockets")
_ws_log.setLevel(logging.INFO)


def stream_url(url: str) -> str:
    """The stream's websocket URL from an API base URL (`http://host:8000` → `ws://host:8000/api/v1/events`).

    An `http(s)://` URL gets the websocket scheme; a URL without a path gets the stream's path.
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a websocket or http URL: {parts.scheme}://…")
    path = STREAM_PATH if parts.path in ("", "/") else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class _End:
    """Put in the buffer when the client is closed: the iterator stops."""


class _AuthFailed(Exception):
    """The server refused the token (error `unauthenticated` / `token_expired` / `token_revoked`, or close 4401)."""


class _Gap(Exception):
    """An event skipped positions of its feed: reconnect and let the server replay from the last position."""


class StreamClient:
    """A self-healing subscription to unit feeds: every event once and in order per feed, plus resync and presence."""

    def __init__(self, urls: str | Sequence[str], token: str | TokenProvider, feeds: Mapping[str, int | None], *,
                 min_backoff: float = 0.1, max_backoff: float = 10.0, heartbeat_timeout: float = 45.0,
                 open_timeout: float = 10.0) -> None:
        self._urls = tuple(stream_url(u) for u in ([urls] if isinstance(urls, str) else urls))
        if not self._urls:
            raise ValueError("give at least one URL")
        if not feeds:
            raise ValueError("give at least one feed")
        if not 0 < min_backoff <= max_backoff:
            raise ValueError("need 0 < min_backoff <= max_backoff")
        if heartbeat_timeout <= 0 or open_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self._token = token
        self._feeds = tuple(feeds)
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._heartbeat_timeout = heartbeat_timeout
        self._open_timeout = open_timeout
        self.positions: dict[str, int] = {f: p for f, p in feeds.items() if p is not None}
        self.connected = asyncio.Event()
        self._buffer: asyncio.Queue[StreamItem | _End] = asyncio.Queue(maxsize=BUFFER_SIZE)
        self._presence: dict[str, tuple[protocol.PresenceState, str | None]] = {}  # case -> (state, field)
        self._presence_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._next_url = 0
        self._attempt = 0
        self._closed = False

    # ----- the public surface --------------------------------------------------------------------------------

    async def __aenter__(self) -> StreamClient:
        self._start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        self._start()
        return self._items()

    async def send_presence(self, case_id: str, state: str, field: str | None = None) -> None:
        """Tell the followers of the case that I view or edit it (`left`: no longer). Kept across reconnects."""
        if state not in PRESENCE_STATES:
            raise ValueError(f"presence state must be one of {sorted(PRESENCE_STATES)}")
        checked = cast(protocol.PresenceState, state)
        if checked == "left":
            self._presence.pop(case_id, None)
        else:
            self._presence[case_id] = (checked, field)
        async with self._presence_lock:
            ws = self._ws
            if ws is not None and self.connected.is_set():
                with contextlib.suppress(ConnectionClosed):  # the reconnect sends the state again
                    await ws.send(self._presence_frame(case_id, checked, field))

    async def close(self) -> None:
        """Stop for good: close the connection, end the iteration. Idempotent."""
        if self._closed:
            return
        self._closed = True
        runner = self._runner
        while runner is not None and not runner.done():  # again if something on the way swallowed a cancel
            runner.cancel()
            await asyncio.wait({runner}, timeout=1.0)
        self.connected.clear()
        while not self._buffer.empty():
            self._buffer.get_nowait()
        self._buffer.put_nowait(_End())

    # ----- the consumer side ---------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._runner is None and not self._closed:
            self._runner = asyncio.create_task(self._run_forever(), name="samplan-stream-client")

    async def _items(self) -> AsyncIterator[StreamItem]:
        while True:
            item = await self._buffer.get()
            if isinstance(item, _End):
                self._buffer.put_nowait(item)  # every other iterator ends too
                return
            yield item

    # ----- the connection side -------------------------------------------------------------------------------

    async def _run_forever(self) -> None:
        while not self._closed:
            url = self._urls[self._next_url % len(self._urls)]
            self._next_url += 1
            try:
                await self._session(url)
                log.info("event stream to %s ended; reconnecting", _where(url))
            except asyncio.CancelledError:
                raise
            except _AuthFailed as exc:
                log.warning("event stream to %s: token refused (%s); retrying", _where(url), exc)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code == CLOSE_UNAUTHENTICATED:
                    log.warning("event stream to %s: token refused (close %s); retrying", _where(url), code)
                else:
                    log.info("event stream to %s closed (code %s); reconnecting", _where(url), code)
            except TimeoutError:
                if self._ws is None:
                    log.warning("event stream to %s: no answer within %.0fs; retrying", _where(url),
                                self._open_timeout)
                else:
                    log.warning("event stream to %s: no frame for %.0fs; reconnecting", _where(url),
                                self._heartbeat_timeout)
            except _Gap as exc:
                log.warning("event stream to %s: %s; reconnecting to replay", _where(url), exc)
            except Exception as exc:  # refused, DNS, HTTP status, token provider, bad frame: try again later
                log.warning("event stream to %s failed (%s); reconnecting", _where(url), type(exc).__name__)
            finally:
                self.connected.clear()
                self._ws = None
            await asyncio.sleep(self._backoff())

    def _backoff(self) -> float:
        """Exponential, capped, with jitter in [cap/2, cap]: never zero, so never a busy loop."""
        cap = min(self._max_backoff, self._min_backoff * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not a secret

    async def _token_now(self) -> str:
        return self._token if isinstance(self._token, str) else await self._token()

    async def _session(self, url: str) -> None:
        """One connection: auth, subscribe from `positions`, then read until it ends (by an exception)."""
        token = await self._token_now()
        async with connect(url, open_timeout=self._open_timeout, ping_interval=None, close_timeout=2,
                           max_size=4 * 2**20, logger=_ws_log) as ws:
            self._ws = ws
            asked = {feed: self.positions.get(feed) for feed in self._feeds}
            await ws.send(protocol.encode(protocol.Auth(token=token)).decode())
            await ws.send(protocol.encode(protocol.Subscribe(feeds=asked)).decode())
            while True:
                # asyncio.timeout, not wait_for: on 3.11, wait_for loses a cancellation that coincides with a frame.
                async with asyncio.timeout(self._heartbeat_timeout):
                    raw = await ws.recv()
                try:
                    message = protocol.decode_server(raw)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    log.warning("event stream: skipped a frame this client does not understand")
                    continue
                await self._handle(ws, message, asked)

    async def _handle(self, ws: ClientConnection, message: protocol.ServerMessage,
                      asked: dict[str, int | None]) -> None:
        if isinstance(message, protocol.EventMessage):
            await self._event(message.event, asked)
        elif isinstance(message, protocol.Resync):
            self.positions[message.feed] = message.head
            await self._buffer.put(message)
        elif isinstance(message, protocol.Presence):
            await self._buffer.put(message)
        elif isinstance(message, protocol.Subscribed):
            await self._subscribed(ws, message.feeds, asked)
        elif isinstance(message, protocol.Error):
            if message.code in AUTH_ERRORS:
                raise _AuthFailed(message.code)
            log.warning("event stream error frame: %s", message.code)
        elif isinstance(message, protocol.Authenticated):
            log.debug("event stream authenticated; may follow %d feeds", len(message.feeds))
        # Heartbeat and Pong only prove the connection is alive: receiving them reset the watchdog.

    async def _event(self, envelope: Envelope, asked: dict[str, int | None]) -> None:
        if envelope.feed not in asked:
            return  # not a feed of ours
        last = self.positions.get(envelope.feed)
        if last is not None and envelope.position <= last:
            return  # a duplicate (replayed across a reconnect): seen already
        if last is not None and envelope.position > last + 1:
            raise _Gap(f"{envelope.feed} jumped from {last} to {envelope.position}")
        self.positions[envelope.feed] = envelope.position
        await self._buffer.put(envelope)

    async def _subscribed(self, ws: ClientConnection, heads: dict[str, int], asked: dict[str, int | None]) -> None:
        for feed, head in heads.items():
            if feed not in asked:
                continue
            sent = asked[feed]
            if sent is None:
                self.positions.setdefault(feed, head)  # "from now": a resume continues from here
            elif head < sent:
                # The feed is behind what we saw (a restored or reset database). The server follows with
                # `resync` `ahead`, which moves the position back to the head and tells the consumer to refetch.
                log.warning("event stream: %s is at %d, behind the %d seen", feed, head, sent)
        self._attempt = 0
        self.connected.set()
        async with self._presence_lock:
            for case_id in list(self._presence):
                state = self._presence.get(case_id)
                if state is not None:
                    await ws.send(self._presence_frame(case_id, *state))

    @staticmethod
    def _presence_frame(case_id: str, state: protocol.PresenceState, field: str | None) -> str:
        return protocol.encode(protocol.PresenceUpdate(case_id=case_id, state=state, field=field)).decode()


def _where(url: str) -> str:
    """Where a URL points, for logs: scheme, host and port (never a query string)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
