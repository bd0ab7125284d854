"""Limits of the event stream, against a real `samplan api` process with small limits set in its environment.

Each breach gets its documented answer (docs/events.md, "Limits"): close 1009 for a frame too large, close 4429
for too many subscribe or presence frames, error `too_many_feeds` for a subscribe naming too many feeds, error
`bad_frame` for a presence frame with an unbounded or free-text field (never forwarded), close 4409 for one
connection too many. Nothing sleeps: every wait is for a frame or a close, with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets

from realtime.feeds import unit_feed
from tests.realtime.cluster import ApiProcess, Cluster, Stream, running_cluster
from tests.server.conftest import SODERMALM, WARD, iso, new_identity, now_utc, patient

pytestmark = pytest.mark.postgres

WARD_FEED = unit_feed(WARD)
LIMITS = {"SAMPLAN_STREAM_MAX_FRAME_BYTES": "4096", "SAMPLAN_STREAM_SUBSCRIBES_PER_MINUTE": "3",
          "SAMPLAN_STREAM_MAX_FEEDS_PER_SUBSCRIBE": "5", "SAMPLAN_STREAM_PRESENCE_PER_MINUTE": "4",
          "SAMPLAN_STREAM_PRESENCE_FIELD_MAX_LENGTH": "16", "SAMPLAN_STREAM_MAX_CONNECTIONS_PER_USER": "2"}
Json = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("stream-limits"), instances=0) as c:
        c.start_api("limits", **LIMITS)
        yield c


@pytest.fixture
async def streams(cluster: Cluster) -> AsyncIterator[Callable[..., Awaitable[Stream]]]:
    opened: list[Stream] = []

    async def open_stream(username: str, label: str = "", *, authenticated: bool = True) -> Stream:
        api: ApiProcess = cluster.a
        if authenticated:
            stream = await Stream.open(api.ws, cluster.token(username), label or username)
        else:  # the answer to auth may be a refusal: do not wait for `authenticated`
            ws = await websockets.connect(api.ws, open_timeout=10, max_size=2**22)
            stream = Stream(ws, label or username)
            await stream.send({"op": "auth", "token": cluster.token(username)})
        opened.append(stream)
        return stream

    yield open_stream
    await asyncio.gather(*(s.close() for s in opened))


async def closed_with(stream: Stream, code: int, error: str | None, within: float = 10) -> None:
    await stream.until(lambda: stream.closed, within, f"close {code}")
    assert stream.ws.close_code == code, f"{stream.label}: closed with {stream.ws.close_code}, not {code}"
    if error is not None:
        errors = [f["code"] for f in stream.frames if f["op"] == "error"]
        assert error in errors, f"{stream.label}: error frames {errors}"


async def ward_case(cluster: Cluster) -> Json:
    async with httpx.AsyncClient(base_url=cluster.a.http, timeout=30) as client:
        response = await client.post("/api/v1/cases", headers=cluster.headers("ward.nurse"), json={
            "ward_unit_id": WARD, "patient": patient(new_identity()),
            "admitted_at": iso(now_utc() - timedelta(hours=2))})
    assert response.status_code == 201, response.text
    result: Json = response.json()
    return result


def presence_of(stream: Stream, case_id: str) -> list[Json]:
    return [f for f in stream.frames if f["op"] == "presence" and f["case_id"] == case_id]


async def test_a_frame_over_the_size_limit_is_answered_with_close_1009(
        streams: Callable[..., Awaitable[Stream]]) -> None:
    over = await streams("ward.coordinator", "over the limit")
    await over.ws.send(json.dumps({"op": "subscribe", "feeds": {WARD_FEED: None}, "pad": "x" * 5000}))
    await closed_with(over, 1009, "frame_too_large")

    huge = await streams("ward.coordinator", "1 MB of presence")
    await huge.send({"op": "presence", "case_id": "c", "state": "editing", "field": "x" * 2**20})
    await closed_with(huge, 1009, None)  # refused by the server before it is read whole


async def test_subscribes_over_the_rate_are_answered_with_close_4429(
        streams: Callable[..., Awaitable[Stream]]) -> None:
    stream = await streams("ward.nurse")
    for _ in range(3):
        await stream.subscribe({WARD_FEED: 0})
    await stream.send({"op": "subscribe", "feeds": {WARD_FEED: 0}})
    await closed_with(stream, 4429, "rate_limited")
    assert sum(1 for f in stream.frames if f["op"] == "subscribed") == 3


async def test_a_subscribe_naming_too_many_feeds_is_refused_whole_and_the_stream_goes_on(
        streams: Callable[..., Awaitable[Stream]]) -> None:
    stream = await streams("stockholm.assessor")
    await stream.send({"op": "subscribe", "feeds": {unit_feed(f"no-{i}"): 0 for i in range(50)}})
    refusal = await stream.wait_for(lambda f: f["op"] == "error")
    assert refusal["code"] == "too_many_feeds"
    heads = await stream.subscribe({unit_feed(SODERMALM): None, WARD_FEED: 0})
    assert list(heads) == [unit_feed(SODERMALM)]
    assert [f["code"] for f in stream.frames if f["op"] == "error"] == ["too_many_feeds", "forbidden_feed"]
    assert sum(1 for f in stream.frames if f["op"] == "subscribed") == 1


async def test_presence_over_the_rate_is_answered_with_close_4429_and_not_forwarded(
        cluster: Cluster, streams: Callable[..., Awaitable[Stream]]) -> None:
    case = await ward_case(cluster)
    witness = await streams("ward.nurse", "witness")
    await witness.subscribe({WARD_FEED: None})
    sender = await streams("ward.coordinator", "sender")
    for i in range(4):
        await sender.send({"op": "presence", "case_id": case["id"], "state": "editing", "field": f"f{i}"})
        await witness.until(lambda i=i: any(v["field"] == f"f{i}" for p in presence_of(witness, case["id"])
                                            for v in p["viewers"]), 10, f"presence f{i}")
    await sender.send({"op": "presence", "case_id": case["id"], "state": "editing", "field": "f4"})
    await closed_with(sender, 4429, "rate_limited")
    await witness.until(lambda: presence_of(witness, case["id"])[-1]["viewers"] == [], 10,
                        "the closed connection's presence to end")
    assert all(v["field"] != "f4" for p in presence_of(witness, case["id"]) for v in p["viewers"])


async def test_presence_fields_are_bounded_and_free_text_is_never_forwarded(
        cluster: Cluster, streams: Callable[..., Awaitable[Stream]]) -> None:
    case = await ward_case(cluster)
    witness = await streams("ward.nurse", "witness")
    await witness.subscribe({WARD_FEED: None})
    sender = await streams("ward.coordinator", "sender")
    bad = [{"field": "x" * 17}, {"field": "Anna Andersson 19121212-1212"}, {"case_id": case["id"] + "x" * 64},
           {"case_id": "../../etc"}]
    for fields in bad:
        await sender.send({"op": "presence", "case_id": case["id"], "state": "editing", **fields})
    await sender.until(lambda: sum(1 for f in sender.frames if f["op"] == "error") == len(bad), 10, "the refusals")
    assert {f["code"] for f in sender.frames if f["op"] == "error"} == {"bad_frame"}
    await sender.send({"op": "presence", "case_id": case["id"], "state": "editing", "field": "adl"})
    await witness.until(lambda: bool(presence_of(witness, case["id"])), 10, "the valid presence")
    assert [[v["field"] for v in p["viewers"]] for p in presence_of(witness, case["id"])] == [["adl"]]
    assert not sender.closed


async def test_one_connection_too_many_for_a_user_is_answered_with_close_4409(
        streams: Callable[..., Awaitable[Stream]]) -> None:
    first = await streams("psych.nurse", "first")
    await streams("psych.nurse", "second")
    third = await streams("psych.nurse", "third", authenticated=False)
    await closed_with(third, 4409, "too_many_connections")
    assert not any(f["op"] == "authenticated" for f in third.frames)
    await streams("needs.assessor", "another user")  # the limit is per user

    await first.close()
    deadline = time.monotonic() + 10  # the server counts the closed one out when it has seen the close
    while True:
        again = await streams("psych.nurse", "after one closed", authenticated=False)
        await again.until(lambda s=again: s.closed or any(f["op"] == "authenticated" for f in s.frames), 10,
                          "an answer to auth")
        if not again.closed:
            break
        assert time.monotonic() < deadline, "a closed connection still counts against the user's limit"
