"""Use cases on SIP plans: start one (outside a case, or from a discharge case), run one command, read one,
list a unit's plans, agreed versions and their diff, exports.

Starting a plan and every command run through the one command pipeline (`server.services.command_runner`), like
a case's: the plan's state, its events, a touched discharge case and its events, the access-log rows and the
idempotency record commit together, then the events are published. Visibility is the plan's: a user sees it
through one of their case-working units in `SipPlan.visible_unit_ids()`; to anyone else it does not exist (404).
What is a plan's own: how it is loaded, stored and shown (`PlanKind`), and the case its first invitation is
recorded on.

Refusals carry a specific problem code (docs/api.md, "SIP refusals"): the domain's (`domain.sip.Refusal`) and,
for what this layer decides (the acting unit, the units and the person named in a request), the codes below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from domain.discharge_case import Actor, DischargeCase
from domain.organisation import PrincipalKind
from domain.sip import (
    ContentChanged,
    FieldConflict,
    PlanState,
    SipPlan,
    UnitRef,
    diff_contents,
    open_plan_for_case,
    record_invitation_on_case,
)
from domain.sip.commands import AddSipUnit, SipCommand
from domain.sip.events import SipMeetingScheduled
from domain.time_limits import DEFAULT_LIMITS, TimeLimits, check_command
from realtime.envelope import AggregateType
from server import authorization
from server.errors import Conflict, Invalid, NotVisible
from server.exports.context import ExportContext
from server.idempotency import CommandResult, IdempotencyKey
from server.persistence.models import Person, PrincipalRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.sip import CreateSipPlan, SipDiffOut, SipPlanDetail, SipPlanPage, VersionOut
from server.services.cases import CaseStore
from server.services.command_runner import Change, CommandRunner, Created, Kind, Shown, Touched
from server.services.patients import details_of, upsert_patient
from server.views.sip import detail, diff_out, summary, version_out


class PlanKind(Kind[SipPlan, SipPlanDetail]):
    """How the command pipeline loads, stores and shows a SIP plan."""

    aggregate_type = AggregateType.SIP_PLAN
    noun = "plan"
    read_action = "read_sip_plan"
    shows_current = (FieldConflict, ContentChanged)  # the current value, item or content revision

    async def load(self, uow: UnitOfWork, aggregate_id: str, *, lock: bool) -> SipPlan | None:
        return await uow.sip_plans.get(aggregate_id, for_update=lock)

    async def save(self, uow: UnitOfWork, aggregate: SipPlan, now: datetime) -> None:
        await uow.sip_plans.save(aggregate, now)

    def patient_id(self, aggregate: SipPlan) -> str:
        return aggregate.person_id  # the patient's id

    def case_id(self, aggregate: SipPlan) -> str | None:
        return aggregate.case_id

    async def view(self, uow: UnitOfWork, aggregate: SipPlan, now: datetime, user: CurrentUser,
                   unit_id: str) -> SipPlanDetail:
        """The plan as `user` sees it acting for `unit_id` (which decides whether a protected identity shows)."""
        units = await uow.directory.units(u.unit_id for u in aggregate.units)
        responsible = aggregate.responsible_principal_id
        principals = {p.id: p for p in await _principals(uow, {responsible})} if responsible else {}
        return detail(aggregate, await _person(uow, aggregate), units, now, acting_unit_id=unit_id,
                      principals=principals, reveal=authorization.reveals_protected_identity(user, unit_id))

    def shown(self, answer: dict[str, Any]) -> Shown:
        return Shown(answer["person"]["id"], answer.get("case_id"), frozenset(answer.get("visible_unit_ids", [])))


class SipService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 limits: TimeLimits = DEFAULT_LIMITS) -> None:
        self._uow = uow
        self._clock = clock
        self._limits = limits  # the plausible windows of the times a client sends
        self._runner = CommandRunner(uow, lambda: self._clock(), PlanKind())  # one clock: the service's

    # ----- commands -------------------------------------------------------------------------------------------

    async def create(self, user: CurrentUser, request: CreateSipPlan,
                     idem: IdempotencyKey | None = None) -> CommandResult:
        async def make(uow: UnitOfWork, actor: Actor, now: datetime) -> Created[SipPlan]:
            if (request.case_id is None) == (request.person is None):
                raise Invalid("give either the discharge case (case_id) or the person", field="person",
                              code="case_or_person_required")
            owner = await self._unit_ref(uow, request.owner_unit_id, "owner_unit_id")
            others = [await self._unit_ref(uow, u, "unit_ids") for u in request.unit_ids]
            if request.plan_id and await uow.sip_plans.exists(request.plan_id):
                raise Conflict("a plan with this id exists", field="plan_id", code="plan_exists")
            if request.case_id is not None:
                case = await uow.cases.get(request.case_id, for_update=True)
                if case is None or not case.is_visible_to(owner.unit_id):
                    raise NotVisible("no such case", field="case_id", code="case_not_found")
                person = await uow.cases.person_of(case.id)  # the plan keeps its own copy of the case's details
                assert person is not None
                plan = open_plan_for_case(case, owner=owner, actor=actor, now=now, units=others,
                                          plan_id=request.plan_id)
                await uow.sip_plans.add(plan, person.id, person.details, now)
                return Created(plan, [Touched(case, _CASES)])
            assert request.person is not None
            patient = await upsert_patient(uow, request.person, now, field="person")
            plan = SipPlan.create(person_id=patient.id, owner=owner, actor=actor, now=now, units=others,
                                  plan_id=request.plan_id)
            await uow.sip_plans.add(plan, patient.id, details_of(request.person), now)
            return Created(plan)

        return await self._runner.create(user, request.owner_unit_id, "owner_unit_id", idem, make, "create_sip_plan")

    async def execute(self, user: CurrentUser, command: SipCommand, acting_unit: str | None,
                      idem: IdempotencyKey | None = None) -> CommandResult:
        async def apply(uow: UnitOfWork, plan: SipPlan, actor: Actor, now: datetime) -> Sequence[Touched]:
            (await self._complete(uow, command)).apply_to(plan, actor, now)
            # After the domain's own, more specific refusals (a meeting in the past...): the plausible windows of
            # the command's times. The changed plan is dropped unsaved when they refuse.
            check_command(command, now, self._limits)
            case = await self._invitation_on_case(uow, plan, actor)
            return [Touched(case, _CASES)] if case is not None else []

        return await self._runner.run(user, command.plan_id, acting_unit, idem, Change.of(command, apply))

    # ----- queries --------------------------------------------------------------------------------------------

    async def get(self, user: CurrentUser, plan_id: str, acting_unit: str | None) -> SipPlanDetail:
        return await self._runner.get(user, plan_id, acting_unit)

    async def list_plans(self, user: CurrentUser, *, unit_id: str | None, states: list[PlanState] | None,
                         follow_up_before: date | None, limit: int, offset: int,
                         case_id: str | None = None) -> SipPlanPage:
        units = authorization.listing_units(user, unit_id)
        async with self._uow() as uow:
            now = self._clock()
            total, plans = await uow.sip_plans.page_for_units(units, states=states, follow_up_before=follow_up_before,
                                                             limit=limit, offset=offset, case_id=case_id)
            reveals = await self._runner.log_list(uow, user, units, plans, "list_sip_plans", now)
            items = [summary(plan, p, now, reveal=r) for (plan, p), r in zip(plans, reveals, strict=True)]
            await uow.commit()
            return SipPlanPage(items=items, total=total, limit=limit, offset=offset)

    async def versions(self, user: CurrentUser, plan_id: str, acting_unit: str | None) -> list[VersionOut]:
        async def show(_uow: UnitOfWork, plan: SipPlan, _unit_id: str, _now: datetime) -> list[VersionOut]:
            return [version_out(v) for v in plan.versions]

        return await self._runner.read(user, plan_id, acting_unit, "read_sip_versions", show)

    async def diff(self, user: CurrentUser, plan_id: str, from_version: int, to_version: int | None,
                   acting_unit: str | None) -> SipDiffOut:
        """What changed from agreed version `from_version` to `to_version` (None: to the working contents)."""
        async def show(_uow: UnitOfWork, plan: SipPlan, _unit_id: str, _now: datetime) -> SipDiffOut:
            old = plan.agreed_version(from_version)
            if to_version is None:
                changes = diff_contents(old.contents, plan.contents)
            else:
                changes = plan.diff_versions(from_version, to_version)
            return diff_out(plan.id, from_version, to_version, changes)

        return await self._runner.read(user, plan_id, acting_unit, "diff_sip_versions", show)

    async def export(self, user: CurrentUser, plan_id: str, number: int, acting_unit: str | None,
                     render: Callable[[ExportContext], bytes], action: str) -> bytes:
        """An agreed version rendered for export (PDF, FHIR): a read of patient data, logged."""
        async def show(uow: UnitOfWork, plan: SipPlan, unit_id: str, now: datetime) -> bytes:
            version = plan.agreed_version(number)
            unit_ids = {u.unit_id for u in plan.units} | {
                i.content.responsible_unit_id for i in version.contents.services if i.content.responsible_unit_id}
            units = await uow.directory.units(unit_ids)
            principals = {p.id: p for p in await _principals(uow, {u.principal_id for u in plan.units})}
            return render(ExportContext(plan=plan, version=version, patient=await _person(uow, plan), units=units,
                                        principals=principals, now=now,
                                        reveal_protected=authorization.reveals_protected_identity(user, unit_id)))

        return await self._runner.read(user, plan_id, acting_unit, action, show)

    # ----- helpers --------------------------------------------------------------------------------------------

    @staticmethod
    async def _unit_ref(uow: UnitOfWork, unit_id: str, field: str) -> UnitRef:
        """A unit and the principal it acts for, from the organisation tree."""
        unit = await uow.directory.unit(unit_id)
        organisation = await uow.directory.organisation(unit.organisation_id) if unit is not None else None
        principal = await uow.session.get(PrincipalRow, organisation.principal_id) if organisation else None
        if unit is None or not unit.active or principal is None:
            raise Invalid("no such active unit", field=field, code="unknown_unit")
        try:
            kind = PrincipalKind(principal.kind)
        except ValueError:
            raise Invalid("the unit acts for no region or municipality", field=field,
                          code="unit_without_principal") from None
        return UnitRef(unit.id, principal.id, kind)

    async def _complete(self, uow: UnitOfWork, command: SipCommand) -> SipCommand:
        """Fill in what the server decides: a unit's principal, from the organisation tree."""
        if isinstance(command, AddSipUnit):
            return replace(command, unit=await self._unit_ref(uow, command.unit.unit_id, "unit_id"))
        return command

    @staticmethod
    async def _invitation_on_case(uow: UnitOfWork, plan: SipPlan, actor: Actor) -> DischargeCase | None:
        """The plan's first meeting invitation is the case's SIP invitation: written on the case in the same
        transaction (when the rules of `record_invitation_on_case` say it applies). The case, if it changed."""
        if plan.case_id is None or not any(isinstance(e, SipMeetingScheduled) and e.first_invitation
                                           for e in plan.pending_events):
            return None
        case = await uow.cases.get(plan.case_id, for_update=True)
        if case is None or not record_invitation_on_case(plan, case, actor):
            return None
        return case


_CASES = CaseStore()  # a case a plan touches: stored and recorded like any case


async def _person(uow: UnitOfWork, plan: SipPlan) -> Person:
    person = await uow.sip_plans.person_of(plan.id)
    assert person is not None
    return person


async def _principals(uow: UnitOfWork, ids: set[str]) -> list[PrincipalRow]:
    return list(await uow.session.scalars(select(PrincipalRow).where(PrincipalRow.id.in_(sorted(ids)))))
