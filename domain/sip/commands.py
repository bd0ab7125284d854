"""Commands on a SIP plan, in the imperative; `apply_to` calls the aggregate method that enforces the rules.

Guards against lost updates, by kind of command:

- content edits (`ChangeSipField`, `ChangeSipItem`, `RemoveSipItem`) carry the edited field's or item's
  `expected_revision`, and **must not** be checked against the plan's `version`: two people editing different
  fields never conflict; the same field gives a `FieldConflict` with the current value and revision.
- `AddSipItem` needs no guard (a new item never overwrites anything); `ApproveSipVersion` names the
  `content_revision` it approves; `AnswerSipInvitation` is the invitee's own answer; `WithdrawSipConsent` must
  always go through; `ScheduleSipMeeting` creates a new meeting.
- the others change the plan's structure and are `VersionedSipCommand`s: the application compares
  `expected_version` with the plan's `version` (409 with the current plan when stale), as for a case.

Starting a plan is not a command on a plan: see `SipPlan.create` and `domain.sip.case_link.open_plan_for_case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.discharge_case import Actor
from domain.sip.consent import ConsentForm, ConsentGiver
from domain.sip.contents import FieldValue, ItemContent, ItemList, PlanField
from domain.sip.meetings import Answer, InviteeKind
from domain.sip.participants import NamedParticipantKind, UnitRef
from domain.sip.plan import CloseReason, SipPlan


@dataclass(frozen=True, kw_only=True)
class SipCommand:
    plan_id: str

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        """Call the aggregate method that enforces the rules (raises a DomainError if they forbid it)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class VersionedSipCommand(SipCommand):
    """A structural change, guarded by the whole plan's `version`."""

    expected_version: int


# ----- content: guarded per field or item -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChangeSipField(SipCommand):
    field: PlanField
    value: FieldValue
    expected_revision: int

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.change_field(actor, self.field, self.value, self.expected_revision, now)


@dataclass(frozen=True, kw_only=True)
class AddSipItem(SipCommand):
    list_name: ItemList
    content: ItemContent
    item_id: str | None = None  # client-chosen id (lets a retried request find its item)

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.add_item(actor, self.list_name, self.content, now, item_id=self.item_id)


@dataclass(frozen=True, kw_only=True)
class ChangeSipItem(SipCommand):
    list_name: ItemList
    item_id: str
    content: ItemContent
    expected_revision: int

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.change_item(actor, self.list_name, self.item_id, self.content, self.expected_revision, now)


@dataclass(frozen=True, kw_only=True)
class RemoveSipItem(SipCommand):
    list_name: ItemList
    item_id: str
    expected_revision: int

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.remove_item(actor, self.list_name, self.item_id, self.expected_revision, now)


@dataclass(frozen=True, kw_only=True)
class ApproveSipVersion(SipCommand):
    content_revision: int

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.approve(actor, self.content_revision, now)


# ----- consent and meetings, unguarded ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WithdrawSipConsent(SipCommand):
    withdrawn_at: datetime | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.withdraw_consent(actor, now, self.withdrawn_at)


@dataclass(frozen=True, kw_only=True)
class ScheduleSipMeeting(SipCommand):
    starts_at: datetime
    ends_at: datetime
    place: str = ""
    video_link: str = ""
    invite_unit_ids: tuple[str, ...] | None = None  # None: every unit that sees the plan
    invite_person: bool = True
    invite_participant_ids: tuple[str, ...] | None = None  # None: every named participant
    meeting_id: str | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.schedule_meeting(actor, starts_at=self.starts_at, ends_at=self.ends_at, now=now, place=self.place,
                              video_link=self.video_link, invite_unit_ids=self.invite_unit_ids,
                              invite_person=self.invite_person, invite_participant_ids=self.invite_participant_ids,
                              meeting_id=self.meeting_id)


@dataclass(frozen=True, kw_only=True)
class AnswerSipInvitation(SipCommand):
    meeting_id: str
    answer: Answer
    invitee_kind: InviteeKind = InviteeKind.UNIT
    invitee_ref: str | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.answer_invitation(actor, self.meeting_id, self.answer, now, invitee_kind=self.invitee_kind,
                               invitee_ref=self.invitee_ref)


# ----- structure: guarded by the plan's version ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddSipUnit(VersionedSipCommand):
    unit: UnitRef  # resolved by the application from the organisation tree

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.add_unit(actor, self.unit, now)


@dataclass(frozen=True, kw_only=True)
class AddSipNamedParticipant(VersionedSipCommand):
    kind: NamedParticipantKind
    name: str
    organisation: str = ""
    role: str = ""
    participant_id: str | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.add_named_participant(actor, self.kind, self.name, now, organisation=self.organisation,
                                   role=self.role, participant_id=self.participant_id)


@dataclass(frozen=True, kw_only=True)
class RemoveSipParticipant(VersionedSipCommand):
    participant_id: str  # a unit id or a named participant's id

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.remove_participant(actor, self.participant_id, now)


@dataclass(frozen=True, kw_only=True)
class GiveSipConsent(VersionedSipCommand):
    given_by: ConsentGiver
    form: ConsentForm
    scope_unit_ids: tuple[str, ...]
    given_at: datetime
    next_of_kin_may_take_part: bool = True
    patient_portal: bool = False
    consent_id: str | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.give_consent(actor, given_by=self.given_by, form=self.form, scope_unit_ids=self.scope_unit_ids,
                          given_at=self.given_at, now=now, next_of_kin_may_take_part=self.next_of_kin_may_take_part,
                          patient_portal=self.patient_portal, consent_id=self.consent_id)


@dataclass(frozen=True, kw_only=True)
class RescheduleSipMeeting(VersionedSipCommand):
    meeting_id: str
    starts_at: datetime
    ends_at: datetime
    place: str | None = None  # None: keep
    video_link: str | None = None  # None: keep

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.reschedule_meeting(actor, self.meeting_id, starts_at=self.starts_at, ends_at=self.ends_at, now=now,
                                place=self.place, video_link=self.video_link)


@dataclass(frozen=True, kw_only=True)
class CancelSipMeeting(VersionedSipCommand):
    meeting_id: str

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.cancel_meeting(actor, self.meeting_id, now)


@dataclass(frozen=True, kw_only=True)
class RecordSipFollowUp(VersionedSipCommand):
    held_at: datetime
    notes: str = ""
    follow_up_id: str | None = None

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.record_follow_up(actor, self.held_at, now, notes=self.notes, follow_up_id=self.follow_up_id)


@dataclass(frozen=True, kw_only=True)
class HandOverSipPlan(VersionedSipCommand):
    to_unit_id: str

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.hand_over(actor, self.to_unit_id, now)


@dataclass(frozen=True, kw_only=True)
class CloseSipPlan(VersionedSipCommand):
    reason: CloseReason

    def apply_to(self, plan: SipPlan, actor: Actor, now: datetime) -> None:
        plan.close(actor, self.reason, now)
