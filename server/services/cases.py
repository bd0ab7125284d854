"""Use cases on discharge cases: register, run one command, read one, list a unit's cases.

Registering and every command run through the one command pipeline (`server.services.command_runner`): state,
events, access-log rows and the idempotency record commit together, then the events are published. What is a
case's own: how it is loaded, stored and shown (`CaseKind`), routing a new case, and completing a command with
what the server decides (a unit's part).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain.commands import AddParticipant, AppointNamedCareContact, CaseCommand, Forward
from domain.discharge_case import RECEIVING_PART_OF_KIND, Actor, DischargeCase, Part, forward_target_kinds
from domain.organisation import UnitKind
from domain.payment import PaymentPolicy
from domain.time_limits import DEFAULT_LIMITS, TimeLimits, check_command, check_times
from realtime.envelope import AggregateType
from server import authorization
from server.errors import ApplicationError, Conflict, Invalid
from server.idempotency import CommandResult, IdempotencyKey
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.queries.reserve import SHEET_ACTION, case_sheet
from server.queries.routing import routed_receivers
from server.schemas.cases import CaseDetail, CaseViewsOut, RegisterCase, ViewerOut
from server.services.command_runner import Change, CommandRunner, Created, Kind, Shown, Store, Touched
from server.services.patients import details_of, upsert_patient
from server.views.cases import detail
from server.views.reserve import Sheet

PART_OF_KIND = RECEIVING_PART_OF_KIND
LIVE_UPDATE = "live_update"  # the access-log action of a case shown to the open views of a live update


class CaseStore(Store[DischargeCase]):
    """How the command pipeline loads and stores a discharge case (also one a plan's command touches)."""

    aggregate_type = AggregateType.DISCHARGE_CASE
    noun = "case"

    async def load(self, uow: UnitOfWork, aggregate_id: str, *, lock: bool) -> DischargeCase | None:
        return await uow.cases.get(aggregate_id, for_update=lock)

    async def save(self, uow: UnitOfWork, aggregate: DischargeCase, now: datetime) -> None:
        await uow.cases.save(aggregate, now)


class CaseKind(CaseStore, Kind[DischargeCase, CaseDetail]):
    """How the command pipeline logs and shows a discharge case."""

    read_action = "read_case"

    def __init__(self, policy: PaymentPolicy) -> None:
        self._policy = policy

    def patient_id(self, aggregate: DischargeCase) -> str:
        return aggregate.patient_id

    def case_id(self, aggregate: DischargeCase) -> str | None:
        return aggregate.id

    async def view(self, uow: UnitOfWork, aggregate: DischargeCase, now: datetime, user: CurrentUser,
                   unit_id: str) -> CaseDetail:
        """The case as `user` sees it acting for `unit_id` (which decides whether a protected identity shows)."""
        person = await uow.cases.person_of(aggregate.id)
        assert person is not None
        names = await uow.directory.names_for_cases([aggregate], [person])
        amounts = await uow.directory.payment_amounts()
        return detail(aggregate, person, names.units, self._policy, amounts, now, unit_id=unit_id,
                      reveal=authorization.reveals_protected_identity(user, unit_id), names=names)

    def shown(self, answer: dict[str, Any]) -> Shown:
        units = {p["unit_id"] for p in answer.get("participants", [])} | {answer["ward_unit_id"]}
        return Shown(answer["patient"]["id"], answer["id"], frozenset(units))


class CaseService:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime],
                 limits: TimeLimits = DEFAULT_LIMITS) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._limits = limits  # the plausible windows of the times a client sends
        self._runner = CommandRunner(uow, lambda: self._clock(), CaseKind(policy))  # one clock: the service's

    # ----- commands -------------------------------------------------------------------------------------------

    async def register(self, user: CurrentUser, request: RegisterCase,
                       idem: IdempotencyKey | None = None) -> CommandResult:
        async def make(uow: UnitOfWork, actor: Actor, now: datetime) -> Created[DischargeCase]:
            ward = await uow.directory.unit(request.ward_unit_id)
            if ward is None or not UnitKind(ward.kind).is_inpatient or not ward.active:
                raise Invalid("the unit is not an active inpatient ward", field="ward_unit_id")
            patient = await upsert_patient(uow, request.patient, now, field="patient")
            if await uow.cases.open_case_at_ward(patient.id, ward.id):
                raise Conflict("the patient already has an open case at this ward", field="patient.identity")
            case = DischargeCase.register(
                patient_id=patient.id, care_type=UnitKind(ward.kind).care_type, admitted_at=request.admitted_at,
                actor=actor, receiving=await self._receivers(uow, request), now=now,
                estimated_discharge_at=request.estimated_discharge_at,
                needs_identified_at=request.needs_identified_at, routing_reason=request.routing_reason,
                routed_by_hand=request.receiving_unit_ids is not None)
            # The domain's own, more specific refusals (e.g. an admission in the future) come first; then the
            # plausible windows. Nothing is written on either (the unit of work is not committed).
            check_times(now, self._limits, admitted_at=request.admitted_at,
                        needs_identified_at=request.needs_identified_at,
                        estimated_discharge_at=request.estimated_discharge_at)
            await uow.cases.add(case, patient.id, details_of(request.patient), now)
            return Created(case)

        return await self._runner.create(user, request.ward_unit_id, "ward_unit_id", idem, make, "register_case")

    async def execute(self, user: CurrentUser, command: CaseCommand, acting_unit: str | None,
                      idem: IdempotencyKey | None = None) -> CommandResult:
        async def apply(uow: UnitOfWork, case: DischargeCase, actor: Actor, now: datetime) -> Sequence[Touched]:
            if (refused := case.refusal(command.action, actor.unit_id)) is not None:
                raise refused  # the action's rule first, as `allowed_actions` says; its arguments after
            (await self._complete(uow, command, actor.unit_id)).apply_to(case, actor, now)
            # After the domain's own, more specific refusals (a discharge before the admission...): the plausible
            # windows of the command's times. The changed case is dropped unsaved when they refuse.
            check_command(command, now, self._limits)
            return ()

        # A versioned command is stale when the case moved on; a planning edit is guarded per field instead.
        return await self._runner.run(user, command.case_id, acting_unit, idem, Change.of(command, apply))

    # ----- queries --------------------------------------------------------------------------------------------

    async def get(self, user: CurrentUser, case_id: str, acting_unit: str | None) -> CaseDetail:
        return await self._runner.get(user, case_id, acting_unit)

    async def sheet(self, user: CurrentUser, case_id: str, acting_unit: str | None) -> Sheet:
        """The case for its printout (the reserve routine's case sheet), access-logged as `export_case_sheet`."""
        return await self._runner.read(
            user, case_id, acting_unit, SHEET_ACTION,
            lambda uow, case, unit_id, now: case_sheet(
                uow, case, unit_id, self._policy, now,
                reveal=authorization.reveals_protected_identity(user, unit_id)))

    async def views(self, viewers: Sequence[CurrentUser | ApplicationError], case_id: str,
                    unit_id: str) -> CaseViewsOut:
        """The case for every viewer of one live update (`POST /cases/{id}/views`), logged as `live_update`."""
        variants, answers = await self._runner.read_for_viewers(viewers, case_id, unit_id, LIVE_UPDATE)
        return CaseViewsOut(variants=variants, viewers=[
            ViewerOut(variant=a, status=200) if isinstance(a, int) else ViewerOut(variant=None, status=a.status,
                                                                                  code=a.code)
            for a in answers])

    # ----- helpers --------------------------------------------------------------------------------------------

    async def _complete(self, uow: UnitOfWork, command: CaseCommand, unit_id: str) -> CaseCommand:
        """Check units and users a command refers to, and fill in what the server decides (a unit's part)."""
        if isinstance(command, AddParticipant | Forward):
            target_id = command.unit_id if isinstance(command, AddParticipant) else command.to_unit_id
            field = "unit_id" if isinstance(command, AddParticipant) else "to_unit_id"
            target = await uow.directory.unit(target_id)
            if target is None or not target.active or UnitKind(target.kind) not in PART_OF_KIND:
                raise Invalid("no such active receiving unit", field=field)
            part = PART_OF_KIND[UnitKind(target.kind)]
            if isinstance(command, AddParticipant):
                return replace(command, part=part)
            acting = await uow.directory.unit(unit_id)
            if acting is not None and UnitKind(target.kind) not in forward_target_kinds(UnitKind(acting.kind)):
                raise Invalid("a case can only be forwarded to a unit of the same kind", field=field)
        if isinstance(command, AppointNamedCareContact):
            assignments = await uow.directory.assignments(command.contact_user_id)
            if not any(a.unit_id == unit_id for a in assignments):
                raise Invalid("the named care contact must work at your unit", field="contact_user_id")
        return command

    async def _receivers(self, uow: UnitOfWork, request: RegisterCase) -> list[tuple[str, Part]]:
        """Routing: the municipality of the registered address and the primary care unit of the listing."""
        if request.receiving_unit_ids is not None:
            units = await uow.directory.units(request.receiving_unit_ids)
            receivers = []
            for unit_id in request.receiving_unit_ids:
                unit = units.get(unit_id)
                if unit is None or not unit.active or UnitKind(unit.kind) not in PART_OF_KIND:
                    raise Invalid("no such active receiving unit", field="receiving_unit_ids")
                receivers.append((unit_id, PART_OF_KIND[UnitKind(unit.kind)]))
            return list(dict.fromkeys(receivers))
        patient = request.patient
        routed = await routed_receivers(uow.directory, patient.municipality_code, patient.district,
                                        patient.listed_unit_id, prefix="patient.")
        return [(unit.id, part) for unit, part in routed]
