"""One command pipeline for every aggregate: discharge cases, SIP plans, and any later one.

A change runs these steps, in this order, in one unit of work:

1. lock: the aggregate is loaded with its row lock (PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises
   writers); a new aggregate has nothing to lock;
2. idempotent replay: a key already answered gets the stored answer (a read of patient data: access-logged); it
   is looked up after the lock, so a retry that waited for the first request sees its committed answer;
3. acting unit: `authorization.acting_unit` (404 for units that do not see it, 403 `acting_unit_not_allowed`,
   422 `acting_unit_required`); a new aggregate is registered at one of the user's units
   (`authorization.require_own_unit`, 403 `not_your_unit`);
4. version check: a versioned command whose `expected_version` is stale gets 409 `version_conflict` with the
   current aggregate (shown, so access-logged as a read; nothing else written);
5. apply: the command's own part (`Change.apply`, `create`'s `make`); it may touch another aggregate (a plan's
   case). A refusal that shows current values (`Kind.shows_current`, e.g. `FieldConflict`) is logged as a read;
6. save: every changed aggregate, if nobody saved it since it was read (else 409 `conflict`);
7. record events: `UnitOfWork.record_events(aggregate, aggregate_type)`; with two aggregates, the feeds of both
   are locked first in one sorted order;
8. access log: one row for the change, through the acting unit;
9. stored answer: the aggregate as the acting unit sees it, stored with the idempotency key;
10. commit, then publish the events (the unit of work's publisher).

What differs per aggregate is a `Kind`: how to load, store (`Store`), log and show it. What differs per command
is a `Change` (or, for a new aggregate, `create`'s `make`). A read (`read`, `get`) shares steps 1 (without the
lock), 3 and 8.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

import msgspec

from domain.discharge_case import Actor
from domain.errors import FieldConflict
from realtime.envelope import AggregateType
from server import access_log, authorization
from server.errors import ApplicationError, Conflict, VersionConflict
from server.idempotency import CommandResult, IdempotencyKey, replay_or_none, run_once, store_response
from server.persistence.models import Person
from server.persistence.repositories import ConcurrencyConflict
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser


class Aggregate(Protocol):
    """What the pipeline needs of an aggregate (a `DischargeCase`, a `SipPlan`)."""

    version: int
    pending_events: list[Any]

    @property
    def id(self) -> str: ...

    def visible_unit_ids(self) -> tuple[str, ...]: ...


A = TypeVar("A", bound=Aggregate)
V = TypeVar("V", bound=msgspec.Struct)
T = TypeVar("T")


class Shown(NamedTuple):
    """Whom a stored answer shows (its replay is access-logged like a read): patient, case, units that see it."""

    patient_id: str
    case_id: str | None
    unit_ids: frozenset[str]


class Store(ABC, Generic[A]):
    """How the pipeline loads and stores one kind of aggregate."""

    aggregate_type: ClassVar[AggregateType]  # in the event log and the envelopes
    noun: ClassVar[str]  # "case", "plan": in messages; `<noun>_id` names it in a conflict of a touched one

    @abstractmethod
    async def load(self, uow: UnitOfWork, aggregate_id: str, *, lock: bool) -> A | None: ...

    @abstractmethod
    async def save(self, uow: UnitOfWork, aggregate: A, now: datetime) -> None:
        """Store a changed aggregate (`ConcurrencyConflict` if it changed since it was read)."""


class Kind(Store[A], Generic[A, V]):
    """How the pipeline loads, stores, logs and shows (as a `V`) the aggregate a command is on."""

    read_action: ClassVar[str]  # the access-log action of showing it (a stale write's answer)
    shows_current: ClassVar[tuple[type[Exception], ...]] = (FieldConflict,)  # refusals that show current values

    @abstractmethod
    def patient_id(self, aggregate: A) -> str: ...

    @abstractmethod
    def case_id(self, aggregate: A) -> str | None:
        """The case the access log names with it."""

    @abstractmethod
    async def view(self, uow: UnitOfWork, aggregate: A, now: datetime, user: CurrentUser, unit_id: str) -> V:
        """The aggregate as `user` sees it acting for `unit_id` (the answer of a command and of a read)."""

    @abstractmethod
    def shown(self, answer: dict[str, Any]) -> Shown:
        """Whom a stored answer (the decoded `view`) shows."""


@dataclass(frozen=True)
class Touched:
    """Another aggregate a command changed in the same transaction (e.g. the case of a plan's first invitation)."""

    aggregate: Aggregate
    store: Store[Any]


@dataclass(frozen=True)
class Change(Generic[A]):
    """What one command does to an existing aggregate: `apply` changes it (and returns any other aggregate it
    touched), `action` names it in the access log, `expected_version` (None: not guarded by the version)."""

    action: str
    expected_version: int | None
    apply: Callable[[UnitOfWork, A, Actor, datetime], Awaitable[Sequence[Touched]]]

    @classmethod
    def of(cls, command: object, apply: Callable[[UnitOfWork, A, Actor, datetime], Awaitable[Sequence[Touched]]]
           ) -> Change[A]:
        """A domain command: logged by its name; guarded by the version if it carries `expected_version` (the
        versioned commands; edits guarded per field or item carry none)."""
        return cls(access_log.action_of(command), getattr(command, "expected_version", None), apply)


@dataclass(frozen=True)
class Created(Generic[A]):
    """What registering a new aggregate made: it (already added to its repository), and what else it touched."""

    aggregate: A
    touched: Sequence[Touched] = field(default_factory=tuple)


class CommandRunner(Generic[A, V]):
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime], kind: Kind[A, V]) -> None:
        self._uow = uow
        self._clock = clock
        self._kind = kind

    # ----- the pipeline -------------------------------------------------------------------------------------------

    async def run(self, user: CurrentUser, aggregate_id: str, acting_unit: str | None, idem: IdempotencyKey | None,
                  change: Change[A]) -> CommandResult:
        """A command on an existing aggregate; answers 200 with it."""
        return await run_once(self._uow, user, idem, lambda: self._run(user, aggregate_id, acting_unit, idem, change),
                              lambda uow, body: self._log_replay(uow, user, body, None))

    async def create(self, user: CurrentUser, unit_id: str, field: str, idem: IdempotencyKey | None,
                     make: Callable[[UnitOfWork, Actor, datetime], Awaitable[Created[A]]],
                     action: str) -> CommandResult:
        """Register a new aggregate at `unit_id` (named by the request's `field`); answers 201 with it."""
        authorization.require_own_unit(user, unit_id, field)
        return await run_once(self._uow, user, idem, lambda: self._create(user, unit_id, idem, make, action),
                              lambda uow, body: self._log_replay(uow, user, body, unit_id))

    async def _run(self, user: CurrentUser, aggregate_id: str, requested: str | None, idem: IdempotencyKey | None,
                   change: Change[A]) -> CommandResult:
        kind = self._kind
        async with self._uow() as uow:
            aggregate = await kind.load(uow, aggregate_id, lock=True)
            if replayed := await self._replay(uow, user, idem, requested):
                return replayed
            now = self._clock()
            unit_id = authorization.acting_unit(user, aggregate.visible_unit_ids() if aggregate else None, requested,
                                                kind.noun)
            assert aggregate is not None
            if change.expected_version is not None and change.expected_version != aggregate.version:
                current = await kind.view(uow, aggregate, now, user, unit_id)
                await self._log(uow, user, unit_id, aggregate, kind.read_action, now)
                await uow.commit()
                raise VersionConflict(f"the {kind.noun} has changed (version {aggregate.version}, "
                                      f"you sent {change.expected_version})", current)
            try:
                touched = await change.apply(uow, aggregate, Actor(user.id, unit_id), now)
            except kind.shows_current:
                await self._log(uow, user, unit_id, aggregate, kind.read_action, now)
                await uow.commit()
                raise
            if aggregate.pending_events:  # nothing changed (e.g. the same value again): no new version, no event
                await self._save(uow, kind, aggregate, now, field="expected_version")
            return await self._finish(uow, user, idem, unit_id, aggregate, touched, change.action, now, 200)

    async def _create(self, user: CurrentUser, unit_id: str, idem: IdempotencyKey | None,
                      make: Callable[[UnitOfWork, Actor, datetime], Awaitable[Created[A]]],
                      action: str) -> CommandResult:
        async with self._uow() as uow:
            if replayed := await self._replay(uow, user, idem, unit_id):
                return replayed
            now = self._clock()
            created = await make(uow, Actor(user.id, unit_id), now)
            return await self._finish(uow, user, idem, unit_id, created.aggregate, created.touched, action, now, 201)

    async def _finish(self, uow: UnitOfWork, user: CurrentUser, idem: IdempotencyKey | None, unit_id: str,
                      aggregate: A, touched: Sequence[Touched], action: str, now: datetime,
                      status: int) -> CommandResult:
        """Save what else the command touched, record the events, log the change, answer, store, commit."""
        changed = [t for t in touched if t.aggregate.pending_events]
        for other in changed:
            await self._save(uow, other.store, other.aggregate, now, field=f"{other.store.noun}_id")
        recorded = [*changed, Touched(aggregate, self._kind)]
        if changed:
            await uow.lock_feeds({u for t in recorded for e in t.aggregate.pending_events for u in e.unit_ids})
        for item in recorded:
            await uow.record_events(item.aggregate, item.store.aggregate_type)
        await self._log(uow, user, unit_id, aggregate, action, now)
        body = msgspec.json.encode(await self._kind.view(uow, aggregate, now, user, unit_id))
        if idem:
            await store_response(uow.session, user, idem, status, body, now)
        await uow.commit()
        return CommandResult(status, body)

    # ----- reads --------------------------------------------------------------------------------------------------

    async def read(self, user: CurrentUser, aggregate_id: str, acting_unit: str | None, action: str,
                   show: Callable[[UnitOfWork, A, str, datetime], Awaitable[T]]) -> T:
        """A read of one aggregate through the acting unit (`show` builds the answer), access-logged as `action`."""
        async with self._uow() as uow:
            now = self._clock()
            aggregate = await self._kind.load(uow, aggregate_id, lock=False)
            unit_id = authorization.acting_unit(user, aggregate.visible_unit_ids() if aggregate else None,
                                                acting_unit, self._kind.noun)
            assert aggregate is not None
            answer = await show(uow, aggregate, unit_id, now)
            await self._log(uow, user, unit_id, aggregate, action, now)
            await uow.commit()
            return answer

    async def get(self, user: CurrentUser, aggregate_id: str, acting_unit: str | None) -> V:
        """The aggregate as the acting unit sees it (what a command answers), access-logged as a read."""
        return await self.read(user, aggregate_id, acting_unit, self._kind.read_action,
                               lambda uow, aggregate, unit_id, now: self._kind.view(uow, aggregate, now, user, unit_id))

    async def log_list(self, uow: UnitOfWork, user: CurrentUser, units: frozenset[str],
                       rows: Sequence[tuple[A, Person]], action: str, now: datetime) -> list[bool]:
        """A list's rows: each is seen through one of the listing units (`authorization.seen_through`), logged
        under it, and that unit's assignment decides whether its protected identity shows (the flags returned)."""
        through: list[str | None] = [authorization.seen_through(units, a.visible_unit_ids()) for a, _ in rows]
        await access_log.record(uow.session, user, unit_id=through, patient_ids=[p.id for _, p in rows],
                                case_ids=[self._kind.case_id(a) for a, _ in rows], action=action, at=now)
        return [authorization.reveals_protected_identity(user, u) for u in through]

    async def read_for_viewers(self, viewers: Sequence[CurrentUser | ApplicationError], aggregate_id: str,
                               unit_id: str, action: str) -> tuple[list[V], list[int | ApplicationError]]:
        """One read of an aggregate for several users at once, each acting for `unit_id` (the viewers of one live
        update). Each viewer is authorised on their own (`authorization.acting_unit`: one refused gets that
        refusal in their place, the others are not affected). What a user sees differs between users only in
        whether a protected identity shows, so at most two answers are built (`variants`); each authorised viewer
        gets the index of theirs. One access-log row per authorised viewer, as `action`, in one insert."""
        async with self._uow() as uow:
            now = self._clock()
            aggregate = await self._kind.load(uow, aggregate_id, lock=False)
            visible = aggregate.visible_unit_ids() if aggregate else None
            variants: list[V] = []
            variant_of: dict[bool, int] = {}
            answers: list[int | ApplicationError] = []
            shown: list[CurrentUser] = []
            for viewer in viewers:
                if isinstance(viewer, ApplicationError):
                    answers.append(viewer)
                    continue
                try:
                    unit = authorization.acting_unit(viewer, visible, unit_id, self._kind.noun)
                except ApplicationError as exc:
                    answers.append(exc)
                    continue
                assert aggregate is not None
                reveal = authorization.reveals_protected_identity(viewer, unit)
                if reveal not in variant_of:
                    variant_of[reveal] = len(variants)
                    variants.append(await self._kind.view(uow, aggregate, now, viewer, unit))
                answers.append(variant_of[reveal])
                shown.append(viewer)
            if aggregate is not None and shown:
                await access_log.record_viewers(uow.session, shown, unit_id=unit_id,
                                                patient_id=self._kind.patient_id(aggregate),
                                                case_id=self._kind.case_id(aggregate), action=action, at=now)
                await uow.commit()
            return variants, answers

    # ----- steps --------------------------------------------------------------------------------------------------

    @staticmethod
    async def _save(uow: UnitOfWork, store: Store[Any], aggregate: Aggregate, now: datetime, *, field: str) -> None:
        try:
            await store.save(uow, aggregate, now)
        except ConcurrencyConflict:
            raise Conflict(f"the {store.noun} was changed at the same moment; read it again", field=field) from None

    async def _replay(self, uow: UnitOfWork, user: CurrentUser, idem: IdempotencyKey | None,
                      unit_id: str | None) -> CommandResult | None:
        replay = await replay_or_none(uow.session, user, idem) if idem else None
        if replay is None:
            return None
        await self._log_replay(uow, user, replay[1], unit_id)
        await uow.commit()
        return CommandResult(*replay)

    async def _log_replay(self, uow: UnitOfWork, user: CurrentUser, body: bytes, unit_id: str | None) -> None:
        """A replayed answer shows the aggregate again: a read of patient data, logged like any other."""
        shown = self._kind.shown(msgspec.json.decode(body))
        if unit_id is None:
            mine = sorted(authorization.case_units(user) & shown.unit_ids)
            unit_id = mine[0] if mine else None
        await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[shown.patient_id],
                                case_ids=[shown.case_id], action="replay_response", at=self._clock())

    async def _log(self, uow: UnitOfWork, user: CurrentUser, unit_id: str, aggregate: A, action: str,
                   now: datetime) -> None:
        await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[self._kind.patient_id(aggregate)],
                                case_ids=[self._kind.case_id(aggregate)], action=action, at=now)
