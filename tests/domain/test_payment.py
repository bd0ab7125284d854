from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.care import CareType
from domain.payment import (
    PRESETS,
    STATUTORY,
    STOCKHOLM_2020,
    VASTRA_GOTALAND_AVERAGE,
    DayCounting,
    LiabilityConditions,
    LiabilityModel,
    PaymentPolicy,
    ReadyPeriod,
    average_liability,
    day_zero,
    days_ready,
    first_liable_date,
    individual_liability,
    liable_dates,
)

STHLM = ZoneInfo("Europe/Stockholm")
AMOUNTS = {2019: 7800, 2020: 8200, 2022: 9300}
OK = LiabilityConditions(admission_notice_in_time=True)
WORKING = dataclasses.replace(STOCKHOLM_2020, name="working", day_counting=DayCounting.WORKING)
DISCHARGE_DAY_CHARGED = dataclasses.replace(STOCKHOLM_2020, name="charged", discharge_day_charged=True)
SOM, PSY = CareType.SOMATIC, CareType.PSYCHIATRIC


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


def discharged(ready: datetime, end: datetime) -> ReadyPeriod:
    return ReadyPeriod(ready_at=ready, ended_at=end, ended_by_discharge=True)


# ----- day 0 and the first liable date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ready_at", "policy", "expected"),
    [
        (at(2022, 3, 1, 11, 59), STOCKHOLM_2020, date(2022, 3, 1)),
        (at(2022, 3, 1, 12, 0), STOCKHOLM_2020, date(2022, 3, 2)),
        (at(2022, 3, 1, 0, 0), STOCKHOLM_2020, date(2022, 3, 1)),
        (at(2022, 3, 1, 23, 59), STATUTORY, date(2022, 3, 1)),  # cutoff 24: always the same day
        (datetime(2022, 7, 1, 10, 30, tzinfo=UTC), STOCKHOLM_2020, date(2022, 7, 2)),  # 12:30 CEST
        (datetime(2022, 7, 1, 9, 59, tzinfo=UTC), STOCKHOLM_2020, date(2022, 7, 1)),  # 11:59 CEST
        (datetime(2022, 1, 14, 10, 30, tzinfo=UTC), STOCKHOLM_2020, date(2022, 1, 14)),  # 11:30 CET
        (datetime(2022, 3, 1, 23, 30, tzinfo=UTC), STOCKHOLM_2020, date(2022, 3, 2)),  # 00:30 local next day
        (at(2022, 3, 4, 14, 0), STOCKHOLM_2020, date(2022, 3, 5)),  # Friday pm, calendar: Saturday
        (at(2022, 3, 4, 14, 0), WORKING, date(2022, 3, 7)),  # Friday pm, working: Monday
        (at(2022, 3, 4, 10, 0), WORKING, date(2022, 3, 4)),
        (at(2022, 4, 14, 13, 0), WORKING, date(2022, 4, 19)),  # Maundy Thursday pm -> after Easter Monday
    ],
)
def test_day_zero(ready_at: datetime, policy: PaymentPolicy, expected: date) -> None:
    assert day_zero(ready_at, policy) == expected


@pytest.mark.parametrize(
    ("ready_at", "care_type", "policy", "expected"),
    [
        (at(2022, 3, 1), SOM, STOCKHOLM_2020, date(2022, 3, 4)),  # day 3
        (at(2022, 3, 1), PSY, STOCKHOLM_2020, date(2022, 3, 7)),  # day 6
        (at(2022, 3, 1, 12), SOM, STOCKHOLM_2020, date(2022, 3, 5)),  # a Saturday: nothing special
        (at(2022, 3, 4, 14), SOM, WORKING, date(2022, 3, 10)),  # day 0 Mon -> Thursday
        (at(2022, 3, 4, 14), PSY, WORKING, date(2022, 3, 15)),  # day 0 Mon + 6 working days
        (at(2022, 4, 13), SOM, WORKING, date(2022, 4, 20)),  # Thu 14, (Easter), Tue 19, Wed 20
        (at(2022, 4, 13), SOM, STOCKHOLM_2020, date(2022, 4, 16)),  # calendar ignores Easter
        (at(2022, 3, 1, 18), PSY, STATUTORY, date(2022, 3, 4)),  # statutory: day 3 for psychiatric too
    ],
)
def test_first_liable_date(
    ready_at: datetime, care_type: CareType, policy: PaymentPolicy, expected: date
) -> None:
    assert first_liable_date(ready_at, care_type, policy) == expected


# ----- individual model --------------------------------------------------------------------------------

CASES: list[tuple[str, list[ReadyPeriod], CareType, PaymentPolicy, datetime, int, int, int | None]] = [
    # id, periods, care type, policy, now, days_ready, liable_days, amount
    ("discharge on day 0", [discharged(at(2022, 3, 1), at(2022, 3, 1, 15))], SOM, STOCKHOLM_2020,
     at(2022, 3, 9), 0, 0, 0),
    ("discharge on day 3, day not charged", [discharged(at(2022, 3, 1), at(2022, 3, 4))], SOM, STOCKHOLM_2020,
     at(2022, 3, 9), 3, 0, 0),
    ("discharge on day 3, day charged", [discharged(at(2022, 3, 1), at(2022, 3, 4))], SOM,
     DISCHARGE_DAY_CHARGED, at(2022, 3, 9), 3, 1, 9300),
    ("discharge on day 5", [discharged(at(2022, 3, 1), at(2022, 3, 6))], SOM, STOCKHOLM_2020,
     at(2022, 3, 9), 5, 2, 18600),
    ("discharge on day 5, day charged", [discharged(at(2022, 3, 1), at(2022, 3, 6))], SOM,
     DISCHARGE_DAY_CHARGED, at(2022, 3, 9), 5, 3, 27900),
    ("psychiatric discharge on day 6", [discharged(at(2022, 3, 1), at(2022, 3, 7))], PSY, STOCKHOLM_2020,
     at(2022, 3, 9), 6, 0, 0),
    ("psychiatric discharge on day 9", [discharged(at(2022, 3, 1), at(2022, 3, 10))], PSY, STOCKHOLM_2020,
     at(2022, 3, 12), 9, 3, 27900),
    ("notice at 12:00 shifts day 0", [discharged(at(2022, 3, 1, 12), at(2022, 3, 7))], SOM, STOCKHOLM_2020,
     at(2022, 3, 9), 6, 2, 18600),
    ("open period counted to today", [ReadyPeriod(at(2022, 3, 1))], SOM, STOCKHOLM_2020,
     at(2022, 3, 5, 8), 4, 2, 18600),
    ("open period before liability", [ReadyPeriod(at(2022, 3, 1))], SOM, STOCKHOLM_2020,
     at(2022, 3, 3, 23), 2, 0, 0),
    ("weekend, calendar counting", [discharged(at(2022, 3, 4, 14), at(2022, 3, 14))], SOM, STOCKHOLM_2020,
     at(2022, 3, 20), 10, 6, 55800),
    ("weekend, working counting", [discharged(at(2022, 3, 4, 14), at(2022, 3, 14))], SOM, WORKING,
     at(2022, 3, 20), 10, 4, 37200),
    ("Easter, working counting", [discharged(at(2022, 4, 13), at(2022, 4, 22))], SOM, WORKING,
     at(2022, 4, 30), 9, 2, 18600),
    ("statutory psychiatric", [discharged(at(2022, 3, 1, 18), at(2022, 3, 6))], PSY, STATUTORY,
     at(2022, 3, 9), 5, 2, 18600),
    ("withdrawn and re-sent", [
        ReadyPeriod(at(2022, 3, 1), ended_at=at(2022, 3, 6, 10)),  # charged 4, 5; withdrawal day not
        discharged(at(2022, 3, 8, 13), at(2022, 3, 14)),  # day 0 = 9th; charged 12, 13
    ], SOM, STOCKHOLM_2020, at(2022, 3, 20), 11, 4, 37200),
    ("year boundary", [discharged(at(2019, 12, 27), at(2020, 1, 3))], SOM, STOCKHOLM_2020,
     at(2020, 1, 9), 7, 4, 2 * 7800 + 2 * 8200),
    ("missing amount year", [discharged(at(2020, 12, 28), at(2021, 1, 3))], SOM, STOCKHOLM_2020,
     at(2021, 1, 9), 6, 3, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("periods", "care_type", "policy", "now", "ready", "liable_days", "amount"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_individual_liability(
    periods: list[ReadyPeriod],
    care_type: CareType,
    policy: PaymentPolicy,
    now: datetime,
    ready: int,
    liable_days: int,
    amount: int | None,
) -> None:
    result = individual_liability(periods, care_type, policy, OK, AMOUNTS, now)
    assert result.days_ready == ready
    assert result.liable_days == liable_days == len(result.liable_dates)
    assert result.liable is (liable_days > 0)
    assert result.amount_sek == amount
    assert result.reasons_not_liable == ()
    assert result.policy_name == policy.name


def test_withdrawn_period_details() -> None:
    periods = [
        discharged(at(2022, 3, 8, 13), at(2022, 3, 14)),  # given out of order on purpose
        ReadyPeriod(at(2022, 3, 1), ended_at=at(2022, 3, 6, 10)),
    ]
    result = individual_liability(periods, SOM, STOCKHOLM_2020, OK, AMOUNTS, at(2022, 3, 20))
    assert result.day_zero == date(2022, 3, 9)
    assert result.liability_starts_on == date(2022, 3, 12)
    assert result.liable_dates == (date(2022, 3, 4), date(2022, 3, 5), date(2022, 3, 12), date(2022, 3, 13))


def test_missing_amount_year_is_reported() -> None:
    period = discharged(at(2020, 12, 28), at(2021, 1, 3))
    result = individual_liability([period], SOM, STOCKHOLM_2020, OK, AMOUNTS, at(2021, 1, 9))
    assert result.liable_dates == (date(2020, 12, 31), date(2021, 1, 1), date(2021, 1, 2))
    assert result.amount_sek is None
    assert result.missing_amount_years == (2021,)
    assert result.liable


def test_liable_dates_withdrawal_day_not_charged_even_if_discharge_day_is() -> None:
    withdrawn = ReadyPeriod(at(2022, 3, 1), ended_at=at(2022, 3, 5, 16))
    assert liable_dates(withdrawn, SOM, DISCHARGE_DAY_CHARGED, at(2022, 3, 9)) == (date(2022, 3, 4),)


def test_days_ready_uses_local_dates() -> None:
    period = discharged(datetime(2022, 3, 1, 23, 30, tzinfo=UTC), datetime(2022, 3, 2, 8, tzinfo=UTC))
    assert days_ready(period, at(2022, 3, 9)) == 0  # 00:30 and 09:00 on 2 March, local time
    assert days_ready(ReadyPeriod(at(2022, 3, 1, 23)), at(2022, 3, 2, 0, 5)) == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"admission_notice_in_time": False}, "admission_notice_late"),
        ({"ready_notice_sent": False}, "ready_notice_missing"),
        ({"patient_refused_services": True}, "patient_refused_services"),
        ({"sip_invitation_required": True}, "sip_invitation_missing"),
        ({"outpatient_services_missing": True}, "outpatient_services_missing"),
    ],
)
def test_failed_condition_charges_nothing_but_reports(changes: dict[str, Any], reason: str) -> None:
    conditions = dataclasses.replace(OK, **changes)
    period = discharged(at(2022, 3, 1), at(2022, 3, 10))
    result = individual_liability([period], SOM, STOCKHOLM_2020, conditions, AMOUNTS, at(2022, 3, 12))
    assert result.reasons_not_liable == (reason,)
    assert not result.liable
    assert (result.liable_days, result.amount_sek, result.liable_dates) == (0, 0, ())
    assert result.days_ready == 9
    assert result.day_zero == date(2022, 3, 1)
    assert result.liability_starts_on == date(2022, 3, 4)


def test_sip_sent_and_several_reasons() -> None:
    sent = LiabilityConditions(True, sip_invitation_required=True, sip_invitation_sent=True)
    assert sent.reasons_not_liable() == ()
    many = LiabilityConditions(False, patient_refused_services=True, outpatient_services_missing=True)
    assert many.reasons_not_liable() == (
        "admission_notice_late",
        "patient_refused_services",
        "outpatient_services_missing",
    )


def test_no_period_means_ready_notice_missing() -> None:
    result = individual_liability([], SOM, STOCKHOLM_2020, OK, AMOUNTS, at(2022, 3, 9))
    assert result.reasons_not_liable == ("ready_notice_missing",)
    assert (result.day_zero, result.liability_starts_on, result.days_ready) == (None, None, 0)
    assert not result.liable


def test_overlapping_periods_rejected() -> None:
    periods = [ReadyPeriod(at(2022, 3, 1)), ReadyPeriod(at(2022, 3, 3))]
    with pytest.raises(ValueError, match="overlap"):
        individual_liability(periods, SOM, STOCKHOLM_2020, OK, AMOUNTS, at(2022, 3, 9))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ready_at": datetime(2022, 3, 1, 9)}, "timezone-aware"),
        ({"ready_at": at(2022, 3, 2), "ended_at": at(2022, 3, 1)}, "before ready_at"),
        ({"ready_at": at(2022, 3, 1), "ended_by_discharge": True}, "requires ended_at"),
    ],
)
def test_ready_period_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReadyPeriod(**kwargs)


# ----- policies ----------------------------------------------------------------------------------------


def test_presets() -> None:
    assert set(PRESETS) == {"stockholm_2020", "statutory", "vastra_gotaland_average"}
    assert PRESETS["stockholm_2020"] == PaymentPolicy(name="stockholm_2020")
    assert (STOCKHOLM_2020.first_liable_day(SOM), STOCKHOLM_2020.first_liable_day(PSY)) == (3, 6)
    assert (STATUTORY.first_liable_day(SOM), STATUTORY.first_liable_day(PSY)) == (3, 3)
    assert STATUTORY.day0_cutoff_hour == 24
    assert VASTRA_GOTALAND_AVERAGE.model is LiabilityModel.AVERAGE


def test_policy_accepts_strings_from_configuration() -> None:
    policy = PaymentPolicy("x", model="average", day_counting="working", average_threshold_days=2)  # type: ignore[arg-type]
    assert policy.model is LiabilityModel.AVERAGE
    assert policy.day_counting is DayCounting.WORKING


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first_liable_day_somatic": -1}, "first_liable_day_somatic must be >= 0"),
        ({"first_liable_day_psychiatric": -1}, "first_liable_day_psychiatric must be >= 0"),
        ({"day0_cutoff_hour": 25}, "between 0 and 24"),
        ({"day0_cutoff_hour": -1}, "between 0 and 24"),
        ({"model": LiabilityModel.AVERAGE}, "requires average_threshold_days"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"name": " "}, "name must not be empty"),
        ({"model": "median"}, "median"),
    ],
)
def test_policy_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PaymentPolicy(**{"name": "p", **kwargs})


# ----- average model -----------------------------------------------------------------------------------

NO_SWITCH = dataclasses.replace(VASTRA_GOTALAND_AVERAGE, switch_to_individual_after_days=None)


@pytest.mark.parametrize(
    ("days", "policy", "episodes", "mean", "liable_days", "switched"),
    [
        ([0, 2, 5, 9], NO_SWITCH, 4, 4.0, 4, 0),  # 16 - 3.0 * 4
        ([0, 1, 3, 4], NO_SWITCH, 4, 2.0, 0, 0),  # below the level
        ([3, 3, 3], NO_SWITCH, 3, 3.0, 0, 0),  # at the level: not above
        ([3, 3, 3], dataclasses.replace(NO_SWITCH, average_threshold_days=2.5), 3, 3.0, 1, 0),  # 1.5 -> 1
        ([], NO_SWITCH, 0, 0.0, 0, 0),
        ([0, 2, 5, 9], VASTRA_GOTALAND_AVERAGE, 3, 7 / 3, 2, 1),  # 9 > 7: 2 days individually
        ([4, 4, 4, 7, 10], VASTRA_GOTALAND_AVERAGE, 4, 4.75, 10, 1),  # pool 19 - 12 = 7, plus 3
    ],
)
def test_average_liability(
    days: list[int], policy: PaymentPolicy, episodes: int, mean: float, liable_days: int, switched: int
) -> None:
    result = average_liability(days, policy)
    assert result.episodes == episodes
    assert result.mean_days == pytest.approx(mean)
    assert result.liable_days == liable_days
    assert result.liable is (liable_days > 0)
    assert result.switched_episodes == switched
    assert result.threshold == policy.average_threshold_days


def test_average_liability_rejects_individual_policy_and_negative_days() -> None:
    with pytest.raises(ValueError, match="not an average-model policy"):
        average_liability([1, 2], STOCKHOLM_2020)
    with pytest.raises(ValueError, match=">= 0"):
        average_liability([1, -2], VASTRA_GOTALAND_AVERAGE)
