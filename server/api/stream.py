"""The event stream at `/api/v1/events` (protocol: `realtime/protocol.py`, docs: docs/events.md).

The first frame authenticates (the token never travels in the URL, so it never reaches access logs). A user
may follow the feeds of the units they work at with patient cases; each feed holds only events of cases that
unit takes part in, so per-event authorisation is the same rule as REST. Presence needs access to the case.

Access follows changes while the stream is open. An administrator's change of the user (deactivation, HSA-id,
assignments) records `UserAccessChanged` on the user's access feed; every instance's hub hands it to the user's
connections, which look the user up again: gone (401 on REST) closes the stream (4401), a lost unit ends that
feed. A subscribe looks the user up again too, so a replay is only ever of a feed the user may read now. A
connection's presence entries are re-checked on the events that change who sees a case or plan
(`VISIBILITY_EVENTS`), and every presence update and removal goes only to the units that see it at that moment.

Limits (settings `SAMPLAN_STREAM_*`): frame size (close 1009), subscribe and presence rates (close 4429), feeds
per subscribe (error `too_many_feeds`), presence field length (error `bad_frame`), connections per user and API
instance (close 4409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from realtime import protocol
from realtime.feeds import unit_feed, user_feed
from realtime.hub import Routed, Subscriber
from realtime.limits import TokenBucket
from server import authorization
from server.auth.revocation import RevocationUnavailable
from server.auth.users import Authenticated, authenticate, current_user
from server.errors import ApplicationError
from server.runtime import Runtime

log = logging.getLogger("samplan.stream")
AUTH_TIMEOUT = 10.0
CLOSE_POLICY = 4401  # authentication failed or expired
CLOSE_PROTOCOL = 4400
CLOSE_WRITER_ENDED = 1011  # internal error: reconnect and resume from the last positions
CLOSE_TOO_BIG = 1009  # a frame larger than SAMPLAN_STREAM_MAX_FRAME_BYTES
CLOSE_RATE_LIMITED = 4429  # too many subscribe or presence frames
CLOSE_TOO_MANY_CONNECTIONS = 4409  # the user has SAMPLAN_STREAM_MAX_CONNECTIONS_PER_USER open on this instance
CLOSE_WAIT = 5.0  # seconds the last frame and the close may take before the connection is dropped anyway

# Events that may change which units see a case or a SIP plan: presence on it is re-checked (domain/events.py,
# domain/sip/events.py; their feeds: docs/events.md).
VISIBILITY_EVENTS = frozenset({
    "AdmissionNoticeSent", "ParticipantAdded", "ParticipantRemoved", "CaseForwarded", "CaseRejected",
    "SipConsentGiven", "SipConsentWithdrawn", "SipParticipantAdded", "SipParticipantRemoved", "SipPlanHandedOver",
})


@websocket("/events", name="event_stream")
async def event_stream(socket: WebSocket[Any, Any, Any]) -> None:
    runtime: Runtime = socket.app.state.runtime
    await socket.accept()
    session = await _authenticate(socket, runtime)
    if session is None:
        return
    connections, limit = runtime.live.connections, runtime.settings.stream_max_connections_per_user
    user_id = session.user.id
    if limit and connections[user_id] >= limit:
        with contextlib.suppress(Exception):
            await socket.send_text(protocol.encode(protocol.Error(
                code="too_many_connections", detail=f"at most {limit} open streams per user")).decode())
            await socket.close(code=CLOSE_TOO_MANY_CONNECTIONS, reason="too many connections")
        return
    connections[user_id] += 1
    try:
        await _Connection(socket, runtime, session).serve()
    finally:
        connections[user_id] -= 1
        if connections[user_id] <= 0:
            del connections[user_id]


def _too_big(raw: str, limit: int) -> bool:
    """Larger than `limit` bytes in UTF-8 (0 = no limit); encodes only when the character count cannot tell."""
    return bool(limit) and (len(raw) > limit or (len(raw) * 4 > limit and len(raw.encode()) > limit))


async def _authenticate(socket: WebSocket[Any, Any, Any], runtime: Runtime) -> Authenticated | None:
    try:
        raw = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT)
        if _too_big(raw, runtime.settings.stream_max_frame_bytes):
            with contextlib.suppress(Exception):
                await socket.send_text(protocol.encode(protocol.Error(
                    code="frame_too_large", detail=_too_big_detail(runtime))).decode())
                await socket.close(code=CLOSE_TOO_BIG, reason="frame too large")
            return None
        message = protocol.decode_client(raw)
        if not isinstance(message, protocol.Auth):
            raise ApplicationError("the first frame must be auth")
        return await authenticate(message.token, runtime.verifier, runtime.uow(), runtime.settings.user_claim,
                                  revoked=runtime.revocations)
    except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError, ApplicationError) as exc:
        detail = exc.message if isinstance(exc, ApplicationError) else "authenticate with an auth frame first"
        with contextlib.suppress(Exception):
            await socket.send_text(protocol.encode(protocol.Error(code="unauthenticated", detail=detail)))
            await socket.close(code=CLOSE_POLICY, reason="unauthenticated")
        return None
    except WebSocketDisconnect:
        return None


def _too_big_detail(runtime: Runtime) -> str:
    return f"frames are limited to {runtime.settings.stream_max_frame_bytes} bytes"


class _Connection:
    """One authenticated websocket: its subscriber, what it may follow now, its presence entries, its limits."""

    def __init__(self, socket: WebSocket[Any, Any, Any], runtime: Runtime, session: Authenticated) -> None:
        self.socket = socket
        self.runtime = runtime
        self.live = runtime.live
        self.settings = runtime.settings
        self.session = session
        self.user = session.user
        self.allowed = authorization.stream_feeds(self.user)
        self.connection_id = str(uuid.uuid4())
        self.presence_mine: dict[str, protocol.Viewer] = {}  # case -> this connection's entry (heartbeat refresh)
        self.subscribes = TokenBucket(self.settings.stream_subscribes_per_minute)
        self.presences = TokenBucket(self.settings.stream_presence_per_minute)
        self.ending = False
        self._checks: dict[str, asyncio.Task[None]] = {}  # "access" or a case id -> its re-check under way
        self._check_again: set[str] = set()
        self._watching: dict[str, Callable[[str | None], None]] = {}  # hub key -> this connection's watcher
        asgi_send = socket.send  # the hot path of the fan-out: skip send_text's layers, same ASGI event

        async def send(frame: bytes) -> None:
            await asgi_send({"type": "websocket.send", "bytes": None, "text": frame.decode()})

        self.subscriber = self.live.hub.new_subscriber(send)

    # ----- the connection's life ----------------------------------------------------------------------------

    async def serve(self) -> None:
        subscriber = self.subscriber
        subscriber.offer(self._authenticated_frame())
        self._watch(user_feed(self.user.id), lambda _type: self._schedule("access", self._recheck_access))
        heartbeat = asyncio.create_task(_heartbeat(self.socket, subscriber, self.settings.heartbeat_seconds,
                                                   self.session.expires_at, self._refresh_presence, self._revoked))
        writer_ended = asyncio.create_task(_close_when_writer_ends(self.socket, subscriber))
        try:
            while not subscriber.closed.is_set():
                raw = await self.socket.receive_text()
                if self.ending:
                    continue  # the close is on its way
                if _too_big(raw, self.settings.stream_max_frame_bytes):
                    self._end(CLOSE_TOO_BIG, "frame_too_large", _too_big_detail(self.runtime))
                    continue
                try:
                    message = protocol.decode_client(raw)
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    subscriber.offer(protocol.encode(protocol.Error(code="bad_frame", detail=str(exc)[:200])))
                    continue
                await self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            if self.ending:  # let the last frame and the close go out before the writer is stopped
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscriber.closed.wait(), CLOSE_WAIT)
            heartbeat.cancel()
            writer_ended.cancel()
            for key, watcher in list(self._watching.items()):
                self.live.hub.unwatch(key, watcher)
            self._watching.clear()
            for task in list(self._checks.values()):
                task.cancel()
            await self.live.hub.remove(subscriber)
            for case_id in list(self.presence_mine):
                with contextlib.suppress(Exception):
                    await self._leave(case_id)

    async def _handle(self, message: protocol.ClientMessage) -> None:
        subscriber = self.subscriber
        if isinstance(message, protocol.Subscribe):
            await self._subscribe(message)
        elif isinstance(message, protocol.Unsubscribe):
            self.live.hub.unsubscribe(subscriber, message.feeds)
        elif isinstance(message, protocol.PresenceUpdate):
            if not self.presences.take():
                self._end(CLOSE_RATE_LIMITED, "rate_limited", f"at most {self.settings.stream_presence_per_minute} "
                                                              "presence frames per minute")
                return
            limit = self.settings.stream_presence_field_max_length
            if limit and message.field is not None and len(message.field) > limit:
                subscriber.offer(protocol.encode(protocol.Error(
                    code="bad_frame", detail=f"presence field: at most {limit} characters")))
                return
            await self._presence(message)
        elif isinstance(message, protocol.Ping):
            subscriber.offer(protocol.encode(protocol.Pong()))
        else:
            subscriber.offer(protocol.encode(protocol.Error(code="bad_frame", detail="already authenticated")))

    def _end(self, code: int, error: str, detail: str) -> None:
        """Close the connection: the error frame instead of anything still queued, then the close code."""
        if self.ending:
            return
        self.ending = True
        self.subscriber.offer_close(protocol.encode(protocol.Error(code=error, detail=detail)),
                                    lambda: self.socket.close(code=code, reason=error), drop_queued=True)

    async def _revoked(self) -> bool:
        """The token was revoked at sign-out (the heartbeat asks)."""
        try:
            return await self.runtime.revocations.is_revoked(self.session.token_key)
        except RevocationUnavailable:
            return False  # the stream goes on; the next heartbeat asks again (REST requests fail closed)

    def _authenticated_frame(self) -> bytes:
        return protocol.encode(protocol.Authenticated(user_id=self.user.id, feeds=sorted(self.allowed)))

    # ----- subscribing --------------------------------------------------------------------------------------

    async def _subscribe(self, message: protocol.Subscribe) -> None:
        subscriber = self.subscriber
        if not self.subscribes.take():
            self._end(CLOSE_RATE_LIMITED, "rate_limited",
                      f"at most {self.settings.stream_subscribes_per_minute} subscribe frames per minute")
            return
        limit = self.settings.stream_max_feeds_per_subscribe
        if limit and len(message.feeds) > limit:
            subscriber.offer(protocol.encode(protocol.Error(
                code="too_many_feeds", detail=f"at most {limit} feeds per subscribe; nothing was subscribed")))
            return
        if not await self._guarded(self._recheck_access()):  # follow what the user may read now, not at connect
            return
        if self.ending:
            return
        wanted = {f: p for f, p in message.feeds.items() if f in self.allowed}
        for feed in sorted(set(message.feeds) - set(wanted)):  # at most the feeds-per-subscribe limit of them
            subscriber.offer(protocol.encode(protocol.Error(
                code="forbidden_feed", detail=f"you may not follow {feed[:100]}")))
        await self.live.hub.subscribe(subscriber, wanted)

    # ----- access re-checks ---------------------------------------------------------------------------------

    def _watch(self, key: str, watcher: Callable[[str | None], None]) -> None:
        if key not in self._watching:
            self._watching[key] = watcher
            self.live.hub.watch(key, watcher)

    def _unwatch(self, key: str) -> None:
        watcher = self._watching.pop(key, None)
        if watcher is not None:
            self.live.hub.unwatch(key, watcher)

    def _schedule(self, key: str, check: Callable[[], Awaitable[None]]) -> None:
        """Run a re-check now, or once more after the one under way (it may have read the state too early).
        An event reaches every feed it was appended to: the copies fold into one re-check."""
        if self.ending:
            return
        running = self._checks.get(key)
        if running is not None and not running.done():
            self._check_again.add(key)
            return

        async def run() -> None:
            while True:
                self._check_again.discard(key)
                await self._guarded(check())
                if key not in self._check_again or self.ending:
                    break
            self._checks.pop(key, None)

        self._checks[key] = asyncio.create_task(run(), name=f"stream-recheck-{key}")

    async def _guarded(self, check: Awaitable[None]) -> bool:
        """Fail closed: a re-check that cannot read the database ends the stream (1011: reconnect, resume)."""
        try:
            await check
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("stream access re-check failed (%s); closing the stream", type(exc).__name__)
            self._end(CLOSE_WRITER_ENDED, "unavailable", "access could not be checked; reconnect")
            return False
        return True

    async def _recheck_access(self) -> None:
        """Look the user up again: gone closes the stream, a lost unit ends its feed and the presence through it."""
        user = await current_user(self.runtime.uow(), self.settings.user_claim, self.session.claim_value,
                                  self.session.issued_at)
        if user is None or user.id != self.user.id:
            self._end(CLOSE_POLICY, "access_revoked", "your access to Samplan has ended")
            return
        self.user = user
        allowed = authorization.stream_feeds(user)
        if allowed == self.allowed:
            return
        revoked = sorted(set(self.allowed) - set(allowed))
        self.allowed = allowed
        if revoked:
            self.live.hub.unsubscribe(self.subscriber, revoked)
            for feed in revoked:
                self.subscriber.offer(protocol.encode(protocol.Error(
                    code="feed_revoked", detail=f"you may no longer follow {feed}")))
        self.subscriber.offer(self._authenticated_frame())
        for case_id in list(self.presence_mine):
            self._on_case_event(case_id, None)

    # ----- presence -----------------------------------------------------------------------------------------

    async def _refresh_presence(self) -> None:
        for case_id, viewer in list(self.presence_mine.items()):
            await self.live.presence.update(case_id, self.connection_id, viewer)

    async def _presence(self, message: protocol.PresenceUpdate) -> None:
        case_id = message.case_id
        visible = await _visible_units(self.runtime, case_id)  # now, not when this connection first saw the case
        mine = authorization.presence_units(self.user, visible)
        if not mine:
            if case_id in self.presence_mine:
                await self._leave(case_id, visible)
            self.subscriber.offer(protocol.encode(protocol.Error(code="not_found", detail="no such case or plan")))
            return
        if message.state == "left":
            await self._leave(case_id, visible)
            return
        current = self.presence_mine.get(case_id)
        unit_id = current.unit_id if current is not None and current.unit_id in mine else mine[0]
        viewer = protocol.Viewer(user_id=self.user.id, unit_id=unit_id, state=message.state, field=message.field)
        self.presence_mine[case_id] = viewer
        self._watch(case_id, lambda event_type: self._on_case_event(case_id, event_type))
        viewers = await self.live.presence.update(case_id, self.connection_id, viewer)
        await _publish_presence(self.runtime, case_id, _feeds(visible), viewers)

    def _on_case_event(self, case_id: str, event_type: str | None) -> None:
        if event_type is None or event_type in VISIBILITY_EVENTS:
            self._schedule(case_id, lambda: self._recheck_presence(case_id))

    async def _recheck_presence(self, case_id: str) -> None:
        """Who sees the case changed: drop this connection's entry if its user no longer does; tell the units
        that see it now (and only them) the viewers."""
        current = self.presence_mine.get(case_id)
        if current is None:
            return
        visible = await _visible_units(self.runtime, case_id)
        mine = authorization.presence_units(self.user, visible)
        if not mine:
            await self._leave(case_id, visible)
            self.subscriber.offer(protocol.encode(protocol.Error(code="not_found", detail="no such case or plan")))
            return
        if current.unit_id not in mine:
            current = msgspec.structs.replace(current, unit_id=mine[0])
            self.presence_mine[case_id] = current
        viewers = await self.live.presence.update(case_id, self.connection_id, current)
        await _publish_presence(self.runtime, case_id, _feeds(visible), viewers)

    async def _leave(self, case_id: str, visible: set[str] | None = None) -> None:
        """Remove this connection's entry and tell the units that see the case now."""
        self.presence_mine.pop(case_id, None)
        self._unwatch(case_id)
        viewers = await self.live.presence.update(case_id, self.connection_id, None)
        if visible is None:
            visible = await _visible_units(self.runtime, case_id)
        if visible:
            await _publish_presence(self.runtime, case_id, _feeds(visible), viewers)


def _feeds(units: set[str]) -> list[str]:
    return [unit_feed(u) for u in sorted(units)]


async def _visible_units(runtime: Runtime, subject_id: str) -> set[str]:
    """The units that see a case or a SIP plan (presence is for both; their ids never collide: UUIDs)."""
    async with runtime.uow() as uow:
        case = await uow.cases.get(subject_id)
        if case is not None:
            return set(case.visible_unit_ids())
        plan = await uow.sip_plans.get(subject_id)
        return set(plan.visible_unit_ids()) if plan is not None else set()


async def _publish_presence(runtime: Runtime, case_id: str, feeds: list[str], viewers: list[protocol.Viewer]) -> None:
    frame = protocol.encode(protocol.Presence(case_id=case_id, viewers=viewers))
    await runtime.live.broker.publish([msgspec.json.encode(Routed(feeds=feeds, frame=msgspec.Raw(frame)))])


async def _close_when_writer_ends(socket: WebSocket[Any, Any, Any], subscriber: Subscriber) -> None:
    """The writer ends on a broken socket or on an error reading the event log (database away). Close the
    connection then, so the client resumes (elsewhere) instead of waiting on a stream that sends nothing more."""
    await subscriber.closed.wait()
    with contextlib.suppress(Exception):
        await socket.close(code=CLOSE_WRITER_ENDED, reason="stream ended; resume")


async def _heartbeat(socket: WebSocket[Any, Any, Any], subscriber: Subscriber, every: float,
                     expires_at: float, refresh_presence: Callable[[], Awaitable[None]],
                     revoked: Callable[[], Awaitable[bool]]) -> None:
    """Every `every` seconds: a heartbeat frame, and this connection's presence entries kept alive (TTL). The
    stream ends when its token expires or is revoked (signed out)."""
    while True:
        await asyncio.sleep(every)
        if expires_at and time.time() > expires_at:
            subscriber.offer_close(protocol.encode(protocol.Error(code="token_expired", detail="authenticate again")),
                                   lambda: socket.close(code=CLOSE_POLICY, reason="token expired"))
            return
        if await revoked():
            subscriber.offer_close(protocol.encode(protocol.Error(code="token_revoked", detail="signed out")),
                                   lambda: socket.close(code=CLOSE_POLICY, reason="token revoked"))
            return
        subscriber.offer(protocol.encode(protocol.Heartbeat(at=time.time())))
        try:
            await refresh_presence()
        except Exception as exc:  # the presence store is away: entries lapse, the stream goes on
            log.info("presence refresh failed: %s", type(exc).__name__)
