"""Commands on a discharge case, in the imperative, and the one function that applies them.

A command carries what the user asked for; `apply_to` calls the aggregate method that enforces the rules.
Registering a case creates the aggregate instead (see `DischargeCase.register`).

Guards against lost updates, by kind of command (as for a SIP plan, `domain.sip.commands`):

- `ChangePlanning` carries each edited field's `expected_revision` and **must not** be checked against the
  case's `version`: two people editing different planning fields (of one form or of different units' forms)
  never conflict, and no other action on the case makes a planning edit stale.
- every other command is a `VersionedCaseCommand`: the application compares `expected_version` with the case's
  `version` (409 with the current case when stale). `UpdatePlanning` (the whole form at once) is one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from domain.case_refusals import CaseAction
from domain.discharge_case import Actor, DischargeCase, InterruptionReason, Part, RejectionReason
from domain.discharge_notice import DischargeInformation
from domain.errors import InvalidValue
from domain.planning import HomeReadiness, PlanningEdit, PlanningForm


@dataclass(frozen=True, kw_only=True)
class CaseCommand:
    """A command on an existing case. `action` names the rule (`DischargeCase.refusal`) its aggregate method
    enforces: the application may check it before it looks at the command's arguments."""

    action: ClassVar[CaseAction]
    case_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        """Call the aggregate method that enforces the rules (raises a DomainError if they forbid it)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class VersionedCaseCommand(CaseCommand):
    """A command guarded by the whole case's `version`: `expected_version` is the version the user last read."""

    expected_version: int


@dataclass(frozen=True, kw_only=True)
class ChangePlanning(CaseCommand):
    """Set fields of the acting unit's planning form, each guarded by its own revision (not the case's version)."""

    action: ClassVar[CaseAction] = CaseAction.UPDATE_PLANNING
    edits: tuple[PlanningEdit, ...]

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.change_planning(actor, self.edits, now)


@dataclass(frozen=True, kw_only=True)
class SendAdmissionNotice(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.SEND_ADMISSION_NOTICE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_admission_notice(actor, now)


@dataclass(frozen=True, kw_only=True)
class RecordNeedsIdentified(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.RECORD_NEEDS_IDENTIFIED
    at: datetime

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.record_needs_identified(actor, self.at, now)


@dataclass(frozen=True, kw_only=True)
class Acknowledge(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.ACKNOWLEDGE
    notice_ids: tuple[str, ...] | None = None

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.acknowledge(actor, now, list(self.notice_ids) if self.notice_ids is not None else None)


@dataclass(frozen=True, kw_only=True)
class Forward(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.FORWARD
    to_unit_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.forward(actor, self.to_unit_id, now)


@dataclass(frozen=True, kw_only=True)
class Reject(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.REJECT
    reason: RejectionReason

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.reject(actor, self.reason, now)


@dataclass(frozen=True, kw_only=True)
class AddParticipant(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.ADD_PARTICIPANT
    unit_id: str
    part: Part | None = None  # decided from the unit's kind by the application when not given

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        if self.part is None:
            raise InvalidValue("the part of the added unit is not known", field="part")
        case.add_participant(actor, self.unit_id, self.part, now)


@dataclass(frozen=True, kw_only=True)
class RemoveParticipant(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.REMOVE_PARTICIPANT
    unit_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.remove_participant(actor, self.unit_id, now)


@dataclass(frozen=True, kw_only=True)
class AppointNamedCareContact(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.APPOINT_NAMED_CARE_CONTACT
    contact_user_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.appoint_named_care_contact(actor, self.contact_user_id, now)


@dataclass(frozen=True, kw_only=True)
class ChangeEstimatedDischarge(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.CHANGE_ESTIMATED_DISCHARGE
    estimated_discharge_at: datetime

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.change_estimated_discharge(actor, self.estimated_discharge_at, now)


@dataclass(frozen=True, kw_only=True)
class UpdatePlanning(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.UPDATE_PLANNING
    form: PlanningForm

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.update_planning(actor, self.form, now)


@dataclass(frozen=True, kw_only=True)
class MarkReadyForDischarge(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.MARK_READY_FOR_DISCHARGE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.mark_ready_for_discharge(actor, now)


@dataclass(frozen=True, kw_only=True)
class WithdrawReadyForDischarge(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.WITHDRAW_READY_FOR_DISCHARGE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.withdraw_ready_for_discharge(actor, now)


@dataclass(frozen=True, kw_only=True)
class SetSipApplies(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.SET_SIP_APPLIES
    applies: bool
    consent: bool | None = None

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.set_sip_applies(actor, self.applies, now, consent=self.consent)


@dataclass(frozen=True, kw_only=True)
class SendSipInvitation(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.SEND_SIP_INVITATION

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_sip_invitation(actor, now)


@dataclass(frozen=True, kw_only=True)
class SetLiabilityFacts(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.SET_LIABILITY_FACTS
    patient_refused_services: bool
    outpatient_services_missing: bool

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.set_liability_facts(actor, now, patient_refused_services=self.patient_refused_services,
                                 outpatient_services_missing=self.outpatient_services_missing)


@dataclass(frozen=True, kw_only=True)
class UpdateHomeReadiness(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.UPDATE_HOME_READINESS
    readiness: HomeReadiness

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.update_home_readiness(actor, self.readiness, now)


@dataclass(frozen=True, kw_only=True)
class StartLeave(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.START_LEAVE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.start_leave(actor, now)


@dataclass(frozen=True, kw_only=True)
class EndLeave(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.END_LEAVE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.end_leave(actor, now)


@dataclass(frozen=True, kw_only=True)
class SendDischargeNotice(VersionedCaseCommand):
    """The patient has left at `discharged_at` (the actual time, not later than now); `information` is what the
    receivers need (`domain.discharge_notice`)."""

    action: ClassVar[CaseAction] = CaseAction.SEND_DISCHARGE_NOTICE
    discharged_at: datetime
    information: DischargeInformation

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_discharge_notice(actor, self.discharged_at, now, information=self.information)


@dataclass(frozen=True, kw_only=True)
class Interrupt(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.INTERRUPT
    reason: InterruptionReason

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.interrupt(actor, self.reason, now)


@dataclass(frozen=True, kw_only=True)
class Cancel(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.CANCEL

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.cancel(actor, now)


@dataclass(frozen=True, kw_only=True)
class Close(VersionedCaseCommand):
    action: ClassVar[CaseAction] = CaseAction.CLOSE

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.close(actor, now)
