"""Read models of a discharge case: what the API shows, with deadlines and payment computed live."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime

import msgspec

from domain.deadlines import case_deadlines, payment_status, responsible_unit_ids, worst_open_state
from domain.discharge_case import DischargeCase, Part
from domain.discharge_notice import DischargeInformation
from domain.identity import parse_patient_identity
from domain.payment import PaymentPolicy
from domain.planning import PlanningField
from server.persistence.models import Person, UnitRow
from server.persistence.repositories import DirectoryNames
from server.schemas.cases import (
    AcknowledgementOut,
    AckStatusOut,
    AfterDischargeContactOut,
    CaseContextOut,
    CaseDetail,
    CaseSummary,
    DeadlineOut,
    DischargeInformationOut,
    NoticeOut,
    ParticipantOut,
    PatientOut,
    PaymentOut,
    PlanningOut,
    TimelineOut,
    UnitRefOut,
)

PROTECTED_NAME = "Skyddad identitet"


def patient_out(row: Person, *, reveal: bool = False) -> PatientOut:
    """Protected identity: name and address are masked (the identity number stays, it is needed for care) unless
    `reveal`: the user's assignment at the acting unit carries the explicit need
    (`authorization.reveals_protected_identity`)."""
    identity = parse_patient_identity(row.identity_value)
    masked = row.protected_identity and not reveal
    return PatientOut(
        id=row.id, identity_kind=row.identity_kind,
        identity=identity.formatted,
        name=PROTECTED_NAME if masked else row.name, address="" if masked else row.address,
        municipality_code=row.municipality_code, protected_identity=row.protected_identity,
        birth_date=identity.birth_date, masked=masked)


def unit_ref(names: DirectoryNames, unit_id: str) -> UnitRefOut:
    unit = names.units.get(unit_id)
    return UnitRefOut(id=unit_id, name=unit.name if unit else unit_id, phone=unit.phone if unit else None)


def context_out(case: DischargeCase, patient: Person, names: DirectoryNames) -> CaseContextOut:
    ward = names.units.get(case.ward_unit_id)
    contact = names.people.get(case.named_care_contact.user_id) if case.named_care_contact else None
    contact_name = None
    if contact is not None:
        contact_name = f"{contact.display_name}, {contact.title}" if contact.title else contact.display_name
    return CaseContextOut(
        hospital=names.organisations.get(ward.organisation_id, "") if ward else "",
        ward=unit_ref(names, case.ward_unit_id),
        municipality=names.municipalities.get(patient.municipality_code),
        municipal_units=[unit_ref(names, p.unit_id) for p in case.participants
                         if p.active and p.part is Part.MUNICIPAL],
        primary_care_units=[unit_ref(names, p.unit_id) for p in case.participants
                            if p.active and p.part is Part.PRIMARY_CARE],
        named_care_contact=contact_name)


def summary(case: DischargeCase, patient: Person, policy: PaymentPolicy, now: datetime, *, unit_id: str,
            reveal: bool = False, names: DirectoryNames | None = None) -> CaseSummary:
    """One row of a board or inbox as `unit_id` (the acting unit) sees it: what that unit may do is the domain's
    rule (`DischargeCase.refusal`), the same one every command checks."""
    deadlines = case_deadlines(case, policy, now)
    worst = worst_open_state(deadlines)
    refusals = case.refusals(unit_id)
    return CaseSummary(
        id=case.id, version=case.version, state=str(case.state), open=case.state.is_open, care_type=str(case.care_type),
        patient=patient_out(patient, reveal=reveal), ward_unit_id=case.ward_unit_id, admitted_at=case.admitted_at,
        estimated_discharge_at=case.estimated_discharge_at, ready_for_discharge_at=case.ready_for_discharge_at,
        discharged_at=case.discharged_at, discharge_information=discharge_information_out(case.discharge_information),
        deadlines=[DeadlineOut(kind=str(d.kind), due_at=d.due_at, met_at=d.met_at, state=str(d.state),
                               responsible_part=d.kind.responsible_part, estimated=d.estimated,
                               responsible_unit_ids=list(responsible_unit_ids(case, d.kind))) for d in deadlines],
        deadline_state=str(worst) if worst else None,
        acknowledgement_status=[AckStatusOut(unit_id=u, unacknowledged=len(case.unacknowledged(u)))
                                for u in case.receiving_unit_ids()],
        on_leave=case.on_leave, acting_unit_id=unit_id,
        allowed_actions=[a for a, r in refusals.items() if r is None],
        refused_actions={str(a): str(r.reason or r.code) for a, r in refusals.items() if r is not None},
        inbox_unit_ids=list(case.inbox_unit_ids()),
        context=context_out(case, patient, names) if names is not None else None)


def detail(case: DischargeCase, patient: Person, units: Mapping[str, UnitRow], policy: PaymentPolicy,
           amounts: Mapping[int, int], now: datetime, *, unit_id: str, reveal: bool = False,
           names: DirectoryNames | None = None) -> CaseDetail:
    base = summary(case, patient, policy, now, unit_id=unit_id, reveal=reveal, names=names)
    status = payment_status(case, policy, amounts, now)
    liability = status.liability
    return CaseDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        participants=[ParticipantOut(unit_id=p.unit_id, unit_name=_unit_name(units, p.unit_id), part=p.part,
                                     status=str(p.status), added_at=p.added_at, forwarded_to=p.forwarded_to)
                      for p in case.participants],
        notices=[NoticeOut(id=n.id, kind=str(n.kind), sent_at=n.sent_at, sent_by_user_id=n.sent_by_user_id,
                           sent_by_unit_id=n.sent_by_unit_id, recipient_unit_ids=list(n.recipient_unit_ids),
                           acknowledgements=[AcknowledgementOut(unit_id=u, user_id=a.user_id, at=a.at)
                                             for u, a in n.acknowledgements.items()],
                           cancelled=n.cancelled)
                 for n in case.notices],
        needs_identified_at=case.needs_identified_at, admission_notice_sent_at=case.admission_notice_sent_at,
        named_care_contact_user_id=case.named_care_contact.user_id if case.named_care_contact else None,
        sip_applies=case.sip_applies, sip_consent=case.sip_consent, sip_plan_id=case.sip_plan_id,
        sip_invitation_sent_at=case.sip_invitation_sent_at,
        discharge_notice_sent_at=case.discharge_notice_sent_at,
        patient_refused_services=case.patient_refused_services,
        outpatient_services_missing=case.outpatient_services_missing,
        home_readiness={k: bool(v) for k, v in asdict(case.home_readiness).items()},
        interruption_reason=str(case.interruption_reason) if case.interruption_reason else None,
        closed_at=case.closed_at,
        planning=[PlanningOut(unit_id=u, current_services=f.current_services,
                              expected_needs=[str(n) for n in f.expected_needs], aids=f.aids,
                              medication_handover=f.medication_handover, adl=f.adl, notes=f.notes,
                              updated_at=f.updated_at, updated_by_user_id=f.updated_by_user_id,
                              revisions={n.value: f.revision(n) for n in PlanningField})
                  for u, f in case.planning.items()],
        timeline=[TimelineOut(at=t.at, action=t.action, user_id=t.user_id, unit_id=t.unit_id, detail=t.detail)
                  for t in case.timeline],
        payment=PaymentOut(policy=liability.policy_name, liable=liability.liable,
                           reasons_not_liable=list(status.reasons_not_liable), day_zero=liability.day_zero,
                           liability_starts_on=liability.liability_starts_on, days_ready=liability.days_ready,
                           liable_days=liability.liable_days, amount_sek=liability.amount_sek,
                           missing_amount_years=list(liability.missing_amount_years), stage=str(status.stage),
                           reasons_pending=list(status.reasons_pending),
                           liability_ends_on=status.liability_ends_on))


def discharge_information_out(information: DischargeInformation | None) -> DischargeInformationOut | None:
    if information is None:
        return None
    return DischargeInformationOut(
        destination=str(information.destination), destination_detail=information.destination_detail,
        contacts=[AfterDischargeContactOut(name=c.name, phone=c.phone) for c in information.contacts],
        handover=information.handover,
        medication_list=str(information.medication_list) if information.medication_list else None,
        medication_list_text=information.medication_list_text)


def _unit_name(units: Mapping[str, UnitRow], unit_id: str) -> str:
    unit = units.get(unit_id)
    return unit.name if unit else unit_id


# ----- inbox of a receiving unit (municipal or primary care) --------------------------------------------------


class InboxNoticeOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    sent_at: datetime


class InboxItemOut(msgspec.Struct, kw_only=True):
    """One case in a receiving unit's inbox, with the notices that unit has not acknowledged yet."""

    case: CaseSummary
    part: str
    unacknowledged: list[InboxNoticeOut]


class InboxOut(msgspec.Struct, kw_only=True):
    """One page of a unit's inbox (`GET /units/{unit_id}/inbox?limit=&after=`)."""

    unit_id: str
    unread: int  # notices not yet acknowledged by the unit, over all its cases (the badge), not only this page
    # cases with unread notices first, newest notice first; then the others, newest admission first
    items: list[InboxItemOut]
    next: str | None = None  # the position of the following page (`after=`), None after the last


class UnreadOut(msgspec.Struct, kw_only=True):
    """The unread counter of a unit's inbox (`GET /units/{unit_id}/inbox/unread`)."""

    unit_id: str
    unread: int


class PersonOut(msgspec.Struct, kw_only=True):
    """A member of staff (no patient data): for names in timelines, presence and the named-care-contact choice."""

    id: str
    display_name: str
    title: str


def inbox_item(case: DischargeCase, patient: Person, unit_id: str, policy: PaymentPolicy,
               now: datetime, *, reveal: bool = False, names: DirectoryNames | None = None) -> InboxItemOut:
    part = case.part_of(unit_id)
    return InboxItemOut(
        case=summary(case, patient, policy, now, unit_id=unit_id, reveal=reveal, names=names),
        part=str(part) if part else "",
        unacknowledged=[InboxNoticeOut(id=n.id, kind=str(n.kind), sent_at=n.sent_at)
                        for n in sorted(case.unacknowledged(unit_id), key=lambda n: n.sent_at, reverse=True)])
