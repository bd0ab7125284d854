"""The event stream at `/api/v1/events` (protocol: `realtime/protocol.py`, docs: docs/events.md).

The first frame authenticates (the token never travels in the URL, so it never reaches access logs). A user
may follow the feeds of the units they work at with patient cases; each feed holds only events of cases that
unit takes part in, so per-event authorisation is the same rule as REST. Presence needs access to the case.
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
from realtime.feeds import unit_feed
from realtime.hub import Routed, Subscriber
from server import authorization
from server.auth.users import Authenticated, authenticate
from server.errors import ApplicationError
from server.runtime import Runtime

log = logging.getLogger("samplan.stream")
AUTH_TIMEOUT = 10.0
CLOSE_POLICY = 4401  # authentication failed or expired
CLOSE_PROTOCOL = 4400
CLOSE_WRITER_ENDED = 1011  # internal error: reconnect and resume from the last positions


@websocket("/events", name="event_stream")
async def event_stream(socket: WebSocket[Any, Any, Any]) -> None:
    runtime: Runtime = socket.app.state.runtime
    await socket.accept()
    session = await _authenticate(socket, runtime)
    if session is None:
        return
    await _serve(socket, runtime, session)


async def _authenticate(socket: WebSocket[Any, Any, Any], runtime: Runtime) -> Authenticated | None:
    try:
        raw = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT)
        message = protocol.decode_client(raw)
        if not isinstance(message, protocol.Auth):
            raise ApplicationError("the first frame must be auth")
        return await authenticate(message.token, runtime.verifier, runtime.uow(), runtime.settings.user_claim)
    except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError, ApplicationError) as exc:
        detail = exc.message if isinstance(exc, ApplicationError) else "authenticate with an auth frame first"
        with contextlib.suppress(Exception):
            await socket.send_text(protocol.encode(protocol.Error(code="unauthenticated", detail=detail)))
            await socket.close(code=CLOSE_POLICY, reason="unauthenticated")
        return None
    except WebSocketDisconnect:
        return None


async def _serve(socket: WebSocket[Any, Any, Any], runtime: Runtime, session: Authenticated) -> None:
    live = runtime.live
    allowed = authorization.stream_feeds(session.user)
    connection_id = str(uuid.uuid4())
    presence_cases: dict[str, list[str]] = {}  # case -> feeds of the units that see it
    presence_mine: dict[str, protocol.Viewer] = {}  # case -> this connection's entry, refreshed every heartbeat

    asgi_send = socket.send  # the hot path of the fan-out: skip send_text's layers, same ASGI event

    async def send(frame: bytes) -> None:
        await asgi_send({"type": "websocket.send", "bytes": None, "text": frame.decode()})

    async def refresh_presence() -> None:
        for case_id, viewer in list(presence_mine.items()):
            await live.presence.update(case_id, connection_id, viewer)

    subscriber = live.hub.new_subscriber(send)
    subscriber.offer(protocol.encode(protocol.Authenticated(user_id=session.user.id, feeds=sorted(allowed))))
    heartbeat = asyncio.create_task(_heartbeat(socket, subscriber, runtime.settings.heartbeat_seconds,
                                               session.expires_at, refresh_presence))
    writer_ended = asyncio.create_task(_close_when_writer_ends(socket, subscriber))
    try:
        while not subscriber.closed.is_set():
            raw = await socket.receive_text()
            try:
                message = protocol.decode_client(raw)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                subscriber.offer(protocol.encode(protocol.Error(code="bad_frame", detail=str(exc)[:200])))
                continue
            if isinstance(message, protocol.Subscribe):
                wanted = {f: p for f, p in message.feeds.items() if f in allowed}
                for feed in sorted(set(message.feeds) - set(wanted)):
                    subscriber.offer(protocol.encode(protocol.Error(
                        code="forbidden_feed", detail=f"you may not follow {feed[:100]}")))
                await live.hub.subscribe(subscriber, wanted)
            elif isinstance(message, protocol.Unsubscribe):
                live.hub.unsubscribe(subscriber, message.feeds)
            elif isinstance(message, protocol.PresenceUpdate):
                await _presence(runtime, session, subscriber, connection_id, message, presence_cases,
                                presence_mine)
            elif isinstance(message, protocol.Ping):
                subscriber.offer(protocol.encode(protocol.Pong()))
            else:
                subscriber.offer(protocol.encode(protocol.Error(code="bad_frame", detail="already authenticated")))
    except WebSocketDisconnect:
        pass
    finally:
        heartbeat.cancel()
        writer_ended.cancel()
        await live.hub.remove(subscriber)
        for case_id, feeds in presence_cases.items():
            with contextlib.suppress(Exception):
                await _publish_presence(runtime, case_id, feeds,
                                        await live.presence.update(case_id, connection_id, None))


async def _presence(runtime: Runtime, session: Authenticated, subscriber: Subscriber, connection_id: str,
                    message: protocol.PresenceUpdate, presence_cases: dict[str, list[str]],
                    presence_mine: dict[str, protocol.Viewer]) -> None:
    feeds = presence_cases.get(message.case_id)
    if feeds is None:
        visible = await _visible_units(runtime, message.case_id)
        mine = authorization.presence_units(session.user, visible)
        if not mine:
            subscriber.offer(protocol.encode(protocol.Error(code="not_found", detail="no such case or plan")))
            return
        feeds = [unit_feed(u) for u in sorted(visible)]
        presence_cases[message.case_id] = feeds
        unit_id = mine[0]
    else:
        unit_id = authorization.presence_units(session.user, {f.split(":", 1)[1] for f in feeds})[0]
    viewer = None if message.state == "left" else protocol.Viewer(
        user_id=session.user.id, unit_id=unit_id, state=message.state, field=message.field)
    viewers = await runtime.live.presence.update(message.case_id, connection_id, viewer)
    if viewer is None:
        presence_cases.pop(message.case_id, None)
        presence_mine.pop(message.case_id, None)
    else:
        presence_mine[message.case_id] = viewer
    await _publish_presence(runtime, message.case_id, feeds, viewers)


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
                     expires_at: float, refresh_presence: Callable[[], Awaitable[None]]) -> None:
    """Every `every` seconds: a heartbeat frame, and this connection's presence entries kept alive (TTL)."""
    while True:
        await asyncio.sleep(every)
        if expires_at and time.time() > expires_at:
            subscriber.offer_close(protocol.encode(protocol.Error(code="token_expired", detail="authenticate again")),
                                   lambda: socket.close(code=CLOSE_POLICY, reason="token expired"))
            return
        subscriber.offer(protocol.encode(protocol.Heartbeat(at=time.time())))
        try:
            await refresh_presence()
        except Exception as exc:  # the presence store is away: entries lapse, the stream goes on
            log.info("presence refresh failed: %s", type(exc).__name__)
