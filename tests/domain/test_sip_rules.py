"""What a unit may do on a SIP plan: `SipPlan.refusal` / `allowed_actions` are the same rule the commands enforce
(one source of truth), every refusal carries its specific code, and handing the plan over."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.discharge_case import Actor
from domain.errors import DomainError, InvalidTransition, InvalidValue, NotAllowedForPart
from domain.sip import (
    PERSON_REF,
    Answer,
    CloseReason,
    ConsentForm,
    ConsentGiver,
    Invitation,
    InviteeKind,
    Meeting,
    NamedParticipant,
    NamedParticipantKind,
    PlanField,
    PlanState,
    Refusal,
    SipAction,
    SipPlan,
)
from domain.sip import events as ev
from tests.domain.builders import MUNICIPAL, MUNICIPAL_USER, PRIMARY, STRANGER, at
from tests.domain.sip_builders import (
    OWNER_USER,
    PSYCH,
    PSYCH_USER,
    STRANGER_USER,
    build_plan,
    give_consent,
    last_sip_event,
    new_plan,
    plan_snapshot,
)

ACT_AT = at(2026, 6, 11, 9)
MEETING_AT = at(2026, 6, 15, 13)
ACTORS = {PRIMARY: OWNER_USER, MUNICIPAL: MUNICIPAL_USER, PSYCH: PSYCH_USER, STRANGER: STRANGER_USER}


def _named(kind: NamedParticipantKind = NamedParticipantKind.OTHER_ACTOR) -> NamedParticipant:
    return NamedParticipant("named-1", kind, "Försäkringskassan", "", "", ACT_AT - timedelta(days=1), "u", PRIMARY)


def _with_meeting(plan: SipPlan) -> SipPlan:
    """An open meeting inviting every unit that sees the plan and the person (set directly, bypassing rules), and
    a named participant, so that meeting and participant actions have something to act on."""
    invitations = (*(Invitation(InviteeKind.UNIT, u) for u in plan.visible_unit_ids()),
                   Invitation(InviteeKind.PERSON, PERSON_REF))
    plan.meetings.append(Meeting("meeting-1", MEETING_AT, MEETING_AT + timedelta(hours=1), "Hemma", "", invitations,
                                 ACT_AT - timedelta(days=1), "u", PRIMARY))
    plan.named_participants.append(_named())
    return plan


def _withdrawn() -> SipPlan:
    plan = build_plan(PlanState.ACTIVE)
    plan.withdraw_consent(OWNER_USER, ACT_AT - timedelta(hours=1))
    plan.pending_events.clear()
    return plan


def _objecting() -> SipPlan:
    plan = build_plan()
    give_consent(plan, ACT_AT - timedelta(hours=1), next_of_kin_may_take_part=False)
    plan.pending_events.clear()
    return plan


def _changed_after_agreement() -> SipPlan:
    plan = build_plan(PlanState.ACTIVE)
    plan.change_field(OWNER_USER, PlanField.OWN_CONTRIBUTION, "Går ut själv", 0, ACT_AT - timedelta(hours=1))
    plan.approve(MUNICIPAL_USER, plan.content_revision, ACT_AT - timedelta(hours=1))
    plan.pending_events.clear()
    return plan


PLANS: dict[str, Callable[[], SipPlan]] = {
    "draft without consent": lambda: build_plan(consent=False, filled=False),
    "draft": build_plan,
    "draft, next of kin objected": _objecting,
    "active": lambda: build_plan(PlanState.ACTIVE),
    "active, changed and approved by Solna": _changed_after_agreement,
    "followed up": lambda: build_plan(PlanState.FOLLOWED_UP),
    "closed": lambda: build_plan(PlanState.CLOSED),
    "sharing ended": _withdrawn,
}

RUN: dict[SipAction, Callable[[SipPlan, Actor], object]] = {
    SipAction.EDIT: lambda p, a: p.change_field(a, PlanField.OWN_CONTRIBUTION, "Lagar mat",
                                                p.contents.own_contribution.revision, ACT_AT),
    SipAction.ADD_PARTICIPANT: lambda p, a: p.add_named_participant(a, NamedParticipantKind.OTHER_ACTOR, "Skolan",
                                                                    ACT_AT),
    SipAction.ADD_NEXT_OF_KIN: lambda p, a: p.add_named_participant(a, NamedParticipantKind.NEXT_OF_KIN, "Eva",
                                                                    ACT_AT),
    SipAction.REMOVE_PARTICIPANT: lambda p, a: p.remove_participant(a, "named-1", ACT_AT),
    SipAction.RECORD_CONSENT: lambda p, a: give_consent(p, ACT_AT, actor=a),
    SipAction.WITHDRAW_CONSENT: lambda p, a: p.withdraw_consent(a, ACT_AT),
    SipAction.SCHEDULE_MEETING: lambda p, a: p.schedule_meeting(a, starts_at=MEETING_AT, ends_at=MEETING_AT
                                                                + timedelta(hours=1), now=ACT_AT, place="Hemma"),
    SipAction.RESCHEDULE_MEETING: lambda p, a: p.reschedule_meeting(a, "meeting-1", starts_at=MEETING_AT
                                                                    + timedelta(days=1), ends_at=MEETING_AT
                                                                    + timedelta(days=1, hours=1), now=ACT_AT),
    SipAction.CANCEL_MEETING: lambda p, a: p.cancel_meeting(a, "meeting-1", ACT_AT),
    SipAction.ANSWER_INVITATION: lambda p, a: p.answer_invitation(a, "meeting-1", Answer.ACCEPTED, ACT_AT,
                                                                  invitee_kind=InviteeKind.PERSON),
    SipAction.APPROVE: lambda p, a: p.approve(a, p.content_revision, ACT_AT),
    SipAction.FOLLOW_UP: lambda p, a: p.record_follow_up(a, ACT_AT, ACT_AT),
    SipAction.CLOSE: lambda p, a: p.close(a, CloseReason.OTHER, ACT_AT),
    SipAction.HAND_OVER: lambda p, a: p.hand_over(a, (p.hand_over_unit_ids() or (MUNICIPAL,))[0], ACT_AT),
}


def test_every_action_has_a_command_here() -> None:
    assert set(RUN) == set(SipAction)


@pytest.mark.parametrize("unit", list(ACTORS), ids=str)
@pytest.mark.parametrize("name", list(PLANS), ids=str)
def test_allowed_actions_are_exactly_what_the_commands_let_through(name: str, unit: str) -> None:
    """For every kind of plan and every unit: an action is listed as allowed exactly when its command goes
    through, and a refused command raises the very refusal `refusal` gives (class, code and field)."""
    base = _with_meeting(PLANS[name]())
    allowed = base.allowed_actions(unit)
    for action in SipAction:
        plan = copy.deepcopy(base)
        refusal = plan.refusal(action, unit)
        assert (refusal is None) == (action in allowed), action
        raised: DomainError | None = None
        try:
            RUN[action](plan, ACTORS[unit])
        except DomainError as exc:
            raised = exc
        if refusal is None:
            assert raised is None, f"{action} is allowed but its command raised {raised}"
        else:
            assert raised is not None, f"{action} went through though refused with {refusal.code}"
            assert (type(raised), raised.code, raised.field) == (type(refusal), refusal.code, refusal.field), action
            assert plan_snapshot(plan) == plan_snapshot(base), action


def test_what_each_unit_may_do() -> None:
    draft = build_plan()
    # Before agreement: everyone edits, approves and calls meetings; only the owner hands over; nobody follows up.
    assert set(draft.allowed_actions(PRIMARY)) == set(SipAction) - {SipAction.FOLLOW_UP}
    assert set(draft.allowed_actions(MUNICIPAL)) == set(SipAction) - {SipAction.FOLLOW_UP, SipAction.CLOSE,
                                                                      SipAction.HAND_OVER}
    # PSYCH acts for the region, which has the overall responsibility: it may close, but not hand over.
    assert SipAction.CLOSE in draft.allowed_actions(PSYCH)
    assert SipAction.HAND_OVER not in draft.allowed_actions(PSYCH)
    assert draft.allowed_actions(STRANGER) == ()
    assert draft.refusal(SipAction.FOLLOW_UP, PRIMARY).code == Refusal.NO_AGREED_VERSION  # type: ignore[union-attr]
    assert draft.refusal(SipAction.CLOSE, MUNICIPAL).code == Refusal.NOT_RESPONSIBLE_FOR_PLAN  # type: ignore[union-attr]

    active = build_plan(PlanState.ACTIVE)
    assert SipAction.FOLLOW_UP in active.allowed_actions(PRIMARY)
    assert SipAction.APPROVE not in active.allowed_actions(PRIMARY)  # nothing new to agree on
    assert active.refusal(SipAction.APPROVE, PRIMARY).code == Refusal.ALREADY_AGREED  # type: ignore[union-attr]

    closed = build_plan(PlanState.CLOSED)
    assert closed.allowed_actions(PRIMARY) == ()
    assert closed.refusal(SipAction.EDIT, PRIMARY).code == Refusal.PLAN_CLOSED  # type: ignore[union-attr]

    withdrawn = _withdrawn()
    assert set(withdrawn.allowed_actions(PRIMARY)) == {SipAction.RECORD_CONSENT, SipAction.CLOSE}
    assert withdrawn.refusal(SipAction.EDIT, PRIMARY).code == Refusal.SHARING_ENDED  # type: ignore[union-attr]
    assert withdrawn.allowed_actions(MUNICIPAL) == ()

    unconsented = build_plan(consent=False)
    assert SipAction.SCHEDULE_MEETING not in unconsented.allowed_actions(PRIMARY)
    assert unconsented.refusal(SipAction.WITHDRAW_CONSENT, PRIMARY).code == Refusal.NO_CONSENT_TO_WITHDRAW  # type: ignore[union-attr]
    assert unconsented.refusal(SipAction.HAND_OVER, PRIMARY).code == Refusal.NO_UNIT_TO_HAND_OVER_TO  # type: ignore[union-attr]

    objecting = _objecting()
    assert SipAction.ADD_PARTICIPANT in objecting.allowed_actions(MUNICIPAL)
    assert SipAction.ADD_NEXT_OF_KIN not in objecting.allowed_actions(MUNICIPAL)


def test_the_responsible_principal_follows_the_version_in_force() -> None:
    """Follow-up and closing: the owner, or a unit of the principal with the overall responsibility in the
    version in force (a changed draft does not move it until agreed)."""
    plan = build_plan(PlanState.ACTIVE)
    solna = plan.unit(MUNICIPAL).principal_id  # type: ignore[union-attr]
    assert SipAction.FOLLOW_UP not in plan.allowed_actions(MUNICIPAL)
    field = plan.contents.overall_responsibility
    plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, solna, field.revision, ACT_AT)
    assert SipAction.FOLLOW_UP not in plan.allowed_actions(MUNICIPAL)
    for actor in (OWNER_USER, MUNICIPAL_USER):
        plan.approve(actor, plan.content_revision, ACT_AT)
    assert plan.responsible_principal_id == solna
    assert SipAction.FOLLOW_UP in plan.allowed_actions(MUNICIPAL)
    assert SipAction.FOLLOW_UP not in plan.allowed_actions(PSYCH)  # the region no longer has it
    assert SipAction.FOLLOW_UP in plan.allowed_actions(PRIMARY)  # the owner always may


@pytest.mark.parametrize(("run", "error", "code", "field"), [
    (lambda p: p.schedule_meeting(OWNER_USER, starts_at=ACT_AT - timedelta(days=1), ends_at=ACT_AT, now=ACT_AT,
                                  place="x"), InvalidValue, Refusal.MEETING_IN_PAST, "starts_at"),
    (lambda p: p.schedule_meeting(OWNER_USER, starts_at=MEETING_AT, ends_at=MEETING_AT, now=ACT_AT, place="x"),
     InvalidValue, Refusal.MEETING_ENDS_BEFORE_START, "ends_at"),
    (lambda p: p.schedule_meeting(OWNER_USER, starts_at=MEETING_AT, ends_at=MEETING_AT + timedelta(hours=1),
                                  now=ACT_AT), InvalidValue, Refusal.PLACE_OR_VIDEO_LINK_REQUIRED, "place"),
    (lambda p: p.schedule_meeting(OWNER_USER, starts_at=MEETING_AT, ends_at=MEETING_AT + timedelta(hours=1),
                                  now=ACT_AT, video_link="http://x"), InvalidValue, Refusal.VIDEO_LINK_NOT_HTTPS,
     "video_link"),
    (lambda p: p.schedule_meeting(OWNER_USER, starts_at=MEETING_AT, ends_at=MEETING_AT + timedelta(hours=1),
                                  now=ACT_AT, place="x", invite_unit_ids=(), invite_person=False,
                                  invite_participant_ids=()), InvalidValue, Refusal.NOBODY_INVITED, "invite_unit_ids"),
    (lambda p: p.answer_invitation(OWNER_USER, "meeting-1", Answer.ACCEPTED, ACT_AT, invitee_ref=MUNICIPAL),
     NotAllowedForPart, Refusal.ANSWERS_FOR_OWN_UNIT_ONLY, "invitee_ref"),
    (lambda p: p.answer_invitation(OWNER_USER, "no-such", Answer.ACCEPTED, ACT_AT), DomainError,
     Refusal.MEETING_NOT_FOUND, "meeting_id"),
    (lambda p: p.remove_participant(OWNER_USER, PRIMARY, ACT_AT), InvalidValue, Refusal.OWNER_CANNOT_LEAVE,
     "participant_id"),
    (lambda p: p.remove_participant(OWNER_USER, "nobody", ACT_AT), DomainError, Refusal.PARTICIPANT_NOT_FOUND,
     "participant_id"),
    (lambda p: p.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, "  ", ACT_AT), InvalidValue,
     Refusal.TEXT_REQUIRED, "name"),
    (lambda p: p.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, "x" * 201, ACT_AT),
     InvalidValue, Refusal.TEXT_TOO_LONG, "name"),
    (lambda p: p.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, "principal-nobody", 1, ACT_AT),
     InvalidValue, Refusal.RESPONSIBILITY_NOT_PARTICIPATING, "overall_responsibility"),
    (lambda p: p.hand_over(OWNER_USER, STRANGER, ACT_AT), InvalidValue, Refusal.HAND_OVER_TARGET_INVALID,
     "unit_id"),
    (lambda p: p.hand_over(OWNER_USER, PRIMARY, ACT_AT), InvalidValue, Refusal.ALREADY_OWNER, "unit_id"),
    (lambda p: p.hand_over(MUNICIPAL_USER, PSYCH, ACT_AT), NotAllowedForPart, Refusal.NOT_PLAN_OWNER, None),
])
def test_refusals_of_arguments_carry_their_code_and_field(run: Callable[[SipPlan], object], error: type[DomainError],
                                                          code: Refusal, field: str | None) -> None:
    plan = _with_meeting(build_plan())
    before = plan_snapshot(plan)
    with pytest.raises(error) as raised:
        run(plan)
    assert (raised.value.code, raised.value.field) == (code, field)
    assert plan_snapshot(plan) == before


def test_every_refusal_of_the_aggregate_has_a_specific_code() -> None:
    """No SIP refusal falls back to its class's generic code."""
    generic = {InvalidTransition.code, NotAllowedForPart.code, InvalidValue.code, "not_found"}
    assert not generic & {str(r) for r in Refusal}
    assert len(set(Refusal)) == len({str(r) for r in Refusal})


# ----- handing the plan over ----------------------------------------------------------------------------------


def test_the_owner_hands_the_plan_over_to_a_unit_that_sees_it() -> None:
    plan = build_plan(PlanState.ACTIVE)
    plan.hand_over(OWNER_USER, MUNICIPAL, ACT_AT)
    assert plan.owner_unit_id == MUNICIPAL
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipPlanHandedOver)
    assert (event.from_unit_id, event.to_unit_id) == (PRIMARY, MUNICIPAL)
    assert set(event.unit_ids) == {PRIMARY, MUNICIPAL, PSYCH}
    # The former owner stays a participant that sees the plan; the new owner decides from now on.
    assert plan.is_visible_to(PRIMARY)
    assert SipAction.HAND_OVER in plan.allowed_actions(MUNICIPAL)
    assert SipAction.HAND_OVER not in plan.allowed_actions(PRIMARY)
    assert SipAction.CLOSE in plan.allowed_actions(MUNICIPAL)
    # ... so the former owner may now be removed, and the new one may not leave.
    plan.remove_participant(MUNICIPAL_USER, PRIMARY, ACT_AT)
    assert not plan.is_visible_to(PRIMARY)
    with pytest.raises(InvalidValue):
        plan.remove_participant(PSYCH_USER, MUNICIPAL, ACT_AT)


def test_after_a_hand_over_only_the_new_owner_sees_a_plan_whose_consent_is_withdrawn() -> None:
    plan = build_plan(PlanState.ACTIVE)
    plan.hand_over(OWNER_USER, MUNICIPAL, ACT_AT)
    plan.withdraw_consent(OWNER_USER, ACT_AT)
    assert plan.visible_unit_ids() == (MUNICIPAL,)


def test_a_draft_without_consent_cannot_be_handed_over() -> None:
    """Before consent only the owner sees the plan: handing it over would share it without consent."""
    plan = new_plan()
    with pytest.raises(InvalidTransition) as raised:
        plan.hand_over(OWNER_USER, MUNICIPAL, ACT_AT)
    assert raised.value.code == Refusal.NO_UNIT_TO_HAND_OVER_TO
    plan.give_consent(OWNER_USER, given_by=ConsentGiver.PERSON, form=ConsentForm.VERBAL, scope_unit_ids=(PSYCH,),
                      given_at=ACT_AT, now=ACT_AT)
    with pytest.raises(InvalidValue):  # in the plan, but not named by the consent
        plan.hand_over(OWNER_USER, MUNICIPAL, ACT_AT)
    plan.hand_over(OWNER_USER, PSYCH, ACT_AT)
    assert plan.owner_unit_id == PSYCH


def test_next_of_kin_refusal_names_the_kind() -> None:
    plan = _objecting()
    with pytest.raises(InvalidTransition) as raised:
        plan.add_named_participant(MUNICIPAL_USER, NamedParticipantKind.NEXT_OF_KIN, "Eva", ACT_AT)
    assert (raised.value.code, raised.value.field) == (Refusal.NEXT_OF_KIN_OBJECTED, "kind")
    assert dataclasses.replace(_named(), kind=NamedParticipantKind.NEXT_OF_KIN).kind is NamedParticipantKind.NEXT_OF_KIN
