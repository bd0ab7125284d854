"""Merging a reserve number into the person's real identity (*sammanslagning av reservnummer*).

A patient whose identity was unknown at admission is registered under a reserve number (*reservnummer*, `99…`).
Once the person is identified, an administrator merges it into the personnummer or samordningsnummer: every case
and SIP plan of the reserve number moves to the real identity's patient row (created if the person is new to
Samplan), each as a recorded change of the case or plan (`PatientIdentityMerged`, `SipPersonIdentityMerged`: the
version moves on, the units that see it are told, the case's timeline says so). History is kept:

- the reserve number's row stays, pointing at the real identity (`merged_into_patient_id`, migration 0009); the
  access log's rows of it are never changed (the log is append-only), and the log search by the real identity
  finds them through this link (`AuditService.search`);
- each case and plan keeps its own copy of the person's details (docs/adr/0002-patient-identity.md): the merge
  moves the identity, not the name a ward registered;
- the merge is recorded in the admin log (`merge_patient_identity`, ids only) and in the access log (one row for
  each of the two identities, purpose `administration`).

Protection is monotonic here too: if either identity is protected, the real identity is afterwards. A later
registration with the merged reserve number finds the real identity (`patients.upsert_patient`).

Who may: `authorization.identity_merge_unit` (central administrators; local access administrators of an
organisation taking part in the person's cases or plans). Refusals: 422 `not_a_reserve_number` / `invalid_identity`,
404 for a reserve number unknown or not theirs, 409 `identity_already_merged` and `open_case_at_same_ward` (the
person already has an open case at a ward where the reserve number has one: one of them must be closed or
cancelled first, as a registration would be refused).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select, update

from domain.discharge_case import Actor, CaseState
from domain.identity import IdentityKind
from realtime.envelope import AggregateType
from server import access_log
from server import authorization as authz
from server.errors import Conflict, Invalid, NotVisible
from server.persistence.models import AdminLogRow, CaseParticipantRow, CaseRow, UnitRow
from server.persistence.sip_models import SipPlanRow, SipPlanUnitRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.admin import IdentityMerge, IdentityMergeOut
from server.services.patients import find_or_create, read_identity

ADMINISTRATION_PURPOSE = "administration"


class PatientMergeService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._clock = clock

    async def merge(self, user: CurrentUser, data: IdentityMerge) -> IdentityMergeOut:
        now = self._clock()
        reserve = read_identity(data.reserve_number, now, field="reserve_number")
        if reserve.kind is not IdentityKind.RESERVNUMMER:
            raise Invalid("this is not a reserve number", field="reserve_number", code="not_a_reserve_number")
        real = read_identity(data.identity, now, field="identity")
        if real.kind is IdentityKind.RESERVNUMMER:
            raise Invalid("the real identity is a personnummer or samordningsnummer", field="identity",
                          code="invalid_identity")
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            source = await uow.patients.by_identity(reserve.value)
            if source is None:
                authz.identity_merge_unit(g, ())  # 403 for a non-administrator, else 404
                raise NotVisible("no such reserve number")
            # Whose it is: the organisations taking part in its cases and plans (once merged: the real identity's)
            holder = source.merged_into_patient_id or source.id
            case_ids = list(await uow.session.scalars(
                select(CaseRow.id).where(CaseRow.patient_id == holder).order_by(CaseRow.id)))
            plan_ids = list(await uow.session.scalars(
                select(SipPlanRow.id).where(SipPlanRow.patient_id == holder).order_by(SipPlanRow.id)))
            unit_id = authz.identity_merge_unit(g, await _organisations_concerned(uow, case_ids, plan_ids))
            if source.merged_into_patient_id is not None:
                raise Conflict("this reserve number is already merged", field="reserve_number",
                               code="identity_already_merged")
            target = await find_or_create(uow, real, now, protected=source.protected_identity)
            await _check_open_cases(uow, source.id, target.id)
            actor = Actor(user.id, unit_id)
            cases = [c for c in [await uow.cases.get(i, for_update=True) for i in case_ids] if c is not None]
            plans = [p for p in [await uow.sip_plans.get(i, for_update=True) for i in plan_ids] if p is not None]
            for case in cases:
                case.merge_patient_identity(actor, target.id, now)
            for plan in plans:
                plan.merge_person_identity(actor, target.id, now)
            await uow.lock_feeds({u for c in cases for e in c.pending_events for u in e.unit_ids}
                                 | {u for p in plans for e in p.pending_events for u in e.unit_ids})
            for case in cases:
                await uow.cases.save(case, now)
                await uow.record_events(case, AggregateType.DISCHARGE_CASE)
            for plan in plans:
                await uow.sip_plans.save(plan, now)
                await uow.record_events(plan, AggregateType.SIP_PLAN)
            await uow.session.execute(update(CaseRow).where(CaseRow.id.in_(case_ids)).values(patient_id=target.id))
            await uow.session.execute(update(SipPlanRow).where(SipPlanRow.id.in_(plan_ids))
                                      .values(patient_id=target.id))
            source.merged_into_patient_id, source.merged_at = target.id, now
            await uow.session.execute(insert(AdminLogRow).values(
                at=now, actor_user_id=user.id, actor_hsa_id=user.hsa_id, organisation_id=user.organisation_id,
                action="merge_patient_identity", target_type="patient", target_id=source.id,
                detail={"into_patient_id": target.id, "identity_kind": str(real.kind), "unit_id": unit_id,
                        "case_ids": case_ids, "sip_plan_ids": plan_ids}))
            await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[source.id, target.id],
                                    case_ids=[None, None], action="merge_patient_identity", at=now,
                                    purpose=ADMINISTRATION_PURPOSE)
            await uow.commit()
            return IdentityMergeOut(from_patient_id=source.id, to_patient_id=target.id, identity_kind=str(real.kind),
                                    case_ids=case_ids, sip_plan_ids=plan_ids,
                                    protected_identity=target.protected_identity)


async def _organisations_concerned(uow: UnitOfWork, case_ids: list[str], plan_ids: list[str]) -> set[str]:
    """The organisations whose units take part in the cases and plans (or took part: a case's every unit)."""
    units = select(CaseParticipantRow.unit_id).where(CaseParticipantRow.case_id.in_(case_ids)).union(
        select(CaseRow.ward_unit_id).where(CaseRow.id.in_(case_ids)),
        select(SipPlanUnitRow.unit_id).where(SipPlanUnitRow.plan_id.in_(plan_ids)),
        select(SipPlanRow.owner_unit_id).where(SipPlanRow.id.in_(plan_ids)))
    return set(await uow.session.scalars(select(UnitRow.organisation_id).where(UnitRow.id.in_(units)).distinct()))


async def _check_open_cases(uow: UnitOfWork, source_id: str, target_id: str) -> None:
    open_states = [str(s) for s in CaseState if s.is_open]
    wards = set(await uow.session.scalars(select(CaseRow.ward_unit_id).where(
        CaseRow.patient_id == source_id, CaseRow.state.in_(open_states))))
    for ward in sorted(wards):
        if await uow.cases.open_case_at_ward(target_id, ward):
            raise Conflict("the person already has an open case at a ward where the reserve number has one",
                           field="identity", code="open_case_at_same_ward")
