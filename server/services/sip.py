"""Use cases on SIP plans: start one (outside a case, or from a discharge case), run one command, read one,
list a unit's plans, agreed versions and their diff, exports.

As for cases (`server.services.cases`), each runs in one unit of work: the plan's state, its events, a
touched discharge case and its events, the access-log rows (and the idempotency record) commit together, and
the events are published after commit. Visibility is the plan's: a user sees it through one of their
case-working units in `SipPlan.visible_unit_ids()`; to anyone else it does not exist (404).

Refusals carry a specific problem code (docs/api.md, "SIP refusals"): the domain's (`domain.sip.Refusal`) and,
for what this layer decides (the acting unit, the units and the person named in a request), the codes below.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime

import msgspec
from sqlalchemy import select

from domain.discharge_case import Actor, DischargeCase
from domain.identity import InvalidIdentity, parse_patient_identity
from domain.organisation import PrincipalKind
from domain.sip import (
    ContentChanged,
    FieldConflict,
    PlanState,
    Refusal,
    SipPlan,
    UnitRef,
    diff_contents,
    open_plan_for_case,
    record_invitation_on_case,
)
from domain.sip.commands import AddSipUnit, SipCommand, VersionedSipCommand
from domain.sip.events import SipMeetingScheduled
from domain.time_limits import DEFAULT_LIMITS, TimeLimits, check_command
from server import access_log, authorization
from server.api.schemas import PatientInput
from server.api.sip_schemas import CreateSipPlan, SipDiffOut, SipPlanDetail, SipPlanPage, VersionOut
from server.errors import Conflict, Forbidden, Invalid, NotVisible, VersionConflict
from server.exports.context import ExportContext
from server.idempotency import CommandResult, IdempotencyKey, replay_or_none, run_once, store_response
from server.persistence.models import PatientRow, PrincipalRow
from server.persistence.repositories import ConcurrencyConflict
from server.persistence.sip_repository import SipUnitOfWork
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.sip_views import detail, diff_out, summary, version_out


class SipService:
    def __init__(self, uow: Callable[[], SipUnitOfWork], clock: Callable[[], datetime],
                 limits: TimeLimits = DEFAULT_LIMITS) -> None:
        self._uow = uow
        self._clock = clock
        self._limits = limits  # the plausible windows of the times a client sends

    # ----- commands -------------------------------------------------------------------------------------------

    async def create(self, user: CurrentUser, request: CreateSipPlan,
                     idem: IdempotencyKey | None = None) -> CommandResult:
        return await run_once(self._uow, user, idem, lambda: self._create(user, request, idem),
                              lambda uow, body: self._log_replay(uow, user, body))

    async def execute(self, user: CurrentUser, command: SipCommand, acting_unit: str | None,
                      idem: IdempotencyKey | None = None) -> CommandResult:
        return await run_once(self._uow, user, idem, lambda: self._execute(user, command, acting_unit, idem),
                              lambda uow, body: self._log_replay(uow, user, body))

    async def _log_replay(self, uow: UnitOfWork, user: CurrentUser, body: bytes,
                          unit_id: str | None = None) -> None:
        """A replayed answer shows the plan again: a read of patient data, logged like any other."""
        shown = msgspec.json.decode(body)
        if unit_id is None:
            mine = sorted(authorization.case_units(user) & set(shown.get("visible_unit_ids", [])))
            unit_id = mine[0] if mine else None
        await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[shown["person"]["id"]],
                                case_ids=[shown.get("case_id")], action="replay_response", at=self._clock())

    async def _create(self, user: CurrentUser, request: CreateSipPlan, idem: IdempotencyKey | None) -> CommandResult:
        if request.owner_unit_id not in authorization.require_case_units(user):
            raise Forbidden("you do not work at this unit", field="owner_unit_id", code=Refusal.NOT_YOUR_UNIT)
        if (request.case_id is None) == (request.person is None):
            raise Invalid("give either the discharge case (case_id) or the person", field="person",
                          code="case_or_person_required")
        async with self._uow() as uow:
            if idem and (replay := await replay_or_none(uow.session, user, idem)):
                await self._log_replay(uow, user, replay[1], request.owner_unit_id)
                await uow.commit()
                return CommandResult(replay[0], replay[1])
            now = self._clock()
            owner = await self._unit_ref(uow, request.owner_unit_id, "owner_unit_id")
            others = [await self._unit_ref(uow, u, "unit_ids") for u in request.unit_ids]
            if request.plan_id and await uow.sip_plans.exists(request.plan_id):
                raise Conflict("a plan with this id exists", field="plan_id", code="plan_exists")
            actor = Actor(user.id, owner.unit_id)
            case: DischargeCase | None = None
            if request.case_id is not None:
                case = await uow.cases.get(request.case_id, for_update=True)
                if case is None or not case.is_visible_to(owner.unit_id):
                    raise NotVisible("no such case", field="case_id", code="case_not_found")
                patient = await uow.patients.get(await uow.cases.patient_id_of(case.id) or "")
                assert patient is not None
                plan = open_plan_for_case(case, owner=owner, actor=actor, now=now, units=others,
                                          plan_id=request.plan_id)
            else:
                assert request.person is not None
                patient = await self._upsert_patient(uow, request.person, now)
                plan = SipPlan.create(person_id=patient.id, owner=owner, actor=actor, now=now, units=others,
                                      plan_id=request.plan_id)
            await uow.sip_plans.add(plan, patient.id, now)
            await self._save_case(uow, case, now)
            await self._record(uow, plan, case)
            await access_log.record(uow.session, user, unit_id=owner.unit_id, patient_ids=[patient.id],
                                    case_ids=[plan.case_id], action="create_sip_plan", at=now)
            body = await self._detail_body(uow, plan, patient, now, user, owner.unit_id)
            if idem:
                await store_response(uow.session, user, idem, 201, body, now)
            await uow.commit()
            return CommandResult(201, body)

    async def _execute(self, user: CurrentUser, command: SipCommand, acting_unit: str | None,
                       idem: IdempotencyKey | None) -> CommandResult:
        async with self._uow() as uow:
            # The key is looked up once the plan is locked: a retry that waited for the lock sees the first answer.
            plan = await uow.sip_plans.get(command.plan_id, for_update=True)
            if idem and (replay := await replay_or_none(uow.session, user, idem)):
                await self._log_replay(uow, user, replay[1], acting_unit)
                await uow.commit()
                return CommandResult(replay[0], replay[1])
            now = self._clock()
            unit_id = self._acting_unit(user, plan, acting_unit)
            assert plan is not None
            if isinstance(command, VersionedSipCommand) and command.expected_version != plan.version:
                current = await self._detail(uow, plan, await self._patient(uow, plan), now, user, unit_id)
                # The answer shows the current plan: a read of patient data, so it is logged (and only that).
                await self._log(uow, user, unit_id, plan, "read_sip_plan", now)
                await uow.commit()
                raise VersionConflict(f"the plan has changed (version {plan.version}, "
                                      f"you sent {command.expected_version})", current)
            command = await self._complete(uow, command)
            actor = Actor(user.id, unit_id)
            try:
                command.apply_to(plan, actor, now)
            except (FieldConflict, ContentChanged):
                # The problem shows the current value of the field or item: a read of patient data.
                await self._log(uow, user, unit_id, plan, "read_sip_plan", now)
                await uow.commit()
                raise
            # After the domain's own, more specific refusals (a meeting in the past...): the plausible windows of
            # the command's times. The changed plan is dropped unsaved when they refuse.
            check_command(command, now, self._limits)
            case = await self._invitation_on_case(uow, plan, actor)
            try:
                if plan.pending_events:  # nothing changed (the same value again): no new version, no event
                    await uow.sip_plans.save(plan, now)
            except ConcurrencyConflict:
                raise Conflict("the plan was changed at the same moment; read it again", field="expected_version") \
                    from None
            await self._save_case(uow, case, now)
            await self._record(uow, plan, case)
            await self._log(uow, user, unit_id, plan, access_log.action_of(command), now)
            if idem:
                body = await self._detail_body(uow, plan, await self._patient(uow, plan), now, user, unit_id)
                await store_response(uow.session, user, idem, 200, body, now)
                await uow.commit()
                return CommandResult(200, body)
            # Without a key the answer is read and built after the commit: the plan's row lock is held no longer
            # than the change needs.
            await uow.commit()
            return CommandResult(200, await self._detail_body(uow, plan, await self._patient(uow, plan), now, user,
                                                              unit_id))

    # ----- queries --------------------------------------------------------------------------------------------

    async def get(self, user: CurrentUser, plan_id: str, acting_unit: str | None) -> SipPlanDetail:
        async with self._uow() as uow:
            now = self._clock()
            plan, unit_id = await self._visible(uow, user, plan_id, acting_unit)
            view = await self._detail(uow, plan, await self._patient(uow, plan), now, user, unit_id)
            await self._log(uow, user, unit_id, plan, "read_sip_plan", now)
            await uow.commit()
            return view

    async def list_plans(self, user: CurrentUser, *, unit_id: str | None, states: list[PlanState] | None,
                         follow_up_before: date | None, limit: int, offset: int) -> SipPlanPage:
        units = authorization.require_case_units(user)
        if unit_id is not None:
            authorization.require_unit_access(user, unit_id)
            units = frozenset({unit_id})
        async with self._uow() as uow:
            now = self._clock()
            total, plans = await uow.sip_plans.page_for_units(units, states=states, follow_up_before=follow_up_before,
                                                             limit=limit, offset=offset)
            patients = await uow.patients.get_many(p for _, p in plans)
            # Each row names the unit through which the user sees that plan; its assignment decides whether a
            # protected identity is shown.
            through = [unit_id or min(units & set(plan.visible_unit_ids())) for plan, _ in plans]
            items = [summary(plan, patients[p], now, reveal=authorization.reveals_protected_identity(user, u))
                     for (plan, p), u in zip(plans, through, strict=True)]
            await access_log.append(uow.session, [
                {"at": now, "user_id": user.id, "user_hsa_id": user.hsa_id, "patient_id": p, "case_id": plan.case_id,
                 "unit_id": u, "action": "list_sip_plans", "purpose": "care_coordination"}
                for (plan, p), u in zip(plans, through, strict=True)])
            await uow.commit()
            return SipPlanPage(items=items, total=total, limit=limit, offset=offset)

    async def versions(self, user: CurrentUser, plan_id: str, acting_unit: str | None) -> list[VersionOut]:
        async with self._uow() as uow:
            now = self._clock()
            plan, unit_id = await self._visible(uow, user, plan_id, acting_unit)
            await self._log(uow, user, unit_id, plan, "read_sip_versions", now)
            await uow.commit()
            return [version_out(v) for v in plan.versions]

    async def diff(self, user: CurrentUser, plan_id: str, from_version: int, to_version: int | None,
                   acting_unit: str | None) -> SipDiffOut:
        """What changed from agreed version `from_version` to `to_version` (None: to the working contents)."""
        async with self._uow() as uow:
            now = self._clock()
            plan, unit_id = await self._visible(uow, user, plan_id, acting_unit)
            old = plan.agreed_version(from_version)
            if to_version is None:
                changes = diff_contents(old.contents, plan.contents)
            else:
                changes = plan.diff_versions(from_version, to_version)
            await self._log(uow, user, unit_id, plan, "diff_sip_versions", now)
            await uow.commit()
            return diff_out(plan.id, from_version, to_version, changes)

    async def export(self, user: CurrentUser, plan_id: str, number: int, acting_unit: str | None,
                     render: Callable[[ExportContext], bytes], action: str) -> bytes:
        """An agreed version rendered for export (PDF, FHIR): a read of patient data, logged."""
        async with self._uow() as uow:
            now = self._clock()
            plan, unit_id = await self._visible(uow, user, plan_id, acting_unit)
            patient = await self._patient(uow, plan)
            version = plan.agreed_version(number)
            unit_ids = {u.unit_id for u in plan.units} | {
                i.content.responsible_unit_id for i in version.contents.services if i.content.responsible_unit_id}
            units = await uow.directory.units(unit_ids)
            principal_ids = {u.principal_id for u in plan.units}
            principals = {p.id: p for p in await _principals(uow, principal_ids)}
            context = ExportContext(plan=plan, version=version, patient=patient, units=units,
                                    principals=principals, now=now,
                                    reveal_protected=authorization.reveals_protected_identity(user, unit_id))
            content = render(context)
            await self._log(uow, user, unit_id, plan, action, now)
            await uow.commit()
            return content

    # ----- helpers --------------------------------------------------------------------------------------------

    async def _visible(self, uow: SipUnitOfWork, user: CurrentUser, plan_id: str,
                       acting_unit: str | None) -> tuple[SipPlan, str]:
        plan = await uow.sip_plans.get(plan_id)
        unit_id = self._acting_unit(user, plan, acting_unit)
        assert plan is not None
        return plan, unit_id

    @staticmethod
    def _acting_unit(user: CurrentUser, plan: SipPlan | None, requested: str | None) -> str:
        """The unit the user acts for: one of theirs that sees the plan (404 if none does)."""
        mine = authorization.require_case_units(user)
        candidates = sorted(mine & set(plan.visible_unit_ids())) if plan else []
        if not candidates:
            raise NotVisible("no such plan")
        if requested is not None:
            if requested not in candidates:
                raise Forbidden("you cannot act for this unit on this plan", field="X-Acting-Unit",
                                code="acting_unit_not_allowed")
            return requested
        if len(candidates) > 1:
            raise Invalid("you take part through several units: choose one", field="X-Acting-Unit",
                          code="acting_unit_required")
        return candidates[0]

    @staticmethod
    async def _patient(uow: SipUnitOfWork, plan: SipPlan) -> PatientRow:
        patient = await uow.patients.get(plan.person_id)
        assert patient is not None
        return patient

    async def _log(self, uow: SipUnitOfWork, user: CurrentUser, unit_id: str, plan: SipPlan, action: str,
                   now: datetime) -> None:
        """One access-log row: the plan's person (`person_id` is the patient's id) through the acting unit."""
        await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[plan.person_id],
                                case_ids=[plan.case_id], action=action, at=now)

    @staticmethod
    async def _unit_ref(uow: SipUnitOfWork, unit_id: str, field: str) -> UnitRef:
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

    async def _complete(self, uow: SipUnitOfWork, command: SipCommand) -> SipCommand:
        """Fill in what the server decides: a unit's principal, from the organisation tree."""
        if isinstance(command, AddSipUnit):
            return replace(command, unit=await self._unit_ref(uow, command.unit.unit_id, "unit_id"))
        return command

    @staticmethod
    async def _invitation_on_case(uow: SipUnitOfWork, plan: SipPlan, actor: Actor) -> DischargeCase | None:
        """The plan's first meeting invitation is the case's SIP invitation: written on the case in the same
        transaction (when the rules of `record_invitation_on_case` say it applies). The case, if it changed."""
        if plan.case_id is None or not any(isinstance(e, SipMeetingScheduled) and e.first_invitation
                                           for e in plan.pending_events):
            return None
        case = await uow.cases.get(plan.case_id, for_update=True)
        if case is None or not record_invitation_on_case(plan, case, actor):
            return None
        return case

    @staticmethod
    async def _save_case(uow: SipUnitOfWork, case: DischargeCase | None, now: datetime) -> None:
        if case is None or not case.pending_events:
            return
        try:
            await uow.cases.save(case, now)
        except ConcurrencyConflict:
            raise Conflict("the case was changed at the same moment; try again", field="case_id") from None

    @staticmethod
    async def _record(uow: SipUnitOfWork, plan: SipPlan, case: DischargeCase | None) -> None:
        """The events of the plan (and of its case) in the log and on the feeds of the units concerned."""
        if case is not None and case.pending_events:
            units = {u for e in plan.pending_events for u in e.unit_ids} | {u for e in case.pending_events
                                                                            for u in e.unit_ids}
            await uow.lock_feeds(units)
            await uow.record_events(case)
        await uow.record_plan_events(plan)

    @staticmethod
    async def _upsert_patient(uow: SipUnitOfWork, data: PatientInput, now: datetime) -> PatientRow:
        try:
            identity = parse_patient_identity(data.identity, today=now.date())
        except InvalidIdentity as exc:
            raise Invalid(str(exc), field="person.identity", code="invalid_identity") from None
        row = await uow.patients.by_identity(identity.value)
        if row is None:
            row = PatientRow(id=str(uuid.uuid4()), identity_kind=str(identity.kind), identity_value=identity.value,
                             created_at=now, name=data.name, address=data.address,
                             municipality_code=data.municipality_code, listed_unit_id=data.listed_unit_id,
                             protected_identity=data.protected_identity)
            uow.patients.add(row)
            await uow.session.flush()
        return row

    async def _detail(self, uow: SipUnitOfWork, plan: SipPlan, patient: PatientRow, now: datetime,
                      user: CurrentUser, unit_id: str) -> SipPlanDetail:
        """The plan as `user` sees it acting for `unit_id` (which decides whether a protected identity shows)."""
        units = await uow.directory.units(u.unit_id for u in plan.units)
        responsible = plan.responsible_principal_id
        principals = {p.id: p for p in await _principals(uow, {responsible})} if responsible else {}
        return detail(plan, patient, units, now, acting_unit_id=unit_id, principals=principals,
                      reveal=authorization.reveals_protected_identity(user, unit_id))

    async def _detail_body(self, uow: SipUnitOfWork, plan: SipPlan, patient: PatientRow, now: datetime,
                           user: CurrentUser, unit_id: str) -> bytes:
        return msgspec.json.encode(await self._detail(uow, plan, patient, now, user, unit_id))


async def _principals(uow: SipUnitOfWork, ids: set[str]) -> list[PrincipalRow]:
    return list(await uow.session.scalars(select(PrincipalRow).where(PrincipalRow.id.in_(sorted(ids)))))


