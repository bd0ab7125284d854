"""When an e-mail notice may go out, and which unit events make one (pure rules, no I/O).

A user chooses which unit events reach them by e-mail (new notices, deadlines at risk or overdue, SIP meetings
called or moved), immediately or as a daily digest at a local time, and quiet hours (local, Europe/Stockholm) in
which nothing is sent: a notice that falls in them waits for their end, a digest time in them moves to their end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Category(StrEnum):
    """What a user may choose to get by e-mail (a column of `notification_settings` each)."""

    NOTICES = "notices"  # a new notice to one of the user's units
    DEADLINES = "deadlines"  # a deadline at risk or overdue (and escalation)
    SIP_MEETINGS = "sip_meetings"  # a SIP meeting called or moved


class Delivery(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


# Event type -> the category that mails it. Events not named here send no mail.
EVENT_CATEGORIES: dict[str, Category] = {
    "AdmissionNoticeSent": Category.NOTICES,
    "EstimatedDischargeChanged": Category.NOTICES,  # a notice once the case was sent (notice_id set)
    "ReadyForDischargeSent": Category.NOTICES,
    "ReadyForDischargeWithdrawn": Category.NOTICES,
    "DischargeNoticeSent": Category.NOTICES,
    "CaseForwarded": Category.NOTICES,
    "CaseCancelled": Category.NOTICES,
    "SipMeetingScheduled": Category.SIP_MEETINGS,
    "SipMeetingRescheduled": Category.SIP_MEETINGS,
}


def mailed_category(event_type: str, data: dict[str, object]) -> Category | None:
    """The category of an event that makes an e-mail notice, or None (a draft's estimate change is no notice)."""
    if event_type == "EstimatedDischargeChanged" and data.get("notice_id") is None:
        return None
    return EVENT_CATEGORIES.get(event_type)


def parse_clock(value: str) -> time:
    """"HH:MM" (24 h) as a time; ValueError otherwise."""
    if not CLOCK.match(value):
        raise ValueError("a time of day as HH:MM (00:00-23:59)")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Schedule:
    """A user's delivery choice: immediate or a daily digest at `digest_at`, with optional quiet hours."""

    delivery: Delivery = Delivery.IMMEDIATE
    digest_at: time = time(7, 0)
    quiet_from: time | None = None
    quiet_to: time | None = None

    def in_quiet_hours(self, local: time) -> bool:
        if self.quiet_from is None or self.quiet_to is None or self.quiet_from == self.quiet_to:
            return False
        if self.quiet_from < self.quiet_to:
            return self.quiet_from <= local < self.quiet_to
        return local >= self.quiet_from or local < self.quiet_to  # over midnight, e.g. 22:00-07:00

    def due_at(self, now: datetime) -> datetime:
        """When a notice created at `now` may be sent (UTC)."""
        local = now.astimezone(STOCKHOLM)
        if self.delivery is Delivery.DIGEST:
            candidate = _at(local, self.digest_at)
            if candidate <= local:
                candidate = _at(local + timedelta(days=1), self.digest_at)
            return self._after_quiet(candidate).astimezone(UTC)
        return self._after_quiet(local).astimezone(UTC) if self.in_quiet_hours(local.time()) else now

    def _after_quiet(self, local: datetime) -> datetime:
        if not self.in_quiet_hours(local.time()) or self.quiet_to is None:
            return local
        end = _at(local, self.quiet_to)
        return end if end > local else _at(local + timedelta(days=1), self.quiet_to)


def _at(local: datetime, clock: time) -> datetime:
    """The same local day at `clock` (a wall time that does not exist at a summer-time change is normalised)."""
    naive = datetime.combine(local.date(), clock)
    return naive.replace(tzinfo=STOCKHOLM).astimezone(UTC).astimezone(STOCKHOLM)
