"""Commands on a discharge case, in the imperative, and the one function that applies them.

A command carries what the user asked for; `apply` calls the aggregate method that enforces the rules.
Registering a case creates the aggregate instead (see `DischargeCase.register`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.discharge_case import Actor, DischargeCase, InterruptionReason, Part, RejectionReason
from domain.errors import InvalidValue
from domain.planning import HomeReadiness, PlanningForm


@dataclass(frozen=True, kw_only=True)
class CaseCommand:
    """A command on an existing case; `expected_version` guards against stale writes."""

    case_id: str
    expected_version: int

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        """Call the aggregate method that enforces the rules (raises a DomainError if they forbid it)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class SendAdmissionNotice(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_admission_notice(actor, now)


@dataclass(frozen=True, kw_only=True)
class RecordNeedsIdentified(CaseCommand):
    at: datetime

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.record_needs_identified(actor, self.at, now)


@dataclass(frozen=True, kw_only=True)
class Acknowledge(CaseCommand):
    notice_ids: tuple[str, ...] | None = None

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.acknowledge(actor, now, list(self.notice_ids) if self.notice_ids is not None else None)


@dataclass(frozen=True, kw_only=True)
class Forward(CaseCommand):
    to_unit_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.forward(actor, self.to_unit_id, now)


@dataclass(frozen=True, kw_only=True)
class Reject(CaseCommand):
    reason: RejectionReason

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.reject(actor, self.reason, now)


@dataclass(frozen=True, kw_only=True)
class AddParticipant(CaseCommand):
    unit_id: str
    part: Part | None = None  # decided from the unit's kind by the application when not given

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        if self.part is None:
            raise InvalidValue("the part of the added unit is not known", field="part")
        case.add_participant(actor, self.unit_id, self.part, now)


@dataclass(frozen=True, kw_only=True)
class RemoveParticipant(CaseCommand):
    unit_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.remove_participant(actor, self.unit_id, now)


@dataclass(frozen=True, kw_only=True)
class AppointNamedCareContact(CaseCommand):
    contact_user_id: str

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.appoint_named_care_contact(actor, self.contact_user_id, now)


@dataclass(frozen=True, kw_only=True)
class ChangeEstimatedDischarge(CaseCommand):
    estimated_discharge_at: datetime

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.change_estimated_discharge(actor, self.estimated_discharge_at, now)


@dataclass(frozen=True, kw_only=True)
class UpdatePlanning(CaseCommand):
    form: PlanningForm

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.update_planning(actor, self.form, now)


@dataclass(frozen=True, kw_only=True)
class MarkReadyForDischarge(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.mark_ready_for_discharge(actor, now)


@dataclass(frozen=True, kw_only=True)
class WithdrawReadyForDischarge(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.withdraw_ready_for_discharge(actor, now)


@dataclass(frozen=True, kw_only=True)
class SetSipApplies(CaseCommand):
    applies: bool

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.set_sip_applies(actor, self.applies, now)


@dataclass(frozen=True, kw_only=True)
class SendSipInvitation(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_sip_invitation(actor, now)


@dataclass(frozen=True, kw_only=True)
class SetLiabilityFacts(CaseCommand):
    patient_refused_services: bool
    outpatient_services_missing: bool

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.set_liability_facts(actor, now, patient_refused_services=self.patient_refused_services,
                                 outpatient_services_missing=self.outpatient_services_missing)


@dataclass(frozen=True, kw_only=True)
class UpdateHomeReadiness(CaseCommand):
    readiness: HomeReadiness

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.update_home_readiness(actor, self.readiness, now)


@dataclass(frozen=True, kw_only=True)
class StartLeave(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.start_leave(actor, now)


@dataclass(frozen=True, kw_only=True)
class EndLeave(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.end_leave(actor, now)


@dataclass(frozen=True, kw_only=True)
class SendDischargeNotice(CaseCommand):
    discharged_at: datetime

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.send_discharge_notice(actor, self.discharged_at, now)


@dataclass(frozen=True, kw_only=True)
class Interrupt(CaseCommand):
    reason: InterruptionReason

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.interrupt(actor, self.reason, now)


@dataclass(frozen=True, kw_only=True)
class Cancel(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.cancel(actor, now)


@dataclass(frozen=True, kw_only=True)
class Close(CaseCommand):

    def apply_to(self, case: DischargeCase, actor: Actor, now: datetime) -> None:
        case.close(actor, now)
