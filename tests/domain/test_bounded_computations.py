"""Payment days and deadlines cost the same whatever the span, and no date in datetime's range breaks them.

A case discharged "9999-12-30" (accepted before the API bounded times) made every read build 2.9 million liable
dates one by one. Now a period's charged dates are one span, counted and priced per calendar year; times beyond
the domain's calendar are taken as its nearer end (`domain.time_limits.saturate`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.care import CareType
from domain.deadlines import case_deadlines, case_liability, end_of_day, evaluate, worst_open_state
from domain.discharge_case import CaseState
from domain.errors import DomainError, OutOfRange
from domain.holidays import add_working_days, is_working_day, next_working_day
from domain.payment import (
    STATUTORY,
    STOCKHOLM_2020,
    DayCounting,
    LiabilityConditions,
    PaymentPolicy,
    ReadyPeriod,
    day_zero,
    days_per_year,
    days_ready,
    first_liable_date,
    individual_liability,
    liable_span,
)
from domain.time_limits import CALENDAR_MAX, CALENDAR_MIN, saturate
from tests.domain.builders import STHLM, at, build_case

OK = LiabilityConditions(admission_notice_in_time=True)
WORKING = dataclasses.replace(STOCKHOLM_2020, name="working", day_counting=DayCounting.WORKING)
POLICIES = [STOCKHOLM_2020, STATUTORY, WORKING]
BOUNDED = settings(max_examples=200, deadline=timedelta(seconds=1))  # each example: microseconds, not seconds


class CountingAmounts(Mapping[int, int]):
    """The amounts per year, counting how often a year's amount is looked up."""

    def __init__(self, amounts: dict[int, int]) -> None:
        self._amounts = amounts
        self.lookups = 0

    def __getitem__(self, year: int) -> int:
        self.lookups += 1
        return self._amounts[year]

    def __iter__(self) -> Iterator[int]:
        return iter(self._amounts)

    def __len__(self) -> int:
        return len(self._amounts)


def test_ten_years_are_priced_per_year_not_per_day() -> None:
    amounts = CountingAmounts({year: 1000 + year for year in range(2016, 2027)})
    period = ReadyPeriod(at(2016, 1, 4, 9), ended_at=at(2026, 1, 4, 9), ended_by_discharge=True)
    result = individual_liability([period], CareType.SOMATIC, STOCKHOLM_2020, OK, amounts, at(2026, 2, 1))
    first, last = date(2016, 1, 7), date(2026, 1, 3)  # day 3 of a Monday-morning notice; the discharge day is free
    assert result.liable_spans == ((first, last),)
    assert result.liable_days == (last - first).days + 1 == 3650
    per_year = {2016: 360, **{year: 366 if year % 4 == 0 else 365 for year in range(2017, 2026)}, 2026: 3}
    assert days_per_year(first, last) == per_year
    assert result.amount_sek == sum((1000 + year) * days for year, days in per_year.items())
    # One lookup per year charged, not one per day (the old computation looked up 3 650 amounts).
    assert amounts.lookups == len(per_year) == 11


def test_a_case_stored_with_an_extreme_discharge_counts_arithmetically() -> None:
    period = ReadyPeriod(at(2026, 3, 2, 10), ended_at=datetime(9999, 12, 30, tzinfo=UTC), ended_by_discharge=True)
    amounts = CountingAmounts({2026: 9900})
    result = individual_liability([period], CareType.SOMATIC, STOCKHOLM_2020, OK, amounts, at(2026, 3, 20))
    # The discharge lies beyond the calendar the domain computes in: it counts as that calendar's end.
    end = CALENDAR_MAX.astimezone(STHLM).date() - timedelta(days=1)
    assert result.liable_spans == ((date(2026, 3, 5), end),)
    assert result.liable_days == (end - date(2026, 3, 5)).days + 1
    assert result.amount_sek is None
    assert result.missing_amount_years == tuple(range(2027, end.year + 1))
    assert amounts.lookups == 0


def test_the_working_days_after_the_calendars_end_are_refused_by_the_domain() -> None:
    with pytest.raises(OutOfRange):
        next_working_day(date.max)
    with pytest.raises(OutOfRange):
        add_working_days(date(9999, 12, 30), 2)
    assert add_working_days(date(9999, 12, 29), 1) == date(9999, 12, 30)  # a Thursday


def test_saturate_keeps_the_calendar_and_clamps_beyond() -> None:
    moment = at(2026, 3, 2, 10)
    assert saturate(moment) is moment
    assert saturate(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))) == CALENDAR_MIN
    assert saturate(datetime.max.replace(tzinfo=UTC)) == CALENDAR_MAX
    assert end_of_day(date.max) == CALENDAR_MAX


# ----- properties: any time within datetime's range -----------------------------------------------------

ZONES = st.sampled_from([UTC, STHLM, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
ANY_TIME = st.datetimes(timezones=ZONES)
EDGE_TIME = st.sampled_from([datetime.min, datetime.max, datetime(9999, 12, 30), datetime(1, 1, 2)]).flatmap(
    lambda naive: ZONES.map(lambda zone: naive.replace(tzinfo=zone)))
TIMES = ANY_TIME | EDGE_TIME
ANY_DATE = st.dates() | st.sampled_from([date.min, date.max])


@given(times=st.lists(TIMES, min_size=3, max_size=3), discharged=st.booleans(), open_period=st.booleans(),
       policy=st.sampled_from(POLICIES), care_type=st.sampled_from(list(CareType)))
@BOUNDED
def test_payment_takes_any_times_and_stays_bounded(times: list[datetime], discharged: bool, open_period: bool,
                                                   policy: PaymentPolicy, care_type: CareType) -> None:
    ready, end, now = times
    if end < ready:
        ready, end = end, ready
    period = ReadyPeriod(ready, None if open_period else end, ended_by_discharge=discharged and not open_period)
    try:
        d0 = day_zero(ready, policy)
        starts = first_liable_date(ready, care_type, policy)
        span = liable_span(period, care_type, policy, now)
        result = individual_liability([period], care_type, policy, OK, {2026: 9900}, now)
    except DomainError:
        return  # the domain's own refusal is an answer too
    assert d0 <= starts
    assert days_ready(period, now) >= 0
    assert result.liable_days == (0 if span is None else (span[1] - span[0]).days + 1)
    assert result.liable is (result.liable_days > 0)


@given(ready=st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2030, 1, 1), timezones=ZONES),
       days=st.integers(0, 1200), policy=st.sampled_from(POLICIES), care_type=st.sampled_from(list(CareType)))
@BOUNDED
def test_counting_per_year_agrees_with_counting_day_by_day(ready: datetime, days: int, policy: PaymentPolicy,
                                                            care_type: CareType) -> None:
    amounts = {year: 7000 + year for year in range(2019, 2034)}
    period = ReadyPeriod(ready, ready + timedelta(days=days, hours=5), ended_by_discharge=True)
    result = individual_liability([period], care_type, policy, OK, amounts, ready + timedelta(days=days))
    charged = result.liable_dates
    assert len(charged) == result.liable_days
    assert all((b - a).days == 1 for a, b in pairwise(charged))
    assert not charged or charged[0] == first_liable_date(ready, care_type, policy)
    assert result.amount_sek == sum(amounts[d.year] for d in charged)


@given(times=st.lists(TIMES, min_size=7, max_size=7), sip_applies=st.booleans(),
       state=st.sampled_from([CaseState.READY, CaseState.DISCHARGED]), policy=st.sampled_from(POLICIES))
@BOUNDED
def test_deadlines_take_a_case_with_any_stored_times(times: list[datetime], sip_applies: bool, state: CaseState,
                                                     policy: PaymentPolicy) -> None:
    admitted, estimated, notice, ready, discharged, sip_sent, now = times
    case = build_case(state, sip_applies=sip_applies)
    case.admitted_at, case.estimated_discharge_at, case.admission_notice_sent_at = admitted, estimated, notice
    case.sip_invitation_sent_at = sip_sent
    if state is CaseState.DISCHARGED:
        case.discharged_at = max(ready, discharged)
        case.ready_periods = [ReadyPeriod(ready, case.discharged_at, ended_by_discharge=True)]
    else:
        case.ready_periods = [ReadyPeriod(ready)]
    try:
        deadlines = case_deadlines(case, policy, now)
        liability = case_liability(case, policy, {2026: 9900}, now)
    except DomainError:
        return
    assert worst_open_state(deadlines) is None or deadlines
    assert liability.liable_days >= 0


@given(due=TIMES, met=st.none() | TIMES, now=TIMES, day=ANY_DATE)
@BOUNDED
def test_evaluating_a_deadline_takes_any_times(due: datetime, met: datetime | None, now: datetime, day: date) -> None:
    evaluate(due, met, now, timedelta(hours=6))
    assert end_of_day(day) <= CALENDAR_MAX


@given(day=ANY_DATE, n=st.integers(0, 366))
@BOUNDED
def test_working_days_take_any_date(day: date, n: int) -> None:
    is_working_day(day)
    try:
        later = add_working_days(day, n)
    except OutOfRange:
        return
    assert later >= day
