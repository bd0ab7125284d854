"""Events of a discharge case, named in the past tense.

Events carry identifiers, codes and timestamps only, never personal data (no names, no personal identity
numbers, no free text): a consumer that needs the data fetches the case through the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class CaseEvent:
    """Common fields. `unit_ids` are the units concerned: every one of them is told."""

    case_id: str
    occurred_at: datetime
    actor_user_id: str
    actor_unit_id: str
    unit_ids: tuple[str, ...] = field(default=())

    @property
    def type(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class CaseRegistered(CaseEvent):
    care_type: str
    routed_by_hand: bool = False  # the receivers were chosen by the ward, not by the routing rule (reason: timeline)


@dataclass(frozen=True, kw_only=True)
class AdmissionNoticeSent(CaseEvent):
    notice_id: str
    recipient_unit_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class NoticeAcknowledged(CaseEvent):
    notice_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ParticipantAdded(CaseEvent):
    unit_id: str
    part: str


@dataclass(frozen=True, kw_only=True)
class ParticipantRemoved(CaseEvent):
    unit_id: str


@dataclass(frozen=True, kw_only=True)
class CaseForwarded(CaseEvent):
    from_unit_id: str
    to_unit_id: str


@dataclass(frozen=True, kw_only=True)
class CaseRejected(CaseEvent):
    """A receiving unit answered that the case is not theirs."""

    unit_id: str
    reason_code: str


@dataclass(frozen=True, kw_only=True)
class NamedCareContactAppointed(CaseEvent):
    contact_user_id: str


@dataclass(frozen=True, kw_only=True)
class EstimatedDischargeChanged(CaseEvent):
    notice_id: str | None
    estimated_discharge_at: datetime


@dataclass(frozen=True, kw_only=True)
class PlanningUpdated(CaseEvent):
    """A unit changed its planning form; `fields` names the fields whose value changed (codes, never text)."""

    unit_id: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ReadyForDischargeSent(CaseEvent):
    notice_id: str


@dataclass(frozen=True, kw_only=True)
class ReadyForDischargeWithdrawn(CaseEvent):
    notice_id: str


@dataclass(frozen=True, kw_only=True)
class SipApplicabilityChanged(CaseEvent):
    sip_applies: bool
    sip_consent: bool | None = None


@dataclass(frozen=True, kw_only=True)
class SipInvitationSent(CaseEvent):
    notice_id: str


@dataclass(frozen=True, kw_only=True)
class LiabilityFactsChanged(CaseEvent):
    """Facts that decide payment liability changed (services refused, outpatient services missing)."""


@dataclass(frozen=True, kw_only=True)
class HomeReadinessUpdated(CaseEvent):
    home_ready: bool


@dataclass(frozen=True, kw_only=True)
class LeaveStarted(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class LeaveEnded(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class DischargeNoticeSent(CaseEvent):
    """The patient left at `discharged_at`. `destination` is the code of where they went (`Destination`; None in
    events recorded before the notice carried it); the notice's text stays in the case."""

    notice_id: str
    discharged_at: datetime
    destination: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseInterrupted(CaseEvent):
    reason_code: str


@dataclass(frozen=True, kw_only=True)
class CaseCancelled(CaseEvent):
    """The case was sent by mistake (felsänt meddelande); receivers are told to disregard it."""


@dataclass(frozen=True, kw_only=True)
class CaseClosed(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class PatientIdentityMerged(CaseEvent):
    """The person the case was registered for under a reserve number is identified: an administrator merged the
    reserve number into the person's real identity, which the case now belongs to. Which identity is never in the
    event (a client reads the case again)."""


EVENT_TYPES: dict[str, type[CaseEvent]] = {
    cls.__name__: cls
    for cls in (
        CaseRegistered, AdmissionNoticeSent, NoticeAcknowledged, ParticipantAdded, ParticipantRemoved,
        CaseForwarded, CaseRejected, NamedCareContactAppointed, EstimatedDischargeChanged, PlanningUpdated,
        ReadyForDischargeSent, ReadyForDischargeWithdrawn, SipApplicabilityChanged, SipInvitationSent,
        LiabilityFactsChanged, HomeReadinessUpdated, LeaveStarted, LeaveEnded, DischargeNoticeSent,
        CaseInterrupted, CaseCancelled, CaseClosed, PatientIdentityMerged,
    )
}
