"""Live events inside the UI process: one stream per signed-in user, one read per change for all users.

`LiveHub` (one per process) keeps a `UserLive` per user (keyed by username, shared by all that user's tabs
and browsers). A `UserLive` holds one `realtime.client.StreamClient` on the feeds of the user's units. On an
event for a case it asks the hub to read the changed case (events carry no personal data). The hub reads it
**once for every user** whose open views show that unit and lack that version (`POST /cases/{id}/views`, each
user's own token in the body): the API authorises each user, builds at most two variants (protected identity
masked or shown), logs one `live_update` row per user, and says which variant each user gets; a user it refuses
(401, 403, 404) gets nothing. Reads are coalesced by (case, unit): the same change arriving through K users'
streams, or a second event while a read runs, costs one more read at most, and only for users still lacking the
version. Users without open views are not named (no reads, no access-log rows for what nobody saw). The
variants are shared: every tab of every user who sees the case alike holds the same object (`LiveHub.intern`,
also for the pages' own snapshots). Each `LiveView` (a page, or a part of one) updates only the elements the
case touches. A `UserLive` also keeps the unread-notice count per receiving unit (for the header badge), the
presence of viewers per case, and the connection state (for the "connection lost" banner).

A page registers its view *before* it fetches its snapshot (the Zulip order): an event that lands in between
makes the view fetch that case again, which is harmless. When the stream resumes after an outage, the
server replays what was missed; a `resync` (too much missed) makes every view of that unit reload its
snapshot. A user's stream is closed a little while after their last view went away (a reload comes back
within that time and finds it still running).

The stream is shared by the user's browsers, but what a view does on an event runs as that view's own browser:
each view is told with the HTTP request of the page that registered it (NiceGUI reads the browser's session, and
so its token, from that request, and an element created then keeps it for its event handlers). The stream's
tasks and the hub's reads themselves carry no browser's request, so a button built for a row that appeared live
acts with the session of the browser showing it, not of whichever browser happened to start the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from nicegui.storage import request_contextvar

from realtime import protocol
from realtime.client import StreamClient
from realtime.envelope import AggregateType, Envelope
from realtime.feeds import unit_feed
from ui.api_client import ApiClient, ApiError, Json

log = logging.getLogger("samplan.ui.live")

IDLE_GRACE_SECONDS = 30.0
MAX_VIEWERS = 500  # viewers named in one batch read (the API's limit)
MAX_TOKENS = 20  # tokens kept per user: one per open browser, plus refreshes
CONNECT_WAIT_SECONDS = 3.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # pauses before reading a changed case again after a failure
DOWN_GRACE = 1.0  # seconds without a stream before the page says the connection is lost


async def pause_before_retry(failures: int) -> bool:
    """After the `failures`-th transient failure in a row of a read: wait before the next try (`RETRY_SECONDS`);
    False, without waiting, once the pauses are used up."""
    if failures > len(RETRY_SECONDS):
        return False
    await asyncio.sleep(RETRY_SECONDS[failures - 1])
    return True


def unit_of_feed(feed: str) -> str:
    return feed.split(":", 1)[1] if feed.startswith("unit:") else feed


def unacknowledged_for(case: Json, unit_id: str) -> list[Json]:
    """The notices of a case (detail) that `unit_id` received and has not acknowledged (cancelled ones left out)."""
    return [n for n in case.get("notices", [])
            if unit_id in n["recipient_unit_ids"] and not n["cancelled"]
            and not any(a["unit_id"] == unit_id for a in n["acknowledgements"])]


def in_inbox_of(case: Json, unit_id: str) -> bool:
    """A receiving unit has the case in its inbox (what the API's inbox route lists): the API says which units do."""
    return unit_id in (case.get("inbox_unit_ids") or ())


class LiveView:
    """What a page (or a part of one) wants to hear. Every method runs in the UI process's event loop."""

    unit_id: str | None = None  # the unit whose cases this view shows (None: every unit of the user)

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        """The case changed (`case` is its new detail), or it left the unit's view (`None`)."""

    def event(self, envelope: Envelope) -> None:
        """A raw event of a followed feed, after de-duplication across feeds (for toasts)."""

    def presence(self, case_id: str, viewers: list[protocol.Viewer]) -> None:
        """Who views or edits the case now."""

    def unread(self, unit_id: str, count: int) -> None:
        """The unit's count of unacknowledged notices changed."""

    def connection(self, connected: bool) -> None:
        """The stream to the API went down or came back."""

    def resync(self, unit_id: str) -> None:
        """Events of the unit were missed beyond replay: reload the snapshot."""


class UserLive:
    """One user's stream and what the UI process knows from it, shared by all the user's views."""

    def __init__(self, hub: LiveHub, username: str, token: str, me: Json) -> None:
        self.hub = hub
        self.username = username
        self._tokens: dict[str, None] = {}  # the user's tokens seen (each browser's, refreshed ones), newest last
        self.token = token
        self.me = me
        capabilities = me.get("capabilities") or {}  # what the API says the user may do: no role sets here
        self.case_units: list[str] = list(capabilities.get("case_unit_ids") or ())
        self.inbox_units: list[str] = list(capabilities.get("inbox_unit_ids") or ())
        self.views: dict[LiveView, Request | None] = {}  # view -> the request of the page that registered it
        self.cases: dict[tuple[str, str], Json] = {}  # (case id, unit id) -> newest detail fetched
        self.viewers: dict[str, list[protocol.Viewer]] = {}
        # The unread counter per receiving unit: the API's total (`GET /units/{id}/inbox/unread`) split into the cases
        # this process knows (case -> unacknowledged count, kept from the events) and the rest (`_unread_rest`).
        self.unread_by_unit: dict[str, dict[str, int]] = {}
        self._unread_rest: dict[str, int] = {}
        self._recounting: dict[str, asyncio.Task[None]] = {}
        self.connected = False
        self.ever_connected = asyncio.Event()
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._presence_refs: Counter[str] = Counter()
        self._client: StreamClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._idle_since: float | None = None
        self._unread_loaded: set[str] = set()

    # ----- life -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._client is not None or not self.case_units:
            return
        self._client = StreamClient(self.hub.stream_urls, self._token, {unit_feed(u): None for u in self.case_units},
                                    min_backoff=0.2, max_backoff=5.0, heartbeat_timeout=self.hub.heartbeat_timeout)
        self._tasks = [asyncio.create_task(self._consume(), name=f"samplan-ui-live-{self.username}",
                                           context=_without_request()),
                       asyncio.create_task(self._watch(), name=f"samplan-ui-watch-{self.username}",
                                           context=_without_request())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._client is not None:
            await self._client.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    @property
    def token(self) -> str:
        """The newest token seen from any of the user's browsers: the stream and shared reads use it."""
        return next(reversed(self._tokens))

    @token.setter
    def token(self, value: str) -> None:
        self._tokens.pop(value, None)
        self._tokens[value] = None
        while len(self._tokens) > MAX_TOKENS:
            del self._tokens[next(iter(self._tokens))]

    def knows_token(self, token: str) -> bool:
        return token in self._tokens

    def forget_token(self, token: str) -> bool:
        """One browser signed out and its token was revoked: go on with another browser's. False when it was the
        only token left (the hub then ends this live state)."""
        if len(self._tokens) <= 1:
            return False
        self._tokens.pop(token, None)
        return True

    async def _token(self) -> str:
        return self.token

    async def wait_connected(self, seconds: float = CONNECT_WAIT_SECONDS) -> bool:
        """Wait until the stream is subscribed (so a snapshot read next misses nothing); False on timeout."""
        if not self.case_units:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.ever_connected.wait()
        return self.ever_connected.is_set()

    def add(self, view: LiveView) -> None:
        """Register a view; call it while building the view's page (its request is the view's browser)."""
        self.views[view] = request_contextvar.get()
        self._idle_since = None

    def remove(self, view: LiveView) -> None:
        self.views.pop(view, None)
        if not self.views:
            self._idle_since = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self._idle_since is None else time.monotonic() - self._idle_since

    def _tell(self, view: LiveView, method: Any, *args: Any) -> None:
        """Call a view's method as the view's own browser (see the module's docstring); errors are logged."""
        if view not in self.views:
            return  # removed meanwhile (its tab went away)
        reset = request_contextvar.set(self.views[view])
        try:
            _safely(method, *args)
        finally:
            request_contextvar.reset(reset)

    # ----- presence ---------------------------------------------------------------------------------------------

    async def viewing(self, case_id: str) -> None:
        self._presence_refs[case_id] += 1
        if self._presence_refs[case_id] == 1 and self._client is not None:
            await self._client.send_presence(case_id, "viewing")

    async def editing(self, case_id: str, field: str | None) -> None:
        if self._client is not None:
            await self._client.send_presence(case_id, "editing" if field else "viewing", field=field)

    async def left(self, case_id: str) -> None:
        self._presence_refs[case_id] -= 1
        if self._presence_refs[case_id] <= 0:
            del self._presence_refs[case_id]
            if self._client is not None:
                await self._client.send_presence(case_id, "left")

    # ----- unread notices (the badge) ---------------------------------------------------------------------------

    def unread(self, unit_id: str) -> int:
        return self._unread_rest.get(unit_id, 0) + sum(self.unread_by_unit.get(unit_id, {}).values())

    async def load_unread(self, unit_id: str) -> int:
        """The unit's unread counter from the API (a count, no rows), once; later kept up to date from the events."""
        if unit_id not in self._unread_loaded and unit_id in self.inbox_units:
            total = (await self.hub.api.inbox_unread(self.token, unit_id))["unread"]
            self.unread_by_unit[unit_id] = {}
            self._unread_rest[unit_id] = int(total)
            self._unread_loaded.add(unit_id)
        return self.unread(unit_id)

    def note_inbox(self, unit_id: str, items: Iterable[Json], total: int) -> None:
        """The inbox page read a page of the inbox and the counter (`total`): take them (fresher than ours)."""
        counts = self.unread_by_unit.setdefault(unit_id, {}) if unit_id in self._unread_loaded else {}
        counts.update({i["case"]["id"]: len(i["unacknowledged"]) for i in items})
        self.unread_by_unit[unit_id] = counts
        self._unread_rest[unit_id] = total - sum(counts.values())
        self._unread_loaded.add(unit_id)
        self._tell_unread(unit_id)

    async def _recount_unread(self, unit_id: str) -> None:
        """A case this process did not know changed: its earlier count is unknown, so ask for the total again
        (one request per unit at a time; the answer counts every change committed before it)."""
        try:
            total = int((await self.hub.api.inbox_unread(self.token, unit_id))["unread"])
        except ApiError as exc:
            log.warning("live: could not read the unread counter (%s)", exc.code)
            return
        finally:
            self._recounting.pop(unit_id, None)
        self._unread_rest[unit_id] = total - sum(self.unread_by_unit.get(unit_id, {}).values())
        self._tell_unread(unit_id)

    def _tell_unread(self, unit_id: str) -> None:
        count = self.unread(unit_id)
        for view in list(self.views):
            if view.unit_id in (None, unit_id):
                self._tell(view, view.unread, unit_id, count)

    def _count_unread(self, unit_id: str, case_id: str, case: Json | None) -> None:
        if unit_id not in self._unread_loaded:
            return
        counts = self.unread_by_unit.setdefault(unit_id, {})
        count = len(unacknowledged_for(case, unit_id)) if case is not None and in_inbox_of(case, unit_id) else 0
        known = case_id in counts
        if counts.get(case_id) != count:
            counts[case_id] = count
            if known:
                self._tell_unread(unit_id)
            elif unit_id not in self._recounting:
                self._recounting[unit_id] = asyncio.create_task(self._recount_unread(unit_id),
                                                                name="samplan-ui-unread")

    # ----- the stream -------------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._client is not None
        async for item in self._client:
            try:
                if isinstance(item, Envelope):
                    self._on_event(item)
                elif isinstance(item, protocol.Presence):
                    self.viewers[item.case_id] = item.viewers
                    for view in list(self.views):
                        self._tell(view, view.presence, item.case_id, item.viewers)
                elif isinstance(item, protocol.Resync):
                    unit_id = unit_of_feed(item.feed)
                    self._unread_loaded.discard(unit_id)
                    for view in list(self.views):
                        if view.unit_id in (None, unit_id):
                            self._tell(view, view.resync, unit_id)
            except Exception:
                log.exception("live: an update failed")

    async def _watch(self) -> None:
        """Follow the client's connection state (an Event without callbacks) for the banner."""
        assert self._client is not None
        down_since: float | None = None
        while True:
            up = self._client.connected.is_set()
            if up:
                self.ever_connected.set()
                down_since = None
            elif down_since is None:
                down_since = time.monotonic()
            # A reconnect with a renewed token takes a moment: only an outage of more than a second is shown.
            shown = up or (self.ever_connected.is_set() and time.monotonic() - (down_since or 0) < DOWN_GRACE)
            if shown != self.connected:
                self.connected = shown
                for view in list(self.views):
                    self._tell(view, view.connection, shown)
            await asyncio.sleep(0.1)

    def _on_event(self, envelope: Envelope) -> None:
        unit_id = unit_of_feed(envelope.feed)
        first = envelope.event_id not in self._seen_events
        if first:
            self._seen_events[envelope.event_id] = None
            if len(self._seen_events) > 2000:
                self._seen_events.popitem(last=False)
            for view in list(self.views):
                self._tell(view, view.event, envelope)
        if envelope.aggregate_type == AggregateType.DISCHARGE_CASE:
            self.refresh(envelope.aggregate_id, unit_id, envelope.aggregate_version, everyone=True)

    def intern(self, case: Json, unit_id: str) -> Json:
        """One shared copy of a case version for all tabs of all users who see it alike (a page's snapshot is read,
        and access-logged, per page; this only keeps 300 tabs from holding 300 copies of it)."""
        shared = self.hub.intern(case, unit_id)
        key = (str(case["id"]), unit_id)
        cached = self.cases.get(key)
        if cached is None or cached["version"] < shared["version"]:
            self.cases[key] = shared
        return shared

    def apply_result(self, case: Json, unit_id: str) -> None:
        """The answer to this user's own action: every view of the user shows it at once, and the event it causes
        needs no read for this user (its version is known)."""
        self.deliver(str(case["id"]), unit_id, self.hub.intern(case, unit_id), newer_only=True)

    def shows(self, unit_id: str) -> bool:
        """Some open view of the user shows the unit's cases (the user is a viewer of a live update there)."""
        return unit_id in self.case_units and any(v.unit_id in (None, unit_id) for v in self.views)

    def lacks(self, case_id: str, unit_id: str, version: float) -> bool:
        cached = self.cases.get((case_id, unit_id))
        return cached is None or cached["version"] < version

    def refresh(self, case_id: str, unit_id: str, version: int | None = None, *, everyone: bool = False) -> None:
        """Have the case read again for the unit (`version`: the one at least wanted; None: whatever is newest),
        once however many events, views or users ask. For this user only (a page checking that nothing changed
        while it opened), or, on an event (`everyone`), for every user whose open views show the unit."""
        if version is not None and not self.lacks(case_id, unit_id, version):
            return  # already have it (the same event through another feed, or a replay)
        self.hub.refresh(case_id, unit_id, version, None if everyone else self.username)

    def deliver(self, case_id: str, unit_id: str, case: Json | None, *, newer_only: bool = False) -> None:
        """The case as this user sees it now (None: it left the unit's view): into the cache and every view of the
        unit; an answer older than the one already shown is dropped (`newer_only`: also one as old)."""
        key = (case_id, unit_id)
        cached = self.cases.get(key)
        if case is None:
            self.cases.pop(key, None)
        elif cached is not None and (cached["version"] > case["version"]
                                     or (newer_only and cached["version"] == case["version"])):
            return
        else:
            self.cases[key] = case
        self._count_unread(unit_id, case_id, case)
        for view in list(self.views):
            if view.unit_id in (None, unit_id):
                self._tell(view, view.case_changed, case_id, unit_id, case)


class LiveHub:
    """The process-wide registry of users' streams, plus caches of non-personal directory data."""

    def __init__(self, api: ApiClient, stream_urls: str | list[str], *, heartbeat_timeout: float = 45.0) -> None:
        self.api = api
        self.stream_urls = stream_urls
        self.heartbeat_timeout = heartbeat_timeout
        self.users: dict[str, UserLive] = {}
        self._units: dict[str, Json] = {}
        self.units_version = 0  # bumped when a unit's name becomes known (cached HTML is redrawn)
        self._people: dict[str, Json] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._interned: dict[tuple[str, str], list[Json]] = {}  # (case, unit) -> its newest version, as seen alike
        self._reading: dict[tuple[str, str], asyncio.Task[None]] = {}
        # what the next read of a (case, unit) is for: the version wanted (inf: the newest), and the users (None:
        # every user whose open views show the unit)
        self._wanted: dict[tuple[str, str], tuple[float, frozenset[str] | None]] = {}
        self.reads = 0  # batch reads of changed cases (for tests and benchmarks)

    async def token_revoked(self, token: str) -> None:
        """A sign-out revoked `token`: the user's other browsers keep their live stream on their own token; a user
        with no other token left loses the live state (its stream would be refused on every retry, backing off,
        and a new sign-in starts a fresh one)."""
        for username, live in list(self.users.items()):
            if not live.knows_token(token):
                continue
            if live.forget_token(token):
                continue
            del self.users[username]
            await live.close()

    async def user(self, username: str, token: str) -> UserLive:
        """The user's live state (created and connected on first use); the token is the newest one seen."""
        live = self.users.get(username)
        if live is None:
            me = await self.api.me(token)
            live = self.users.get(username)  # another tab of the user may have won the race
            if live is None:
                live = UserLive(self, username, token, me)
                self.users[username] = live
                await self.load_units(token, live.case_units)
                live.start()
        live.token = token
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), name="samplan-ui-live-reaper")
        return live

    # ----- changed cases: one read for every user who shows them ----------------------------------------------

    def intern(self, case: Json, unit_id: str) -> Json:
        """The one copy of this version of the case as seen through the unit (masked or not: at most two)."""
        key = (str(case["id"]), unit_id)
        known = [k for k in self._interned.get(key, ()) if k["version"] >= case["version"]]
        for other in known:
            if other["version"] == case["version"] and other["patient"] == case["patient"]:
                return other
        if known and all(k["version"] > case["version"] for k in known):
            return case  # an old answer: not kept
        self._interned[key] = [*known, case][-2:]
        return case

    def refresh(self, case_id: str, unit_id: str, version: int | None = None, username: str | None = None) -> None:
        """Read the changed case once for every user whose open views show the unit and lack `version` (or only
        for `username`), coalesced by case and unit: an event while a read runs asks for one more read afterwards."""
        key = (case_id, unit_id)
        wanted = (math.inf if version is None else float(version), None if username is None else frozenset({username}))
        self._want(key, wanted)
        if key not in self._reading:
            self._reading[key] = asyncio.create_task(self._read(key), name="samplan-ui-read",
                                                     context=_without_request())

    def _want(self, key: tuple[str, str], wanted: tuple[float, frozenset[str] | None]) -> None:
        earlier = self._wanted.get(key)
        if earlier is not None:
            users = None if earlier[1] is None or wanted[1] is None else earlier[1] | wanted[1]
            wanted = (max(earlier[0], wanted[0]), users)
        self._wanted[key] = wanted

    async def _read(self, key: tuple[str, str]) -> None:
        case_id, unit_id = key
        failures = 0
        try:
            while key in self._wanted:
                wanted = self._wanted.pop(key)
                viewers = [live for live in list(self.users.values())
                           if (wanted[1] is None or live.username in wanted[1]) and live.shows(unit_id)
                           and live.lacks(case_id, unit_id, wanted[0])]
                for start in range(0, len(viewers), MAX_VIEWERS):
                    batch = viewers[start:start + MAX_VIEWERS]
                    try:
                        caller = batch[(self.reads + failures) % len(batch)].token  # in turn: not one user's limit
                        answer = await self.api.case_views(caller, case_id, unit_id, [v.token for v in batch])
                    except ApiError as exc:
                        # The API busy, restarting, rate limiting: the change must not be lost until the next
                        # event, so read again after a growing pause.
                        failures += 1
                        log.warning("live: could not read a changed case (%s), retry %d", exc.code, failures)
                        if not await pause_before_retry(failures):
                            return  # the stream's next event or resync reads it again
                        self._want(key, wanted)
                        break
                    failures = 0
                    self.reads += 1
                    self._hand_out(case_id, unit_id, batch, answer)
        finally:
            self._reading.pop(key, None)

    def _hand_out(self, case_id: str, unit_id: str, viewers: list[UserLive], answer: Json) -> None:
        variants = [self.intern(v, unit_id) for v in answer["variants"]]
        for live, seen in zip(viewers, answer["viewers"], strict=True):
            if seen["variant"] is not None:
                live.deliver(case_id, unit_id, variants[seen["variant"]])
            elif seen["status"] in (403, 404):
                live.deliver(case_id, unit_id, None)  # the case left the unit's view, or the user lost access
            else:  # 401: the token went stale (a sign-out elsewhere); the user's next token reads it
                log.info("live: a viewer's token was refused (%s)", seen["status"])

    async def close(self) -> None:
        for task in list(self._reading.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for live in list(self.users.values()):
            await live.close()
        self.users.clear()

    async def _reap(self) -> None:
        while self.users:
            await asyncio.sleep(IDLE_GRACE_SECONDS / 3)
            for username, live in list(self.users.items()):
                if not live.views and live.idle_for() > IDLE_GRACE_SECONDS:
                    del self.users[username]
                    await live.close()

    # ----- directory caches (units and staff names are not patient data) ----------------------------------------

    async def load_units(self, token: str, unit_ids: Iterable[str]) -> None:
        for unit_id in unit_ids:
            if unit_id not in self._units:
                with contextlib.suppress(ApiError):
                    self._units[unit_id] = await self.api.unit(token, unit_id)
                    self.units_version += 1

    def knows_unit(self, unit_id: str) -> bool:
        return unit_id in self._units

    def knows_person(self, user_id: str) -> bool:
        return user_id in self._people

    def unit_name(self, unit_id: str) -> str:
        unit = self._units.get(unit_id)
        return str(unit["name"]) if unit else "Okänd enhet"

    def unit_kind(self, unit_id: str) -> str | None:
        unit = self._units.get(unit_id)
        return str(unit["kind"]) if unit else None

    def remember_units(self, units: Iterable[Json]) -> None:
        for unit in units:
            if unit["id"] not in self._units:
                self._units[unit["id"]] = unit
                self.units_version += 1  # HTML cached while the name was unknown is drawn again

    async def load_people(self, token: str, user_ids: Iterable[str]) -> None:
        missing = sorted({u for u in user_ids if u and u not in self._people})
        if missing:
            with contextlib.suppress(ApiError):
                for person in await self.api.request("GET", "/people", token, params={"id": missing[:200]}):
                    self._people[person["id"]] = person

    def person_name(self, user_id: str | None) -> str:
        person = self._people.get(user_id or "")
        return str(person["display_name"]) if person else "Okänd användare"


def _without_request() -> contextvars.Context:
    """A copy of the current context without NiceGUI's page request: for the stream's tasks, which serve every
    browser of the user and must not act as the one whose page happened to start them."""
    context = contextvars.copy_context()
    context.run(request_contextvar.set, None)
    return context


def _safely(method: Any, *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        log.exception("live: a view failed to update")
