"""The SIP plan aggregate: creation, participants, consent and visibility, meetings, states, events."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from domain.discharge_case import Actor
from domain.errors import DomainError, InvalidTransition, InvalidValue, NotAllowedForPart, NotFound
from domain.sip import (
    PERSON_REF,
    Answer,
    CloseReason,
    ConsentForm,
    ConsentGiver,
    GoalContent,
    InviteeKind,
    ItemList,
    MeasureContent,
    NamedParticipantKind,
    NeedContent,
    PlanField,
    PlanState,
    ServiceContent,
    SipPlan,
)
from domain.sip import events as ev
from tests.domain.builders import (
    MUNICIPAL,
    MUNICIPAL_USER,
    OTHER_MUNICIPAL,
    PRIMARY,
    STRANGER,
    at,
    walk_strings,
)
from tests.domain.sip_builders import (
    AGREED_AT,
    CONSENT_AT,
    FILLED_AT,
    OTHER_MUNICIPAL_REF,
    OWNER_USER,
    PERSON_ID,
    PLAN_ID,
    PRIMARY_REF,
    PSYCH,
    PSYCH_REF,
    PSYCH_USER,
    REGION,
    SECRET_NAME,
    SECRET_TEXT,
    SOLNA,
    START,
    STRANGER_USER,
    SUNDBYBERG,
    agree,
    build_plan,
    fill_required,
    give_consent,
    last_sip_event,
    new_plan,
    plan_snapshot,
    sip_event_types,
)

ACT_AT = at(2026, 6, 11, 9)  # after every step of the standard story
MEETING_AT = at(2026, 6, 15, 13)
MEETING_END = MEETING_AT + timedelta(hours=1)
LINK = "https://video.example.se/sip/abc"


def schedule(plan: SipPlan, now: datetime = ACT_AT, actor: Actor = OWNER_USER, **kwargs: object) -> str:
    args: dict[str, object] = {"starts_at": MEETING_AT, "ends_at": MEETING_END, "place": "Vårdcentralen"}
    args.update(kwargs)
    return plan.schedule_meeting(actor, now=now, **args)  # type: ignore[arg-type]


# ----- creation ---------------------------------------------------------------------------------------------


def test_create_records_the_owner_and_the_units() -> None:
    plan = new_plan(case_id="case-1")
    assert (plan.id, plan.person_id, plan.owner_unit_id, plan.case_id) == (PLAN_ID, PERSON_ID, PRIMARY, "case-1")
    assert plan.state is PlanState.DRAFT
    assert [u.unit_id for u in plan.active_units()] == [PRIMARY, MUNICIPAL, PSYCH]
    assert plan.unit(MUNICIPAL) is not None
    assert plan.unit(MUNICIPAL).principal_id == SOLNA
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipPlanCreated)
    assert event.case_id == "case-1"
    assert event.participant_unit_ids == (PRIMARY, MUNICIPAL, PSYCH)
    assert event.unit_ids == (PRIMARY,)  # nobody else sees it before consent


def test_create_outside_a_case_gets_a_fresh_id() -> None:
    plan = SipPlan.create(person_id=PERSON_ID, owner=PRIMARY_REF, actor=OWNER_USER, now=START)
    assert plan.case_id is None
    assert len(plan.id) == 36


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"actor": MUNICIPAL_USER}, NotAllowedForPart),
        ({"units": (PSYCH_REF, PSYCH_REF)}, InvalidValue),
        ({"units": (PRIMARY_REF,)}, InvalidValue),
        ({"person_id": "  "}, InvalidValue),
        ({"now": datetime(2026, 3, 9, 9)}, InvalidValue),  # naive
    ],
)
def test_create_refuses(kwargs: dict[str, object], error: type[DomainError]) -> None:
    args: dict[str, object] = {"person_id": PERSON_ID, "owner": PRIMARY_REF, "actor": OWNER_USER, "now": START}
    args.update(kwargs)
    with pytest.raises(error):
        SipPlan.create(**args)  # type: ignore[arg-type]


# ----- consent and visibility ----------------------------------------------------------------------------


def test_before_consent_the_plan_is_the_owners_draft() -> None:
    plan = new_plan()
    assert plan.visible_unit_ids() == (PRIMARY,)
    assert plan.awaiting_consent_unit_ids() == (MUNICIPAL, PSYCH)
    assert plan.consent is None
    assert not plan.sharing_ended
    assert plan.principal_ids() == (REGION,)
    plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent("förberedelse"), START)  # the owner prepares
    with pytest.raises(NotAllowedForPart):
        plan.add_item(MUNICIPAL_USER, ItemList.NEEDS, NeedContent("x"), START)
    with pytest.raises(InvalidTransition, match="consent"):
        schedule(plan, now=START)


def test_consent_shares_the_plan_with_the_units_in_its_scope() -> None:
    plan = new_plan()
    consent_id = give_consent(plan, scope=(MUNICIPAL,))
    assert plan.visible_unit_ids() == (PRIMARY, MUNICIPAL)  # the owner is always in scope
    assert plan.awaiting_consent_unit_ids() == (PSYCH,)
    assert plan.principal_ids() == (REGION, SOLNA)
    consent = plan.consent
    assert consent is not None
    assert consent.id == consent_id
    assert consent.scope.unit_ids == (PRIMARY, MUNICIPAL)
    assert (consent.given_by, consent.form, consent.given_at) == (ConsentGiver.PERSON, ConsentForm.VERBAL,
                                                                   CONSENT_AT)
    assert (consent.recorded_by_user_id, consent.recorded_by_unit_id) == (OWNER_USER.user_id, PRIMARY)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipConsentGiven)
    assert event.scope_unit_ids == (PRIMARY, MUNICIPAL)
    assert event.unit_ids == (PRIMARY, MUNICIPAL)
    with pytest.raises(NotAllowedForPart):
        plan.add_item(PSYCH_USER, ItemList.NEEDS, NeedContent("x"), CONSENT_AT)


def test_a_unit_added_later_sees_the_plan_only_when_consent_names_it() -> None:
    plan = build_plan()
    plan.add_unit(OWNER_USER, OTHER_MUNICIPAL_REF, ACT_AT)
    assert not plan.is_visible_to(OTHER_MUNICIPAL)
    assert plan.awaiting_consent_unit_ids() == (OTHER_MUNICIPAL,)
    give_consent(plan, ACT_AT)  # every unit taking part
    assert plan.is_visible_to(OTHER_MUNICIPAL)
    assert SUNDBYBERG in plan.principal_ids()


def test_new_consent_supersedes_the_one_in_force() -> None:
    plan = build_plan()
    first = plan.consent
    second_id = give_consent(plan, ACT_AT, scope=(MUNICIPAL,), patient_portal=True)
    assert [c.active for c in plan.consents] == [False, True]
    assert first is not None
    assert plan.consents[0].id == first.id
    assert plan.consents[0].superseded_at == ACT_AT
    assert plan.consent is not None
    assert plan.consent.id == second_id
    assert plan.consent.scope.patient_portal
    assert not plan.is_visible_to(PSYCH)
    event = next(e for e in plan.pending_events if isinstance(e, ev.SipConsentGiven))
    assert PSYCH in event.unit_ids  # the unit that loses sight of the plan is told
    with pytest.raises(InvalidValue, match="already used"):
        give_consent(plan, ACT_AT, consent_id=second_id)


@pytest.mark.parametrize(
    ("given_at", "error"),
    [(ACT_AT + timedelta(minutes=1), "future"), (datetime(2026, 6, 11, 9), "time zone")],
)
def test_consent_time_is_checked(given_at: datetime, error: str) -> None:
    plan = build_plan(consent=False, filled=False)
    with pytest.raises(InvalidValue, match=error):
        plan.give_consent(OWNER_USER, given_by=ConsentGiver.GUARDIAN, form=ConsentForm.WRITTEN,
                          scope_unit_ids=(MUNICIPAL,), given_at=given_at, now=ACT_AT)


def test_withdrawal_ends_sharing() -> None:
    plan = build_plan(PlanState.ACTIVE)
    meeting_id = schedule(plan)
    plan.add_item(MUNICIPAL_USER, ItemList.GOALS, GoalContent("Bo kvar hemma"), ACT_AT)
    plan.approve(MUNICIPAL_USER, plan.content_revision, ACT_AT)
    plan.pending_events.clear()
    later = ACT_AT + timedelta(hours=1)
    plan.withdraw_consent(MUNICIPAL_USER, later)
    assert plan.sharing_ended
    assert plan.consent is None
    assert plan.consents[-1].withdrawn_at == later
    assert plan.consents[-1].withdrawal_recorded_by_unit_id == MUNICIPAL
    assert plan.visible_unit_ids() == (PRIMARY,)
    assert plan.meeting(meeting_id).cancelled
    assert plan.approvals == {}
    assert sip_event_types(plan) == ["SipMeetingCancelled", "SipApprovalsInvalidated", "SipConsentWithdrawn"]
    assert all(set(e.unit_ids) == {PRIMARY, MUNICIPAL, PSYCH} for e in plan.pending_events)
    assert plan.versions[0].contents.needs  # what was agreed stays recorded
    assert plan.state is PlanState.ACTIVE


def test_after_withdrawal_the_plan_is_frozen_until_new_consent() -> None:
    plan = build_plan(PlanState.ACTIVE)
    plan.withdraw_consent(OWNER_USER, ACT_AT)
    with pytest.raises(NotAllowedForPart):
        plan.add_item(MUNICIPAL_USER, ItemList.NEEDS, NeedContent("x"), ACT_AT)
    for refused in (
        lambda: plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent("x"), ACT_AT),
        lambda: plan.change_field(OWNER_USER, PlanField.OWN_CONTRIBUTION, "x", 0, ACT_AT),
        lambda: plan.approve(OWNER_USER, plan.content_revision, ACT_AT),
        lambda: schedule(plan),
        lambda: plan.add_unit(OWNER_USER, OTHER_MUNICIPAL_REF, ACT_AT),
        lambda: plan.record_follow_up(OWNER_USER, ACT_AT, ACT_AT),
        lambda: plan.withdraw_consent(OWNER_USER, ACT_AT),
    ):
        before = plan_snapshot(plan)
        with pytest.raises(InvalidTransition):
            refused()
        assert plan_snapshot(plan) == before
    give_consent(plan, ACT_AT + timedelta(days=1))
    assert not plan.sharing_ended
    assert plan.is_visible_to(MUNICIPAL)
    plan.add_item(MUNICIPAL_USER, ItemList.NEEDS, NeedContent("ny"), ACT_AT + timedelta(days=1))


def test_the_owner_may_close_after_withdrawal() -> None:
    plan = build_plan(PlanState.ACTIVE)
    plan.withdraw_consent(OWNER_USER, ACT_AT)
    plan.close(OWNER_USER, CloseReason.CONSENT_WITHDRAWN, ACT_AT)
    assert plan.state is PlanState.CLOSED
    assert plan.close_reason is CloseReason.CONSENT_WITHDRAWN
    assert last_sip_event(plan).unit_ids == (PRIMARY,)


def test_withdrawal_time_is_checked() -> None:
    plan = build_plan()
    with pytest.raises(InvalidValue):
        plan.withdraw_consent(OWNER_USER, ACT_AT, withdrawn_at=CONSENT_AT - timedelta(minutes=1))
    with pytest.raises(InvalidValue):
        plan.withdraw_consent(OWNER_USER, ACT_AT, withdrawn_at=ACT_AT + timedelta(minutes=1))
    plan.withdraw_consent(OWNER_USER, ACT_AT, withdrawn_at=ACT_AT - timedelta(days=1))
    assert plan.consents[-1].withdrawn_at == ACT_AT - timedelta(days=1)


def test_without_consent_there_is_nothing_to_withdraw() -> None:
    with pytest.raises(InvalidTransition, match="no consent"):
        new_plan().withdraw_consent(OWNER_USER, START)


def test_next_of_kin_take_part_only_if_the_person_does_not_object() -> None:
    plan = build_plan()
    kin = plan.add_named_participant(MUNICIPAL_USER, NamedParticipantKind.NEXT_OF_KIN, SECRET_NAME, ACT_AT,
                                     role="dotter")
    other = plan.add_named_participant(MUNICIPAL_USER, NamedParticipantKind.OTHER_ACTOR, "Handläggare", ACT_AT,
                                       organisation="Försäkringskassan")
    plan.pending_events.clear()
    give_consent(plan, ACT_AT, next_of_kin_may_take_part=False)
    assert plan.named_participant(kin) is None
    assert plan.named_participant(other) is not None
    removed = [e for e in plan.pending_events if isinstance(e, ev.SipParticipantRemoved)]
    assert [(e.participant_id, e.participant_kind) for e in removed] == [(kin, "next_of_kin")]
    with pytest.raises(InvalidTransition, match="objects"):
        plan.add_named_participant(OWNER_USER, NamedParticipantKind.NEXT_OF_KIN, "Någon", ACT_AT)
    plan.add_named_participant(OWNER_USER, NamedParticipantKind.LEGAL_REPRESENTATIVE, "God man", ACT_AT)


# ----- participants -------------------------------------------------------------------------------------


def test_add_and_remove_units() -> None:
    plan = build_plan()
    with pytest.raises(InvalidValue, match="already"):
        plan.add_unit(OWNER_USER, PSYCH_REF, ACT_AT)
    plan.remove_participant(MUNICIPAL_USER, PSYCH, ACT_AT)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipParticipantRemoved)
    assert (event.participant_kind, event.participant_id) == ("unit", PSYCH)
    assert PSYCH in event.unit_ids  # the removed unit is told
    assert not plan.is_visible_to(PSYCH)
    with pytest.raises(NotAllowedForPart):
        plan.add_item(PSYCH_USER, ItemList.NEEDS, NeedContent("x"), ACT_AT)
    plan.add_unit(OWNER_USER, PSYCH_REF, ACT_AT)  # back again; the consent still names it
    assert plan.is_visible_to(PSYCH)
    assert [u.unit_id for u in plan.units].count(PSYCH) == 1
    added = last_sip_event(plan)
    assert isinstance(added, ev.SipParticipantAdded)
    assert (added.participant_kind, added.participant_id, added.principal_id) == ("unit", PSYCH, REGION)


def test_removal_refusals() -> None:
    plan = build_plan()
    with pytest.raises(InvalidValue, match="owner"):
        plan.remove_participant(MUNICIPAL_USER, PRIMARY, ACT_AT)
    with pytest.raises(NotFound):
        plan.remove_participant(MUNICIPAL_USER, "nobody", ACT_AT)
    with pytest.raises(NotAllowedForPart):
        plan.remove_participant(STRANGER_USER, PSYCH, ACT_AT)


def test_named_participants_keep_their_names_out_of_events() -> None:
    plan = build_plan()
    pid = plan.add_named_participant(OWNER_USER, NamedParticipantKind.NEXT_OF_KIN, f"  {SECRET_NAME} ", ACT_AT,
                                     organisation="", role="dotter", participant_id="kin-1")
    assert pid == "kin-1"
    named = plan.named_participant(pid)
    assert named is not None
    assert named.name == SECRET_NAME
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipParticipantAdded)
    assert (event.participant_kind, event.participant_id, event.principal_id) == ("next_of_kin", "kin-1", None)
    assert SECRET_NAME not in list(walk_strings(dataclasses.asdict(event)))
    with pytest.raises(InvalidValue, match="already used"):
        plan.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, "x", ACT_AT, participant_id="kin-1")
    with pytest.raises(InvalidValue, match="empty"):
        plan.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, " ", ACT_AT)
    plan.remove_participant(OWNER_USER, pid, ACT_AT)
    assert plan.named_participant(pid) is None


def test_a_stranger_can_do_nothing() -> None:
    plan = build_plan(PlanState.ACTIVE)
    for act in (
        lambda: plan.add_item(STRANGER_USER, ItemList.NEEDS, NeedContent("x"), ACT_AT),
        lambda: plan.change_field(STRANGER_USER, PlanField.OWN_CONTRIBUTION, "x", 0, ACT_AT),
        lambda: plan.approve(STRANGER_USER, plan.content_revision, ACT_AT),
        lambda: give_consent(plan, ACT_AT, actor=STRANGER_USER),
        lambda: plan.withdraw_consent(STRANGER_USER, ACT_AT),
        lambda: schedule(plan, actor=STRANGER_USER),
        lambda: plan.close(STRANGER_USER, CloseReason.OTHER, ACT_AT),
        lambda: plan.record_follow_up(STRANGER_USER, ACT_AT, ACT_AT),
    ):
        before = plan_snapshot(plan)
        with pytest.raises(NotAllowedForPart):
            act()
        assert plan_snapshot(plan) == before
    assert not plan.is_visible_to(STRANGER)


# ----- meetings -----------------------------------------------------------------------------------------------


def test_schedule_a_meeting_invites_everyone_by_default() -> None:
    plan = build_plan()
    kin = plan.add_named_participant(OWNER_USER, NamedParticipantKind.NEXT_OF_KIN, SECRET_NAME, ACT_AT)
    meeting_id = schedule(plan, video_link=LINK, place="")
    meeting = plan.meeting(meeting_id)
    assert (meeting.starts_at, meeting.ends_at, meeting.place, meeting.video_link) == (MEETING_AT, MEETING_END, "",
                                                                                        LINK)
    assert [(i.kind, i.ref, i.answer) for i in meeting.invitations] == [
        (InviteeKind.UNIT, PRIMARY, Answer.PENDING), (InviteeKind.UNIT, MUNICIPAL, Answer.PENDING),
        (InviteeKind.UNIT, PSYCH, Answer.PENDING), (InviteeKind.PERSON, PERSON_REF, Answer.PENDING),
        (InviteeKind.NAMED, kin, Answer.PENDING)]
    assert plan.first_invitation_sent_at == ACT_AT
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipMeetingScheduled)
    assert event.first_invitation
    assert event.invited_unit_ids == (PRIMARY, MUNICIPAL, PSYCH)
    assert event.invited_participant_ids == (kin,)
    assert event.person_invited
    second = schedule(plan, now=ACT_AT + timedelta(hours=1), invite_unit_ids=(MUNICIPAL,), invite_person=False,
                      invite_participant_ids=())
    assert [i.ref for i in plan.meeting(second).invitations] == [MUNICIPAL]
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipMeetingScheduled)
    assert not event.first_invitation
    assert plan.first_invitation_sent_at == ACT_AT


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"place": "", "video_link": ""}, "place or a video link"),
        ({"video_link": "http://insecure.example"}, "https"),
        ({"starts_at": ACT_AT - timedelta(minutes=1)}, "past"),
        ({"ends_at": MEETING_AT}, "ends before"),
        ({"starts_at": datetime(2026, 6, 15, 13)}, "time zone"),
        ({"invite_unit_ids": (STRANGER,)}, "see the plan"),
        ({"invite_participant_ids": ("nobody",)}, "participant"),
        ({"invite_unit_ids": (), "invite_person": False, "invite_participant_ids": ()}, "someone"),
        ({"meeting_id": "m-1"}, "already used"),
    ],
)
def test_schedule_refusals(kwargs: dict[str, object], match: str) -> None:
    plan = build_plan()
    schedule(plan, meeting_id="m-1")
    before = plan_snapshot(plan)
    with pytest.raises(InvalidValue, match=match):
        schedule(plan, **kwargs)
    assert plan_snapshot(plan) == before


def test_a_unit_outside_the_consent_cannot_be_invited() -> None:
    plan = new_plan()
    give_consent(plan, scope=(MUNICIPAL,))
    with pytest.raises(InvalidValue):
        schedule(plan, invite_unit_ids=(PSYCH,))


def test_answers() -> None:
    plan = build_plan()
    kin = plan.add_named_participant(OWNER_USER, NamedParticipantKind.NEXT_OF_KIN, SECRET_NAME, ACT_AT)
    meeting_id = schedule(plan)
    assert plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipInvitationAnswered)
    assert (event.invitee_kind, event.invitee_ref, event.answer) == ("unit", MUNICIPAL, "accepted")
    count = len(plan.pending_events)
    assert not plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)  # the same again
    assert len(plan.pending_events) == count
    assert plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.DECLINED, ACT_AT)
    assert plan.answer_invitation(OWNER_USER, meeting_id, Answer.ACCEPTED, ACT_AT, invitee_kind=InviteeKind.PERSON)
    assert plan.answer_invitation(PSYCH_USER, meeting_id, Answer.ACCEPTED, ACT_AT, invitee_kind=InviteeKind.NAMED,
                                  invitee_ref=kin)
    meeting = plan.meeting(meeting_id)
    answers = {(i.kind, i.ref): (i.answer, i.answered_by_unit_id) for i in meeting.invitations}
    assert answers[(InviteeKind.UNIT, MUNICIPAL)] == (Answer.DECLINED, MUNICIPAL)
    assert answers[(InviteeKind.PERSON, PERSON_REF)] == (Answer.ACCEPTED, PRIMARY)
    assert answers[(InviteeKind.NAMED, kin)] == (Answer.ACCEPTED, PSYCH)
    assert answers[(InviteeKind.UNIT, PSYCH)] == (Answer.PENDING, None)
    with pytest.raises(NotAllowedForPart, match="only for itself"):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT, invitee_ref=PSYCH)
    with pytest.raises(InvalidValue):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.PENDING, ACT_AT)
    with pytest.raises(InvalidValue):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT, invitee_kind=InviteeKind.NAMED)
    with pytest.raises(NotFound):
        plan.answer_invitation(MUNICIPAL_USER, "no-such-meeting", Answer.ACCEPTED, ACT_AT)
    with pytest.raises(NotFound):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT, invitee_kind=InviteeKind.NAMED,
                               invitee_ref="nobody")
    with pytest.raises(InvalidTransition, match="over"):
        plan.answer_invitation(PSYCH_USER, meeting_id, Answer.ACCEPTED, MEETING_END)


def test_an_uninvited_unit_has_no_invitation_to_answer() -> None:
    plan = build_plan()
    meeting_id = schedule(plan, invite_unit_ids=(PRIMARY,))
    with pytest.raises(NotFound):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)


def test_reschedule_resets_the_answers_and_cancel_ends_the_meeting() -> None:
    plan = build_plan()
    meeting_id = schedule(plan)
    plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)
    later = MEETING_AT + timedelta(days=1)
    plan.reschedule_meeting(OWNER_USER, meeting_id, starts_at=later, ends_at=later + timedelta(hours=2),
                            now=ACT_AT, video_link=LINK)
    meeting = plan.meeting(meeting_id)
    assert (meeting.starts_at, meeting.place, meeting.video_link, meeting.rescheduled_at) == (
        later, "Vårdcentralen", LINK, ACT_AT)
    assert all(i.answer is Answer.PENDING for i in meeting.invitations)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipMeetingRescheduled)
    assert event.starts_at == later
    plan.cancel_meeting(MUNICIPAL_USER, meeting_id, ACT_AT)
    assert plan.meeting(meeting_id).cancelled
    assert isinstance(last_sip_event(plan), ev.SipMeetingCancelled)
    with pytest.raises(InvalidTransition, match="cancelled"):
        plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)
    with pytest.raises(InvalidTransition, match="cancelled"):
        plan.cancel_meeting(MUNICIPAL_USER, meeting_id, ACT_AT)
    with pytest.raises(InvalidTransition, match="cancelled"):
        plan.reschedule_meeting(OWNER_USER, meeting_id, starts_at=later, ends_at=later + timedelta(hours=1),
                                now=ACT_AT)


def test_meetings_do_not_touch_the_contents() -> None:
    plan = build_plan()
    revision = plan.content_revision
    plan.approve(MUNICIPAL_USER, revision, ACT_AT)
    meeting_id = schedule(plan)
    plan.answer_invitation(MUNICIPAL_USER, meeting_id, Answer.ACCEPTED, ACT_AT)
    assert plan.content_revision == revision
    assert SOLNA in plan.approvals


# ----- follow-up, closing and the state machine ----------------------------------------------------------


def test_follow_up_by_the_responsible_principal() -> None:
    plan = build_plan(PlanState.ACTIVE)
    with pytest.raises(NotAllowedForPart, match="overall responsibility"):
        plan.record_follow_up(MUNICIPAL_USER, ACT_AT, ACT_AT)  # Solna does not have it
    with pytest.raises(InvalidValue):
        plan.record_follow_up(PSYCH_USER, AGREED_AT - timedelta(minutes=1), ACT_AT)
    with pytest.raises(InvalidValue):
        plan.record_follow_up(PSYCH_USER, ACT_AT + timedelta(minutes=1), ACT_AT)
    follow_up_id = plan.record_follow_up(PSYCH_USER, ACT_AT - timedelta(hours=1), ACT_AT, notes=SECRET_TEXT)
    assert plan.state is PlanState.FOLLOWED_UP
    follow_up = plan.follow_ups[-1]
    assert (follow_up.id, follow_up.version_number, follow_up.recorded_by_unit_id) == (follow_up_id, 1, PSYCH)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipFollowedUp)
    assert (event.follow_up_id, event.version_number) == (follow_up_id, 1)
    plan.record_follow_up(OWNER_USER, ACT_AT, ACT_AT)  # a second follow-up is fine
    with pytest.raises(InvalidValue, match="already used"):
        plan.record_follow_up(OWNER_USER, ACT_AT, ACT_AT, follow_up_id=follow_up_id)


def test_a_draft_cannot_be_followed_up() -> None:
    with pytest.raises(InvalidTransition, match="draft"):
        build_plan().record_follow_up(OWNER_USER, ACT_AT, ACT_AT)


def test_a_revised_version_after_follow_up_makes_the_plan_active_again() -> None:
    plan = build_plan(PlanState.FOLLOWED_UP)
    revision = plan.contents.field(PlanField.NEXT_FOLLOW_UP_ON).revision
    plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, date(2026, 12, 1), revision, ACT_AT)
    agree(plan, ACT_AT)
    assert plan.state is PlanState.ACTIVE
    assert len(plan.versions) == 2


def test_close() -> None:
    plan = build_plan(PlanState.ACTIVE)
    with pytest.raises(NotAllowedForPart):
        plan.close(MUNICIPAL_USER, CloseReason.GOALS_MET, ACT_AT)
    plan.close(PSYCH_USER, CloseReason.NO_LONGER_NEEDED, ACT_AT)
    assert (plan.state, plan.closed_at, plan.close_reason) == (PlanState.CLOSED, ACT_AT,
                                                               CloseReason.NO_LONGER_NEEDED)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipPlanClosed)
    assert event.reason_code == "no_longer_needed"
    assert set(event.unit_ids) == {PRIMARY, MUNICIPAL, PSYCH}
    assert plan.is_visible_to(MUNICIPAL)  # a closed plan stays readable by the units the consent names


def test_closing_drops_pending_approvals() -> None:
    plan = build_plan()
    plan.approve(MUNICIPAL_USER, plan.content_revision, ACT_AT)
    plan.close(OWNER_USER, CloseReason.DECLINED, ACT_AT)
    assert plan.approvals == {}
    assert sip_event_types(plan)[-2:] == ["SipApprovalsInvalidated", "SipPlanClosed"]


def _edit(plan: SipPlan, actor: Actor, now: datetime) -> None:
    field = plan.contents.field(PlanField.OWN_CONTRIBUTION)
    plan.change_field(actor, PlanField.OWN_CONTRIBUTION, f"text at {now.isoformat()}", field.revision, now)


def _prepare_approval(plan: SipPlan) -> None:
    if plan.state.is_open and not plan.has_unagreed_changes:
        _edit(plan, OWNER_USER, ACT_AT - timedelta(minutes=5))


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[[SipPlan], object]
    states: frozenset[PlanState]
    event: type[ev.SipEvent]
    leads_to: PlanState | None = None
    prepare: Callable[[SipPlan], None] | None = None

    def __str__(self) -> str:
        return self.name


OPEN = frozenset({PlanState.DRAFT, PlanState.ACTIVE, PlanState.FOLLOWED_UP})
IN_FORCE = frozenset({PlanState.ACTIVE, PlanState.FOLLOWED_UP})

ACTIONS = (
    Action("add_unit", lambda p: p.add_unit(OWNER_USER, OTHER_MUNICIPAL_REF, ACT_AT), OPEN, ev.SipParticipantAdded),
    Action("add_named_participant",
           lambda p: p.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, "FK", ACT_AT),
           OPEN, ev.SipParticipantAdded),
    Action("remove_participant", lambda p: p.remove_participant(OWNER_USER, PSYCH, ACT_AT), OPEN,
           ev.SipParticipantRemoved),
    Action("give_consent", lambda p: give_consent(p, ACT_AT), OPEN, ev.SipConsentGiven),
    Action("withdraw_consent", lambda p: p.withdraw_consent(OWNER_USER, ACT_AT), OPEN, ev.SipConsentWithdrawn),
    Action("change_field", lambda p: _edit(p, MUNICIPAL_USER, ACT_AT), OPEN, ev.SipFieldChanged),
    Action("add_item", lambda p: p.add_item(MUNICIPAL_USER, ItemList.GOALS, GoalContent("mål"), ACT_AT), OPEN,
           ev.SipItemAdded),
    Action("change_item",
           lambda p: p.change_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", NeedContent("ändrat"), 1, ACT_AT),
           OPEN, ev.SipItemChanged),
    Action("remove_item", lambda p: p.remove_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", 1, ACT_AT), OPEN,
           ev.SipItemRemoved),
    Action("schedule_meeting", lambda p: schedule(p), OPEN, ev.SipMeetingScheduled),
    Action("approve", lambda p: p.approve(MUNICIPAL_USER, p.content_revision, ACT_AT), OPEN, ev.SipVersionApproved,
           prepare=_prepare_approval),
    Action("record_follow_up", lambda p: p.record_follow_up(OWNER_USER, ACT_AT, ACT_AT), IN_FORCE,
           ev.SipFollowedUp, PlanState.FOLLOWED_UP),
    Action("close", lambda p: p.close(OWNER_USER, CloseReason.OTHER, ACT_AT), OPEN, ev.SipPlanClosed,
           PlanState.CLOSED),
)


@pytest.mark.parametrize("state", list(PlanState), ids=str)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_actions_by_state(action: Action, state: PlanState) -> None:
    plan = build_plan(state)
    if action.prepare is not None:
        action.prepare(plan)
        plan.pending_events.clear()
    if state in action.states:
        action.run(plan)
        assert any(isinstance(e, action.event) for e in plan.pending_events)
        assert plan.state is (action.leads_to or state)
        assert all(e.plan_id == PLAN_ID and e.occurred_at == ACT_AT for e in plan.pending_events)
    else:
        before = plan_snapshot(plan)
        with pytest.raises(InvalidTransition):
            action.run(plan)
        assert plan_snapshot(plan) == before


def test_the_happy_path_through_every_state() -> None:
    plan = new_plan()
    give_consent(plan)
    fill_required(plan)
    assert plan.state is PlanState.DRAFT
    agree(plan)
    assert plan.state is PlanState.ACTIVE
    plan.record_follow_up(OWNER_USER, ACT_AT, ACT_AT)
    assert plan.state is PlanState.FOLLOWED_UP
    plan.close(OWNER_USER, CloseReason.GOALS_MET, ACT_AT)
    assert plan.state is PlanState.CLOSED
    assert not plan.state.is_open


# ----- events ----------------------------------------------------------------------------------------------


def _full_story() -> SipPlan:
    """A plan that goes through everything, with personal data in every free-text field."""
    plan = new_plan(case_id="case-1")
    give_consent(plan)
    kin = plan.add_named_participant(OWNER_USER, NamedParticipantKind.NEXT_OF_KIN, SECRET_NAME, FILLED_AT,
                                     organisation=SECRET_TEXT[:50], role=SECRET_TEXT[:40])
    plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent(SECRET_TEXT), FILLED_AT, item_id="need-1")
    plan.add_item(OWNER_USER, ItemList.SERVICES, ServiceContent(SECRET_TEXT, responsible_unit_id=MUNICIPAL,
                                                                contact_person=SECRET_NAME, when=SECRET_TEXT[:30]),
                  FILLED_AT)
    plan.add_item(OWNER_USER, ItemList.MEASURES, MeasureContent(SECRET_TEXT, by_whom=SECRET_NAME, participant_id=kin),
                  FILLED_AT)
    plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent(SECRET_TEXT), FILLED_AT, item_id="goal-1")
    plan.change_field(OWNER_USER, PlanField.OWN_CONTRIBUTION, SECRET_TEXT, 0, FILLED_AT)
    plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, REGION, 0, FILLED_AT)
    plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, date(2026, 6, 10), 0, FILLED_AT)
    meeting = schedule(plan, now=FILLED_AT, place=SECRET_TEXT[:60])
    plan.reschedule_meeting(OWNER_USER, meeting, starts_at=MEETING_AT, ends_at=MEETING_END, now=FILLED_AT,
                            place=SECRET_TEXT[:70])
    plan.answer_invitation(OWNER_USER, meeting, Answer.ACCEPTED, FILLED_AT, invitee_kind=InviteeKind.PERSON)
    plan.approve(MUNICIPAL_USER, plan.content_revision, FILLED_AT)
    plan.change_item(OWNER_USER, ItemList.GOALS, "goal-1", GoalContent(SECRET_TEXT + "!"), 1, FILLED_AT)
    plan.remove_participant(OWNER_USER, kin, FILLED_AT)
    plan.remove_item(OWNER_USER, ItemList.MEASURES, plan.contents.measures[0].id, 1, FILLED_AT)
    agree(plan)
    plan.cancel_meeting(OWNER_USER, meeting, AGREED_AT)
    plan.record_follow_up(OWNER_USER, ACT_AT, ACT_AT, notes=SECRET_TEXT)
    plan.hand_over(OWNER_USER, PSYCH, ACT_AT)
    plan.hand_over(PSYCH_USER, PRIMARY, ACT_AT)
    plan.merge_person_identity(OWNER_USER, "person-identified", ACT_AT)  # an administrator's in fact
    plan.withdraw_consent(OWNER_USER, ACT_AT)
    plan.close(OWNER_USER, CloseReason.CONSENT_WITHDRAWN, ACT_AT)
    return plan


def test_the_full_story_records_every_event_type() -> None:
    plan = _full_story()
    assert set(sip_event_types(plan)) == set(ev.SIP_EVENT_TYPES)
    assert all(e.plan_id == PLAN_ID for e in plan.pending_events)
    assert all(e.unit_ids and PRIMARY in e.unit_ids for e in plan.pending_events)
    assert all(e.type in ev.SIP_EVENT_TYPES and ev.SIP_EVENT_TYPES[e.type] is type(e) for e in plan.pending_events)


def test_events_carry_no_personal_data() -> None:
    plan = _full_story()
    words = {w for w in (SECRET_TEXT + " " + SECRET_NAME).replace(";", " ").replace(",", " ").split() if len(w) > 3}
    for event in plan.pending_events:
        strings = list(walk_strings(dataclasses.asdict(event)))
        assert PERSON_ID not in strings, event
        for text in strings:
            assert not any(w in text for w in words), (event.type, text)


def test_events_go_to_the_units_that_see_the_plan() -> None:
    plan = new_plan()
    plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent("x"), START)
    assert last_sip_event(plan).unit_ids == (PRIMARY,)
    give_consent(plan, scope=(MUNICIPAL,))
    plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent("y"), CONSENT_AT)
    assert last_sip_event(plan).unit_ids == (PRIMARY, MUNICIPAL)
    assert OTHER_MUNICIPAL not in last_sip_event(plan).unit_ids


def test_a_reserve_number_merged_into_the_real_identity_moves_the_plan() -> None:
    plan = _full_story()
    assert plan.person_id == "person-identified"
    with pytest.raises(InvalidValue):
        plan.merge_person_identity(OWNER_USER, "person-identified", ACT_AT)
