"""Events of a SIP plan, named in the past tense.

Events carry ids, codes, field and list names, revisions and unit ids only: never personal data (no names, no
personal identity numbers, no free text about the person, not even the person's id). An event says "field X
of plan P changed to revision R"; a client fetches the content through the API. `unit_ids` are the units
concerned: the units that see the plan (`SipPlan.visible_unit_ids`), plus a unit that loses sight of it by
the event itself (a removed unit; every unit that saw the plan when consent is withdrawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class SipEvent:
    plan_id: str
    occurred_at: datetime
    actor_user_id: str
    actor_unit_id: str
    unit_ids: tuple[str, ...] = field(default=())

    @property
    def type(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class SipPlanCreated(SipEvent):
    case_id: str | None  # the discharge case it belongs to, or None (created outside the discharge process)
    owner_unit_id: str
    participant_unit_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SipParticipantAdded(SipEvent):
    participant_kind: str  # "unit" or a NamedParticipantKind
    participant_id: str  # the unit id for a unit
    principal_id: str | None = None  # for a unit


@dataclass(frozen=True, kw_only=True)
class SipParticipantRemoved(SipEvent):
    participant_kind: str
    participant_id: str


@dataclass(frozen=True, kw_only=True)
class SipConsentGiven(SipEvent):
    consent_id: str
    given_by: str  # ConsentGiver
    scope_unit_ids: tuple[str, ...]
    next_of_kin_may_take_part: bool
    patient_portal: bool


@dataclass(frozen=True, kw_only=True)
class SipConsentWithdrawn(SipEvent):
    """Sharing has ended: every unit but the owner loses sight of the plan (all of them are told)."""

    consent_id: str


@dataclass(frozen=True, kw_only=True)
class SipFieldChanged(SipEvent):
    field: str  # PlanField
    revision: int  # the field's new revision
    content_revision: int  # the plan's new content revision


@dataclass(frozen=True, kw_only=True)
class SipItemAdded(SipEvent):
    list_name: str  # ItemList
    item_id: str
    revision: int
    content_revision: int


@dataclass(frozen=True, kw_only=True)
class SipItemChanged(SipEvent):
    list_name: str
    item_id: str
    revision: int
    content_revision: int


@dataclass(frozen=True, kw_only=True)
class SipItemRemoved(SipEvent):
    list_name: str
    item_id: str
    content_revision: int


@dataclass(frozen=True, kw_only=True)
class SipApprovalsInvalidated(SipEvent):
    """Pending approvals no longer hold (the content or the principals taking part changed)."""

    principal_ids: tuple[str, ...]
    content_revision: int


@dataclass(frozen=True, kw_only=True)
class SipMeetingScheduled(SipEvent):
    meeting_id: str
    starts_at: datetime
    ends_at: datetime
    invited_unit_ids: tuple[str, ...]
    invited_participant_ids: tuple[str, ...]
    person_invited: bool
    first_invitation: bool  # the plan's first meeting invitation (the case's SIP invitation, if any)


@dataclass(frozen=True, kw_only=True)
class SipMeetingRescheduled(SipEvent):
    meeting_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, kw_only=True)
class SipMeetingCancelled(SipEvent):
    meeting_id: str


@dataclass(frozen=True, kw_only=True)
class SipInvitationAnswered(SipEvent):
    meeting_id: str
    invitee_kind: str  # InviteeKind
    invitee_ref: str  # a unit id, "person", or a named participant's id
    answer: str  # Answer


@dataclass(frozen=True, kw_only=True)
class SipVersionApproved(SipEvent):
    principal_id: str
    content_revision: int


@dataclass(frozen=True, kw_only=True)
class SipVersionAgreed(SipEvent):
    version_number: int
    content_revision: int
    principal_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SipFollowedUp(SipEvent):
    follow_up_id: str
    version_number: int


@dataclass(frozen=True, kw_only=True)
class SipPlanHandedOver(SipEvent):
    """The owner unit handed the plan over to another unit taking part (it is the owner from now on)."""

    from_unit_id: str
    to_unit_id: str


@dataclass(frozen=True, kw_only=True)
class SipPlanClosed(SipEvent):
    reason_code: str  # CloseReason


@dataclass(frozen=True, kw_only=True)
class SipPersonIdentityMerged(SipEvent):
    """The plan's person, registered under a reserve number, is identified: an administrator merged the reserve
    number into the person's real identity, which the plan now belongs to (which identity is never in the event)."""


SIP_EVENT_TYPES: dict[str, type[SipEvent]] = {
    cls.__name__: cls
    for cls in (
        SipPlanCreated, SipParticipantAdded, SipParticipantRemoved, SipConsentGiven, SipConsentWithdrawn,
        SipFieldChanged, SipItemAdded, SipItemChanged, SipItemRemoved, SipApprovalsInvalidated,
        SipMeetingScheduled, SipMeetingRescheduled, SipMeetingCancelled, SipInvitationAnswered,
        SipVersionApproved, SipVersionAgreed, SipFollowedUp, SipPlanHandedOver, SipPlanClosed,
        SipPersonIdentityMerged,
    )
}
