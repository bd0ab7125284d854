"""The `SipPlan` aggregate: participants, consent, contents edited per field, meetings, agreement, follow-up.

See the package docstring (`domain.sip`) for the model. Each public method checks the acting unit and the
plan's state, changes the plan and records past-tense events in `pending_events`; the repository bumps
`version` once per saved change. Content edits are guarded by the edited field's (or item's) revision, not by
`version`, so that two people editing different fields never conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.deadlines import STOCKHOLM
from domain.discharge_case import Actor
from domain.errors import DomainError, InvalidTransition, InvalidValue, NotAllowedForPart, NotFound, require_aware
from domain.organisation import PrincipalKind
from domain.sip import events as ev
from domain.sip.consent import Consent, ConsentForm, ConsentGiver, ConsentScope
from domain.sip.contents import (
    MAX_SHORT_TEXT,
    ContentChanged,
    FieldConflict,
    FieldValue,
    Item,
    ItemContent,
    ItemList,
    MeasureContent,
    PlanContents,
    PlanDiff,
    PlanField,
    Revised,
    ServiceContent,
    clean_content,
    clean_text,
    diff_contents,
)
from domain.sip.meetings import PERSON_REF, Answer, Invitation, InviteeKind, Meeting
from domain.sip.participants import NamedParticipant, NamedParticipantKind, UnitParticipant, UnitRef
from domain.sip.refusals import Refusal, SipAction
from domain.sip.versions import AgreedVersion, Approval, FollowUp, MissingContents, Requirement

MAX_LINK = 2000

# What each action is called in the (English, developer-facing) detail of a refusal.
ACTION_TEXT = {
    SipAction.EDIT: "edit the plan",
    SipAction.ADD_PARTICIPANT: "add a participant",
    SipAction.ADD_NEXT_OF_KIN: "add next of kin",
    SipAction.REMOVE_PARTICIPANT: "remove a participant",
    SipAction.RECORD_CONSENT: "record consent",
    SipAction.WITHDRAW_CONSENT: "record a withdrawal of consent",
    SipAction.SCHEDULE_MEETING: "schedule a meeting",
    SipAction.RESCHEDULE_MEETING: "reschedule a meeting",
    SipAction.CANCEL_MEETING: "cancel a meeting",
    SipAction.ANSWER_INVITATION: "answer an invitation",
    SipAction.APPROVE: "approve the plan",
    SipAction.FOLLOW_UP: "follow up the plan",
    SipAction.CLOSE: "close the plan",
    SipAction.HAND_OVER: "hand the plan over",
}
# Actions still possible once sharing has ended (consent withdrawn): new consent resumes it; the owner closes.
AFTER_SHARING_ENDED = frozenset({SipAction.RECORD_CONSENT, SipAction.WITHDRAW_CONSENT, SipAction.CLOSE})


class PlanState(StrEnum):
    DRAFT = "draft"  # being prepared; no version agreed yet
    ACTIVE = "active"  # a version is agreed and in force; its follow-up is ahead
    FOLLOWED_UP = "followed_up"  # the version in force has been followed up
    CLOSED = "closed"  # avslutad: nothing more happens

    @property
    def is_open(self) -> bool:
        return self is not PlanState.CLOSED


class CloseReason(StrEnum):
    GOALS_MET = "goals_met"
    NO_LONGER_NEEDED = "no_longer_needed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DECLINED = "declined"  # the person did not want a SIP
    DIED = "died"
    MOVED = "moved"  # to another region or municipality
    OTHER = "other"


@dataclass
class SipPlan:
    id: str
    person_id: str  # the person the plan is about (a patient reference; never in events)
    owner_unit_id: str  # the unit that holds the plan: it always sees it and may close it
    created_at: datetime
    created_by_user_id: str
    case_id: str | None = None  # the discharge case it belongs to, if any
    state: PlanState = PlanState.DRAFT
    version: int = 0
    units: list[UnitParticipant] = field(default_factory=list)
    named_participants: list[NamedParticipant] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    contents: PlanContents = field(default_factory=PlanContents)
    content_revision: int = 0  # bumped by every content edit; approvals name it
    approvals: dict[str, Approval] = field(default_factory=dict)  # pending, per principal id
    versions: list[AgreedVersion] = field(default_factory=list)
    meetings: list[Meeting] = field(default_factory=list)
    first_invitation_sent_at: datetime | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)
    closed_at: datetime | None = None
    close_reason: CloseReason | None = None

    def __post_init__(self) -> None:
        self.pending_events: list[ev.SipEvent] = []

    # ----- creation ---------------------------------------------------------------------------------------------

    @classmethod
    def create(cls, *, person_id: str, owner: UnitRef, actor: Actor, now: datetime,
               units: Sequence[UnitRef] = (), case_id: str | None = None, plan_id: str | None = None) -> SipPlan:
        """Anyone who sees the need starts a plan, at their own unit (the owner), with the units they expect.

        The plan is the owner's alone until the person's consent names the other units.
        """
        require_aware(now, "now")
        if actor.unit_id != owner.unit_id:
            raise NotAllowedForPart("a plan is started by a user of its owner unit", field="owner_unit_id",
                                    code=Refusal.NOT_YOUR_UNIT)
        if not person_id.strip():
            raise InvalidValue("the plan needs the person it is about", field="person_id",
                               code=Refusal.PERSON_REQUIRED)
        plan = cls(id=plan_id or str(uuid.uuid4()), person_id=person_id, owner_unit_id=owner.unit_id,
                   created_at=now, created_by_user_id=actor.user_id, case_id=case_id)
        for ref in (owner, *units):
            if plan.unit(ref.unit_id) is not None:
                raise InvalidValue("a unit takes part only once", field="units",
                                   code=Refusal.UNIT_ALREADY_PARTICIPATES)
            plan.units.append(UnitParticipant(ref.unit_id, ref.principal_id, ref.principal_kind, now,
                                              actor.user_id))
        plan._record(ev.SipPlanCreated, actor, now, case_id=case_id, owner_unit_id=owner.unit_id,
                     participant_unit_ids=tuple(u.unit_id for u in plan.units))
        return plan

    # ----- queries ----------------------------------------------------------------------------------------------

    @property
    def consent(self) -> Consent | None:
        """The consent in force, if any."""
        return next((c for c in reversed(self.consents) if c.active), None)

    @property
    def sharing_ended(self) -> bool:
        """Consent was given once and is no longer in force: the plan is the owner's alone and frozen."""
        return bool(self.consents) and self.consent is None

    def unit(self, unit_id: str) -> UnitParticipant | None:
        """The active participation of a unit."""
        return next((u for u in self.units if u.unit_id == unit_id and u.active), None)

    def active_units(self) -> tuple[UnitParticipant, ...]:
        return tuple(u for u in self.units if u.active)

    def named_participant(self, participant_id: str) -> NamedParticipant | None:
        return next((p for p in self.named_participants if p.id == participant_id and p.active), None)

    def visible_unit_ids(self) -> tuple[str, ...]:
        """The units that see the plan: the owner, and the participating units the consent in force names."""
        consent = self.consent
        scope = set(consent.scope.unit_ids) if consent else set()
        return tuple(u.unit_id for u in self.active_units() if u.unit_id == self.owner_unit_id or u.unit_id in scope)

    def is_visible_to(self, unit_id: str) -> bool:
        return unit_id in self.visible_unit_ids()

    def awaiting_consent_unit_ids(self) -> tuple[str, ...]:
        """Participating units the consent in force does not name (yet): they do not see the plan."""
        visible = set(self.visible_unit_ids())
        return tuple(u.unit_id for u in self.active_units() if u.unit_id not in visible)

    def principal_ids(self) -> tuple[str, ...]:
        """The principals taking part: those of the units that see the plan. Each must approve a version."""
        visible = set(self.visible_unit_ids())
        return tuple(dict.fromkeys(u.principal_id for u in self.active_units() if u.unit_id in visible))

    @property
    def current_version(self) -> AgreedVersion | None:
        """The agreed version in force (the latest one)."""
        return self.versions[-1] if self.versions else None

    def agreed_version(self, number: int) -> AgreedVersion:
        if not 1 <= number <= len(self.versions):
            raise NotFound("no such agreed version", field="version_number", code=Refusal.VERSION_NOT_FOUND)
        return self.versions[number - 1]

    @property
    def has_unagreed_changes(self) -> bool:
        """The working contents differ (by revision) from the version in force (always true in a draft)."""
        current = self.current_version
        return current is None or current.content_revision != self.content_revision

    @property
    def responsible_principal_id(self) -> str | None:
        """The principal with the overall responsibility: per the version in force, else per the draft."""
        current = self.current_version
        contents = current.contents if current else self.contents
        return contents.overall_responsibility.value

    def missing_for_agreement(self) -> tuple[Requirement, ...]:
        """What the working contents lack before a version can be agreed (empty: it can be agreed)."""
        missing: list[Requirement] = []
        visible = set(self.visible_unit_ids())
        principals = set(self.principal_ids())
        if self.consent is None:
            missing.append(Requirement.CONSENT)
        kinds = {u.principal_kind for u in self.active_units() if u.unit_id in visible}
        if not {PrincipalKind.REGION, PrincipalKind.MUNICIPALITY} <= kinds:
            missing.append(Requirement.REGION_AND_MUNICIPALITY)
        if not self.contents.needs:
            missing.append(Requirement.NEEDS)
        if not self.contents.services:
            missing.append(Requirement.SERVICES)
        elif any(s.content.principal_id not in principals or not s.content.responsible_unit_id
                 for s in self.contents.services):
            missing.append(Requirement.SERVICES_COMPLETE)
        if self.contents.overall_responsibility.value not in principals:
            missing.append(Requirement.OVERALL_RESPONSIBILITY)
        if self.contents.next_follow_up_on.value is None:
            missing.append(Requirement.NEXT_FOLLOW_UP)
        return tuple(missing)

    def diff_versions(self, old: int, new: int) -> PlanDiff:
        """What changed from agreed version `old` to agreed version `new` (numbers from 1)."""
        return diff_contents(self.agreed_version(old).contents, self.agreed_version(new).contents)

    def diff_since_agreed(self) -> PlanDiff:
        """What the working contents change in the version in force (everything, in a draft)."""
        current = self.current_version
        return diff_contents(current.contents if current else PlanContents(), self.contents)

    def meeting(self, meeting_id: str) -> Meeting:
        found = next((m for m in self.meetings if m.id == meeting_id), None)
        if found is None:
            raise NotFound("no such meeting", field="meeting_id", code=Refusal.MEETING_NOT_FOUND)
        return found

    def next_follow_up_due(self) -> date | None:
        """The follow-up date of the version in force, while it has not been followed up."""
        current = self.current_version
        if current is None or self.state is not PlanState.ACTIVE:
            return None
        return current.contents.next_follow_up_on.value

    # ----- what a unit may do (one rule for the commands and for what the client offers) ------------------------

    def refusal(self, action: SipAction, unit_id: str, what: str | None = None) -> DomainError | None:
        """Why `unit_id` may not take `action` on the plan now, or None when it may, as far as the unit and the
        plan's state decide it (`domain.sip.refusals`). Every command checks this before it changes anything and
        raises the refusal; `allowed_actions` lists the actions it does not refuse. A command's arguments (which
        meeting, which value) are checked by the command afterwards. `what` names the action in the message."""
        what = what or ACTION_TEXT[action]
        if not self.is_visible_to(unit_id):
            return NotAllowedForPart(f"only a unit that takes part in the plan may {what}",
                                     code=Refusal.NOT_PLAN_PARTICIPANT)
        if not self.state.is_open:
            return InvalidTransition(f"cannot {what} when the plan is {self.state}", code=Refusal.PLAN_CLOSED)
        if self.sharing_ended and action not in AFTER_SHARING_ENDED:
            return InvalidTransition(f"cannot {what}: the person withdrew consent, sharing has ended",
                                     code=Refusal.SHARING_ENDED)
        consent = self.consent
        if action in (SipAction.SCHEDULE_MEETING, SipAction.RESCHEDULE_MEETING) and consent is None:
            return InvalidTransition(f"cannot {what} before the person's consent is recorded",
                                     code=Refusal.CONSENT_REQUIRED)
        if action is SipAction.WITHDRAW_CONSENT and consent is None:
            return InvalidTransition("there is no consent in force to withdraw", code=Refusal.NO_CONSENT_TO_WITHDRAW)
        if (action is SipAction.ADD_NEXT_OF_KIN and consent is not None
                and not consent.scope.next_of_kin_may_take_part):
            return InvalidTransition("the person objects to next of kin taking part", field="kind",
                                     code=Refusal.NEXT_OF_KIN_OBJECTED)
        if action in (SipAction.FOLLOW_UP, SipAction.CLOSE) and not self._is_responsible(unit_id):
            return NotAllowedForPart(f"only the owner unit or the principal with the overall responsibility may "
                                     f"{what}", code=Refusal.NOT_RESPONSIBLE_FOR_PLAN)
        if action is SipAction.FOLLOW_UP and (self.current_version is None
                                              or self.state not in (PlanState.ACTIVE, PlanState.FOLLOWED_UP)):
            return InvalidTransition(f"cannot follow up a plan that is {self.state}", code=Refusal.NO_AGREED_VERSION)
        if action is SipAction.APPROVE:
            missing = self.missing_for_agreement()
            if missing:
                return MissingContents(missing)
            if not self.has_unagreed_changes:
                return InvalidTransition("this content is already the agreed version", code=Refusal.ALREADY_AGREED)
            unit = self.unit(unit_id)
            if unit is not None and unit.principal_id in self.approvals:
                return InvalidTransition("your principal has already approved this content",
                                         code=Refusal.ALREADY_APPROVED)
        if action is SipAction.HAND_OVER:
            if unit_id != self.owner_unit_id:
                return NotAllowedForPart("only the owner unit may hand the plan over", code=Refusal.NOT_PLAN_OWNER)
            if not self.hand_over_unit_ids():
                return InvalidTransition("no other unit that takes part sees the plan: there is nobody to hand it "
                                         "over to", code=Refusal.NO_UNIT_TO_HAND_OVER_TO)
        return None

    def allowed_actions(self, unit_id: str) -> tuple[SipAction, ...]:
        """The actions `refusal` does not refuse `unit_id` now (empty for a unit that does not see the plan)."""
        return tuple(a for a in SipAction if self.refusal(a, unit_id) is None)

    def hand_over_unit_ids(self) -> tuple[str, ...]:
        """The units the owner may hand the plan over to: the other units that take part and see it."""
        return tuple(u for u in self.visible_unit_ids() if u != self.owner_unit_id)

    # ----- participants -------------------------------------------------------------------------------------

    def add_unit(self, actor: Actor, unit: UnitRef, now: datetime) -> None:
        """Add a unit. It sees the plan once the consent in force names it."""
        self._require(SipAction.ADD_PARTICIPANT, actor)
        if self.unit(unit.unit_id) is not None:
            raise InvalidValue("the unit already takes part in the plan", field="unit_id",
                               code=Refusal.UNIT_ALREADY_PARTICIPATES)
        before = self.principal_ids()
        self.units = [u for u in self.units if u.unit_id != unit.unit_id]
        self.units.append(UnitParticipant(unit.unit_id, unit.principal_id, unit.principal_kind, now, actor.user_id))
        self._record(ev.SipParticipantAdded, actor, now, participant_kind="unit", participant_id=unit.unit_id,
                     principal_id=unit.principal_id)
        self._invalidate_if_principals_changed(before, actor, now)

    def hand_over(self, actor: Actor, to_unit_id: str, now: datetime) -> None:
        """The owner unit hands the plan over (*överlämnar ägarskapet*) to another unit that takes part and sees
        it: that unit holds the plan from now on (it always sees it, may close it and follow it up, and is the one
        that sees it when sharing ends). The former owner stays a participant, as the consent in force names it
        (consent always names the owner of its time). The overall responsibility (a principal, in the contents) is
        not changed by this."""
        self._require(SipAction.HAND_OVER, actor)
        if to_unit_id == self.owner_unit_id:
            raise InvalidValue("the unit already owns the plan", field="unit_id", code=Refusal.ALREADY_OWNER)
        if to_unit_id not in self.hand_over_unit_ids():
            raise InvalidValue("the plan is handed over to a unit that takes part in it and sees it", field="unit_id",
                               code=Refusal.HAND_OVER_TARGET_INVALID)
        before, previous = self.principal_ids(), self.owner_unit_id
        self.owner_unit_id = to_unit_id
        self._record(ev.SipPlanHandedOver, actor, now, extra_units=(previous,), from_unit_id=previous,
                     to_unit_id=to_unit_id)
        self._invalidate_if_principals_changed(before, actor, now)

    def add_named_participant(self, actor: Actor, kind: NamedParticipantKind, name: str, now: datetime, *,
                              organisation: str = "", role: str = "", participant_id: str | None = None) -> str:
        """Add the person's next of kin, legal representative or another actor (no account)."""
        self._require(SipAction.ADD_NEXT_OF_KIN if kind is NamedParticipantKind.NEXT_OF_KIN
                      else SipAction.ADD_PARTICIPANT, actor)
        new_id = participant_id or str(uuid.uuid4())
        if any(p.id == new_id for p in self.named_participants):
            raise InvalidValue("the participant id is already used", field="participant_id", code=Refusal.ID_TAKEN)
        self.named_participants.append(NamedParticipant(
            id=new_id, kind=kind, name=clean_text(name, "name", required=True, limit=MAX_SHORT_TEXT),
            organisation=clean_text(organisation, "organisation", limit=MAX_SHORT_TEXT),
            role=clean_text(role, "role", limit=MAX_SHORT_TEXT), added_at=now, added_by_user_id=actor.user_id,
            added_by_unit_id=actor.unit_id))
        self._record(ev.SipParticipantAdded, actor, now, participant_kind=str(kind), participant_id=new_id)
        return new_id

    def remove_participant(self, actor: Actor, participant_id: str, now: datetime) -> None:
        """Remove a unit (by unit id; never the owner) or a named participant (by participant id)."""
        self._require(SipAction.REMOVE_PARTICIPANT, actor)
        unit = self.unit(participant_id)
        if unit is not None:
            if unit.unit_id == self.owner_unit_id:
                raise InvalidValue("the owner unit cannot leave its plan (hand it over first)",
                                   field="participant_id", code=Refusal.OWNER_CANNOT_LEAVE)
            before, saw = self.principal_ids(), self.is_visible_to(unit.unit_id)
            self.units = [replace(u, active=False, removed_at=now) if u is unit else u for u in self.units]
            self._record(ev.SipParticipantRemoved, actor, now, extra_units=(unit.unit_id,) if saw else (),
                         participant_kind="unit", participant_id=unit.unit_id)
            self._invalidate_if_principals_changed(before, actor, now)
            return
        named = self.named_participant(participant_id)
        if named is None:
            raise NotFound("no such participant", field="participant_id", code=Refusal.PARTICIPANT_NOT_FOUND)
        self._remove_named(named, actor, now)

    # ----- consent --------------------------------------------------------------------------------------------

    def give_consent(self, actor: Actor, *, given_by: ConsentGiver, form: ConsentForm,
                     scope_unit_ids: Iterable[str], given_at: datetime, now: datetime,
                     next_of_kin_may_take_part: bool = True, patient_portal: bool = False,
                     consent_id: str | None = None) -> str:
        """Record the person's consent. It supersedes the consent in force, and after a withdrawal it resumes
        sharing. The scope decides which participating units see the plan (the owner always does)."""
        self._require(SipAction.RECORD_CONSENT, actor)
        require_aware(given_at, "given_at")
        if given_at > now:
            raise InvalidValue("consent cannot be given in the future", field="given_at",
                               code=Refusal.CONSENT_IN_FUTURE)
        scope_ids = tuple(dict.fromkeys((self.owner_unit_id, *(clean_text(u, "scope_unit_ids", required=True,
                                                                           limit=MAX_SHORT_TEXT)
                                                                for u in scope_unit_ids))))
        new_id = consent_id or str(uuid.uuid4())
        if any(c.id == new_id for c in self.consents):
            raise InvalidValue("the consent id is already used", field="consent_id", code=Refusal.ID_TAKEN)
        before_principals, saw = self.principal_ids(), self.visible_unit_ids()
        self.consents = [replace(c, superseded_at=now) if c.active else c for c in self.consents]
        self.consents.append(Consent(
            id=new_id, given_by=given_by, form=form,
            scope=ConsentScope(scope_ids, next_of_kin_may_take_part, patient_portal), given_at=given_at,
            recorded_at=now, recorded_by_user_id=actor.user_id, recorded_by_unit_id=actor.unit_id))
        self._record(ev.SipConsentGiven, actor, now, extra_units=saw, consent_id=new_id, given_by=str(given_by),
                     scope_unit_ids=scope_ids, next_of_kin_may_take_part=next_of_kin_may_take_part,
                     patient_portal=patient_portal)
        if not next_of_kin_may_take_part:
            for named in [p for p in self.named_participants
                          if p.active and p.kind is NamedParticipantKind.NEXT_OF_KIN]:
                self._remove_named(named, actor, now)
        self._invalidate_if_principals_changed(before_principals, actor, now)
        return new_id

    def withdraw_consent(self, actor: Actor, now: datetime, withdrawn_at: datetime | None = None) -> None:
        """The person withdraws consent: sharing ends. Upcoming meetings are cancelled, pending approvals are
        dropped, every unit but the owner loses sight of the plan, and the plan is frozen until new consent
        is recorded or the owner closes it. Agreed versions stay as they were (the record of what was agreed).
        """
        self._require(SipAction.WITHDRAW_CONSENT, actor)
        consent = self.consent
        assert consent is not None  # the rule of the action
        when = withdrawn_at or now
        require_aware(when, "withdrawn_at")
        if when > now or when < consent.given_at:
            raise InvalidValue("the withdrawal time must be between the consent and now", field="withdrawn_at",
                               code=Refusal.WITHDRAWAL_TIME_INVALID)
        saw = self.visible_unit_ids()
        for meeting in [m for m in self.meetings if not m.cancelled and m.starts_at > now]:
            self._cancel(meeting, actor, now)
        self._invalidate_approvals(actor, now)
        self.consents = [replace(c, withdrawn_at=when, withdrawal_recorded_by_user_id=actor.user_id,
                                 withdrawal_recorded_by_unit_id=actor.unit_id) if c is consent else c
                         for c in self.consents]
        self._record(ev.SipConsentWithdrawn, actor, now, extra_units=saw, consent_id=consent.id)

    # ----- contents, per field ------------------------------------------------------------------------------

    def change_field(self, actor: Actor, name: PlanField, value: FieldValue, expected_revision: int,
                     now: datetime) -> bool:
        """Set a scalar field, if it is still at `expected_revision` (else `FieldConflict`, nothing written).

        Setting the value it already has changes nothing (False, no event), even from a stale revision: nobody's
        edit is lost when both wanted the same."""
        self._require(SipAction.EDIT, actor)
        current = self.contents.field(name)
        clean = self._clean_field(name, value, now)
        if clean == current.value:
            return False
        if expected_revision != current.revision:
            raise FieldConflict(f"{name} was changed by someone else", field=name.value, item_id=None,
                                current_value=current.value, current_revision=current.revision)
        revised = Revised(clean, current.revision + 1, now, actor.user_id, actor.unit_id)
        self._commit(self.contents.with_field(name, revised))
        self._record(ev.SipFieldChanged, actor, now, field=name.value, revision=revised.revision,
                     content_revision=self.content_revision)
        self._invalidate_approvals(actor, now)
        return True

    def add_item(self, actor: Actor, list_name: ItemList, content: ItemContent, now: datetime, *,
                 item_id: str | None = None) -> str:
        """Add an item to a list. Adding never conflicts: every item gets its own id (client-chosen or new)."""
        self._require(SipAction.EDIT, actor)
        clean = self._clean_item(list_name, content)
        new_id = item_id or str(uuid.uuid4())
        if self.contents.item(list_name, new_id) is not None:
            raise InvalidValue("the item id is already used", field="item_id", code=Refusal.ID_TAKEN)
        item = Item(new_id, clean, 1, now, actor.user_id, actor.unit_id)
        self._commit(self.contents.with_items(list_name, (*self.contents.items(list_name), item)))
        self._record(ev.SipItemAdded, actor, now, list_name=list_name.value, item_id=new_id, revision=1,
                     content_revision=self.content_revision)
        self._invalidate_approvals(actor, now)
        return new_id

    def change_item(self, actor: Actor, list_name: ItemList, item_id: str, content: ItemContent,
                    expected_revision: int, now: datetime) -> bool:
        """Replace an item's content, if it is still at `expected_revision` (else `FieldConflict`).

        Giving the content it already has changes nothing (False, no event), even from a stale revision."""
        self._require(SipAction.EDIT, actor)
        clean = self._clean_item(list_name, content)
        current = self.contents.item(list_name, item_id)
        if current is not None and clean == current.content:
            return False
        current = self._item_at(list_name, item_id, expected_revision)
        changed = Item(item_id, clean, current.revision + 1, now, actor.user_id, actor.unit_id)
        items = tuple(changed if i.id == item_id else i for i in self.contents.items(list_name))
        self._commit(self.contents.with_items(list_name, items))
        self._record(ev.SipItemChanged, actor, now, list_name=list_name.value, item_id=item_id,
                     revision=changed.revision, content_revision=self.content_revision)
        self._invalidate_approvals(actor, now)
        return True

    def remove_item(self, actor: Actor, list_name: ItemList, item_id: str, expected_revision: int,
                    now: datetime) -> None:
        """Remove an item, if it is still at `expected_revision` (nobody removes what they have not seen)."""
        self._require(SipAction.EDIT, actor)
        self._item_at(list_name, item_id, expected_revision)
        items = tuple(i for i in self.contents.items(list_name) if i.id != item_id)
        self._commit(self.contents.with_items(list_name, items))
        self._record(ev.SipItemRemoved, actor, now, list_name=list_name.value, item_id=item_id,
                     content_revision=self.content_revision)
        self._invalidate_approvals(actor, now)

    # ----- agreement (justering) --------------------------------------------------------------------------------

    def approve(self, actor: Actor, content_revision: int, now: datetime) -> bool:
        """The actor's principal approves the working contents at `content_revision` (justerar).

        When every principal taking part has approved the same revision, it becomes the next agreed version
        and the plan is active. Returns True when this approval agreed a version."""
        self._require(SipAction.EDIT, actor, "approve the plan")
        unit = self.unit(actor.unit_id)
        assert unit is not None  # a visible unit takes part
        if content_revision != self.content_revision:
            raise ContentChanged("the plan changed since you read it: read it again before approving",
                                 current_revision=self.content_revision)
        self._require(SipAction.APPROVE, actor)
        self.approvals[unit.principal_id] = Approval(unit.principal_id, content_revision, actor.user_id,
                                                     actor.unit_id, now)
        self._record(ev.SipVersionApproved, actor, now, principal_id=unit.principal_id,
                     content_revision=content_revision)
        principals = self.principal_ids()
        if not set(principals) <= set(self.approvals):
            return False
        number = len(self.versions) + 1
        self.versions.append(AgreedVersion(number, self.content_revision, now, self.contents,
                                           tuple(self.approvals[p] for p in principals)))
        self.approvals = {}
        self.state = PlanState.ACTIVE
        self._record(ev.SipVersionAgreed, actor, now, version_number=number, content_revision=self.content_revision,
                     principal_ids=principals)
        return True

    # ----- meetings ---------------------------------------------------------------------------------------------

    def schedule_meeting(self, actor: Actor, *, starts_at: datetime, ends_at: datetime, now: datetime,
                         place: str = "", video_link: str = "", invite_unit_ids: Sequence[str] | None = None,
                         invite_person: bool = True, invite_participant_ids: Sequence[str] | None = None,
                         meeting_id: str | None = None) -> str:
        """Schedule a meeting and send its invitations (kallelse): by default to every unit that sees the plan,
        the person and every named participant. Needs consent in force: an invitation shares the plan."""
        self._require(SipAction.SCHEDULE_MEETING, actor)
        self._check_meeting_time(starts_at, ends_at, now)
        place, video_link = self._check_location(place, video_link)
        visible = self.visible_unit_ids()
        unit_ids = tuple(dict.fromkeys(visible if invite_unit_ids is None else invite_unit_ids))
        if any(u not in visible for u in unit_ids):
            raise InvalidValue("only units that see the plan can be invited", field="invite_unit_ids",
                               code=Refusal.INVITEE_NOT_VISIBLE)
        active_named = tuple(p.id for p in self.named_participants if p.active)
        named_ids = tuple(dict.fromkeys(active_named if invite_participant_ids is None else invite_participant_ids))
        if any(p not in active_named for p in named_ids):
            raise InvalidValue("no such participant", field="invite_participant_ids",
                               code=Refusal.UNKNOWN_PARTICIPANT)
        invitations = (*(Invitation(InviteeKind.UNIT, u) for u in unit_ids),
                       *((Invitation(InviteeKind.PERSON, PERSON_REF),) if invite_person else ()),
                       *(Invitation(InviteeKind.NAMED, p) for p in named_ids))
        if not invitations:
            raise InvalidValue("a meeting needs someone invited", field="invite_unit_ids",
                               code=Refusal.NOBODY_INVITED)
        new_id = meeting_id or str(uuid.uuid4())
        if any(m.id == new_id for m in self.meetings):
            raise InvalidValue("the meeting id is already used", field="meeting_id", code=Refusal.ID_TAKEN)
        self.meetings.append(Meeting(new_id, starts_at, ends_at, place, video_link, invitations, now,
                                     actor.user_id, actor.unit_id))
        first = self.first_invitation_sent_at is None
        if first:
            self.first_invitation_sent_at = now
        self._record(ev.SipMeetingScheduled, actor, now, meeting_id=new_id, starts_at=starts_at, ends_at=ends_at,
                     invited_unit_ids=unit_ids, invited_participant_ids=named_ids, person_invited=invite_person,
                     first_invitation=first)
        return new_id

    def reschedule_meeting(self, actor: Actor, meeting_id: str, *, starts_at: datetime, ends_at: datetime,
                           now: datetime, place: str | None = None, video_link: str | None = None) -> None:
        """Move a meeting (and change its place or link); every answer goes back to pending."""
        self._require(SipAction.RESCHEDULE_MEETING, actor)
        meeting = self._open_meeting(meeting_id, now)
        self._check_meeting_time(starts_at, ends_at, now)
        new_place, new_link = self._check_location(meeting.place if place is None else place,
                                                   meeting.video_link if video_link is None else video_link)
        invitations = tuple(Invitation(i.kind, i.ref) for i in meeting.invitations)
        self._replace_meeting(replace(meeting, starts_at=starts_at, ends_at=ends_at, place=new_place,
                                      video_link=new_link, invitations=invitations, rescheduled_at=now))
        self._record(ev.SipMeetingRescheduled, actor, now, meeting_id=meeting_id, starts_at=starts_at,
                     ends_at=ends_at)

    def cancel_meeting(self, actor: Actor, meeting_id: str, now: datetime) -> None:
        self._require(SipAction.CANCEL_MEETING, actor)
        self._cancel(self._open_meeting(meeting_id, now), actor, now)

    def answer_invitation(self, actor: Actor, meeting_id: str, answer: Answer, now: datetime, *,
                          invitee_kind: InviteeKind = InviteeKind.UNIT, invitee_ref: str | None = None) -> bool:
        """Answer an invitation. A unit answers for itself; for the person or a named participant, a unit that
        sees the plan records their answer. Giving the same answer again changes nothing (False)."""
        self._require(SipAction.ANSWER_INVITATION, actor)
        if answer is Answer.PENDING:
            raise InvalidValue("an answer is accepted or declined", field="answer", code=Refusal.ANSWER_REQUIRED)
        meeting = self._open_meeting(meeting_id, now)
        if invitee_kind is InviteeKind.UNIT:
            if invitee_ref not in (None, actor.unit_id):
                raise NotAllowedForPart("a unit answers only for itself", field="invitee_ref",
                                        code=Refusal.ANSWERS_FOR_OWN_UNIT_ONLY)
            ref = actor.unit_id
        elif invitee_kind is InviteeKind.PERSON:
            ref = PERSON_REF
        else:
            if invitee_ref is None:
                raise InvalidValue("name the participant who answers", field="invitee_ref",
                                   code=Refusal.INVITEE_REQUIRED)
            ref = invitee_ref
        invitation = meeting.invitation(invitee_kind, ref)
        if invitation is None:
            raise NotFound("no such invitation", field="invitee_ref", code=Refusal.INVITATION_NOT_FOUND)
        if invitation.answer is answer:
            return False
        answered = replace(invitation, answer=answer, answered_at=now, answered_by_user_id=actor.user_id,
                           answered_by_unit_id=actor.unit_id)
        self._replace_meeting(replace(meeting, invitations=tuple(answered if i is invitation else i
                                                                 for i in meeting.invitations)))
        self._record(ev.SipInvitationAnswered, actor, now, meeting_id=meeting_id, invitee_kind=str(invitee_kind),
                     invitee_ref=ref, answer=str(answer))
        return True

    # ----- follow-up and closing ----------------------------------------------------------------------------

    def record_follow_up(self, actor: Actor, held_at: datetime, now: datetime, *, notes: str = "",
                         follow_up_id: str | None = None) -> str:
        """The version in force was followed up (uppföljning), by the owner or the principal with the overall
        responsibility. A revised plan agreed afterwards becomes the next version (the plan is active again)."""
        self._require(SipAction.FOLLOW_UP, actor)
        current = self.current_version
        assert current is not None  # the rule of the action
        require_aware(held_at, "held_at")
        if held_at > now or held_at < current.agreed_at:
            raise InvalidValue("the follow-up is between the agreement of the version and now", field="held_at",
                               code=Refusal.FOLLOW_UP_TIME_INVALID)
        new_id = follow_up_id or str(uuid.uuid4())
        if any(f.id == new_id for f in self.follow_ups):
            raise InvalidValue("the follow-up id is already used", field="follow_up_id", code=Refusal.ID_TAKEN)
        self.follow_ups.append(FollowUp(new_id, current.number, held_at, now, actor.user_id, actor.unit_id,
                                        clean_text(notes, "notes")))
        self.state = PlanState.FOLLOWED_UP
        self._record(ev.SipFollowedUp, actor, now, follow_up_id=new_id, version_number=current.number)
        return new_id

    def close(self, actor: Actor, reason: CloseReason, now: datetime) -> None:
        """Close the plan (avslut), by the owner or the principal with the overall responsibility. Also possible
        after a withdrawal of consent (then only the owner sees the plan)."""
        self._require(SipAction.CLOSE, actor)
        self._invalidate_approvals(actor, now)
        self.state = PlanState.CLOSED
        self.closed_at = now
        self.close_reason = reason
        self._record(ev.SipPlanClosed, actor, now, reason_code=str(reason))

    def merge_person_identity(self, actor: Actor, person_id: str, now: datetime) -> None:
        """The person registered under a reserve number is identified: the plan now belongs to the person's real
        identity (`person_id`), in any state. An administrator's step (`server/services/patient_merge.py`)."""
        if not person_id or person_id == self.person_id:
            raise InvalidValue("the plan already belongs to this identity", field="person_id")
        self.person_id = person_id
        self._record(ev.SipPersonIdentityMerged, actor, now)

    # ----- helpers ------------------------------------------------------------------------------------------

    def _require(self, action: SipAction, actor: Actor, what: str | None = None) -> None:
        refusal = self.refusal(action, actor.unit_id, what)
        if refusal is not None:
            raise refusal

    def _is_responsible(self, unit_id: str) -> bool:
        """The owner unit, or a unit of the principal with the overall responsibility."""
        unit = self.unit(unit_id)
        responsible = self.responsible_principal_id
        return unit_id == self.owner_unit_id or (unit is not None and unit.principal_id == responsible)

    def _clean_field(self, name: PlanField, value: FieldValue, now: datetime) -> FieldValue:
        if name is PlanField.OWN_CONTRIBUTION:
            return clean_text(value, name.value)
        if name is PlanField.OVERALL_RESPONSIBILITY:
            if value is not None and value not in self.principal_ids():
                raise InvalidValue("the overall responsibility goes to a principal taking part", field=name.value,
                                   code=Refusal.RESPONSIBILITY_NOT_PARTICIPATING)
            return value
        if value is None:
            return None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidValue("the follow-up is a date", field=name.value, code=Refusal.FOLLOW_UP_NOT_A_DATE)
        if value < now.astimezone(STOCKHOLM).date():
            raise InvalidValue("the follow-up date has passed", field=name.value, code=Refusal.FOLLOW_UP_DATE_PASSED)
        return value

    def _clean_item(self, list_name: ItemList, content: ItemContent) -> ItemContent:
        clean = clean_content(list_name, content)
        if isinstance(clean, ServiceContent) and clean.responsible_unit_id is not None:
            unit = self.unit(clean.responsible_unit_id)
            if unit is not None:
                if clean.principal_id is None:
                    clean = replace(clean, principal_id=unit.principal_id)
                elif clean.principal_id != unit.principal_id:
                    raise InvalidValue("the responsible unit acts for another principal",
                                       field="services.principal_id", code=Refusal.PRINCIPAL_MISMATCH)
        principals = {u.principal_id for u in self.active_units()}
        if (isinstance(clean, ServiceContent) and clean.principal_id is not None
                and clean.principal_id not in principals):
            raise InvalidValue("the principal does not take part in the plan", field="services.principal_id",
                               code=Refusal.PRINCIPAL_NOT_PARTICIPATING)
        if (isinstance(clean, MeasureContent) and clean.participant_id is not None
                and self.named_participant(clean.participant_id) is None):
            raise InvalidValue("no such participant", field="measures.participant_id",
                               code=Refusal.UNKNOWN_PARTICIPANT)
        return clean

    def _item_at(self, list_name: ItemList, item_id: str, expected_revision: int) -> Item[Any]:
        current = self.contents.item(list_name, item_id)
        if current is None:
            raise NotFound("no such item (it may have been removed)", field=list_name.value,
                           code=Refusal.ITEM_NOT_FOUND)
        if current.revision != expected_revision:
            raise FieldConflict(f"the item in {list_name} was changed by someone else", field=list_name.value,
                                item_id=item_id, current_value=current.content, current_revision=current.revision)
        return current

    def _commit(self, contents: PlanContents) -> None:
        self.contents = contents
        self.content_revision += 1

    def _invalidate_approvals(self, actor: Actor, now: datetime) -> None:
        if not self.approvals:
            return
        principals = tuple(self.approvals)
        self.approvals = {}
        self._record(ev.SipApprovalsInvalidated, actor, now, principal_ids=principals,
                     content_revision=self.content_revision)

    def _invalidate_if_principals_changed(self, before: tuple[str, ...], actor: Actor, now: datetime) -> None:
        if set(before) != set(self.principal_ids()):
            self._invalidate_approvals(actor, now)

    def _remove_named(self, named: NamedParticipant, actor: Actor, now: datetime) -> None:
        self.named_participants = [replace(p, active=False, removed_at=now) if p is named else p
                                   for p in self.named_participants]
        self._record(ev.SipParticipantRemoved, actor, now, participant_kind=str(named.kind),
                     participant_id=named.id)

    def _check_meeting_time(self, starts_at: datetime, ends_at: datetime, now: datetime) -> None:
        require_aware(starts_at, "starts_at")
        require_aware(ends_at, "ends_at")
        if starts_at < now:
            raise InvalidValue("the meeting starts in the past", field="starts_at", code=Refusal.MEETING_IN_PAST)
        if ends_at <= starts_at:
            raise InvalidValue("the meeting ends before it starts", field="ends_at",
                               code=Refusal.MEETING_ENDS_BEFORE_START)

    @staticmethod
    def _check_location(place: str, video_link: str) -> tuple[str, str]:
        place = clean_text(place, "place", limit=MAX_SHORT_TEXT)
        video_link = clean_text(video_link, "video_link", limit=MAX_LINK)
        if not place and not video_link:
            raise InvalidValue("a meeting needs a place or a video link", field="place",
                               code=Refusal.PLACE_OR_VIDEO_LINK_REQUIRED)
        if video_link and not video_link.startswith("https://"):
            raise InvalidValue("the video link must be an https link", field="video_link",
                               code=Refusal.VIDEO_LINK_NOT_HTTPS)
        return place, video_link

    def _open_meeting(self, meeting_id: str, now: datetime) -> Meeting:
        meeting = self.meeting(meeting_id)
        if meeting.cancelled:
            raise InvalidTransition("the meeting is cancelled", field="meeting_id", code=Refusal.MEETING_CANCELLED)
        if now >= meeting.ends_at:
            raise InvalidTransition("the meeting is over", field="meeting_id", code=Refusal.MEETING_OVER)
        return meeting

    def _cancel(self, meeting: Meeting, actor: Actor, now: datetime) -> None:
        self._replace_meeting(replace(meeting, cancelled_at=now))
        self._record(ev.SipMeetingCancelled, actor, now, meeting_id=meeting.id)

    def _replace_meeting(self, meeting: Meeting) -> None:
        self.meetings = [meeting if m.id == meeting.id else m for m in self.meetings]

    def _record(self, event_type: type[ev.SipEvent], actor: Actor, now: datetime, *,
                extra_units: tuple[str, ...] = (), **fields: object) -> None:
        units = tuple(dict.fromkeys((*self.visible_unit_ids(), *extra_units)))
        self.pending_events.append(event_type(plan_id=self.id, occurred_at=now, actor_user_id=actor.user_id,
                                              actor_unit_id=actor.unit_id, unit_ids=units, **fields))
