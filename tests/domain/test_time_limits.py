"""The plausible windows of the times a client sends (`domain.time_limits`)."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import domain.commands
import domain.sip.commands
from domain.commands import ChangeEstimatedDischarge, RecordNeedsIdentified, SendDischargeNotice
from domain.errors import InvalidValue, OutOfRange
from domain.sip.commands import ChangeSipField, GiveSipConsent, ScheduleSipMeeting
from domain.sip.consent import ConsentForm, ConsentGiver
from domain.sip.contents import PlanField
from domain.time_limits import (
    DEFAULT_LIMITS,
    FIELD_WINDOWS,
    TimeLimits,
    Window,
    check_command,
    check_date,
    check_time,
    check_times,
    window,
)
from tests.domain.builders import HOME_INFO, STHLM, at

NOW = at(2026, 3, 11, 9)
DAY = timedelta(days=1)


def refused(field: str, *times: tuple[str, datetime | date], limits: TimeLimits = DEFAULT_LIMITS) -> OutOfRange:
    with pytest.raises(OutOfRange) as caught:
        check_times(NOW, limits, **dict(times))
    assert caught.value.field == field
    assert caught.value.code == "time_out_of_range"
    return caught.value


@pytest.mark.parametrize(("field", "fits", "too_early", "too_late"), [
    # recorded: up to a year back, at most five minutes ahead (a client's clock may run ahead a little)
    ("admitted_at", [NOW - 364 * DAY, NOW, NOW + timedelta(minutes=4)], NOW - 366 * DAY, NOW + timedelta(minutes=6)),
    ("discharged_at", [NOW - 364 * DAY, NOW + timedelta(minutes=4)], datetime(1, 1, 1, tzinfo=UTC),
     datetime(9999, 12, 30, tzinfo=UTC)),
    ("needs_identified_at", [NOW], NOW - 366 * DAY, NOW + DAY),
    ("at", [NOW], NOW - 366 * DAY, NOW + DAY),
    ("given_at", [NOW - 300 * DAY], NOW - 366 * DAY, NOW + DAY),
    ("withdrawn_at", [NOW], NOW - 366 * DAY, NOW + DAY),
    ("held_at", [NOW], NOW - 366 * DAY, NOW + DAY),
    # planned: an estimated discharge up to a year ahead, a SIP meeting up to two years
    ("estimated_discharge_at", [NOW - 3 * DAY, NOW + 364 * DAY], NOW - 366 * DAY, NOW + 366 * DAY),
    ("starts_at", [NOW + 729 * DAY], NOW - 366 * DAY, NOW + 731 * DAY),
    ("ends_at", [NOW + 729 * DAY], NOW - 366 * DAY, NOW + 731 * DAY),
    # access-log periods: ten years back, at most two days ahead (a period ends with today)
    ("period_from", [NOW - 3650 * DAY], NOW - 3654 * DAY, NOW + 3 * DAY),
    ("to", [NOW + timedelta(hours=25)], NOW - 3654 * DAY, NOW + 3 * DAY),
])
def test_each_kind_of_time_has_its_window(field: str, fits: list[datetime], too_early: datetime,
                                          too_late: datetime) -> None:
    for value in fits:
        check_times(NOW, DEFAULT_LIMITS, **{field: value})
    refused(field, (field, too_early))
    refused(field, (field, too_late))


def test_the_refusal_names_the_window() -> None:
    error = refused("discharged_at", ("discharged_at", datetime(9999, 12, 30, tzinfo=UTC)))
    assert error.message == "the time must lie between 2025-03-11T08:00+00:00 and 2026-03-11T08:05+00:00"
    assert isinstance(error, InvalidValue)  # a kind of invalid value; the API answers it with 400


def test_the_follow_up_date_is_a_stockholm_date_within_the_sip_horizon() -> None:
    check_date(date(2028, 3, 10), "next_follow_up_on", NOW, DEFAULT_LIMITS)
    with pytest.raises(OutOfRange) as caught:
        check_date(date(2028, 3, 11) + DAY, "next_follow_up_on", NOW, DEFAULT_LIMITS)
    assert caught.value.field == "next_follow_up_on"


def test_the_limits_are_configurable() -> None:
    limits = TimeLimits(max_past=timedelta(days=30), clock_skew=timedelta(0), estimate_horizon=timedelta(days=10),
                        sip_horizon=timedelta(days=90), audit_past=timedelta(days=100))
    check_times(NOW, limits, admitted_at=NOW - 29 * DAY, estimated_discharge_at=NOW + 9 * DAY)
    refused("admitted_at", ("admitted_at", NOW - 31 * DAY), limits=limits)
    refused("discharged_at", ("discharged_at", NOW + timedelta(seconds=1)), limits=limits)
    refused("estimated_discharge_at", ("estimated_discharge_at", NOW + 11 * DAY), limits=limits)
    refused("starts_at", ("starts_at", NOW + 91 * DAY), limits=limits)
    refused("period_from", ("period_from", NOW - 101 * DAY), limits=limits)


@pytest.mark.parametrize("limits", [{"max_past": -DAY}, {"sip_horizon": timedelta(days=36_526)}])
def test_limits_out_of_range_are_refused(limits: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError, match="must be between 0 and 36525 days"):
        TimeLimits(**limits)


def test_a_naive_time_is_refused_as_such() -> None:
    with pytest.raises(InvalidValue, match="time zone") as caught:
        check_time(datetime(2026, 3, 11, 9), "admitted_at", NOW, DEFAULT_LIMITS)
    assert caught.value.field == "admitted_at"
    assert not isinstance(caught.value, OutOfRange)


def test_commands_are_checked_by_their_times() -> None:
    far = datetime(9999, 12, 30, tzinfo=UTC)
    for command, field in [
        (SendDischargeNotice(case_id="c", expected_version=1, discharged_at=far, information=HOME_INFO),
         "discharged_at"),
        (RecordNeedsIdentified(case_id="c", expected_version=1, at=datetime(1, 1, 1, tzinfo=UTC)), "at"),
        (ChangeEstimatedDischarge(case_id="c", expected_version=1, estimated_discharge_at=far),
         "estimated_discharge_at"),
        (ScheduleSipMeeting(plan_id="p", starts_at=NOW + DAY, ends_at=far), "ends_at"),
        (GiveSipConsent(plan_id="p", expected_version=1, given_by=ConsentGiver.PERSON, form=ConsentForm.VERBAL,
                        scope_unit_ids=(), given_at=datetime(1, 1, 1, tzinfo=STHLM)), "given_at"),
        (ChangeSipField(plan_id="p", field=PlanField.NEXT_FOLLOW_UP_ON, value=date(9999, 1, 1), expected_revision=0),
         "next_follow_up_on"),
    ]:
        with pytest.raises(OutOfRange) as caught:
            check_command(command, NOW, DEFAULT_LIMITS)
        assert caught.value.field == field
    check_command(SendDischargeNotice(case_id="c", expected_version=1, discharged_at=NOW, information=HOME_INFO),
                  NOW, DEFAULT_LIMITS)
    check_command(ChangeSipField(plan_id="p", field=PlanField.OWN_CONTRIBUTION, value="text", expected_revision=0),
                  NOW, DEFAULT_LIMITS)


def _command_classes() -> list[type]:
    return [cls for module in (domain.commands, domain.sip.commands)
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__]


def _carries(hint: object, kind: type) -> bool:
    if hint is kind:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_carries(arg, kind) for arg in typing.get_args(hint))
    return False


def test_every_time_of_every_command_has_a_window_of_its_own() -> None:
    """A new command (or a new time on one) must be given its window deliberately, not fall to the widest."""
    classes = _command_classes()
    assert len(classes) > 30
    seen = set()
    for cls in classes:
        for name, hint in typing.get_type_hints(cls).items():
            if _carries(hint, datetime):
                assert name in FIELD_WINDOWS, f"{cls.__name__}.{name} has no window"
                seen.add(name)
            elif _carries(hint, date):  # a SIP field's value: the date field is named by the command
                assert (cls, name) == (ChangeSipField, "value")
                assert PlanField.NEXT_FOLLOW_UP_ON.value in FIELD_WINDOWS
    assert {"discharged_at", "starts_at", "held_at", "given_at"} <= seen


ANY_TIME = st.datetimes(timezones=st.sampled_from([UTC, STHLM]) | st.timezones())


@given(value=ANY_TIME, now=ANY_TIME, field=st.sampled_from([*FIELD_WINDOWS, "unknown"]))
@settings(max_examples=300, deadline=None)
def test_any_time_is_judged_without_any_other_exception(value: datetime, now: datetime, field: str) -> None:
    earliest, latest = window(FIELD_WINDOWS.get(field, Window.ANY), now, DEFAULT_LIMITS)
    if earliest <= value <= latest:
        check_time(value, field, now, DEFAULT_LIMITS)
    else:
        with pytest.raises(OutOfRange) as caught:
            check_time(value, field, now, DEFAULT_LIMITS)
        assert caught.value.field == field
