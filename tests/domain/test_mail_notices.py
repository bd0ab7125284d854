"""When an e-mail notice may go out: quiet hours (also over midnight and a summer-time change) and the digest."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from domain.mail_notices import STOCKHOLM, Category, Delivery, Schedule, mailed_category, parse_clock


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=STOCKHOLM)


def test_immediate_without_quiet_hours_is_now() -> None:
    now = local(2026, 3, 4, 3, 0).astimezone(UTC)
    assert Schedule().due_at(now) == now


def test_quiet_hours_over_midnight_hold_a_notice_until_they_end() -> None:
    night = Schedule(quiet_from=time(22, 0), quiet_to=time(7, 0))
    assert night.due_at(local(2026, 3, 4, 23, 30)) == local(2026, 3, 5, 7, 0)
    assert night.due_at(local(2026, 3, 5, 2, 0)) == local(2026, 3, 5, 7, 0)
    day = local(2026, 3, 5, 7, 0).astimezone(UTC)
    assert night.due_at(day) == day  # the end itself is no longer quiet


def test_quiet_hours_within_a_day() -> None:
    lunch = Schedule(quiet_from=time(12, 0), quiet_to=time(13, 0))
    assert lunch.due_at(local(2026, 3, 4, 12, 30)) == local(2026, 3, 4, 13, 0)
    assert lunch.due_at(local(2026, 3, 4, 11, 59)) == local(2026, 3, 4, 11, 59)


def test_a_digest_goes_at_its_next_local_time_and_never_in_quiet_hours() -> None:
    digest = Schedule(delivery=Delivery.DIGEST, digest_at=time(7, 0))
    assert digest.due_at(local(2026, 3, 4, 6, 0)) == local(2026, 3, 4, 7, 0)
    assert digest.due_at(local(2026, 3, 4, 7, 0)) == local(2026, 3, 5, 7, 0)
    assert digest.due_at(local(2026, 3, 4, 16, 55)) == local(2026, 3, 5, 7, 0)
    late_quiet = Schedule(delivery=Delivery.DIGEST, digest_at=time(6, 0), quiet_from=time(22, 0),
                          quiet_to=time(7, 30))
    assert late_quiet.due_at(local(2026, 3, 4, 16, 0)) == local(2026, 3, 5, 7, 30)


def test_the_digest_keeps_its_local_time_across_summer_time() -> None:
    digest = Schedule(delivery=Delivery.DIGEST, digest_at=time(7, 0))
    due = digest.due_at(local(2026, 3, 28, 20, 0))  # summer time starts in the night to 29 March
    assert due.astimezone(STOCKHOLM).hour == 7
    assert due.astimezone(UTC).hour == 5


@pytest.mark.parametrize("value", ["7:00", "24:00", "12:60", "noon", ""])
def test_bad_clock_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        parse_clock(value)


def test_which_events_mail() -> None:
    assert mailed_category("AdmissionNoticeSent", {}) is Category.NOTICES
    assert mailed_category("SipMeetingRescheduled", {}) is Category.SIP_MEETINGS
    assert mailed_category("PlanningUpdated", {}) is None
    assert mailed_category("EstimatedDischargeChanged", {"notice_id": None}) is None  # a draft's: no notice
    assert mailed_category("EstimatedDischargeChanged", {"notice_id": "n1"}) is Category.NOTICES
