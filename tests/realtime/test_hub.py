"""The per-process hub (`realtime/hub.py`) in process, with an in-memory event log and a recording socket.

Every wait is on a condition with a deadline: `settle` sends a marker through the subscriber's own queue and
waits for it, so everything offered before it has been handled (sent or dropped).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from realtime import protocol
from realtime.envelope import Envelope, encode
from realtime.hub import Hub, Routed, Subscriber

FEED, OTHER = "unit:ward", "unit:intake"
_ids = itertools.count(1)


class Gate:
    """Lets a fake operation be held at a chosen point: `hold()`, then `release()`."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()

    def hold(self) -> None:
        self._open.clear()
        self.waiting.clear()

    def release(self) -> None:
        self._open.set()

    async def passing(self) -> None:
        if not self._open.is_set():
            self.waiting.set()
            await self._open.wait()


class FakeLog:
    """`realtime.hub.EventSource` in memory. Reads see the log as it was when they started (like a query)."""

    def __init__(self) -> None:
        self.feeds: dict[str, list[Envelope]] = {}
        self.oldest: dict[str, int] = {}
        self.head_gate, self.read_gate = Gate(), Gate()
        self.reads: list[tuple[str, int]] = []

    def append(self, feed: str = FEED) -> Envelope:
        entries = self.feeds.setdefault(feed, [])
        envelope = Envelope(event_id=f"e{next(_ids)}", type="PlanningUpdated", feed=feed, position=len(entries) + 1,
                            aggregate_type="discharge_case", aggregate_id="case-1", aggregate_version=len(entries) + 1,
                            occurred_at=datetime.now(UTC), unit_ids=("ward",), data={})
        entries.append(envelope)
        return envelope

    async def read_feed(self, feed: str, after: int, limit: int) -> list[Envelope]:
        self.reads.append((feed, after))
        result = [e for e in self.feeds.get(feed, []) if e.position > after][:limit]
        await self.read_gate.passing()
        return result

    async def feed_head(self, feed: str) -> int:
        head = len(self.feeds.get(feed, []))
        await self.head_gate.passing()
        return head

    async def oldest_position(self, feed: str) -> int:
        return self.oldest.get(feed, 1)


class Socket:
    """The send function of one websocket: records frames; can be held to play a client that stops reading."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.gate = Gate()
        self._changed = asyncio.Event()

    async def send(self, frame: bytes) -> None:
        await self.gate.passing()
        self.frames.append(json.loads(frame))
        self._changed.set()

    def positions(self, feed: str = FEED) -> list[int]:
        return [f["event"]["position"] for f in self.frames if f["op"] == "event" and f["event"]["feed"] == feed]

    def ops(self) -> list[str]:
        return [f["op"] for f in self.frames]

    async def until(self, condition: Callable[[], bool], within: float = 2.0) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise AssertionError(f"timed out; frames: {self.frames}") from None


def live(envelope: Envelope) -> bytes:
    """The frame the broker carries for an event."""
    return protocol.event_frame(encode(envelope))


_markers = itertools.count()


async def settle(subscriber: Subscriber, socket: Socket) -> None:
    """Everything offered to the subscriber so far has been handled: a marker frame went through its queue."""
    marker = next(_markers)
    subscriber.offer(json.dumps({"op": "marker", "n": marker}).encode())
    await socket.until(lambda: any(f == {"op": "marker", "n": marker} for f in socket.frames))
    socket.frames = [f for f in socket.frames if f["op"] != "marker"]


@pytest.fixture
def log() -> FakeLog:
    return FakeLog()


@pytest.fixture
def hub(log: FakeLog) -> Hub:
    return Hub(log, queue_size=50, max_replay=100)


async def connect(hub: Hub, feeds: dict[str, int | None]) -> tuple[Subscriber, Socket]:
    socket = Socket()
    subscriber = hub.new_subscriber(socket.send)
    await hub.subscribe(subscriber, feeds)
    await socket.until(lambda: "subscribed" in socket.ops())
    return subscriber, socket


# ----- duplicates and gaps ----------------------------------------------------------------------------------


async def test_a_duplicate_is_dropped(hub: Hub, log: FakeLog) -> None:
    subscriber, socket = await connect(hub, {FEED: None})
    first, second = log.append(), log.append()
    for envelope in (first, first, second, first, second):
        hub.dispatch(live(envelope))
    await settle(subscriber, socket)
    assert socket.positions() == [1, 2]
    await hub.remove(subscriber)


async def test_a_gap_is_filled_from_the_log_in_order(hub: Hub, log: FakeLog) -> None:
    subscriber, socket = await connect(hub, {FEED: None})
    envelopes = [log.append() for _ in range(4)]
    hub.dispatch(live(envelopes[3]))  # 1..3 committed but not (yet) received live: published out of order
    await socket.until(lambda: len(socket.positions()) == 4)
    for envelope in envelopes:  # arriving late, they are duplicates
        hub.dispatch(live(envelope))
    await settle(subscriber, socket)
    assert socket.positions() == [1, 2, 3, 4]
    assert [f["event"]["event_id"] for f in socket.frames if f["op"] == "event"] == [e.event_id for e in envelopes]
    await hub.remove(subscriber)


# ----- subscribe: replay, then live -------------------------------------------------------------------------


async def test_subscribe_replays_after_a_position_then_goes_live_without_loss_or_duplicate(
        hub: Hub, log: FakeLog) -> None:
    for _ in range(5):
        log.append()
    socket = Socket()
    subscriber = hub.new_subscriber(socket.send)
    log.read_gate.hold()  # the replay's read of the log is slow ...
    await hub.subscribe(subscriber, {FEED: 2})
    await asyncio.wait_for(log.read_gate.waiting.wait(), 2)
    sixth = log.append()  # ... and meanwhile an event commits and arrives live, plus a late duplicate
    hub.dispatch(live(sixth))
    hub.dispatch(live(log.feeds[FEED][3]))
    log.read_gate.release()
    await socket.until(lambda: 6 in socket.positions())
    await settle(subscriber, socket)
    assert socket.ops()[0] == "subscribed"
    assert socket.frames[0]["feeds"] == {FEED: 5}
    assert socket.positions() == [3, 4, 5, 6]
    await hub.remove(subscriber)


async def test_a_live_event_that_arrives_while_subscribing_from_now_is_not_lost(hub: Hub, log: FakeLog) -> None:
    """Subscribed from now (null): an event committed just after the head was read arrives live while the hub
    is still starting the feed; it must be delivered, not dropped as 'not subscribed'."""
    log.append()
    socket = Socket()
    subscriber = hub.new_subscriber(socket.send)
    log.head_gate.hold()
    subscribing = asyncio.create_task(hub.subscribe(subscriber, {FEED: None}))
    await asyncio.wait_for(log.head_gate.waiting.wait(), 2)  # the head (1) is read; the answer is on its way
    second = log.append()
    hub.dispatch(live(second))
    await settle(subscriber, socket)  # the writer has handled the live event before the feed started
    log.head_gate.release()
    await subscribing
    await socket.until(lambda: 2 in socket.positions())
    await settle(subscriber, socket)
    assert socket.frames[0] == {"op": "subscribed", "feeds": {FEED: 1}}
    assert socket.positions() == [2]
    await hub.remove(subscriber)


async def test_resume_from_a_position_too_old_is_told_to_resync(log: FakeLog) -> None:
    hub = Hub(log, queue_size=50, max_replay=3)
    for _ in range(10):
        log.append()
    subscriber, socket = await connect(hub, {FEED: 2})  # 8 behind, at most 3 may be replayed
    await settle(subscriber, socket)
    assert {"op": "resync", "feed": FEED, "reason": "too_old", "head": 10} in socket.frames
    assert socket.positions() == []
    hub.dispatch(live(log.append()))  # after the resync: live from the head on
    await socket.until(lambda: socket.positions() == [11])
    await hub.remove(subscriber)

    log.oldest[FEED] = 6  # the log no longer holds position 5 (retention): 4 is too old, 5 is not
    old, old_socket = await connect(hub, {FEED: 4})
    recent, recent_socket = await connect(hub, {FEED: 9})
    await settle(old, old_socket)
    await settle(recent, recent_socket)
    assert [f["reason"] for f in old_socket.frames if f["op"] == "resync"] == ["too_old"]
    assert recent_socket.positions() == [10, 11]
    assert "resync" not in recent_socket.ops()
    await hub.remove(old)
    await hub.remove(recent)


async def test_resume_from_beyond_the_head_is_told_to_resync_ahead(hub: Hub, log: FakeLog) -> None:
    """The client saw positions this log never had (e.g. the database was restored from a backup)."""
    for _ in range(3):
        log.append()
    subscriber, socket = await connect(hub, {FEED: 7})
    await settle(subscriber, socket)
    assert socket.frames == [{"op": "subscribed", "feeds": {FEED: 3}},
                             {"op": "resync", "feed": FEED, "reason": "ahead", "head": 3}]
    hub.dispatch(live(log.append()))  # the feed goes on after the head
    await socket.until(lambda: socket.positions() == [4])
    await hub.remove(subscriber)


class OtherHeadHeld(FakeLog):
    """Holds only the read of OTHER's head, so a subscribe naming FEED and OTHER stops between the two."""

    async def feed_head(self, feed: str) -> int:
        head = len(self.feeds.get(feed, []))
        if feed == OTHER:
            await self.head_gate.passing()
        return head


async def test_subscribed_comes_before_every_event_of_the_feeds_it_names() -> None:
    log = OtherHeadHeld()
    hub = Hub(log, queue_size=50, max_replay=100)
    log.append()
    socket = Socket()
    subscriber = hub.new_subscriber(socket.send)
    log.head_gate.hold()
    subscribing = asyncio.create_task(hub.subscribe(subscriber, {FEED: None, OTHER: 0}))
    await asyncio.wait_for(log.head_gate.waiting.wait(), 2)  # FEED's head is read, OTHER's is on its way
    hub.dispatch(live(log.append()))  # FEED position 2, live, while the subscribe is unfinished
    log.head_gate.release()
    await subscribing
    await socket.until(lambda: 2 in socket.positions())
    await settle(subscriber, socket)
    assert socket.ops() == ["subscribed", "event"]
    assert socket.frames[0] == {"op": "subscribed", "feeds": {FEED: 1, OTHER: 0}}
    await hub.remove(subscriber)


# ----- slow consumers ---------------------------------------------------------------------------------------


async def test_overflow_tells_the_client_to_resync_and_then_delivers_live_again(log: FakeLog) -> None:
    hub = Hub(log, queue_size=3, max_replay=100)
    subscriber, socket = await connect(hub, {FEED: None, OTHER: None})
    socket.gate.hold()  # the client stops reading: the writer blocks in its first send
    hub.dispatch(live(log.append()))
    await asyncio.wait_for(socket.gate.waiting.wait(), 2)
    for _ in range(6):  # more than the queue holds
        hub.dispatch(live(log.append()))
    hub.dispatch(live(log.append(OTHER)))
    assert subscriber.overflowed
    socket.gate.release()
    await socket.until(lambda: socket.ops().count("resync") == 2)
    resyncs = {f["feed"]: f for f in socket.frames if f["op"] == "resync"}
    assert resyncs == {FEED: {"op": "resync", "feed": FEED, "reason": "overflow", "head": 7},
                       OTHER: {"op": "resync", "feed": OTHER, "reason": "overflow", "head": 1}}
    before = socket.positions()
    assert before == list(range(1, len(before) + 1)), "events lost silently before the resync"

    # Recovery: live again from the head the resync named; older events are duplicates.
    hub.dispatch(live(log.feeds[FEED][5]))
    eighth = log.append()
    hub.dispatch(live(eighth))
    await socket.until(lambda: 8 in socket.positions())
    await settle(subscriber, socket)
    assert socket.positions() == [*before, 8]
    assert not subscriber.overflowed
    await hub.remove(subscriber)


# ----- broker outage, unsubscribe, presence -----------------------------------------------------------------


async def test_catch_up_after_a_broker_reconnect_reads_what_was_missed(hub: Hub, log: FakeLog) -> None:
    subscriber, socket = await connect(hub, {FEED: None})
    idle, idle_socket = await connect(hub, {OTHER: None})
    hub.dispatch(live(log.append()))
    await socket.until(lambda: socket.positions() == [1])
    missed = [log.append() for _ in range(3)]  # committed while the broker was away: never received live
    await hub.catch_up()
    await socket.until(lambda: socket.positions() == [1, 2, 3, 4])
    for envelope in missed:  # the relay publishes them later: duplicates
        hub.dispatch(live(envelope))
    hub.dispatch(live(log.append()))
    await socket.until(lambda: 5 in socket.positions())
    await settle(subscriber, socket)
    await settle(idle, idle_socket)
    assert socket.positions() == [1, 2, 3, 4, 5]
    assert idle_socket.positions(OTHER) == []
    assert (FEED, 1) in log.reads
    await hub.remove(subscriber)
    await hub.remove(idle)


async def test_unsubscribe_stops_delivery(hub: Hub, log: FakeLog) -> None:
    subscriber, socket = await connect(hub, {FEED: None, OTHER: None})
    hub.unsubscribe(subscriber, [FEED])
    assert hub.subscribers_of(FEED) == 0
    assert hub.subscribers_of(OTHER) == 1
    hub.dispatch(live(log.append()))
    hub.dispatch(live(log.append(OTHER)))
    await settle(subscriber, socket)
    assert socket.positions(FEED) == []
    assert socket.positions(OTHER) == [1]
    log.append()
    await hub.catch_up()  # a catch-up does not bring the unsubscribed feed back
    await settle(subscriber, socket)
    assert socket.positions(FEED) == []
    await hub.remove(subscriber)
    assert hub.subscribers_of(OTHER) == 0
    hub.dispatch(live(log.append(OTHER)))  # nobody left: nothing to do, no error


async def test_routed_presence_frames_reach_only_followers_of_the_named_feeds(hub: Hub) -> None:
    ward, ward_socket = await connect(hub, {FEED: None})
    both, both_socket = await connect(hub, {FEED: None, OTHER: None})
    intake, intake_socket = await connect(hub, {OTHER: None})
    stranger, stranger_socket = await connect(hub, {"unit:elsewhere": None})
    presence = protocol.Presence(case_id="case-1", viewers=[
        protocol.Viewer(user_id="u1", unit_id="ward", state="viewing")])
    hub.dispatch(msgspec.json.encode(Routed(feeds=[FEED], frame=msgspec.Raw(protocol.encode(presence)))))
    for subscriber, socket in ((ward, ward_socket), (both, both_socket), (intake, intake_socket),
                               (stranger, stranger_socket)):
        await settle(subscriber, socket)
    expected = {"op": "presence", "case_id": "case-1",
                "viewers": [{"user_id": "u1", "unit_id": "ward", "state": "viewing", "field": None}]}
    assert [f for f in ward_socket.frames if f["op"] == "presence"] == [expected]
    assert [f for f in both_socket.frames if f["op"] == "presence"] == [expected]  # once, though it follows both
    assert "presence" not in intake_socket.ops()
    assert "presence" not in stranger_socket.ops()
    for subscriber in (ward, both, intake, stranger):
        await hub.remove(subscriber)


async def test_a_replay_under_way_stops_when_its_feed_is_stopped(hub: Hub, log: FakeLog) -> None:
    """Access withdrawn mid-replay: what the batch still holds is not sent, and the feed does not come back."""
    for _ in range(20):
        log.append()
    subscriber, socket = await connect(hub, {OTHER: None})
    log.read_gate.hold()  # the replay's batch is being read when the feed is stopped
    await hub.subscribe(subscriber, {FEED: 0})
    await asyncio.wait_for(log.read_gate.waiting.wait(), 2)
    hub.unsubscribe(subscriber, [FEED])
    log.read_gate.release()
    await settle(subscriber, socket)
    assert socket.positions() == [], "the replay went on after its feed was stopped"
    assert FEED not in subscriber.sent
    await hub.catch_up()
    hub.dispatch(live(log.append()))
    await settle(subscriber, socket)
    assert socket.positions() == []
    await hub.remove(subscriber)


async def test_watchers_hear_the_events_of_their_feed_or_aggregate_and_every_catch_up(
        hub: Hub, log: FakeLog) -> None:
    heard: dict[str, list[str | None]] = {"feed": [], "case": [], "other": []}
    hub.watch("user:u1", heard["feed"].append)
    hub.watch("case-1", heard["case"].append)
    hub.watch("case-2", heard["other"].append)
    access = Envelope(event_id="a1", type="UserAccessChanged", feed="user:u1", position=1, aggregate_type="user",
                      aggregate_id="u1", aggregate_version=1, occurred_at=datetime.now(UTC), unit_ids=(), data={})
    hub.dispatch(live(access))
    hub.dispatch(live(log.append()))  # about case-1, on the ward's feed
    assert heard == {"feed": ["UserAccessChanged"], "case": ["PlanningUpdated"], "other": []}
    await hub.catch_up()
    assert heard == {"feed": ["UserAccessChanged", None], "case": ["PlanningUpdated", None], "other": [None]}
    hub.unwatch("case-1", heard["case"].append)
    hub.dispatch(live(log.append()))
    assert heard["case"] == ["PlanningUpdated", None]
