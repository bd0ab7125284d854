"""What times the domain finds plausible, relative to now, and the calendar it computes in.

**Windows.** Every time a client sends (a command's times, a registration's, an access-log period) must lie in
a window around ``now`` (the server's clock), by what the time says:

* *recorded* (something that has happened: admission, needs identified, discharge, consent given or withdrawn,
  follow-up held): from ``now - max_past`` to ``now + clock_skew`` (a client's clock may run a little ahead);
* *estimated discharge*: from ``now - max_past`` to ``now + estimate_horizon``;
* *SIP* (a meeting's start and end, the date of the next follow-up): from ``now - max_past`` to
  ``now + sip_horizon``;
* *audit* (an access-log search or review period): from ``now - audit_past`` to ``now + 2 days``
  (a period may end with the end of today, 25 hours ahead on the night summer time ends).

A time outside its window is refused with :class:`~domain.errors.OutOfRange` naming the field. The windows only
bound what is plausible; the aggregates still apply their own rules (a discharge not before the admission, a
meeting not in the past...), and the application checks a command's times after them, so that their more
specific refusal answers first. The limits are passed in (the API reads them from its settings): see
:class:`TimeLimits`.

**Calendar.** The computations over stored times (payment days, deadlines) saturate any time outside
``CALENDAR_MIN`` .. ``CALENDAR_MAX`` to that range (:func:`saturate`), so that data stored before the windows
existed can neither overflow ``datetime`` nor take long: no window admits such a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from domain.errors import OutOfRange, require_aware

CALENDAR_MIN: Final = datetime(2, 1, 1, tzinfo=UTC)
"""The earliest moment the domain computes with (a day's margin from `datetime.min` in every time zone)."""
CALENDAR_MAX: Final = datetime(9990, 1, 1, tzinfo=UTC)
"""The latest moment the domain computes with (years of margin: day 0, free days, a due time are added to it)."""
MAX_LIMIT: Final = timedelta(days=36_525)  # a hundred years: keeps every window's bounds inside the calendar
AUDIT_AHEAD: Final = timedelta(days=2)  # an access-log period may end with today (even on a 25-hour day)
_LOCAL = ZoneInfo("Europe/Stockholm")  # the dates of the SIP (next follow-up) are Stockholm dates


@dataclass(frozen=True)
class TimeLimits:
    """How far from now a client's time may lie (see the module docstring). Defaults: the API's defaults."""

    max_past: timedelta = timedelta(days=365)
    clock_skew: timedelta = timedelta(minutes=5)
    estimate_horizon: timedelta = timedelta(days=365)
    sip_horizon: timedelta = timedelta(days=730)
    audit_past: timedelta = timedelta(days=3653)

    def __post_init__(self) -> None:
        for limit in dataclasses.fields(self):
            value = getattr(self, limit.name)
            if not timedelta(0) <= value <= MAX_LIMIT:
                raise ValueError(f"{limit.name} must be between 0 and {MAX_LIMIT.days} days, got {value}")


DEFAULT_LIMITS: Final = TimeLimits()


class Window(StrEnum):
    RECORDED = "recorded"
    ESTIMATE = "estimate"
    SIP = "sip"
    AUDIT = "audit"
    ANY = "any"  # a time without a window of its own: the widest plausible one


FIELD_WINDOWS: Final[dict[str, Window]] = {
    # a discharge case (domain.commands, the registration)
    "admitted_at": Window.RECORDED,
    "needs_identified_at": Window.RECORDED,
    "at": Window.RECORDED,  # RecordNeedsIdentified
    "discharged_at": Window.RECORDED,
    "estimated_discharge_at": Window.ESTIMATE,
    # a SIP plan (domain.sip.commands)
    "given_at": Window.RECORDED,
    "withdrawn_at": Window.RECORDED,
    "held_at": Window.RECORDED,
    "starts_at": Window.SIP,
    "ends_at": Window.SIP,
    "next_follow_up_on": Window.SIP,
    # access-log periods (the query's `from` and `to`, the body's `period_from` and `period_to`)
    "period_from": Window.AUDIT,
    "period_to": Window.AUDIT,
    "from": Window.AUDIT,
    "to": Window.AUDIT,
}
"""The window of each time a client sends, by its field name (a command's attribute, the API's field)."""


def window(kind: Window, now: datetime, limits: TimeLimits) -> tuple[datetime, datetime]:
    """The earliest and latest plausible moment of a time of this kind, now."""
    require_aware(now, "now")
    now = saturate(now)
    ahead = {Window.RECORDED: limits.clock_skew, Window.ESTIMATE: limits.estimate_horizon,
             Window.SIP: limits.sip_horizon, Window.AUDIT: AUDIT_AHEAD,
             Window.ANY: max(limits.clock_skew, limits.estimate_horizon, limits.sip_horizon)}[kind]
    back = limits.audit_past if kind is Window.AUDIT else limits.max_past
    return _shift(now, -back), _shift(now, ahead)


def check_time(value: datetime, field: str, now: datetime, limits: TimeLimits) -> None:
    """Refuse ``value`` (OutOfRange, naming ``field``) unless it lies in its field's window around ``now``."""
    require_aware(value, field)
    earliest, latest = window(FIELD_WINDOWS.get(field, Window.ANY), now, limits)
    if not earliest <= value <= latest:  # comparing aware times never overflows, converting them may
        raise OutOfRange(f"the time must lie between {_utc(earliest)} and {_utc(latest)}", field=field)


def check_date(value: date, field: str, now: datetime, limits: TimeLimits) -> None:
    """Refuse a calendar date (a Stockholm date) outside its field's window around today."""
    earliest, latest = window(FIELD_WINDOWS.get(field, Window.ANY), now, limits)
    first, last = _local_date(earliest), _local_date(latest)
    if not first <= value <= last:
        raise OutOfRange(f"the date must lie between {first} and {last}", field=field)


def check_times(now: datetime, limits: TimeLimits, /, **times: datetime | date | None) -> None:
    """Check each given time (None: not given) against its field's window."""
    for field, value in times.items():
        if isinstance(value, datetime):
            check_time(value, field, now, limits)
        elif isinstance(value, date):
            check_date(value, field, now, limits)


def check_command(command: object, now: datetime, limits: TimeLimits) -> None:
    """Check every time a command (`domain.commands`, `domain.sip.commands`) carries, before it is applied.

    A command's times are its `datetime` attributes, named as the API names them; a SIP field edit carries a
    date as its `value`, checked under the field's own name (`next_follow_up_on`)."""
    if not dataclasses.is_dataclass(command) or isinstance(command, type):
        return
    for attribute in dataclasses.fields(command):
        value = getattr(command, attribute.name)
        if isinstance(value, date):
            named = getattr(command, "field", None) if attribute.name == "value" else None
            check_times(now, limits, **{str(named or attribute.name): value})


def saturate(moment: datetime) -> datetime:
    """``moment``, or the nearer end of the domain's calendar (CALENDAR_MIN .. CALENDAR_MAX) if it lies beyond.

    Within the calendar the result is ``moment`` itself (same time zone); beyond it, the end in UTC."""
    if moment < CALENDAR_MIN:
        return CALENDAR_MIN
    if moment > CALENDAR_MAX:
        return CALENDAR_MAX
    return moment


def _shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:  # only near the ends of datetime's range: the window ends there
        return (datetime.min if delta < timedelta(0) else datetime.max).replace(tzinfo=UTC)


def _local_date(moment: datetime) -> date:
    try:
        return moment.astimezone(_LOCAL).date()
    except OverflowError:
        return moment.date()


def _utc(moment: datetime) -> str:
    with contextlib.suppress(OverflowError):
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="minutes")
