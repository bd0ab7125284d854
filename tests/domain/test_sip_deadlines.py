"""SIP deadlines: the follow-up of the version in force, and the case's SIP invitation met by the plan."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import events as case_events
from domain.deadlines import (
    DEFAULT_RULES,
    STOCKHOLM,
    DeadlineKind,
    DeadlineRules,
    DeadlineState,
    case_deadlines,
    liability_conditions,
    worst_open_state,
)
from domain.discharge_case import Actor, CaseState, DischargeCase
from domain.errors import InvalidTransition, InvalidValue, NotAllowedForPart
from domain.organisation import PrincipalKind
from domain.payment import STOCKHOLM_2020
from domain.sip import (
    CloseReason,
    PlanField,
    PlanState,
    Revised,
    SipPlan,
    UnitRef,
    can_record_invitation_on_case,
    open_plan_for_case,
    plan_deadlines,
    record_invitation_on_case,
)
from tests.domain.builders import (
    CASE_ID,
    HOME_INFO,
    MUNICIPAL_USER,
    PATIENT_ID,
    PRIMARY_USER,
    READY_AT,
    WARD,
    WARD_USER,
    at,
    build_case,
)
from tests.domain.sip_builders import (
    AGREED_AT,
    FOLLOW_UP_ON,
    MUNICIPAL_REF,
    OWNER_USER,
    PRIMARY_REF,
    PSYCH_REF,
    STRANGER_USER,
    agree,
    build_plan,
    fill_required,
    give_consent,
)
from tests.domain.sip_builders import REGION as REGION_ID

OK, AT_RISK, OVERDUE = DeadlineState.OK, DeadlineState.AT_RISK, DeadlineState.OVERDUE
DUE = datetime(2026, 6, 10, 23, 59, 59, 999999, tzinfo=STOCKHOLM)  # end of the follow-up day


def follow_up_deadline(plan: SipPlan, now: datetime, rules: DeadlineRules = DEFAULT_RULES) -> DeadlineState | None:
    found = plan_deadlines(plan, now, rules)
    assert len(found) <= 1
    if not found:
        return None
    assert found[0].kind is DeadlineKind.SIP_FOLLOW_UP
    return found[0].state


# ----- the follow-up ------------------------------------------------------------------------------------------


def test_a_draft_has_no_deadline_even_with_a_date() -> None:
    plan = build_plan()
    assert plan.contents.next_follow_up_on.value == FOLLOW_UP_ON
    assert plan_deadlines(plan, AGREED_AT) == ()
    assert plan.next_follow_up_due() is None


def test_the_follow_up_of_the_version_in_force_is_a_deadline() -> None:
    plan = build_plan(PlanState.ACTIVE)
    (deadline,) = plan_deadlines(plan, AGREED_AT)
    assert (deadline.kind, deadline.due_at, deadline.met_at, deadline.state) == (
        DeadlineKind.SIP_FOLLOW_UP, DUE, None, OK)
    assert deadline.due_at.utcoffset() == timedelta(hours=2)  # summer time
    assert deadline.due_at.astimezone(UTC) == datetime(2026, 6, 10, 21, 59, 59, 999999, tzinfo=UTC)
    assert plan.next_follow_up_due() == FOLLOW_UP_ON


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (DUE - timedelta(days=8), OK),
        (DUE - timedelta(days=7), AT_RISK),
        (DUE, AT_RISK),
        (DUE + timedelta(microseconds=1), OVERDUE),
        (DUE + timedelta(days=60), OVERDUE),
    ],
)
def test_the_follow_up_counts_down(now: datetime, state: DeadlineState) -> None:
    assert follow_up_deadline(build_plan(PlanState.ACTIVE), now) is state


def test_the_at_risk_window_is_a_rule() -> None:
    rules = DeadlineRules(sip_follow_up_at_risk=timedelta(days=1))
    assert follow_up_deadline(build_plan(PlanState.ACTIVE), DUE - timedelta(days=2), rules) is OK


def test_a_follow_up_in_time_meets_it_and_a_late_one_is_overdue() -> None:
    plan = build_plan(PlanState.FOLLOWED_UP)  # followed up on the day
    (deadline,) = plan_deadlines(plan, DUE + timedelta(days=30))
    assert (deadline.met_at, deadline.state, deadline.open) == (at(2026, 6, 10, 10), OK, False)
    late = build_plan(PlanState.ACTIVE)
    held = DUE + timedelta(days=2)
    late.record_follow_up(OWNER_USER, held, held)
    (deadline,) = plan_deadlines(late, held)
    assert (deadline.met_at, deadline.state) == (held, OVERDUE)


def test_a_new_version_brings_the_next_follow_up() -> None:
    plan = build_plan(PlanState.FOLLOWED_UP)
    now = at(2026, 6, 11, 9)
    plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, date(2026, 12, 1), 1, now)
    assert plan_deadlines(plan, now)[0].met_at is not None  # the working copy does not count until agreed
    agree(plan, now)
    (deadline,) = plan_deadlines(plan, now)
    assert deadline.due_at.date() == date(2026, 12, 1)
    assert deadline.due_at.utcoffset() == timedelta(hours=1)  # winter time
    assert deadline.open
    assert worst_open_state(plan_deadlines(plan, now)) is OK


def test_a_version_without_a_follow_up_date_has_no_deadline() -> None:
    plan = build_plan(PlanState.ACTIVE)
    # An older rule set (without the follow-up requirement) may have agreed such a version.
    contents = plan.contents.with_field(PlanField.NEXT_FOLLOW_UP_ON, Revised(None))
    plan.versions[-1] = dataclasses.replace(plan.versions[-1], contents=contents)
    assert plan_deadlines(plan, AGREED_AT) == ()


def test_closed_or_unshared_plans_leave_unmet_follow_ups_behind() -> None:
    closed = build_plan(PlanState.ACTIVE)
    closed.close(OWNER_USER, CloseReason.MOVED, AGREED_AT + timedelta(days=1))
    assert plan_deadlines(closed, DUE + timedelta(days=1)) == ()
    withdrawn = build_plan(PlanState.ACTIVE)
    withdrawn.withdraw_consent(OWNER_USER, AGREED_AT + timedelta(days=1))
    assert plan_deadlines(withdrawn, DUE + timedelta(days=1)) == ()
    met_then_closed = build_plan(PlanState.CLOSED)
    assert [d.state for d in plan_deadlines(met_then_closed, DUE + timedelta(days=1))] == [OK]


# ----- the case's SIP invitation follows the plan -----------------------------------------------------------


SIP_DUE = READY_AT + timedelta(days=3)


def case_plan(state: CaseState = CaseState.READY) -> tuple[DischargeCase, SipPlan]:
    case = build_case(state, sip_applies=True)
    plan = open_plan_for_case(case, owner=PRIMARY_REF, actor=PRIMARY_USER, now=READY_AT + timedelta(hours=1),
                              units=(MUNICIPAL_REF, PSYCH_REF), plan_id="plan-1")
    give_consent(plan, READY_AT + timedelta(hours=2))
    return case, plan


def schedule_first(plan: SipPlan, now: datetime, actor: Actor = PRIMARY_USER) -> None:
    plan.schedule_meeting(actor, starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=1),
                          now=now, place="Hemma")


def sip_invitation_state(case: DischargeCase, now: datetime) -> tuple[DeadlineState, datetime | None]:
    found = {d.kind: d for d in case_deadlines(case, STOCKHOLM_2020, now)}
    deadline = found[DeadlineKind.SIP_INVITATION]
    return deadline.state, deadline.met_at


def test_a_plan_opened_from_a_case_belongs_to_it() -> None:
    case, plan = case_plan()
    assert (plan.case_id, plan.person_id) == (CASE_ID, PATIENT_ID)
    assert plan.unit(PRIMARY_REF.unit_id) is not None
    assert case.sip_plan_id is None  # nothing on the case until the invitation


def test_opening_a_plan_marks_that_a_sip_applies_to_the_open_case() -> None:
    case = build_case(CaseState.READY)
    assert not case.sip_applies
    assert DeadlineKind.SIP_INVITATION not in {d.kind for d in case_deadlines(case, STOCKHOLM_2020, READY_AT)}
    open_plan_for_case(case, owner=PRIMARY_REF, actor=PRIMARY_USER, now=READY_AT + timedelta(hours=1))
    assert case.sip_applies
    event = case.pending_events[-1]
    assert isinstance(event, case_events.SipApplicabilityChanged)
    assert event.sip_applies
    assert sip_invitation_state(case, READY_AT + timedelta(hours=1)) == (OK, None)
    discharged = build_case(CaseState.DISCHARGED)
    open_plan_for_case(discharged, owner=PRIMARY_REF, actor=PRIMARY_USER, now=at(2026, 3, 7, 9))
    assert not discharged.sip_applies  # a discharged case is past deciding that
    assert discharged.pending_events == []


def test_the_plans_first_invitation_meets_the_case_deadline() -> None:
    case, plan = case_plan()
    sent = READY_AT + timedelta(days=1)
    assert sip_invitation_state(case, sent) == (OK, None)
    assert not record_invitation_on_case(plan, case, PRIMARY_USER)  # nothing sent yet
    schedule_first(plan, sent)
    assert can_record_invitation_on_case(plan, case, PRIMARY_USER)
    assert record_invitation_on_case(plan, case, PRIMARY_USER)
    assert (case.sip_invitation_sent_at, case.sip_plan_id) == (sent, plan.id)
    event = case.pending_events[-1]
    assert isinstance(event, case_events.SipInvitationSent)
    assert event.occurred_at == sent
    assert sip_invitation_state(case, SIP_DUE + timedelta(days=10)) == (OK, sent)
    assert liability_conditions(case).sip_invitation_sent
    count = len(case.pending_events)
    schedule_first(plan, sent + timedelta(hours=1))  # a second meeting
    assert not record_invitation_on_case(plan, case, PRIMARY_USER)  # idempotent: the first one counted
    assert len(case.pending_events) == count
    assert case.sip_invitation_sent_at == sent


def test_a_late_first_invitation_meets_it_late() -> None:
    case, plan = case_plan()
    sent = SIP_DUE + timedelta(hours=5)
    assert sip_invitation_state(case, sent)[0] is OVERDUE
    schedule_first(plan, sent)
    assert record_invitation_on_case(plan, case, PRIMARY_USER)
    assert sip_invitation_state(case, sent) == (OVERDUE, sent)
    assert not liability_conditions(case).sip_invitation_sent


def test_an_invitation_by_another_unit_leaves_the_case_to_primary_care() -> None:
    case, plan = case_plan()
    sent = READY_AT + timedelta(days=1)
    schedule_first(plan, sent, MUNICIPAL_USER)
    assert not record_invitation_on_case(plan, case, MUNICIPAL_USER)
    assert case.sip_invitation_sent_at is None
    assert sip_invitation_state(case, sent) == (OK, None)
    # The primary care unit can still record the plan's invitation (it was sent in time, on the plan).
    assert record_invitation_on_case(plan, case, PRIMARY_USER)
    assert case.sip_invitation_sent_at == sent


def test_a_case_already_invited_keeps_its_invitation() -> None:
    case, plan = case_plan()
    case.send_sip_invitation(PRIMARY_USER, READY_AT + timedelta(hours=3))
    schedule_first(plan, READY_AT + timedelta(days=1))
    assert not record_invitation_on_case(plan, case, PRIMARY_USER)
    assert case.sip_invitation_sent_at == READY_AT + timedelta(hours=3)
    assert case.sip_plan_id is None


@pytest.mark.parametrize("state", [CaseState.CLOSED, CaseState.INTERRUPTED])
def test_a_case_that_is_over_is_not_changed(state: CaseState) -> None:
    case = build_case(state, sip_applies=True)
    plan = open_plan_for_case(case, owner=PRIMARY_REF, actor=PRIMARY_USER, now=at(2026, 3, 7, 9),
                              units=(MUNICIPAL_REF,))
    give_consent(plan, at(2026, 3, 7, 9))
    schedule_first(plan, at(2026, 3, 7, 10))
    assert not record_invitation_on_case(plan, case, PRIMARY_USER)


def test_the_hook_refuses_a_plan_of_another_case() -> None:
    _, plan = case_plan()
    other = build_case(CaseState.READY)
    other.id = "case-2"
    with pytest.raises(InvalidValue):
        record_invitation_on_case(plan, other, PRIMARY_USER)
    outside = build_plan()
    with pytest.raises(InvalidValue):
        record_invitation_on_case(outside, build_case(CaseState.READY), PRIMARY_USER)


def test_who_may_open_a_plan_for_a_case() -> None:
    draft = build_case(CaseState.ADMITTED)
    with pytest.raises(NotAllowedForPart):  # receivers do not see the ward's draft
        open_plan_for_case(draft, owner=PRIMARY_REF, actor=PRIMARY_USER, now=READY_AT)
    ward_ref = UnitRef(WARD, REGION_ID, PrincipalKind.REGION)
    plan = open_plan_for_case(draft, owner=ward_ref, actor=WARD_USER, now=READY_AT)
    assert plan.owner_unit_id == WARD
    with pytest.raises(NotAllowedForPart):
        open_plan_for_case(build_case(CaseState.READY), owner=PRIMARY_REF, actor=STRANGER_USER, now=READY_AT)
    with pytest.raises(InvalidTransition, match="cancelled"):
        open_plan_for_case(build_case(CaseState.CANCELLED), owner=PRIMARY_REF, actor=PRIMARY_USER, now=READY_AT)


def test_the_full_case_story_with_a_plan() -> None:
    """Ready → plan opened → consent → first meeting (the invitation) → plan agreed → case discharged."""
    case, plan = case_plan()
    schedule_first(plan, READY_AT + timedelta(days=2))
    record_invitation_on_case(plan, case, PRIMARY_USER)
    fill_required(plan, READY_AT + timedelta(days=2))
    agree(plan, READY_AT + timedelta(days=3))
    assert plan.state is PlanState.ACTIVE
    case.send_discharge_notice(WARD_USER, READY_AT + timedelta(days=4), READY_AT + timedelta(days=4),
                               information=HOME_INFO)
    states = {d.kind: d.state for d in case_deadlines(case, STOCKHOLM_2020, READY_AT + timedelta(days=4))}
    assert states[DeadlineKind.SIP_INVITATION] is OK
