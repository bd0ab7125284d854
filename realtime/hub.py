"""The per-process hub: forwards each broker message to the local subscribers of its feed, exactly once, in order.

Every subscriber (one websocket) has a bounded queue and a writer task. The writer keeps the last position it
sent per feed: an older or equal position is a duplicate and is dropped; a jump ahead means events of the feed
were committed but not (yet) received live, so the writer reads them from the event log first. Positions are
gapless and commit-ordered (see docs/adr/0001-feed-positions.md), so "read the log after N" never misses one.
On subscribe the subscriber is registered before the log is read (Zulip's order), so nothing falls between
replay and live. A full queue makes the writer tell the client to resync instead of dropping silently.

The live fast path: when a subscriber's writer is idle and an event is the next position of its feed, the hub's
dispatch sends it right away (`Subscriber.send_now`) instead of queueing it and waking the writer task. With
hundreds of subscribers per event, a task switch per subscriber cost more than the send itself (bench/fanout.py).
A send that cannot complete at once (the client's socket buffer is full) is finished by a task, and everything
after it goes through the writer, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from realtime import protocol
from realtime.envelope import Envelope
from realtime.metrics import METRICS

log = logging.getLogger("samplan.realtime.hub")
Send = Callable[[bytes], Coroutine[Any, Any, None]]  # an `async def`: the fast path drives its first step
REPLAY_BATCH = 500


class EventSource(Protocol):
    """Read access to the event log (implemented by the server on its database)."""

    async def read_feed(self, feed: str, after: int, limit: int) -> list[Envelope]: ...

    async def feed_head(self, feed: str) -> int: ...

    async def oldest_position(self, feed: str) -> int: ...


class _Probe(msgspec.Struct):
    op: str


class _FeedOf(msgspec.Struct):
    feed: str
    position: int
    aggregate_id: str = ""
    type: str = ""


class _EventProbe(msgspec.Struct):
    event: _FeedOf


class Routed(msgspec.Struct, tag_field="op", tag="routed"):
    """A non-event frame (e.g. presence) for the followers of some feeds, on every instance."""

    feeds: list[str]
    frame: msgspec.Raw


_probe = msgspec.json.Decoder(_Probe)
_routed = msgspec.json.Decoder(Routed)
_event_probe = msgspec.json.Decoder(_EventProbe)


Watcher = Callable[[str | None], None]  # called with an event's type; None: anything may have changed


@dataclass(frozen=True)
class _CatchUp:
    feed: str


@dataclass(frozen=True)
class _Close:
    frame: bytes
    close: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class _Live:
    feed: str
    position: int
    frame: bytes


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], waiting_for: Any) -> Generator[Any, Any, None]:
    """The rest of a coroutine whose first step ran synchronously and suspended on `waiting_for`: gives what it
    waits on to the task running this, and passes the task's wake-ups and exceptions (cancellation) back in."""
    while True:
        try:
            value = yield waiting_for
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                waiting_for = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_for = coro.send(value)
            except StopIteration:
                return


async def _finish(coro: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    await _resume(coro, waiting_for)


class Subscriber:
    """One connected client: what it follows, what it was sent, and its writer."""

    def __init__(self, send: Send, source: EventSource, *, queue_size: int, max_replay: int) -> None:
        self._send = send
        self._source = source
        self._queue: asyncio.Queue[_CatchUp | _Live | _Close | bytes] = asyncio.Queue(maxsize=queue_size)
        self._max_replay = max_replay
        self.sent: dict[str, int] = {}  # feed -> last position sent
        self.overflowed = False
        self._writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self._idle = False  # the writer waits for an item (its queue is empty)
        self._in_flight: asyncio.Future[None] | None = None  # a fast-path send that had to wait

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="stream-writer")

    def offer_close(self, frame: bytes, close: Callable[[], Awaitable[None]], *, drop_queued: bool = False) -> None:
        """Send a last frame after everything queued (or, with `drop_queued`, instead of it), then close the
        connection."""
        if drop_queued:
            while not self._queue.empty():
                self._queue.get_nowait()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_Close(frame, close))

    def offer(self, item: _CatchUp | _Live | bytes) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            while not self._queue.empty():  # drop the backlog: the client is told to resync
                self._queue.get_nowait()
            self._queue.put_nowait(b"")  # wake the writer
            METRICS.overflows.inc()

    def send_now(self, item: _Live) -> bool | None:
        """The live fast path (see the module's doc): send `item` now if the writer is idle and it is the feed's
        next position. None: not taken, queue it for the writer. True: sent (or finishing in a task). False:
        the send failed; the writer ends this subscriber."""
        if not self._idle or self._in_flight is not None or self.overflowed or not self._queue.empty():
            return None
        last = self.sent.get(item.feed)
        if last is None or item.position != last + 1:
            return None  # not followed (yet), a duplicate or a gap: the writer's rules apply
        coro = self._send(item.frame)
        self.sent[item.feed] = item.position  # before the first step: if it waits, the frame is on its way
        try:
            waiting_for = coro.send(None)
        except StopIteration:
            return True
        except Exception as exc:  # a broken socket: the writer ends this subscriber, as if it had sent
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            self._in_flight = failed
            self._wake_writer()
            return False
        task = asyncio.ensure_future(_finish(coro, waiting_for))
        self._in_flight = task
        task.add_done_callback(self._in_flight_done)
        return True

    def _in_flight_done(self, task: asyncio.Future[None]) -> None:
        if self._in_flight is not task:
            return  # the writer has taken it over
        if task.cancelled() or task.exception() is not None:
            self._wake_writer()  # it awaits the send and ends this subscriber
        else:
            self._in_flight = None

    def _wake_writer(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(b"")

    async def _write_forever(self) -> None:
        try:
            while True:
                self._idle = True
                item = await self._queue.get()
                self._idle = False
                if self._in_flight is not None:  # a fast-path send still under way goes first
                    in_flight, self._in_flight = self._in_flight, None
                    await in_flight
                if self.overflowed:
                    await self._resync_all("overflow")
                    continue
                if isinstance(item, _CatchUp):
                    await self._fill(item.feed, upto=None)
                elif isinstance(item, _Live):
                    await self._deliver(item)
                elif isinstance(item, _Close):
                    await self._send(item.frame)
                    await item.close()
                    return
                elif item:
                    await self._send(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken socket ends this subscriber, never the hub
            log.info("stream writer ended: %s", type(exc).__name__)
        finally:
            self._idle = False
            self.closed.set()

    async def _deliver(self, item: _Live) -> None:
        last = self.sent.get(item.feed)
        if last is None:
            return  # not (or no longer) subscribed
        if item.position <= last:
            METRICS.duplicates_dropped.inc()
            return
        if item.position > last + 1:
            await self._fill(item.feed, upto=item.position - 1)
        if self.sent.get(item.feed, item.position) >= item.position:
            return
        await self._send(item.frame)
        self.sent[item.feed] = item.position
        METRICS.delivered.inc()

    async def _fill(self, feed: str, upto: int | None) -> None:
        """Send what the log holds after the last position sent (up to `upto`), in order."""
        while feed in self.sent:
            last = self.sent[feed]
            if upto is not None and last >= upto:
                return
            batch = await self._source.read_feed(feed, last, REPLAY_BATCH)
            for envelope in batch:
                if (upto is not None and envelope.position > upto) or feed not in self.sent:
                    return  # past the gap, or no longer followed (unsubscribed, or access withdrawn)
                await self._send(protocol.encode(protocol.EventMessage(envelope)))
                self.sent[feed] = envelope.position
                METRICS.delivered.inc()
                METRICS.replayed.inc()
            if len(batch) < REPLAY_BATCH:
                return

    async def plan_feed(self, feed: str, after: int | None) -> tuple[int, int, protocol.ResyncReason | None]:
        """Where to follow a feed from (None: from now), read from the log without starting it yet.

        Returns the head, the position to continue after, and a resync reason when `after` cannot be
        replayed: older than the log keeps or too far behind ("too_old"), or ahead of the head ("ahead": the
        client saw positions this log never had, e.g. after a database restore)."""
        head = await self._source.feed_head(feed)
        if after is None or after == head:
            return head, head, None
        if after > head:
            return head, head, "ahead"
        oldest = await self._source.oldest_position(feed)
        if after < oldest - 1 or head - after > self._max_replay:
            return head, head, "too_old"
        return head, after, None

    def stop_feed(self, feed: str) -> None:
        self.sent.pop(feed, None)

    async def _resync_all(self, reason: str) -> None:
        self.overflowed = False
        for feed in list(self.sent):
            head = await self._source.feed_head(feed)
            self.sent[feed] = head
            await self._send(protocol.encode(protocol.Resync(feed=feed, reason="overflow", head=head)))
            METRICS.resyncs.labels(reason).inc()

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.cancel()
            with contextlib.suppress(BaseException):  # cancelled, or the socket's error: the client is gone
                await in_flight


class Hub:
    """Subscribers of this process by feed; fed by the broker."""

    def __init__(self, source: EventSource, *, queue_size: int = 1000, max_replay: int = 10_000) -> None:
        self.source = source
        self.queue_size = queue_size
        self.max_replay = max_replay
        self._by_feed: dict[str, set[Subscriber]] = {}
        self._watchers: dict[str, set[Watcher]] = {}  # feed or aggregate id -> callbacks (access re-checks)

    def new_subscriber(self, send: Send) -> Subscriber:
        subscriber = Subscriber(send, self.source, queue_size=self.queue_size, max_replay=self.max_replay)
        subscriber.start()
        METRICS.subscribers.inc()
        return subscriber

    async def subscribe(self, subscriber: Subscriber, feeds: dict[str, int | None]) -> None:
        """Register first, then read the log: the `subscribed` frame, then resyncs, replay and live, in order.

        The heads are read before any feed starts, and the feeds start together without an await in between:
        no live event of these feeds can reach the client before `subscribed`."""
        plans = {}
        for feed, after in feeds.items():
            self._by_feed.setdefault(feed, set()).add(subscriber)
            plans[feed] = await subscriber.plan_feed(feed, after)
        for feed, (_head, start, _reason) in plans.items():
            subscriber.sent[feed] = start
        subscriber.offer(protocol.encode(protocol.Subscribed(feeds={f: p[0] for f, p in plans.items()})))
        for feed, (head, _start, reason) in plans.items():
            if reason is not None:
                subscriber.offer(protocol.encode(protocol.Resync(feed=feed, reason=reason, head=head)))
                METRICS.resyncs.labels(reason).inc()
        # Every feed, not only those that replay: a live event that arrived while the heads were read was
        # dropped (the feed had not started); reading the log after the start position finds it.
        for feed in plans:
            subscriber.offer(_CatchUp(feed))

    def unsubscribe(self, subscriber: Subscriber, feeds: Iterable[str]) -> None:
        for feed in feeds:
            subscriber.stop_feed(feed)
            followers = self._by_feed.get(feed)
            if followers is not None:
                followers.discard(subscriber)
                if not followers:
                    del self._by_feed[feed]

    def watch(self, key: str, watcher: Watcher) -> None:
        """Call `watcher` with the type of every event of the feed `key`, or about the aggregate `key`, that
        reaches this process (and with None after a broker outage). It must only schedule work: it runs in the
        dispatch of the broker's message."""
        self._watchers.setdefault(key, set()).add(watcher)

    def unwatch(self, key: str, watcher: Watcher) -> None:
        watchers = self._watchers.get(key)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[key]

    def _notify(self, keys: Iterable[str], event_type: str | None) -> None:
        for key in keys:
            for watcher in list(self._watchers.get(key, ())):
                try:
                    watcher(event_type)
                except Exception:  # a watcher's error must never stop the fan-out
                    log.exception("stream watcher failed")

    async def remove(self, subscriber: Subscriber) -> None:
        self.unsubscribe(subscriber, list(subscriber.sent))
        await subscriber.stop()
        METRICS.subscribers.dec()

    def dispatch(self, message: bytes) -> None:
        """A message from the broker: an event frame for its feed, or a frame routed to some feeds' followers."""
        op = _probe.decode(message).op
        if op == "event":
            probe = _event_probe.decode(message).event
            item = _Live(probe.feed, probe.position, message)
            sent = 0
            for subscriber in self._by_feed.get(probe.feed, ()):
                done = subscriber.send_now(item)
                if done is None:
                    subscriber.offer(item)
                elif done:
                    sent += 1
            if sent:
                METRICS.delivered.inc(sent)
            if self._watchers:
                self._notify((probe.feed, probe.aggregate_id), probe.type)
        elif op == "routed":
            routed = _routed.decode(message)
            frame = msgspec.json.encode(routed.frame)
            for subscriber in {s for feed in routed.feeds for s in self._by_feed.get(feed, ())}:
                subscriber.offer(frame)

    async def catch_up(self) -> None:
        """After a broker outage: every subscriber reads from the log what it may have missed."""
        self._notify(list(self._watchers), None)  # access may have changed while events were missed
        everyone = {s for subscribers in self._by_feed.values() for s in subscribers}
        for subscriber in everyone:
            for feed in list(subscriber.sent):
                subscriber.offer(_CatchUp(feed))

    def subscribers_of(self, feed: str) -> int:
        return len(self._by_feed.get(feed, ()))
