"""Deadlines of a discharge case (process.md section 3) and its payment liability (section 4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.care import CareType
from domain.deadlines import (
    DEFAULT_RULES,
    NEVER,
    STOCKHOLM,
    WATCHED_BY,
    Deadline,
    DeadlineKind,
    DeadlineRules,
    DeadlineState,
    admission_notice_due,
    case_deadlines,
    case_liability,
    deadline_thresholds,
    evaluate,
    liability_conditions,
    responsible_unit_ids,
    sip_invitation_due,
    watched_by,
    worst_open_state,
)
from domain.discharge_case import RECEIVING_PARTS, CaseState, DischargeCase, InterruptionReason
from domain.payment import STATUTORY, STOCKHOLM_2020, NotLiableReason, PaymentPolicy
from tests.domain.builders import (
    ADMITTED_AT,
    DISCHARGED_AT,
    ESTIMATED_AT,
    HOME_INFO,
    MUNICIPAL,
    NOTICE_AT,
    PRIMARY,
    PRIMARY_USER,
    READY_AT,
    STHLM,
    WARD,
    WARD_USER,
    at,
    build_case,
    register,
)

POLICY = STOCKHOLM_2020
AMOUNTS = {2026: 9900}  # invented test amount per day
OK, AT_RISK, OVERDUE = DeadlineState.OK, DeadlineState.AT_RISK, DeadlineState.OVERDUE
ADMISSION_DUE = ADMITTED_AT + timedelta(hours=24)  # Tue 3 March 08:00


def deadlines_by_kind(case: DischargeCase, now: datetime,
                      policy: PaymentPolicy = POLICY) -> dict[DeadlineKind, Deadline]:
    result = case_deadlines(case, policy, now)
    assert len({d.kind for d in result}) == len(result), "one deadline per kind"
    return {d.kind: d for d in result}


def one(case: DischargeCase, kind: DeadlineKind, now: datetime, policy: PaymentPolicy = POLICY) -> Deadline:
    found = deadlines_by_kind(case, now, policy)
    assert kind in found, f"no {kind} deadline in {sorted(found)}"
    return found[kind]


# ----- evaluate: the three states -------------------------------------------------------------------------

DUE = at(2026, 3, 3, 8)
SIX_HOURS = timedelta(hours=6)


@pytest.mark.parametrize(
    ("now", "met", "expected"),
    [
        (DUE - timedelta(hours=7), None, OK),
        (DUE - SIX_HOURS - timedelta(seconds=1), None, OK),
        (DUE - SIX_HOURS, None, AT_RISK),  # exactly 6 h left: at risk
        (DUE - timedelta(minutes=1), None, AT_RISK),
        (DUE, None, AT_RISK),  # due now, not yet passed
        (DUE + timedelta(seconds=1), None, OVERDUE),
        (DUE + timedelta(days=30), None, OVERDUE),
        (DUE + timedelta(days=30), DUE - timedelta(hours=10), OK),  # met in time stays ok forever
        (DUE + timedelta(days=30), DUE, OK),  # met exactly at the due time
        (DUE - timedelta(hours=1), DUE - timedelta(hours=2), OK),  # met while at risk
        (DUE + timedelta(days=30), DUE + timedelta(seconds=1), OVERDUE),  # met late stays overdue
    ],
)
def test_evaluate(now: datetime, met: datetime | None, expected: DeadlineState) -> None:
    assert evaluate(DUE, met, now, SIX_HOURS) is expected


def test_evaluate_counts_real_hours_across_a_dst_change() -> None:
    # Sunday 29 March 2026 the clocks go from 02:00 CET to 03:00 CEST.
    due = at(2026, 3, 29, 8, 30)  # 06:30 UTC
    now = at(2026, 3, 29, 1, 45)  # 00:45 UTC: 5 h 45 min left, although the wall clocks differ by 6 h 45 min
    assert evaluate(due, None, now, SIX_HOURS) is AT_RISK
    assert evaluate(due, None, now.astimezone(UTC), SIX_HOURS) is AT_RISK


def test_severity_orders_the_states() -> None:
    assert [s.severity for s in (OK, AT_RISK, OVERDUE)] == [0, 1, 2]


# ----- admission notice: max(admitted_at, needs_identified_at) + 24 h -------------------------------------


@pytest.mark.parametrize(
    ("needs_identified_at", "due"),
    [
        (None, at(2026, 3, 3, 8)),
        (ADMITTED_AT, at(2026, 3, 3, 8)),
        (at(2026, 3, 2, 20, 15), at(2026, 3, 3, 20, 15)),
    ],
    ids=["admission", "needs-at-admission", "needs-later"],
)
def test_admission_notice_due_at_registration(needs_identified_at: datetime | None, due: datetime) -> None:
    case = register(needs_identified_at=needs_identified_at, now=at(2026, 3, 2, 21))
    assert admission_notice_due(case) == due
    assert one(case, DeadlineKind.ADMISSION_NOTICE, ADMITTED_AT).due_at == due


def test_needs_identified_later_moves_the_admission_deadline() -> None:
    case = register()
    case.record_needs_identified(WARD_USER, at(2026, 3, 4, 14), at(2026, 3, 4, 15))
    assert admission_notice_due(case) == at(2026, 3, 5, 14)
    # a notice 40 h after the admission is in time because the judgement came later
    case.send_admission_notice(WARD_USER, at(2026, 3, 4, 16))
    assert one(case, DeadlineKind.ADMISSION_NOTICE, at(2026, 3, 10)).state is OK


@pytest.mark.parametrize(
    ("admitted_at", "due_utc"),
    [
        (at(2026, 3, 28, 10), datetime(2026, 3, 29, 9, tzinfo=UTC)),  # spring forward: 24 real hours
        (at(2026, 10, 24, 10), datetime(2026, 10, 25, 8, tzinfo=UTC)),  # fall back: 24 real hours
        (datetime(2026, 3, 28, 9, tzinfo=UTC), datetime(2026, 3, 29, 9, tzinfo=UTC)),  # the same given in UTC
    ],
    ids=["spring", "autumn", "utc-input"],
)
def test_admission_notice_window_is_24_real_hours(admitted_at: datetime, due_utc: datetime) -> None:
    case = register(admitted_at=admitted_at, estimated_discharge_at=None)
    due = admission_notice_due(case)
    assert due == due_utc
    assert due.astimezone(UTC) - admitted_at.astimezone(UTC) == timedelta(hours=24)  # real, not wall
    assert due.tzinfo is admitted_at.tzinfo  # shown in the time zone it was given in


def test_admission_notice_in_time_across_dst_is_not_late() -> None:
    case = register(admitted_at=at(2026, 3, 28, 10), estimated_discharge_at=None)
    case.send_admission_notice(WARD_USER, at(2026, 3, 29, 10, 30))  # 23 h 30 min later
    assert one(case, DeadlineKind.ADMISSION_NOTICE, at(2026, 3, 30)).state is OK
    assert liability_conditions(case).admission_notice_in_time


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ADMITTED_AT, OK),
        (ADMISSION_DUE - timedelta(hours=7), OK),
        (ADMISSION_DUE - timedelta(hours=6), AT_RISK),
        (ADMISSION_DUE - timedelta(minutes=5), AT_RISK),
        (ADMISSION_DUE + timedelta(minutes=5), OVERDUE),
    ],
)
def test_admission_notice_not_yet_sent(now: datetime, expected: DeadlineState) -> None:
    case = build_case(CaseState.ADMITTED)
    deadline = one(case, DeadlineKind.ADMISSION_NOTICE, now)
    assert (deadline.due_at, deadline.met_at, deadline.state, deadline.open) == (ADMISSION_DUE, None, expected, True)
    assert worst_open_state(case_deadlines(case, POLICY, now)) is expected


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (NOTICE_AT, OK),
        (ADMISSION_DUE, OK),
        (ADMISSION_DUE + timedelta(minutes=1), OVERDUE),
        (ADMISSION_DUE + timedelta(days=2), OVERDUE),
    ],
    ids=["early", "on-the-dot", "a-minute-late", "days-late"],
)
def test_admission_notice_met(sent: datetime, expected: DeadlineState) -> None:
    case = build_case(CaseState.PLANNING, notice_at=sent)
    deadline = one(case, DeadlineKind.ADMISSION_NOTICE, sent + timedelta(days=10))
    assert (deadline.met_at, deadline.state, deadline.open) == (sent, expected, False)


# ----- named care contact ---------------------------------------------------------------------------------


def test_named_care_contact_due_by_the_estimated_then_the_real_discharge() -> None:
    assert DeadlineKind.NAMED_CARE_CONTACT not in deadlines_by_kind(build_case(CaseState.ADMITTED), ADMITTED_AT)
    assert DeadlineKind.NAMED_CARE_CONTACT not in deadlines_by_kind(
        build_case(CaseState.PLANNING, estimated_discharge_at=None), NOTICE_AT)
    case = build_case(CaseState.READY)
    deadline = one(case, DeadlineKind.NAMED_CARE_CONTACT, ESTIMATED_AT - timedelta(hours=30))
    assert (deadline.due_at, deadline.state) == (ESTIMATED_AT, OK)
    assert one(case, DeadlineKind.NAMED_CARE_CONTACT, ESTIMATED_AT - timedelta(hours=2)).state is AT_RISK
    passed = one(case, DeadlineKind.NAMED_CARE_CONTACT, ESTIMATED_AT + timedelta(days=2))
    assert (passed.state, passed.estimated) == (AT_RISK, True)  # the patient is still in: not late
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, DISCHARGED_AT, information=HOME_INFO)
    deadline = one(case, DeadlineKind.NAMED_CARE_CONTACT, DISCHARGED_AT + timedelta(minutes=1))
    # The law says "before discharge": after it an unappointed contact is a missed deadline (red), not an estimate.
    assert (deadline.due_at, deadline.state, deadline.estimated) == (DISCHARGED_AT, OVERDUE, False)
    case.appoint_named_care_contact(PRIMARY_USER, "user-fvk", DISCHARGED_AT + timedelta(hours=1))
    deadline = one(case, DeadlineKind.NAMED_CARE_CONTACT, DISCHARGED_AT + timedelta(hours=2))
    assert (deadline.met_at, deadline.state) == (DISCHARGED_AT + timedelta(hours=1), OVERDUE)  # met late


# ----- SIP invitation: ready + 3 days, when a SIP applies -------------------------------------------------

SIP_DUE = READY_AT + timedelta(days=3)  # Sat 7 March 10:00


def test_no_sip_deadline_unless_a_sip_applies() -> None:
    case = build_case(CaseState.READY)
    assert DeadlineKind.SIP_INVITATION not in deadlines_by_kind(case, READY_AT)
    case.set_sip_applies(WARD_USER, True, READY_AT + timedelta(hours=1))
    assert one(case, DeadlineKind.SIP_INVITATION, READY_AT).due_at == SIP_DUE
    case.set_sip_applies(PRIMARY_USER, False, READY_AT + timedelta(hours=2))
    assert DeadlineKind.SIP_INVITATION not in deadlines_by_kind(case, READY_AT)


@pytest.mark.parametrize(("ready_local", "real_hours"), [
    (datetime(2027, 3, 26, 10, tzinfo=STOCKHOLM), 71),  # summer time begins Sunday 28 March 2027
    (datetime(2026, 10, 23, 10, tzinfo=STOCKHOLM), 73),  # summer time ends Sunday 25 October 2026
    (datetime(2026, 3, 4, 10, tzinfo=STOCKHOLM), 72),
])
def test_the_sip_invitation_is_due_three_calendar_days_later_at_the_same_local_clock_time(
        ready_local: datetime, real_hours: int) -> None:
    """process.md section 3: ready + 3 calendar days at the same Europe/Stockholm clock time (71 or 73 real hours
    across a summer-time change), for the deadline and for the payment rule that reads it."""
    ready = ready_local.astimezone(UTC)
    due = sip_invitation_due(ready)
    assert due.astimezone(STOCKHOLM).replace(tzinfo=None) == ready_local.replace(tzinfo=None) + timedelta(days=3)
    assert due - ready == timedelta(hours=real_hours)
    case = build_case(CaseState.READY, sip_applies=True, admitted_at=ready - timedelta(days=2),
                      notice_at=ready - timedelta(days=2, hours=-1), ready_at=ready,
                      estimated_discharge_at=ready + timedelta(days=5))
    assert one(case, DeadlineKind.SIP_INVITATION, ready).due_at == due


def test_no_sip_deadline_when_the_person_refuses_a_sip() -> None:
    case = build_case(CaseState.READY)
    case.set_sip_applies(PRIMARY_USER, True, READY_AT + timedelta(hours=1), consent=False)
    assert DeadlineKind.SIP_INVITATION not in deadlines_by_kind(case, READY_AT)
    assert not liability_conditions(case).sip_invitation_required
    case.set_sip_applies(PRIMARY_USER, True, READY_AT + timedelta(hours=2), consent=True)
    assert one(case, DeadlineKind.SIP_INVITATION, READY_AT).due_at == SIP_DUE
    assert liability_conditions(case).sip_invitation_required


def test_no_sip_deadline_before_the_ready_notice() -> None:
    case = build_case(CaseState.PLANNING, sip_applies=True)
    assert DeadlineKind.SIP_INVITATION not in deadlines_by_kind(case, NOTICE_AT)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (READY_AT, OK),
        (SIP_DUE - timedelta(hours=25), OK),
        (SIP_DUE - timedelta(hours=24), AT_RISK),
        (SIP_DUE, AT_RISK),
        (SIP_DUE + timedelta(minutes=1), OVERDUE),
    ],
)
def test_sip_invitation_not_yet_sent(now: datetime, expected: DeadlineState) -> None:
    case = build_case(CaseState.READY, sip_applies=True)
    deadline = one(case, DeadlineKind.SIP_INVITATION, now)
    assert (deadline.due_at, deadline.state) == (SIP_DUE, expected)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (NOTICE_AT + timedelta(hours=1), OK),  # before the ready notice: fine
        (SIP_DUE - timedelta(hours=1), OK),
        (SIP_DUE, OK),
        (SIP_DUE + timedelta(minutes=1), OVERDUE),
    ],
    ids=["before-ready", "in-time", "on-the-dot", "late"],
)
def test_sip_invitation_met(sent: datetime, expected: DeadlineState) -> None:
    case = build_case(CaseState.PLANNING)
    if sent < READY_AT:
        case.send_sip_invitation(PRIMARY_USER, sent)
        case.mark_ready_for_discharge(WARD_USER, READY_AT)
    else:
        case.mark_ready_for_discharge(WARD_USER, READY_AT)
        case.send_sip_invitation(PRIMARY_USER, sent)  # sending it means a SIP applies
    deadline = one(case, DeadlineKind.SIP_INVITATION, SIP_DUE + timedelta(days=5))
    assert (deadline.met_at, deadline.state) == (sent, expected)
    assert liability_conditions(case).sip_invitation_sent is (expected is OK)


def test_sip_deadline_answers_the_first_ready_notice() -> None:
    case = build_case(CaseState.READY, sip_applies=True)
    case.withdraw_ready_for_discharge(WARD_USER, READY_AT + timedelta(hours=5))
    case.mark_ready_for_discharge(WARD_USER, READY_AT + timedelta(days=2))
    assert one(case, DeadlineKind.SIP_INVITATION, READY_AT).due_at == SIP_DUE


def test_sip_deadline_still_runs_after_discharge() -> None:
    case = build_case(CaseState.DISCHARGED, sip_applies=True)
    assert one(case, DeadlineKind.SIP_INVITATION, SIP_DUE + timedelta(hours=1)).state is OVERDUE


# ----- discharge information: end of the discharge day (Stockholm) ----------------------------------------

END_OF_FRIDAY = datetime(2026, 3, 6, 23, 59, 59, 999999, tzinfo=STHLM)


@pytest.mark.parametrize(
    ("discharged_at", "sent", "expected"),
    [
        (DISCHARGED_AT, DISCHARGED_AT, OK),
        (DISCHARGED_AT, at(2026, 3, 6, 23, 59), OK),
        (DISCHARGED_AT, at(2026, 3, 7, 0, 0), OVERDUE),  # the next day is too late
        (DISCHARGED_AT, at(2026, 3, 9, 9), OVERDUE),
        (datetime(2026, 3, 5, 23, 30, tzinfo=UTC), at(2026, 3, 6, 20), OK),  # 00:30 Friday local
        (datetime(2026, 3, 6, 22, 59, tzinfo=UTC), datetime(2026, 3, 6, 22, 59, 30, tzinfo=UTC), OK),  # 23:59 local
    ],
    ids=["same-time", "late-evening", "midnight", "monday", "utc-just-after-midnight",
         "utc-late-evening"],
)
def test_discharge_information_due_end_of_the_discharge_day(discharged_at: datetime, sent: datetime,
                                                            expected: DeadlineState) -> None:
    case = build_case(CaseState.READY)
    case.send_discharge_notice(WARD_USER, discharged_at, sent, information=HOME_INFO)
    deadline = one(case, DeadlineKind.DISCHARGE_INFORMATION, at(2026, 3, 20))
    assert deadline.due_at == END_OF_FRIDAY
    assert (deadline.met_at, deadline.state) == (sent, expected)


def test_discharge_information_due_by_the_estimate_while_ready() -> None:
    assert DeadlineKind.DISCHARGE_INFORMATION not in deadlines_by_kind(build_case(CaseState.PLANNING), NOTICE_AT)
    assert DeadlineKind.DISCHARGE_INFORMATION not in deadlines_by_kind(
        build_case(CaseState.READY, estimated_discharge_at=None), READY_AT)
    case = build_case(CaseState.READY)  # estimated Friday 12:00
    assert one(case, DeadlineKind.DISCHARGE_INFORMATION, at(2026, 3, 6, 17)).state is OK
    assert one(case, DeadlineKind.DISCHARGE_INFORMATION, at(2026, 3, 6, 18)).state is AT_RISK
    deadline = one(case, DeadlineKind.DISCHARGE_INFORMATION, at(2026, 3, 7, 0))
    # An estimate passed while the patient is still in: at risk (update the estimate), never overdue.
    assert (deadline.due_at, deadline.state, deadline.estimated) == (END_OF_FRIDAY, AT_RISK, True)
    case.send_discharge_notice(WARD_USER, at(2026, 3, 9, 10), at(2026, 3, 9, 10), information=HOME_INFO)
    deadline = one(case, DeadlineKind.DISCHARGE_INFORMATION, at(2026, 3, 9, 11))
    assert (deadline.estimated, deadline.state) == (False, OK)


# ----- payment liability start (the policy) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("care_type", "ready_at", "policy", "starts"),
    [
        (CareType.SOMATIC, at(2026, 3, 2, 11, 59), STOCKHOLM_2020, at(2026, 3, 5)),  # day 0 Mon: Thu
        (CareType.SOMATIC, at(2026, 3, 2, 12, 0), STOCKHOLM_2020, at(2026, 3, 6)),  # day 0 Tue: Fri
        (CareType.PSYCHIATRIC, at(2026, 3, 2, 11), STOCKHOLM_2020, at(2026, 3, 8)),  # days 0-5 free: Sun
        (CareType.PSYCHIATRIC, at(2026, 3, 2, 13), STOCKHOLM_2020, at(2026, 3, 9)),
        (CareType.PSYCHIATRIC, at(2026, 3, 2, 13), STATUTORY, at(2026, 3, 5)),  # another policy, same day 0
    ],
    ids=["somatic-morning", "somatic-noon", "psychiatric-morning", "psychiatric-afternoon", "statutory"],
)
def test_payment_liability_start_follows_the_policy(care_type: CareType, ready_at: datetime,
                                                    policy: PaymentPolicy, starts: datetime) -> None:
    case = build_case(CaseState.READY, care_type=care_type, notice_at=ADMITTED_AT + timedelta(hours=1),
                      ready_at=ready_at)
    deadline = one(case, DeadlineKind.PAYMENT_LIABILITY, ready_at, policy)
    assert (deadline.due_at, deadline.met_at, deadline.state, deadline.open) == (starts, None, OK, True)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2026, 3, 3, 23, 59), OK),
        (at(2026, 3, 4, 0, 0), AT_RISK),  # 24 h before
        (at(2026, 3, 4, 23, 59), AT_RISK),
        (at(2026, 3, 5, 0, 0), OVERDUE),  # liability has started
        (at(2026, 3, 9), OVERDUE),
    ],
)
def test_payment_liability_state(now: datetime, expected: DeadlineState) -> None:
    case = build_case(CaseState.READY, notice_at=ADMITTED_AT + timedelta(hours=1), ready_at=at(2026, 3, 2, 10))
    assert one(case, DeadlineKind.PAYMENT_LIABILITY, now).state is expected


@pytest.mark.parametrize("state", [CaseState.ADMITTED, CaseState.PLANNING, CaseState.DISCHARGED,
                                   CaseState.CLOSED, CaseState.INTERRUPTED])
def test_payment_liability_only_while_ready(state: CaseState) -> None:
    assert DeadlineKind.PAYMENT_LIABILITY not in deadlines_by_kind(build_case(state), at(2026, 3, 20))


def test_payment_liability_restarts_with_a_new_ready_notice() -> None:
    case = build_case(CaseState.READY, notice_at=ADMITTED_AT + timedelta(hours=1), ready_at=at(2026, 3, 2, 10))
    case.withdraw_ready_for_discharge(WARD_USER, at(2026, 3, 3, 9))
    assert DeadlineKind.PAYMENT_LIABILITY not in deadlines_by_kind(case, at(2026, 3, 3, 10))
    case.mark_ready_for_discharge(WARD_USER, at(2026, 3, 4, 15))  # day 0 Thursday
    assert one(case, DeadlineKind.PAYMENT_LIABILITY, at(2026, 3, 4, 16)).due_at == at(2026, 3, 8)


# ----- cancelled, interrupted and closed cases ------------------------------------------------------------


@pytest.mark.parametrize("from_state", [CaseState.ADMITTED, CaseState.PLANNING, CaseState.READY])
def test_a_cancelled_case_has_no_deadlines(from_state: CaseState) -> None:
    case = build_case(from_state, sip_applies=True)
    case.cancel(WARD_USER, at(2026, 3, 5))
    assert case_deadlines(case, POLICY, at(2026, 3, 20)) == ()
    assert worst_open_state(case_deadlines(case, POLICY, at(2026, 3, 20))) is None


def test_an_interrupted_draft_does_not_show_the_missing_notice_as_overdue() -> None:
    case = build_case(CaseState.ADMITTED)
    case.interrupt(WARD_USER, InterruptionReason.DIED, ADMISSION_DUE + timedelta(hours=5))
    assert case_deadlines(case, POLICY, at(2026, 3, 20)) == ()


@pytest.mark.parametrize("reason", list(InterruptionReason), ids=str)
def test_an_interrupted_case_keeps_only_met_deadlines(reason: InterruptionReason) -> None:
    late_notice = ADMISSION_DUE + timedelta(hours=1)
    case = build_case(CaseState.READY, notice_at=late_notice, sip_applies=True)
    case.interrupt(WARD_USER, reason, at(2026, 3, 8))
    found = deadlines_by_kind(case, at(2026, 3, 20))
    assert set(found) == {DeadlineKind.ADMISSION_NOTICE}  # met (late): history, not an open alarm
    assert (found[DeadlineKind.ADMISSION_NOTICE].met_at, found[DeadlineKind.ADMISSION_NOTICE].state) == (
        late_notice, OVERDUE)
    assert worst_open_state(case_deadlines(case, POLICY, at(2026, 3, 20))) is None


def test_a_closed_case_shows_no_open_deadlines() -> None:
    case = build_case(CaseState.CLOSED, sip_applies=True)
    found = deadlines_by_kind(case, at(2026, 3, 20))
    assert DeadlineKind.SIP_INVITATION not in found
    assert DeadlineKind.NAMED_CARE_CONTACT not in found
    assert set(found) == {DeadlineKind.ADMISSION_NOTICE, DeadlineKind.DISCHARGE_INFORMATION}
    assert all(not d.open for d in found.values())


def test_a_discharged_case_still_shows_what_is_missing() -> None:
    case = build_case(CaseState.DISCHARGED, sip_applies=True)
    now = at(2026, 3, 20)
    found = deadlines_by_kind(case, now)
    assert found[DeadlineKind.SIP_INVITATION].state is OVERDUE
    assert found[DeadlineKind.NAMED_CARE_CONTACT].state is OVERDUE
    assert worst_open_state(case_deadlines(case, POLICY, now)) is OVERDUE


# ----- worst_open_state -----------------------------------------------------------------------------------


def _deadline(state: DeadlineState, met: bool = False) -> Deadline:
    return Deadline(DeadlineKind.ADMISSION_NOTICE, DUE, DUE if met else None, state)


@pytest.mark.parametrize(
    ("deadlines", "expected"),
    [
        ((), None),
        ((_deadline(OK, met=True),), None),
        ((_deadline(OVERDUE, met=True),), None),  # met late: not open
        ((_deadline(OK),), OK),
        ((_deadline(OK), _deadline(AT_RISK)), AT_RISK),
        ((_deadline(AT_RISK), _deadline(OVERDUE), _deadline(OK)), OVERDUE),
        ((_deadline(OVERDUE, met=True), _deadline(AT_RISK)), AT_RISK),
    ],
)
def test_worst_open_state(deadlines: tuple[Deadline, ...], expected: DeadlineState | None) -> None:
    assert worst_open_state(deadlines) is expected


def test_worst_open_state_of_a_live_case() -> None:
    case = build_case(CaseState.READY, sip_applies=True)
    assert worst_open_state(case_deadlines(case, POLICY, READY_AT)) is OK
    assert worst_open_state(case_deadlines(case, POLICY, at(2026, 3, 6, 1))) is AT_RISK  # liability Sat 00:00
    assert worst_open_state(case_deadlines(case, POLICY, at(2026, 3, 7, 0))) is OVERDUE


def test_deadline_rules_are_parameters() -> None:
    rules = dataclasses.replace(DEFAULT_RULES, admission_notice_window=timedelta(hours=48),
                                admission_notice_at_risk=timedelta(hours=12))
    case = build_case(CaseState.ADMITTED)
    (deadline,) = case_deadlines(case, POLICY, ADMITTED_AT + timedelta(hours=37), rules)
    assert (deadline.due_at, deadline.state) == (ADMITTED_AT + timedelta(hours=48), AT_RISK)
    assert DeadlineRules() == DEFAULT_RULES


# ----- liability conditions -------------------------------------------------------------------------------


def test_liability_conditions_all_met() -> None:
    conditions = liability_conditions(build_case(CaseState.DISCHARGED))
    assert conditions.admission_notice_in_time
    assert conditions.ready_notice_sent
    assert not conditions.sip_invitation_required
    assert conditions.reasons_not_liable() == ()


@pytest.mark.parametrize(
    ("setup", "reasons"),
    [
        ("notice-late", (NotLiableReason.ADMISSION_NOTICE_LATE,)),
        ("no-ready-notice", (NotLiableReason.READY_NOTICE_MISSING,)),
        ("sip-not-sent", (NotLiableReason.SIP_INVITATION_MISSING,)),
        ("sip-late", (NotLiableReason.SIP_INVITATION_MISSING,)),
        ("sip-in-time", ()),
        ("refused", (NotLiableReason.PATIENT_REFUSED_SERVICES,)),
        ("outpatient-missing", (NotLiableReason.OUTPATIENT_SERVICES_MISSING,)),
        ("notice-late-and-sip-not-sent",
         (NotLiableReason.ADMISSION_NOTICE_LATE, NotLiableReason.SIP_INVITATION_MISSING)),
    ],
)
def test_liability_conditions(setup: str, reasons: tuple[str, ...]) -> None:
    late = ADMISSION_DUE + timedelta(minutes=1)
    notice_at = late if setup.startswith("notice-late") else NOTICE_AT
    sip = setup.startswith("sip") or setup.endswith("sip-not-sent")
    case = build_case(CaseState.PLANNING, notice_at=notice_at, sip_applies=sip)
    if setup != "no-ready-notice":
        case.mark_ready_for_discharge(WARD_USER, READY_AT)
    if setup == "sip-late":
        case.send_sip_invitation(PRIMARY_USER, SIP_DUE + timedelta(minutes=1))
    if setup == "sip-in-time":
        case.send_sip_invitation(PRIMARY_USER, SIP_DUE - timedelta(minutes=1))
    if setup in ("refused", "outpatient-missing"):
        case.set_liability_facts(WARD_USER, READY_AT, patient_refused_services=setup == "refused",
                                 outpatient_services_missing=setup == "outpatient-missing")
    conditions = liability_conditions(case)
    assert conditions.reasons_not_liable() == reasons
    assert conditions.sip_invitation_required is sip


# ----- payment liability end to end -----------------------------------------------------------------------

MONDAY_10 = at(2026, 3, 2, 10)


def _ready_monday(care_type: CareType = CareType.SOMATIC, notice_at: datetime = ADMITTED_AT + timedelta(hours=1),
                  ready_at: datetime = MONDAY_10) -> DischargeCase:
    return build_case(CaseState.READY, care_type=care_type, notice_at=notice_at, ready_at=ready_at)


def test_case_liability_somatic_ready_monday_discharged_friday() -> None:
    case = _ready_monday()
    case.send_discharge_notice(WARD_USER, at(2026, 3, 6, 10), at(2026, 3, 6, 10), information=HOME_INFO)
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 20))
    assert liability.liable
    assert liability.reasons_not_liable == ()
    assert liability.day_zero == date(2026, 3, 2)
    assert liability.liability_starts_on == date(2026, 3, 5)  # days 0..2 free, liable from day 3
    assert liability.liable_dates == (date(2026, 3, 5),)  # the discharge day (Friday) is not charged
    assert liability.liable_days == 1
    assert liability.amount_sek == 9900
    assert liability.days_ready == 4
    assert liability.missing_amount_years == ()
    assert liability.policy_name == POLICY.name


@pytest.mark.parametrize(
    ("discharged", "liable_days"),
    [
        (at(2026, 3, 2, 15), 0),  # day 0
        (at(2026, 3, 4, 10), 0),  # day 2
        (at(2026, 3, 5, 10), 0),  # day 3: the discharge day itself is free
        (at(2026, 3, 6, 10), 1),
        (at(2026, 3, 7, 10), 2),
        (at(2026, 3, 9, 10), 4),
    ],
)
def test_case_liability_by_discharge_day(discharged: datetime, liable_days: int) -> None:
    case = _ready_monday()
    case.send_discharge_notice(WARD_USER, discharged, discharged, information=HOME_INFO)
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 20))
    assert (liability.liable_days, liability.amount_sek, liability.liable) == (
        liable_days, 9900 * liable_days, liable_days > 0)


@pytest.mark.parametrize(
    ("case_kind", "reasons"),
    [
        ("late-notice", ("admission_notice_late",)),
        ("sip-missing", ("sip_invitation_missing",)),
        ("psychiatric", ()),
        ("ready-at-noon", ()),
    ],
)
def test_case_liability_nothing_charged(case_kind: str, reasons: tuple[str, ...]) -> None:
    if case_kind == "late-notice":
        case = _ready_monday(notice_at=ADMISSION_DUE + timedelta(hours=1), ready_at=at(2026, 3, 3, 10))
        discharged = at(2026, 3, 9, 10)
    else:
        case = _ready_monday(care_type=CareType.PSYCHIATRIC if case_kind == "psychiatric" else CareType.SOMATIC,
                             ready_at=at(2026, 3, 2, 12) if case_kind == "ready-at-noon" else MONDAY_10)
        discharged = at(2026, 3, 6, 10)
    if case_kind == "sip-missing":
        case.set_sip_applies(PRIMARY_USER, True, MONDAY_10)
    case.send_discharge_notice(WARD_USER, discharged, discharged, information=HOME_INFO)
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 20))
    assert liability.reasons_not_liable == reasons
    assert (liability.liable, liability.liable_days, liability.amount_sek, liability.liable_dates) == (
        False, 0, 0, ())


def test_case_liability_counts_each_ready_period() -> None:
    case = _ready_monday()
    case.withdraw_ready_for_discharge(WARD_USER, at(2026, 3, 6, 10))  # Thu charged; Fri stopped
    case.mark_ready_for_discharge(WARD_USER, at(2026, 3, 6, 11))  # new day 0 Fri: liable from Mon 9th
    case.send_discharge_notice(WARD_USER, at(2026, 3, 11, 10), at(2026, 3, 11, 10), information=HOME_INFO)
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 20))
    assert liability.liable_dates == (date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 10))
    assert liability.amount_sek == 3 * 9900
    assert (liability.day_zero, liability.liability_starts_on) == (date(2026, 3, 6), date(2026, 3, 9))


def test_case_liability_of_an_open_period_runs_until_today() -> None:
    case = _ready_monday()
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 6, 15))
    assert liability.liable_dates == (date(2026, 3, 5), date(2026, 3, 6))
    assert liability.amount_sek == 2 * 9900


def test_case_liability_without_an_amount_for_the_year() -> None:
    case = _ready_monday()
    case.send_discharge_notice(WARD_USER, at(2026, 3, 6, 10), at(2026, 3, 6, 10), information=HOME_INFO)
    liability = case_liability(case, POLICY, {2025: 9500}, at(2026, 3, 20))
    assert liability.liable_days == 1
    assert (liability.amount_sek, liability.missing_amount_years) == (None, (2026,))


def test_case_liability_of_a_cancelled_case_is_nothing() -> None:
    case = _ready_monday()
    case.cancel(WARD_USER, at(2026, 3, 6, 10))
    liability = case_liability(case, POLICY, AMOUNTS, at(2026, 3, 20))
    assert liability.reasons_not_liable == ("ready_notice_missing",)
    assert (liability.liable, liability.amount_sek) == (False, 0)


def test_stockholm_constant_is_the_stockholm_zone() -> None:
    assert STOCKHOLM.key == STHLM.key == "Europe/Stockholm"


def test_a_contact_appointed_after_the_estimate_but_before_the_discharge_is_in_time() -> None:
    case = build_case(CaseState.READY)
    case.appoint_named_care_contact(PRIMARY_USER, "user-fvk", ESTIMATED_AT + timedelta(days=1))
    deadline = one(case, DeadlineKind.NAMED_CARE_CONTACT, ESTIMATED_AT + timedelta(days=2))
    assert (deadline.state, deadline.estimated) == (OK, True)


def test_thresholds_of_a_case_whose_open_deadlines_are_estimates_never_turn_overdue() -> None:
    case = build_case(CaseState.READY, ready_at=at(2026, 3, 4, 13))  # liability from Sun 8 March
    case.set_liability_facts(WARD_USER, READY_AT, patient_refused_services=True, outpatient_services_missing=False)
    thresholds = deadline_thresholds(case, POLICY)
    # The payment liability deadline is the only one that can turn overdue.
    assert thresholds.overdue_from == datetime(2026, 3, 8, tzinfo=STHLM)
    case.withdraw_ready_for_discharge(WARD_USER, at(2026, 3, 5, 9))
    thresholds = deadline_thresholds(case, POLICY)
    assert thresholds.overdue_from == NEVER  # only the named care contact (an estimate) is open
    assert thresholds.at_risk_from == ESTIMATED_AT - DEFAULT_RULES.named_care_contact_at_risk
    for now in (ESTIMATED_AT - timedelta(days=2), ESTIMATED_AT + timedelta(days=30)):
        assert thresholds.state(now) is worst_open_state(case_deadlines(case, POLICY, now))


def test_the_units_responsible_for_each_deadline() -> None:
    case = build_case(CaseState.READY, sip_applies=True)
    responsible = {d.kind: responsible_unit_ids(case, d.kind) for d in case_deadlines(case, POLICY, READY_AT)}
    assert responsible == {
        DeadlineKind.ADMISSION_NOTICE: (WARD,), DeadlineKind.NAMED_CARE_CONTACT: (PRIMARY,),
        DeadlineKind.SIP_INVITATION: (PRIMARY,), DeadlineKind.DISCHARGE_INFORMATION: (WARD,),
        DeadlineKind.PAYMENT_LIABILITY: (MUNICIPAL,)}


def test_each_receiving_part_follows_the_deadlines_it_must_meet_and_the_payment() -> None:
    """The inbox's deadlines (`WATCHED_BY`, the one rule the UI reads): every deadline a receiving part is
    responsible for, and the payment liability, for both; none of the ward's own but the information it sends."""
    for part in RECEIVING_PARTS:
        own = {k for k in DeadlineKind if k.responsible_part is part}
        assert own <= set(WATCHED_BY[part]), part
        assert DeadlineKind.PAYMENT_LIABILITY in WATCHED_BY[part]
        assert DeadlineKind.ADMISSION_NOTICE not in WATCHED_BY[part]
    assert watched_by("municipal_unit") == ("payment_liability", "discharge_information")
    assert watched_by("inpatient_unit") == ()
    assert watched_by(None) == ()
    assert watched_by("no-such-part") == ()
