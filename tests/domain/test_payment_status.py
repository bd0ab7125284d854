"""The payment stage of a case per state (issue 13): the facts every client words, so no text contradicts the state."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from domain.deadlines import PaymentStage, payment_status
from domain.discharge_case import CaseState
from domain.payment import STOCKHOLM_2020
from tests.domain.builders import (
    ADMITTED_AT,
    HOME_INFO,
    PRIMARY_USER,
    READY_AT,
    WARD_USER,
    at,
    build_case,
)

AMOUNTS = {2026: 9900}  # invented test amount per day
ADMISSION_DUE = ADMITTED_AT + timedelta(hours=24)
LIABLE_FROM = date(2026, 3, 7)  # ready Wed 4 March 10:00: days 0..2 free


def status(case_state: CaseState, now: datetime, **kwargs: object) -> tuple[PaymentStage, tuple[str, ...],
                                                                          tuple[str, ...]]:
    case = build_case(case_state, **kwargs)  # type: ignore[arg-type]
    result = payment_status(case, STOCKHOLM_2020, AMOUNTS, now)
    return result.stage, result.reasons_not_liable, result.reasons_pending


def test_a_draft_before_its_admission_notice_is_due_is_not_late() -> None:
    stage, final, pending = status(CaseState.ADMITTED, ADMITTED_AT + timedelta(hours=2))
    assert stage is PaymentStage.NOT_READY
    assert final == ()
    assert pending == ("admission_notice_late", "ready_notice_missing")


def test_a_draft_past_its_admission_notice_due_time_has_failed_that_condition() -> None:
    stage, final, pending = status(CaseState.ADMITTED, ADMISSION_DUE + timedelta(minutes=1))
    assert (stage, final, pending) == (PaymentStage.NOT_LIABLE, ("admission_notice_late",), ("ready_notice_missing",))


def test_planning_is_not_ready() -> None:
    assert status(CaseState.PLANNING, READY_AT - timedelta(hours=1)) == (
        PaymentStage.NOT_READY, (), ("ready_notice_missing",))


def test_ready_before_liability_starts() -> None:
    assert status(CaseState.READY, at(2026, 3, 6, 23)) == (PaymentStage.NOT_YET_LIABLE, (), ())


def test_ready_from_the_first_liable_day_is_liable() -> None:
    case = build_case(CaseState.READY)
    result = payment_status(case, STOCKHOLM_2020, AMOUNTS, at(2026, 3, 8, 9))
    assert (result.stage, result.liability.liability_starts_on, result.liability_ends_on) == (
        PaymentStage.LIABLE, LIABLE_FROM, date(2026, 3, 8))


def test_ready_with_a_sip_invitation_still_in_time_waits_for_it() -> None:
    case = build_case(CaseState.READY, sip_applies=True)
    result = payment_status(case, STOCKHOLM_2020, AMOUNTS, READY_AT + timedelta(days=2))
    assert (result.stage, result.reasons_not_liable, result.reasons_pending) == (
        PaymentStage.NOT_YET_LIABLE, (), ("sip_invitation_missing",))
    late = payment_status(case, STOCKHOLM_2020, AMOUNTS, READY_AT + timedelta(days=3, minutes=1))
    assert (late.stage, late.reasons_not_liable) == (PaymentStage.NOT_LIABLE, ("sip_invitation_missing",))


@pytest.mark.parametrize("state", [CaseState.DISCHARGED, CaseState.CLOSED])
def test_discharged_before_liability_started_never_says_it_starts(state: CaseState) -> None:
    stage, final, pending = status(state, at(2026, 3, 20))  # discharged Fri 6 March, liability would start Sat 7
    assert (stage, final, pending) == (PaymentStage.ENDED_WITHOUT_LIABILITY, (), ())


@pytest.mark.parametrize("state", [CaseState.DISCHARGED, CaseState.CLOSED])
def test_discharged_after_charged_days_was_liable(state: CaseState) -> None:
    discharged = at(2026, 3, 10, 11)
    case = build_case(state, discharged_at=discharged, closed_at=discharged + timedelta(hours=2))
    result = payment_status(case, STOCKHOLM_2020, AMOUNTS, at(2026, 3, 20))
    assert (result.stage, result.liability.liable_days, result.liability_ends_on) == (
        PaymentStage.WAS_LIABLE, 3, date(2026, 3, 9))


def test_interrupted_without_a_ready_notice_ended_without_liability() -> None:
    stage, final, pending = status(CaseState.INTERRUPTED, at(2026, 3, 20))
    assert (stage, final, pending) == (PaymentStage.ENDED_WITHOUT_LIABILITY, ("ready_notice_missing",), ())


def test_a_withdrawn_ready_notice_after_charged_days_was_liable() -> None:
    case = build_case(CaseState.READY)
    case.withdraw_ready_for_discharge(WARD_USER, at(2026, 3, 9, 10))
    assert payment_status(case, STOCKHOLM_2020, AMOUNTS, at(2026, 3, 12)).stage is PaymentStage.WAS_LIABLE


def test_refused_services_is_final_while_ready() -> None:
    case = build_case(CaseState.READY)
    case.set_liability_facts(PRIMARY_USER, READY_AT, patient_refused_services=True, outpatient_services_missing=False)
    result = payment_status(case, STOCKHOLM_2020, AMOUNTS, at(2026, 3, 9))
    assert (result.stage, result.reasons_not_liable) == (PaymentStage.NOT_LIABLE, ("patient_refused_services",))


def test_discharged_after_a_charged_day_the_same_day_was_liable() -> None:
    case = build_case(CaseState.READY)
    case.send_discharge_notice(WARD_USER, at(2026, 3, 9, 10), at(2026, 3, 9, 10), information=HOME_INFO)
    assert payment_status(case, STOCKHOLM_2020, AMOUNTS, at(2026, 3, 9, 12)).stage is PaymentStage.WAS_LIABLE
