"""Use cases on discharge cases: register, run one command, read one, list a unit's cases.

Each runs in one unit of work: state, events, access-log rows (and the idempotency record) commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import msgspec

from domain.commands import AddParticipant, AppointNamedCareContact, CaseCommand, Forward, VersionedCaseCommand
from domain.deadlines import DeadlineState, case_deadlines, worst_open_state
from domain.discharge_case import RECEIVING_PART_OF_KIND, Actor, CaseState, DischargeCase, Part
from domain.errors import FieldConflict
from domain.identity import InvalidIdentity, parse_patient_identity
from domain.organisation import UnitKind
from domain.payment import PaymentPolicy
from server import access_log, authorization
from server.api.schemas import CaseDetail, CasePage, RegisterCase
from server.case_views import detail, summary
from server.errors import Conflict, Forbidden, Invalid, NotVisible, VersionConflict
from server.idempotency import CommandResult, IdempotencyKey, replay_or_none, run_once, store_response
from server.persistence.models import PatientRow
from server.persistence.repositories import ConcurrencyConflict
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser

PART_OF_KIND = RECEIVING_PART_OF_KIND


class CaseService:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    # ----- commands -------------------------------------------------------------------------------------------

    async def register(self, user: CurrentUser, request: RegisterCase,
                       idem: IdempotencyKey | None = None) -> CommandResult:
        return await run_once(self._uow, user, idem, lambda: self._register(user, request, idem),
                              lambda uow, body: self._log_replay(uow, user, body))

    async def execute(self, user: CurrentUser, command: CaseCommand, acting_unit: str | None,
                      idem: IdempotencyKey | None = None) -> CommandResult:
        return await run_once(self._uow, user, idem, lambda: self._execute(user, command, acting_unit, idem),
                              lambda uow, body: self._log_replay(uow, user, body))

    async def _log_replay(self, uow: UnitOfWork, user: CurrentUser, body: bytes,
                          unit_id: str | None = None) -> None:
        """A replayed answer shows the case again: a read of patient data, logged like any other."""
        shown = msgspec.json.decode(body)
        case_id, patient_id = shown["id"], shown["patient"]["id"]
        if unit_id is None:
            visible = {p["unit_id"] for p in shown.get("participants", [])} | {shown["ward_unit_id"]}
            mine = sorted(authorization.case_units(user) & visible)
            unit_id = mine[0] if mine else None
        await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient_id], case_ids=[case_id],
                                action="replay_response", at=self._clock())

    async def _register(self, user: CurrentUser, request: RegisterCase, idem: IdempotencyKey | None) -> CommandResult:
        if request.ward_unit_id not in authorization.case_units(user):
            raise Forbidden("you do not work at this ward", field="ward_unit_id")
        async with self._uow() as uow:
            if idem and (replay := await replay_or_none(uow.session, user, idem)):
                await self._log_replay(uow, user, replay[1], request.ward_unit_id)
                await uow.commit()
                return CommandResult(replay[0], replay[1])
            now = self._clock()
            ward = await uow.directory.unit(request.ward_unit_id)
            if ward is None or not UnitKind(ward.kind).is_inpatient or not ward.active:
                raise Invalid("the unit is not an active inpatient ward", field="ward_unit_id")
            patient = await self._upsert_patient(uow, request, now)
            if await uow.cases.open_case_at_ward(patient.id, ward.id):
                raise Conflict("the patient already has an open case at this ward", field="patient.identity")
            receiving = await self._receivers(uow, request, patient)
            case = DischargeCase.register(
                patient_id=patient.id, care_type=UnitKind(ward.kind).care_type, admitted_at=request.admitted_at,
                actor=Actor(user.id, ward.id), receiving=receiving, now=now,
                estimated_discharge_at=request.estimated_discharge_at,
                needs_identified_at=request.needs_identified_at)
            await uow.cases.add(case, patient.id, now)
            await uow.record_events(case)
            await access_log.record(uow.session, user, unit_id=ward.id, patient_ids=[patient.id],
                                    case_ids=[case.id], action="register_case", at=now)
            body = await self._detail_body(uow, case, patient, now, user, ward.id)
            if idem:
                await store_response(uow.session, user, idem, 201, body, now)
            await uow.commit()
            return CommandResult(201, body)

    async def _execute(self, user: CurrentUser, command: CaseCommand, acting_unit: str | None,
                       idem: IdempotencyKey | None) -> CommandResult:
        async with self._uow() as uow:
            # Look for the key once the case is locked: a retry that waited for the lock then sees the first
            # request's committed answer instead of a version conflict.
            case = await uow.cases.get(command.case_id, for_update=True)
            if idem and (replay := await replay_or_none(uow.session, user, idem)):
                await self._log_replay(uow, user, replay[1], acting_unit)
                await uow.commit()
                return CommandResult(replay[0], replay[1])
            now = self._clock()
            unit_id = self._acting_unit(user, case, acting_unit)
            assert case is not None
            patient = await uow.patients.get(await uow.cases.patient_id_of(case.id) or "")
            assert patient is not None
            # A versioned command is stale when the case moved on; a planning edit is guarded per field instead.
            if isinstance(command, VersionedCaseCommand) and command.expected_version != case.version:
                current = await self._detail(uow, case, patient, now, user, unit_id)
                # The answer shows the current case: a read of patient data, so it is logged (and only that).
                await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient.id],
                                        case_ids=[case.id], action="read_case", at=now)
                await uow.commit()
                raise VersionConflict(f"the case has changed (version {case.version}, "
                                      f"you sent {command.expected_version})", current)
            if (refused := case.refusal(command.action, unit_id)) is not None:
                raise refused  # the action's rule first, as `allowed_actions` says; its arguments after
            command = await self._complete(uow, command, unit_id)
            try:
                command.apply_to(case, Actor(user.id, unit_id), now)
            except FieldConflict:
                # The problem shows the field's current value: a read of patient data, so it is logged (only that).
                await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient.id],
                                        case_ids=[case.id], action="read_case", at=now)
                await uow.commit()
                raise
            try:
                if case.pending_events:  # nothing changed (e.g. acknowledging twice): no new version without an event
                    await uow.cases.save(case, now)
            except ConcurrencyConflict:
                raise Conflict("the case was changed at the same moment; read it again",
                               field="expected_version") from None
            await uow.record_events(case)
            await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient.id],
                                    case_ids=[case.id], action=access_log.action_of(command), at=now)
            body = await self._detail_body(uow, case, patient, now, user, unit_id)
            if idem:
                await store_response(uow.session, user, idem, 200, body, now)
            await uow.commit()
            return CommandResult(200, body)

    # ----- queries --------------------------------------------------------------------------------------------

    async def get(self, user: CurrentUser, case_id: str, acting_unit: str | None) -> CaseDetail:
        async with self._uow() as uow:
            now = self._clock()
            case = await uow.cases.get(case_id)
            unit_id = self._acting_unit(user, case, acting_unit)
            assert case is not None
            patient = await uow.patients.get(await uow.cases.patient_id_of(case.id) or "")
            assert patient is not None
            view = await self._detail(uow, case, patient, now, user, unit_id)
            await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient.id],
                                    case_ids=[case.id], action="read_case", at=now)
            await uow.commit()
            return view

    async def list_cases(self, user: CurrentUser, *, unit_id: str | None, states: list[CaseState] | None,
                   deadline_state: DeadlineState | None, limit: int, offset: int) -> CasePage:
        units = authorization.require_case_units(user)
        if unit_id is not None:
            authorization.require_unit_access(user, unit_id)
            units = frozenset({unit_id})
        async with self._uow() as uow:
            now = self._clock()
            cases = await uow.cases.get_many(await uow.cases.ids_for_units(units, states))
            rows = [(c, p, summary_deadline) for c, p in cases
                    if (summary_deadline := worst_open_state(case_deadlines(c, self._policy, now))) == deadline_state
                    or deadline_state is None]
            page = rows[offset:offset + limit]
            patients = await uow.patients.get_many(p for _, p, _ in page)
            # Each row names the unit through which the user sees that case (one of theirs that takes part); that
            # unit's assignment decides whether a protected identity is shown.
            through = [unit_id or min(units & set(c.visible_unit_ids())) for c, _, _ in page]
            items = [summary(c, patients[p], self._policy, now, unit_id=u,
                             reveal=authorization.reveals_protected_identity(user, u))
                     for (c, p, _), u in zip(page, through, strict=True)]
            await access_log.append(uow.session, [
                {"at": now, "user_id": user.id, "user_hsa_id": user.hsa_id, "patient_id": p, "case_id": c.id,
                 "unit_id": u, "action": "list_cases", "purpose": "care_coordination"}
                for (c, p, _), u in zip(page, through, strict=True)])
            await uow.commit()
            return CasePage(items=items, total=len(rows), limit=limit, offset=offset)

    # ----- helpers --------------------------------------------------------------------------------------------

    def _acting_unit(self, user: CurrentUser, case: DischargeCase | None, requested: str | None) -> str:
        """The unit the user acts for: one of theirs that can see the case (404 if none can)."""
        mine = authorization.require_case_units(user)
        candidates = sorted(mine & set(case.visible_unit_ids())) if case else []
        if not candidates:
            raise NotVisible("no such case")
        if requested is not None:
            if requested not in candidates:
                raise Forbidden("you cannot act for this unit on this case", field="X-Acting-Unit")
            return requested
        if len(candidates) > 1:
            raise Invalid("you take part through several units: choose one", field="X-Acting-Unit")
        return candidates[0]

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
            if acting is not None and PART_OF_KIND.get(UnitKind(acting.kind)) is not part:
                raise Invalid("a case can only be forwarded to a unit of the same kind", field=field)
        if isinstance(command, AppointNamedCareContact):
            assignments = await uow.directory.assignments(command.contact_user_id)
            if not any(a.unit_id == unit_id for a in assignments):
                raise Invalid("the named care contact must work at your unit", field="contact_user_id")
        return command

    async def _upsert_patient(self, uow: UnitOfWork, request: RegisterCase, now: datetime) -> PatientRow:
        try:
            identity = parse_patient_identity(request.patient.identity, today=now.date())
        except InvalidIdentity as exc:
            raise Invalid(str(exc), field="patient.identity") from None
        row = await uow.patients.by_identity(identity.value)
        data = request.patient
        if row is None:
            row = PatientRow(id=str(uuid.uuid4()), identity_kind=str(identity.kind), identity_value=identity.value,
                             created_at=now, name=data.name, address=data.address,
                             municipality_code=data.municipality_code, listed_unit_id=data.listed_unit_id,
                             protected_identity=data.protected_identity)
            uow.patients.add(row)
        else:
            row.name, row.address, row.municipality_code = data.name, data.address, data.municipality_code
            row.listed_unit_id, row.protected_identity = data.listed_unit_id, data.protected_identity
        await uow.session.flush()
        return row

    async def _receivers(self, uow: UnitOfWork, request: RegisterCase, patient: PatientRow) -> list[tuple[str, Part]]:
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
        intake = await uow.directory.municipal_intake_unit(patient.municipality_code, request.patient.district)
        if intake is None:
            raise Invalid("no municipal unit receives notices for this municipality",
                          field="patient.municipality_code")
        receivers = [(intake.id, Part.MUNICIPAL)]
        if patient.listed_unit_id:
            listed = await uow.directory.unit(patient.listed_unit_id)
            if listed is None or PART_OF_KIND.get(UnitKind(listed.kind)) is not Part.PRIMARY_CARE:
                raise Invalid("the listing unit is not a primary care unit", field="patient.listed_unit_id")
            receivers.append((listed.id, Part.PRIMARY_CARE))
        return receivers

    async def _detail(self, uow: UnitOfWork, case: DischargeCase, patient: PatientRow, now: datetime,
                      user: CurrentUser, unit_id: str) -> CaseDetail:
        """The case as `user` sees it acting for `unit_id` (which decides whether a protected identity shows)."""
        units = await uow.directory.units(p.unit_id for p in case.participants)
        amounts = await uow.directory.payment_amounts()
        return detail(case, patient, units, self._policy, amounts, now, unit_id=unit_id,
                      reveal=authorization.reveals_protected_identity(user, unit_id))

    async def _detail_body(self, uow: UnitOfWork, case: DischargeCase, patient: PatientRow, now: datetime,
                           user: CurrentUser, unit_id: str) -> bytes:
        return msgspec.json.encode(await self._detail(uow, case, patient, now, user, unit_id))

