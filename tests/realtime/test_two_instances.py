"""The live pipeline across two API processes sharing one PostgreSQL database and one Redis.

Each test states a guarantee of DESIGN.md ("Ordering, resume and nothing lost") and fails if it breaks:
cross-instance delivery, authorisation of feeds, resume on the other instance, a Redis outage, concurrent
writers with a resume in the middle, and a slow consumer. PostgreSQL and `redis-server` must be available.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from realtime.feeds import unit_feed
from tests.realtime.cluster import ApiProcess, Cluster, RawStream, Stream, running_cluster
from tests.server.conftest import ORTHO, SODERMALM, SOLNA_INTAKE, WARD, iso, new_identity, now_utc, patient

pytestmark = pytest.mark.postgres

WARD_FEED = unit_feed(WARD)
INTAKE_FEED = unit_feed(SOLNA_INTAKE)
SODERMALM_FEED = unit_feed(SODERMALM)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("two-instances")) as c:
        yield c


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One HTTP client per instance, by instance name."""
    async with httpx.AsyncClient(base_url=cluster.a.http, timeout=30) as a, \
            httpx.AsyncClient(base_url=cluster.b.http, timeout=30) as b:
        yield {"a": a, "b": b}


@pytest.fixture
async def streams(cluster: Cluster) -> AsyncIterator[Callable[..., Awaitable[Stream]]]:
    """Open authenticated streams; all are closed at the end of the test."""
    opened: list[Stream] = []

    async def open_stream(api: ApiProcess, username: str, label: str = "") -> Stream:
        stream = await Stream.open(api.ws, cluster.token(username), label or f"{username}@{api.name}")
        opened.append(stream)
        return stream

    yield open_stream
    await asyncio.gather(*(s.close() for s in opened))


# ----- writes through the API ------------------------------------------------------------------------------


async def register(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"ward_unit_id": WARD, "patient": patient(new_identity()),
               "admitted_at": iso(now_utc() - timedelta(hours=2)), **body}
    response = await client.post("/api/v1/cases", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def act(client: httpx.AsyncClient, headers: dict[str, str], case: dict[str, Any], action: str,
              **body: Any) -> dict[str, Any]:
    response = await client.post(f"/api/v1/cases/{case['id']}/{action}",
                                 json={"expected_version": case["version"], **body}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def planning_case(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """A case past its admission notice: its events reach the ward and the receiving units."""
    return await act(client, headers, await register(client, headers, **body), "admission-notice")


async def head(client: httpx.AsyncClient, headers: dict[str, str], unit_id: str) -> int:
    response = await client.get(f"/api/v1/units/{unit_id}/events", params={"limit": 1}, headers=headers)
    assert response.status_code == 200, response.text
    value: int = response.json()["head"]
    return value


def assert_gapless(positions: list[int], first: int, last: int, who: str) -> None:
    """Every position from first to last exactly once, in order: no gap, no duplicate, no reordering."""
    duplicates = len(positions) - len(set(positions))
    missing = sorted(set(range(first, last + 1)) - set(positions))
    assert duplicates == 0, f"{who}: {duplicates} duplicate event frames on the wire: {positions}"
    assert not missing, f"{who}: missing positions {missing} of {first}..{last}"
    assert positions == list(range(first, last + 1)), f"{who}: out of order or unexpected: {positions}"


# ----- 1. cross-instance delivery ---------------------------------------------------------------------------


async def test_a_write_through_one_instance_reaches_subscribers_on_both(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse = cluster.headers("ward.nurse")
    on_a, on_b = await streams(cluster.a, "ward.nurse"), await streams(cluster.b, "ward.nurse")
    assessor_b = await streams(cluster.b, "needs.assessor")
    start = (await on_a.subscribe({WARD_FEED: None}))[WARD_FEED]
    assert (await on_b.subscribe({WARD_FEED: None}))[WARD_FEED] == start
    intake_start = (await assessor_b.subscribe({INTAKE_FEED: None}))[INTAKE_FEED]

    case = await register(http["a"], nurse)
    for stream in (on_a, on_b):
        await stream.wait_position(WARD_FEED, start + 1, within=5)
        [event] = stream.events(WARD_FEED)
        assert (event["type"], event["aggregate_id"], event["aggregate_version"]) == ("CaseRegistered", case["id"], 1)
        assert "Testa" not in str(event), "an event carries personal data"

    await act(http["a"], nurse, case, "admission-notice")
    await assessor_b.wait_position(INTAKE_FEED, intake_start + 1, within=5)
    [notice] = assessor_b.events(INTAKE_FEED)
    assert (notice["type"], notice["aggregate_id"]) == ("AdmissionNoticeSent", case["id"])
    for stream in (on_a, on_b):
        await stream.wait_position(WARD_FEED, start + 2, within=5)
        assert stream.positions(WARD_FEED) == [start + 1, start + 2]


# ----- 2. authorisation -------------------------------------------------------------------------------------


async def test_units_that_take_no_part_see_nothing_and_forbidden_feeds_are_refused(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse, assessor = cluster.headers("ward.nurse"), cluster.headers("needs.assessor")
    outsider = await streams(cluster.b, "stockholm.assessor")
    witness = await streams(cluster.b, "ward.nurse")  # same instance: proves the case's events reached it
    assert outsider.frames[0]["feeds"] == [SODERMALM_FEED]
    heads = await outsider.subscribe({SODERMALM_FEED: None, WARD_FEED: None, INTAKE_FEED: 0})
    assert heads == {SODERMALM_FEED: heads[SODERMALM_FEED]}, "a forbidden feed was subscribed"
    errors = [f for f in outsider.frames if f["op"] == "error"]
    assert sorted(e["code"] for e in errors) == ["forbidden_feed", "forbidden_feed"]
    ward_start = (await witness.subscribe({WARD_FEED: None}))[WARD_FEED]

    # A Solna case, written through both instances: the ward, Solna and Rönnviken take part; Södermalm does not.
    case = await planning_case(http["a"], nurse)
    case = await act(http["b"], assessor, case, "acknowledgements")
    case = await act(http["a"], nurse, case, "ready-for-discharge")
    await witness.wait_position(WARD_FEED, ward_start + 4, within=5)

    # A fence: a case Södermalm does take part in; its events arrive after everything above was dispatched.
    fence = await planning_case(http["b"], nurse, receiving_unit_ids=[SODERMALM])
    await outsider.wait_for(lambda f: f["op"] == "event" and f["event"]["aggregate_id"] == fence["id"]
                            and f["event"]["type"] == "AdmissionNoticeSent")
    await outsider.ping()
    received = outsider.events()
    assert {e["aggregate_id"] for e in received} == {fence["id"]}, f"events of a case not ours: {received}"
    assert {e["feed"] for e in received} == {SODERMALM_FEED}
    assert outsider.positions(SODERMALM_FEED) == [heads[SODERMALM_FEED] + 1]
    response = await http["b"].get(f"/api/v1/cases/{case['id']}", headers=cluster.headers("stockholm.assessor"))
    assert response.status_code == 404


# ----- 3. resume on the other instance ----------------------------------------------------------------------


async def test_a_client_cut_off_mid_stream_resumes_on_the_other_instance_without_gap_or_duplicate(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse = cluster.headers("ward.nurse")
    first = await streams(cluster.a, "ward.nurse", "before-cut@a")
    subscribed_at = (await first.subscribe({WARD_FEED: 0}))[WARD_FEED]  # from the beginning: replay, then live
    cut_done = asyncio.Event()

    async def writer(n: int) -> None:
        for i in range(n):
            if i == n // 2:
                await cut_done.wait()  # the rest is written while the client is away and while it resumes
            await register(http["ab"[i % 2]], nurse)

    writes = asyncio.create_task(writer(24))
    await first.until(lambda: max(first.positions(WARD_FEED), default=0) >= subscribed_at + 6, 15,
                      "live events before the cut")
    first.cut()
    await first.until(lambda: first.closed, 5, "the cut")
    last = max(first.positions(WARD_FEED))
    cut_done.set()

    resumed = await streams(cluster.b, "ward.nurse", "resumed@b")
    await resumed.subscribe({WARD_FEED: last})
    await writes
    final = await head(http["b"], nurse, WARD)
    await resumed.wait_position(WARD_FEED, final, within=15)
    await resumed.ping()
    assert_gapless(first.positions(WARD_FEED) + resumed.positions(WARD_FEED), 1, final, "cut-off client")


# ----- 4. Redis outage --------------------------------------------------------------------------------------


async def test_a_redis_outage_during_writes_loses_nothing_and_fails_no_request(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse, assessor = cluster.headers("ward.nurse"), cluster.headers("needs.assessor")
    subscribers: list[tuple[Stream, str, int]] = []
    for api in (cluster.a, cluster.b):
        for username, feed in (("ward.nurse", WARD_FEED), ("needs.assessor", INTAKE_FEED)):
            stream = await streams(api, username)
            subscribers.append((stream, feed, (await stream.subscribe({feed: None}))[feed]))
    cases = [await planning_case(http["ab"[i % 2]], nurse) for i in range(4)]

    def burst(round_: int) -> list[Awaitable[dict[str, Any]]]:
        writes: list[Awaitable[dict[str, Any]]] = []
        for i, case in enumerate(cases):
            client = http["ab"[(i + round_) % 2]]
            writes.append(act(client, nurse, case, "planning", notes=f"round {round_}"))
        writes.append(register(http["ab"[round_ % 2]], nurse))
        return writes

    async def write_round(round_: int) -> None:
        for i, case in enumerate(await asyncio.gather(*burst(round_))):
            if i < len(cases):
                cases[i] = case

    async def all_delivered(what: str) -> None:
        for stream, feed, start in subscribers:
            unit_id = feed.split(":", 1)[1]
            final = await head(http["a"], nurse if unit_id == WARD else assessor, unit_id)
            await stream.wait_position(feed, final, within=20)
            await stream.ping()
            assert_gapless(stream.positions(feed), start + 1, final, f"{stream.label} {what}")

    await write_round(1)
    cluster.redis.stop()
    try:
        await write_round(2)  # every request must succeed (act/register assert 200/201)
        await write_round(3)
    finally:
        cluster.redis.start()
    # No write after the restart yet: what was committed during the outage must arrive by itself (catch-up
    # after the broker reconnects, or the relay), not through the gap fill a later live event would cause.
    await all_delivered("after the restart")
    await write_round(4)
    await all_delivered("after more writes")
    # The relay publishes what the outage left unpublished; the hub must drop those duplicates.
    await cluster.until_all_published(within=20)
    await all_delivered("after the relay")


async def test_a_hung_redis_holds_up_no_write_and_loses_nothing(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    """Redis that hangs (frozen, connections open, no answers) instead of refusing: the publish after commit
    gives up after SAMPLAN_PUBLISH_TIMEOUT_SECONDS (0.5 s) and leaves the events to the relay. Without that
    limit each write waits for the client's 5 s socket timeout."""
    nurse = cluster.headers("ward.nurse")
    subscribers: list[tuple[Stream, int]] = []
    for api in (cluster.a, cluster.b):
        stream = await streams(api, "ward.nurse")
        subscribers.append((stream, (await stream.subscribe({WARD_FEED: None}))[WARD_FEED]))
    case = await planning_case(http["a"], nurse)
    cluster.redis.pause()
    try:
        for i in range(4):
            case = await asyncio.wait_for(act(http["ab"[i % 2]], nurse, case, "planning", notes=f"hung {i}"), 2.5)
    finally:
        cluster.redis.resume()
    final = await head(http["a"], nurse, WARD)
    for stream, _start in subscribers:
        await stream.wait_position(WARD_FEED, final, within=20)
    await cluster.until_all_published(within=20)
    for stream, start in subscribers:
        await stream.ping()
        assert_gapless(stream.positions(WARD_FEED), start + 1, final, stream.label)


# ----- 5. concurrent writers on both instances, resume in the middle ----------------------------------------


async def test_concurrent_writers_on_both_instances_and_a_resume_in_the_middle_lose_nothing(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse = cluster.headers("ward.nurse")
    cases = await asyncio.gather(*(planning_case(http["ab"[i % 2]], nurse) for i in range(8)))
    first = await streams(cluster.a, "ward.nurse", "writers-first@a")
    start = (await first.subscribe({WARD_FEED: None}))[WARD_FEED]
    cut_done = asyncio.Event()
    instance = itertools.cycle("ab")

    async def chain(case: dict[str, Any], k: int) -> None:
        for step in range(5):  # 8 chains x 5 commands = 40, alternating instances, concurrently
            if step == 2:
                await cut_done.wait()
            case = await act(http[next(instance)], nurse, case, "planning", notes=f"{k}.{step}")

    writes = asyncio.gather(*(chain(case, k) for k, case in enumerate(cases)))
    await first.until(lambda: len(first.positions(WARD_FEED)) >= 10, 15, "the first events")
    first.cut()
    await first.until(lambda: first.closed, 5, "the cut")
    last = max(first.positions(WARD_FEED))
    cut_done.set()

    resumed = await streams(cluster.b, "ward.nurse", "writers-resumed@b")
    await resumed.subscribe({WARD_FEED: last})
    await writes
    final = await head(http["a"], nurse, WARD)
    assert final == start + 40
    await resumed.wait_position(WARD_FEED, final, within=15)
    await resumed.ping()
    assert_gapless(first.positions(WARD_FEED) + resumed.positions(WARD_FEED), start + 1, final, "resumed client")


# ----- 6. slow consumer -------------------------------------------------------------------------------------


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_a_subscriber_that_stops_reading_is_told_to_resync_instead_of_losing_events_silently(
        cluster: Cluster, http: dict[str, httpx.AsyncClient]) -> None:
    # It pings rarely: this client reads nothing (so answers no ping) for as long as the writes take on a loaded
    # machine, longer than the default ping window (20 s + 20 s), after which the server rightly closes it.
    slow = cluster.start_api("slow", SAMPLAN_STREAM_QUEUE_SIZE="5", SAMPLAN_STREAM_PING_SECONDS="600")
    nurse = cluster.headers("ward.nurse")
    raw: RawStream | None = None
    try:
        async with httpx.AsyncClient(base_url=slow.http, timeout=30) as metrics:
            raw = await RawStream.open(slow.port, cluster.token("ward.nurse"))
            await raw.send({"op": "subscribe", "feeds": {WARD_FEED: None}})
            [*_, subscribed] = await raw.read_frames(lambda f: f["op"] == "subscribed", within=10)
            start = subscribed["feeds"][WARD_FEED]
            # From here on the client reads nothing while the ward keeps writing, until the instance's writer is
            # stuck and the subscriber's queue overflowed. (Writing on after that would let the writer, once the
            # operating system takes a few more bytes, resync and overflow again: a loaded machine did so.)
            written = 0
            while await metric(metrics, "samplan_subscriber_overflows_total") == 0:
                assert written < 1500, f"the writer never blocked after {written} events:\n{cluster.logs()}"
                async with asyncio.TaskGroup() as writes:  # a failure cancels the rest: none left in flight
                    for i in range(20):
                        writes.create_task(register(http["ab"[i % 2]], nurse))
                written += 20
            assert written - await metric(metrics, "samplan_events_delivered_total") > 5  # more than the queue
            assert await metric(metrics, "samplan_subscriber_overflows_total") == 1
            frames = await raw.read_frames(lambda f: f["op"] == "resync", within=10)
            resync = frames[-1]
            assert (resync["feed"], resync["reason"]) == (WARD_FEED, "overflow")
            before_resync = [f["event"]["position"] for f in frames if f["op"] == "event"]
            assert before_resync == list(range(start + 1, start + 1 + len(before_resync))), "lost before resync"
            assert resync["head"] >= start + len(before_resync)

            # Having resynced (snapshot at `head`), the client gets everything after `head` again, in order.
            case = await register(http["a"], nurse)
            frames = await raw.read_frames(lambda f: f["op"] == "event" and f["event"]["aggregate_id"] == case["id"],
                                           within=20)
            after = [f["event"]["position"] for f in frames if f["op"] == "event"]
            assert after == list(range(resync["head"] + 1, resync["head"] + 1 + len(after))), "lost after resync"
            assert not [f for f in frames if f["op"] == "resync"], "overflowed again"
    finally:
        if raw is not None:
            raw.close()
        slow.stop()
        cluster.instances.remove(slow)


# ----- 7. the event log unreadable while a subscriber needs it ----------------------------------------------


async def test_a_stream_that_cannot_read_the_log_is_closed_not_left_silent_and_the_client_resumes(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    """The hub's writer ends when reading the log fails (database away). The server must then close the socket,
    so the client reconnects and resumes; before the fix the socket stayed open and sent nothing more."""
    nurse = cluster.headers("ward.nurse")
    first = await streams(cluster.b, "ward.coordinator", "log-away@b")
    start = (await first.subscribe({WARD_FEED: None}))[WARD_FEED]
    await register(http["a"], nurse)
    await first.wait_position(WARD_FEED, start + 1, within=5)

    await cluster.execute("ALTER TABLE feed_entries RENAME TO feed_entries_away")
    try:
        await first.send({"op": "subscribe", "feeds": {unit_feed(ORTHO): None}})  # its catch-up reads the log
        await first.until(lambda: first.closed, 10, "the server to close the stream")
        assert first.ws.close_code == 1011
    finally:
        await cluster.execute("ALTER TABLE feed_entries_away RENAME TO feed_entries")

    await register(http["b"], nurse)
    resumed = await streams(cluster.a, "ward.coordinator", "log-back@a")
    await resumed.subscribe({WARD_FEED: max(first.positions(WARD_FEED))})
    await register(http["a"], nurse)
    await resumed.wait_position(WARD_FEED, start + 3, within=10)
    await resumed.ping()
    assert_gapless(first.positions(WARD_FEED) + resumed.positions(WARD_FEED), start + 1, start + 3, "resumed")


# ----- 8. idle HTTP connections ------------------------------------------------------------------------------


async def test_an_idle_connection_stays_open_longer_than_a_client_keeps_it(cluster: Cluster) -> None:
    """Regression: uvicorn closed idle connections after 5 s, exactly when httpx (idle expiry 5 s) may still send a
    request on one; under load a POST then met the closing socket (httpx.ReadError in test 6 above)."""
    client_expiry = httpx.Limits().keepalive_expiry or 5.0
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.a.port)
    try:
        for _ in range(2):  # a request, the connection idle past the client's expiry, a request on it again
            writer.write(b"GET /ready HTTP/1.1\r\nHost: api.test\r\n\r\n")
            await writer.drain()
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode().lower()
            assert head.startswith("http/1.1 200"), head
            length = next(int(line.split(":")[1]) for line in head.splitlines() if line.startswith("content-length"))
            await reader.readexactly(length)
            with pytest.raises(TimeoutError):  # the server does not close it meanwhile (b"" would be its close)
                await asyncio.wait_for(reader.read(1), client_expiry + 1)
    finally:
        writer.close()
