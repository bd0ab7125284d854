"""Request and response bodies of the SIP routes (`/api/v1/sip-plans`): msgspec validation and OpenAPI.

Content edits carry the edited field's or item's `expected_revision` (never the plan's version); structural
changes carry the plan's `expected_version`. Field values travel as text: `next_follow_up_on` as an ISO date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.sip import Answer, CloseReason, ConsentForm, ConsentGiver, InviteeKind, NamedParticipantKind, SipAction
from server.schemas.cases import DeadlineOut, PatientInput, PatientOut

Id = Annotated[str, Meta(min_length=1, max_length=64)]
ShortText = Annotated[str, Meta(max_length=200)]
FreeText = Annotated[str, Meta(max_length=4000)]
AwareTime = Annotated[datetime, Meta(tz=True, description="ISO 8601 with a time-zone offset.")]
PlanVersion = Annotated[int, Meta(ge=1, le=2_147_483_647, description="The version of the plan you last read.")]
Revision = Annotated[int, Meta(ge=0, le=2_147_483_647,
                               description="The revision of the field or item you last read (0: never set).")]
ItemRevision = Annotated[int, Meta(ge=1, le=2_147_483_647, description="The revision of the item you last read.")]
SipActionName = Annotated[SipAction, Meta(description="An action on the plan the acting unit may take now.")]


# ----- requests ---------------------------------------------------------------------------------------------

class CreateSipPlan(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Start a plan at your unit (the owner). With `case_id` the plan is opened from that discharge case (the
    person is the case's patient); without it, give the person."""

    owner_unit_id: Id
    case_id: Id | None = None
    person: PatientInput | None = None
    unit_ids: Annotated[list[Id], Meta(max_length=20)] = []
    plan_id: Annotated[str, Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                                 description="A client-chosen UUID (optional).")] | None = None


class FieldEditInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    value: FreeText | None
    expected_revision: Revision


class ItemContentInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One item's content. needs and goals: description. services: description, principal_id,
    responsible_unit_id, contact_person, when. measures: description, by_whom, participant_id, when."""

    description: FreeText
    principal_id: Id | None = None
    responsible_unit_id: Id | None = None
    contact_person: ShortText = ""
    when: ShortText = ""
    by_whom: ShortText = ""
    participant_id: Id | None = None


class AddItemInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: ItemContentInput
    item_id: Id | None = None


class ChangeItemInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: ItemContentInput
    expected_revision: ItemRevision


class RemoveItemInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expected_revision: ItemRevision


class PlanVersionOnly(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expected_version: PlanVersion


class AddUnitInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    unit_id: Id


class AddNamedParticipantInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    kind: NamedParticipantKind
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    organisation: ShortText = ""
    role: ShortText = ""
    participant_id: Id | None = None


class RemoveParticipantInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    participant_id: Id


class GiveConsentInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    given_by: ConsentGiver
    form: ConsentForm
    scope_unit_ids: Annotated[list[Id], Meta(max_length=20)]
    given_at: AwareTime
    next_of_kin_may_take_part: bool = True
    patient_portal: bool = False


class WithdrawConsentInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    withdrawn_at: AwareTime | None = None


class ScheduleMeetingInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    starts_at: AwareTime
    ends_at: AwareTime
    place: ShortText = ""
    video_link: Annotated[str, Meta(max_length=2000)] = ""
    invite_unit_ids: Annotated[list[Id], Meta(max_length=20)] | None = None
    invite_person: bool = True
    invite_participant_ids: Annotated[list[Id], Meta(max_length=20)] | None = None
    meeting_id: Id | None = None


class RescheduleMeetingInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    starts_at: AwareTime
    ends_at: AwareTime
    place: ShortText | None = None
    video_link: Annotated[str, Meta(max_length=2000)] | None = None


class AnswerInvitationInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: Answer
    invitee_kind: InviteeKind = InviteeKind.UNIT
    invitee_ref: Id | None = None


class ApproveInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content_revision: Annotated[int, Meta(ge=0, le=2_147_483_647)]


class FollowUpInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    held_at: AwareTime
    notes: FreeText = ""


class ClosePlanInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    reason: CloseReason


class HandOverInput(PlanVersionOnly, kw_only=True, forbid_unknown_fields=True):
    """The unit the owner hands the plan over to: one that takes part and sees it (`hand_over_unit_ids`)."""

    unit_id: Id


# ----- responses ---------------------------------------------------------------------------------------------

class FieldOut(msgspec.Struct, kw_only=True):
    value: str | None  # next_follow_up_on as an ISO date
    revision: int
    changed_at: datetime | None
    changed_by_user_id: str | None
    changed_by_unit_id: str | None


class ItemContentOut(msgspec.Struct, kw_only=True):
    description: str
    principal_id: str | None = None
    responsible_unit_id: str | None = None
    contact_person: str = ""
    when: str = ""
    by_whom: str = ""
    participant_id: str | None = None


class ItemOut(msgspec.Struct, kw_only=True):
    id: str
    revision: int
    content: ItemContentOut
    changed_at: datetime
    changed_by_user_id: str
    changed_by_unit_id: str


class ContentsOut(msgspec.Struct, kw_only=True):
    needs: list[ItemOut]
    services: list[ItemOut]
    measures: list[ItemOut]
    goals: list[ItemOut]
    own_contribution: FieldOut
    overall_responsibility: FieldOut
    next_follow_up_on: FieldOut


class SipUnitOut(msgspec.Struct, kw_only=True):
    unit_id: str
    unit_name: str
    principal_id: str
    principal_kind: str
    active: bool
    sees_plan: bool  # the consent in force names it (or it is the owner)
    added_at: datetime


class NamedParticipantOut(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    name: str  # masked for next of kin when the person has a protected identity
    organisation: str
    role: str
    active: bool


class ConsentOut(msgspec.Struct, kw_only=True):
    id: str
    given_by: str
    form: str
    scope_unit_ids: list[str]
    next_of_kin_may_take_part: bool
    patient_portal: bool
    given_at: datetime
    recorded_at: datetime
    recorded_by_unit_id: str
    withdrawn_at: datetime | None
    superseded_at: datetime | None
    active: bool


class ApprovalOut(msgspec.Struct, kw_only=True):
    principal_id: str
    content_revision: int
    user_id: str
    unit_id: str
    at: datetime


class InvitationOut(msgspec.Struct, kw_only=True):
    kind: str
    ref: str
    answer: str
    answered_at: datetime | None


class MeetingOut(msgspec.Struct, kw_only=True):
    id: str
    starts_at: datetime
    ends_at: datetime
    place: str
    video_link: str
    invitations: list[InvitationOut]
    scheduled_at: datetime
    scheduled_by_unit_id: str
    rescheduled_at: datetime | None
    cancelled_at: datetime | None


class FollowUpOut(msgspec.Struct, kw_only=True):
    id: str
    version_number: int
    held_at: datetime
    recorded_by_unit_id: str
    notes: str


class VersionSummaryOut(msgspec.Struct, kw_only=True):
    number: int
    content_revision: int
    agreed_at: datetime
    approvals: list[ApprovalOut]


class VersionOut(VersionSummaryOut, kw_only=True):
    contents: ContentsOut


class SipPlanSummary(msgspec.Struct, kw_only=True):
    id: str
    version: int
    state: str
    case_id: str | None
    owner_unit_id: str
    person: PatientOut
    created_at: datetime
    next_follow_up_on: date | None  # the date that applies now (see docs/api.md)
    current_version_number: int | None
    sharing_ended: bool
    visible_unit_ids: list[str]
    deadlines: list[DeadlineOut]


class ResponsiblePrincipalOut(msgspec.Struct, kw_only=True):
    """The principal with the overall responsibility (*huvudansvar*, statutory content 4)."""

    id: str
    name: str  # e.g. "Region Stockholm", "Solna stad"
    kind: str  # region | municipality
    version_number: int | None  # the agreed version in force that names it; None: named by the working contents


class SipPlanDetail(SipPlanSummary, kw_only=True):
    created_by_user_id: str
    acting_unit_id: str  # the unit this answer is for: `allowed_actions` are that unit's
    allowed_actions: list[SipActionName]  # what the acting unit may do now (docs/api.md, "What the acting unit may do")
    refused_actions: dict[str, str]  # every other action -> the code its command would be refused with now
    responsible_principal: ResponsiblePrincipalOut | None  # from the version in force, else the working contents
    hand_over_unit_ids: list[str]  # the units the owner may hand the plan over to
    units: list[SipUnitOut]
    named_participants: list[NamedParticipantOut]
    consent: ConsentOut | None
    consents: list[ConsentOut]
    contents: ContentsOut
    content_revision: int
    principal_ids: list[str]
    approvals: list[ApprovalOut]
    missing_for_agreement: list[str]
    has_unagreed_changes: bool
    versions: list[VersionSummaryOut]
    meetings: list[MeetingOut]
    first_invitation_sent_at: datetime | None
    follow_ups: list[FollowUpOut]
    closed_at: datetime | None
    close_reason: str | None


class SipPlanPage(msgspec.Struct, kw_only=True):
    items: list[SipPlanSummary]
    total: int
    limit: int
    offset: int


class FieldChangeOut(msgspec.Struct, kw_only=True):
    field: str
    before: str | None
    after: str | None


class ItemChangeOut(msgspec.Struct, kw_only=True):
    list_name: str
    item_id: str
    kind: str
    before: ItemContentOut | None
    after: ItemContentOut | None


class SipDiffOut(msgspec.Struct, kw_only=True):
    plan_id: str
    from_version: int
    to_version: int | None  # None: the working contents
    fields: list[FieldChangeOut]
    items: list[ItemChangeOut]
