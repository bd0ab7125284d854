"""`realtime.client.StreamClient` against the real API (uvicorn, real websockets) on SQLite and PostgreSQL.

Nothing here sleeps to synchronise: every wait is for a condition, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from websockets.asyncio.client import connect

from realtime import protocol
from realtime.client import StreamClient, StreamItem, stream_url
from realtime.envelope import Envelope
from realtime.feeds import unit_feed
from tests.realtime.conftest import ApiServer, Proxy, Tokens
from tests.server.conftest import SOLNA_INTAKE, WARD, register

Start = Callable[[], Awaitable[ApiServer]]
Issue = Callable[..., str]
WARD_FEED = unit_feed(WARD)
INTAKE_FEED = unit_feed(SOLNA_INTAKE)
TIMEOUT = 10.0
FAST = {"min_backoff": 0.05, "max_backoff": 0.5}


def headers(issue: Issue, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue(username)}"}


async def next_item(items: AsyncIterator[StreamItem]) -> StreamItem:
    return await asyncio.wait_for(anext(items), TIMEOUT)


async def next_events(items: AsyncIterator[StreamItem], count: int) -> list[Envelope]:
    """The next `count` items, which must all be events."""
    got = [await next_item(items) for _ in range(count)]
    assert all(isinstance(item, Envelope) for item in got), got
    return got  # type: ignore[return-value]


async def until(items: AsyncIterator[StreamItem], wanted: Callable[[StreamItem], bool]) -> StreamItem:
    """Skip items until one is wanted."""
    async with asyncio.timeout(TIMEOUT):
        async for item in items:
            if wanted(item):
                return item
    raise AssertionError("the stream ended")


async def connected(stream: StreamClient) -> None:
    await asyncio.wait_for(stream.connected.wait(), TIMEOUT)


async def register_many(http: httpx.AsyncClient, issue: Issue, count: int) -> list[str]:
    nurse = headers(issue, "ward.nurse")
    return [(await register(http, nurse))["id"] for _ in range(count)]


async def act(http: httpx.AsyncClient, hdrs: dict[str, str], case: dict[str, Any], action: str) -> dict[str, Any]:
    response = await http.post(f"/api/v1/cases/{case['id']}/{action}", json={"expected_version": case["version"]},
                               headers=hdrs)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_stream_url_from_an_api_url() -> None:
    assert stream_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/api/v1/events"
    assert stream_url("https://samplan.example/") == "wss://samplan.example/api/v1/events"
    assert stream_url("wss://samplan.example/api/v1/events") == "wss://samplan.example/api/v1/events"
    with pytest.raises(ValueError, match="not a websocket"):
        stream_url("ftp://samplan.example")


async def test_a_command_through_rest_arrives_live_and_the_draft_only_at_the_ward(
        api: Start, http: httpx.AsyncClient, token: Issue) -> None:
    server = await api()
    ward = StreamClient(server.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: None}, **FAST)
    intake = StreamClient(server.url, Tokens(token, "needs.assessor"), {INTAKE_FEED: None}, **FAST)
    async with ward, intake:
        await connected(ward)
        await connected(intake)
        assert ward.positions == {WARD_FEED: 0}  # "from now" became the head: a resume continues from here
        ward_items, intake_items = aiter(ward), aiter(intake)

        nurse = headers(token, "ward.nurse")
        case = await register(http, nurse)
        [registered] = await next_events(ward_items, 1)
        assert (registered.type, registered.feed, registered.position) == ("CaseRegistered", WARD_FEED, 1)
        assert (registered.aggregate_type, registered.aggregate_id, registered.aggregate_version) == (
            "discharge_case", case["id"], 1)
        assert registered.unit_ids == (WARD,)  # the ward's draft: nobody else is told
        assert registered.data["care_type"] == "somatic"
        assert set(registered.data) == {"actor_user_id", "actor_unit_id", "care_type", "routed_by_hand"}
        assert ward.positions == {WARD_FEED: 1}

        await act(http, nurse, case, "admission-notice")
        [at_ward] = await next_events(ward_items, 1)
        [at_intake] = await next_events(intake_items, 1)  # the receiver's first event is the notice
        assert (at_ward.type, at_ward.position) == ("AdmissionNoticeSent", 2)
        assert (at_intake.type, at_intake.feed, at_intake.position) == ("AdmissionNoticeSent", INTAKE_FEED, 1)
        assert at_intake.event_id == at_ward.event_id
        assert SOLNA_INTAKE in at_intake.data["recipient_unit_ids"]


async def test_resume_across_dropped_instances_sees_every_event_once_in_order(
        api: Start, http: httpx.AsyncClient, token: Issue) -> None:
    """The client's instances stop and start while commands keep coming through another instance."""
    first, second = await api(), await api()
    tokens = Tokens(token, "ward.nurse")
    seen: list[Envelope] = []
    written: list[str] = []
    async with StreamClient([first.ws_url, second.ws_url], tokens, {WARD_FEED: 0}, **FAST) as stream:
        items = aiter(stream)

        async def receive_until(count: int) -> None:
            while len(seen) < count:
                seen.extend(await next_events(items, 1))

        async def write(count: int) -> None:
            written.extend(await register_many(http, token, count))

        await write(5)
        await receive_until(5)
        await asyncio.gather(first.stop(), write(5))  # the client fails over to the second instance
        await receive_until(10)
        assert tokens.calls >= 2
        await first.start()  # same port
        await asyncio.gather(second.stop(), write(5))  # and back to the first
        await receive_until(15)
        await second.start()
        await write(5)
        await receive_until(20)

    assert [e.position for e in seen] == list(range(1, 21))
    assert [e.aggregate_id for e in seen] == written
    assert len({e.event_id for e in seen}) == 20
    assert stream.positions == {WARD_FEED: 20}
    assert tokens.calls >= 3


async def test_duplicates_within_a_connection_are_dropped(proxy: Proxy, http: httpx.AsyncClient,
                                                          token: Issue) -> None:
    proxy.duplicate = True
    async with StreamClient(proxy.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: 0}, **FAST) as stream:
        items = aiter(stream)
        cases = await register_many(http, token, 3)
        got = await next_events(items, 3)
        proxy.duplicate = False
        cases += await register_many(http, token, 1)
        got += await next_events(items, 1)  # the next item is the next event: every copy was dropped
    assert proxy.injected == 3
    assert [e.position for e in got] == [1, 2, 3, 4]
    assert [e.aggregate_id for e in got] == cases


async def test_events_replayed_after_a_reconnect_are_dropped(proxy: Proxy, http: httpx.AsyncClient,
                                                             token: Issue) -> None:
    proxy.replay = True  # after each `subscribed`, the proxy re-sends every event it forwarded before
    tokens = Tokens(token, "ward.nurse")
    async with StreamClient(proxy.ws_url, tokens, {WARD_FEED: None}, **FAST) as stream:
        items = aiter(stream)
        await connected(stream)
        cases = await register_many(http, token, 3)
        got = await next_events(items, 3)
        await proxy.drop()
        await tokens.called(2)
        await connected(stream)
        cases += await register_many(http, token, 2)
        got += await next_events(items, 2)
    assert proxy.connections == 2
    assert proxy.injected == 3
    assert [e.position for e in got] == [1, 2, 3, 4, 5]
    assert [e.aggregate_id for e in got] == cases


async def test_a_resume_older_than_the_replay_limit_gets_a_resync(
        api: Start, http: httpx.AsyncClient, token: Issue, app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.state.runtime.live.hub, "max_replay", 2)  # SAMPLAN_STREAM_MAX_REPLAY=2
    server = await api()
    async with StreamClient(server.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: 0}, **FAST) as stream:
        items = aiter(stream)
        await register_many(http, token, 1)
        [first] = await next_events(items, 1)
        await server.stop()
        await register_many(http, token, 5)  # missed: 5 > 2
        await server.start()
        resync = await next_item(items)
        assert resync == protocol.Resync(feed=WARD_FEED, reason="too_old", head=6)
        assert stream.positions == {WARD_FEED: 6}  # the caller refetches its snapshot, then goes on from here
        [later] = await register_many(http, token, 1)
        [after] = await next_events(items, 1)
    assert first.position == 1
    assert (after.position, after.aggregate_id) == (7, later)


async def test_a_refused_token_is_retried_with_back_off_and_a_new_token(
        api: Start, http: httpx.AsyncClient, token: Issue) -> None:
    server = await api()
    tokens = Tokens(token, "ward.nurse", bad_first=2)
    started = time.monotonic()
    async with StreamClient(server.ws_url, tokens, {WARD_FEED: None}, min_backoff=0.2, max_backoff=1.0) as stream:
        await connected(stream)  # the third token is good
        assert tokens.calls == 3
        assert time.monotonic() - started >= 0.1 + 0.2  # two waits of at least half their cap: no busy loop
        await server.stop()
        await server.start()
        await tokens.called(4)  # every connection asks the provider again
        await connected(stream)
        [case] = await register_many(http, token, 1)
        [event] = await next_events(aiter(stream), 1)
    assert event.aggregate_id == case


async def test_an_expired_token_is_replaced_on_the_next_connection(
        api: Start, http: httpx.AsyncClient, token: Issue, app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    runtime = app.state.runtime
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, heartbeat_seconds=0.1))
    server = await api()
    tokens = Tokens(token, "ward.nurse", lifetime=timedelta(seconds=1))  # the first token expires at once
    async with StreamClient(server.ws_url, tokens, {WARD_FEED: None}, **FAST) as stream:
        await connected(stream)
        await tokens.called(2)  # the server said token_expired and closed with 4401; the client came back
        await connected(stream)
        [case] = await register_many(http, token, 1)
        [event] = await next_events(aiter(stream), 1)
    assert event.aggregate_id == case
    assert tokens.calls == 2


async def test_a_silent_connection_is_replaced_after_the_heartbeat_timeout(
        proxy: Proxy, http: httpx.AsyncClient, token: Issue, app: Litestar,
        monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = app.state.runtime
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, heartbeat_seconds=0.1))
    tokens = Tokens(token, "ward.nurse")
    async with StreamClient(proxy.ws_url, tokens, {WARD_FEED: 0}, heartbeat_timeout=1.0, **FAST) as stream:
        items = aiter(stream)
        cases = await register_many(http, token, 1)
        got = await next_events(items, 1)
        proxy.silence()  # the TCP connection stays open, but nothing arrives: not even heartbeats
        cases += await register_many(http, token, 2)
        got += await next_events(items, 2)  # after a reconnect, replayed from the log
    assert [e.aggregate_id for e in got] == cases
    assert [e.position for e in got] == [1, 2, 3]
    assert tokens.calls == 2  # heartbeats kept the first connection alive until it went silent
    assert proxy.connections == 2


async def test_presence_round_trip_and_presence_restored_after_a_reconnect(
        api: Start, http: httpx.AsyncClient, token: Issue) -> None:
    nurse_server, assessor_server = await api(), await api()
    nurse = headers(token, "ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    me = (await http.get("/api/v1/me", headers=nurse)).json()["id"]
    assessor_id = (await http.get("/api/v1/me", headers=headers(token, "needs.assessor"))).json()["id"]

    def presence_of(*user_ids: str) -> Callable[[StreamItem], bool]:
        return lambda item: (isinstance(item, protocol.Presence) and item.case_id == case["id"]
                             and sorted(v.user_id for v in item.viewers) == sorted(user_ids))

    ward = StreamClient(nurse_server.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: None}, **FAST)
    intake = StreamClient(assessor_server.ws_url, Tokens(token, "needs.assessor"), {INTAKE_FEED: None}, **FAST)
    async with ward, intake:
        await connected(ward)
        await connected(intake)
        ward_items, intake_items = aiter(ward), aiter(intake)

        await ward.send_presence(case["id"], "viewing")
        seen = await until(intake_items, presence_of(me))
        assert isinstance(seen, protocol.Presence)
        assert seen.viewers == [protocol.Viewer(user_id=me, unit_id=WARD, state="viewing", field=None)]

        await intake.send_presence(case["id"], "editing", field="planning.current_services")
        both = await until(ward_items, presence_of(me, assessor_id))
        assert isinstance(both, protocol.Presence)
        assert protocol.Viewer(user_id=assessor_id, unit_id=SOLNA_INTAKE, state="editing",
                               field="planning.current_services") in both.viewers

        await nurse_server.stop()  # the nurse's connection ends: the server removes her presence
        await until(intake_items, presence_of(assessor_id))
        await nurse_server.start()  # she reconnects, and the client sends her presence again
        await until(intake_items, presence_of(me, assessor_id))

        await ward.send_presence(case["id"], "left")
        await until(intake_items, presence_of(assessor_id))

        with pytest.raises(ValueError, match="presence state"):
            await ward.send_presence(case["id"], "staring")


async def heartbeats(url: str, token: str, count: int) -> None:
    """Wait until a connection of its own has received `count` heartbeats: a clock made of the server's ticks."""
    async with connect(url, proxy=None) as ws, asyncio.timeout(TIMEOUT):
        await ws.send(protocol.encode(protocol.Auth(token=token)).decode())
        seen = 0
        while seen < count:
            seen += isinstance(protocol.decode_server(await ws.recv()), protocol.Heartbeat)


async def test_presence_outlives_its_ttl_while_the_connection_lives(
        api: Start, http: httpx.AsyncClient, token: Issue, app: Litestar, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = app.state.runtime
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, heartbeat_seconds=0.05))
    monkeypatch.setattr(runtime.live.presence, "_ttl", 0.3)  # SAMPLAN_PRESENCE_TTL_SECONDS, in memory
    server = await api()
    nurse = headers(token, "ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    ward = StreamClient(server.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: None}, **FAST)
    intake = StreamClient(server.ws_url, Tokens(token, "needs.assessor"), {INTAKE_FEED: None}, **FAST)
    async with ward, intake:
        await connected(ward)
        await connected(intake)
        intake_items = aiter(intake)
        await ward.send_presence(case["id"], "viewing")
        await until(intake_items, lambda i: isinstance(i, protocol.Presence) and len(i.viewers) == 1)
        await heartbeats(server.ws_url, token("auditor"), 20)  # 20 × 0.05 s: more than three TTLs
        await intake.send_presence(case["id"], "viewing")
        seen = await until(intake_items, lambda i: isinstance(i, protocol.Presence) and i.case_id == case["id"])
    assert isinstance(seen, protocol.Presence)
    assert sorted(v.unit_id for v in seen.viewers) == sorted([WARD, SOLNA_INTAKE])  # the nurse is still there


async def test_iteration_ends_when_the_client_is_closed(api: Start, token: Issue, clean_cases: None) -> None:
    server = await api()
    stream = StreamClient(server.ws_url, Tokens(token, "ward.nurse"), {WARD_FEED: None}, **FAST)
    items = aiter(stream)
    await connected(stream)
    waiting = asyncio.create_task(anext(items, None))
    await stream.close()
    assert await asyncio.wait_for(waiting, TIMEOUT) is None
    assert not stream.connected.is_set()
    await stream.close()  # idempotent
