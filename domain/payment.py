"""Payment liability (*betalningsansvar*) as a parameter set per agreement.

The payment rules in lag (2017:612) are a default that a region and its municipalities may replace by
agreement, so everything that varies is a field of :class:`PaymentPolicy`. The readings this module
computes (see also ``shared/domain/process.md`` section 4):

* **Day 0** is the local date (policy time zone) the ready-for-discharge notice was *sent* if the local hour
  is before ``day0_cutoff_hour``, else the next date. With working-day counting day 0 is moved forward to
  the next working day if it is not one.
* **First liable day** N (per care type): days 0 .. N-1 are free, liability starts on day N. Days up to
  day N are counted in calendar days, or in working days (Swedish calendar, :mod:`domain.holidays`).
* Once liability has started **every calendar day is charged**, weekends and holidays included:
  working-day counting only governs the free period.
* The clock stops on the day a period ends. A **discharge** day is charged only if
  ``discharge_day_charged``; a **withdrawal** day ("no longer ready") is never charged. An **open** period is
  charged up to and including today's local date (today counts as started).
* A withdrawn notice ends its period; a new notice starts a new period with its own day 0. Periods are
  counted independently and their charged dates summed.
* Amounts per day come from the caller (``year -> SEK``, entered by an administrator); a charged date is
  priced by its own year. Nothing is hard-coded here.

Cost: a period's charged dates are one span (first, last), counted and priced by arithmetic per calendar year
it touches, never day by day, so a period of any length costs the same (:func:`liable_span`). Times beyond the
domain's calendar (stored before the API bounded them) are taken as its nearer end
(:func:`domain.time_limits.saturate`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.care import CareType
from domain.holidays import add_working_days, is_working_day, next_working_day
from domain.time_limits import saturate

MAX_FIRST_LIABLE_DAY = 366  # bounds the free-day counting (one step per working day)


class LiabilityModel(StrEnum):
    """Individual: each patient's days are charged. Average: the mean over all discharges is compared."""

    INDIVIDUAL = "individual"
    AVERAGE = "average"


class DayCounting(StrEnum):
    """How the free days (day 0 up to the first liable day) are counted."""

    CALENDAR = "calendar"
    WORKING = "working"


class NotLiableReason(StrEnum):
    """Stable machine codes for why the municipality is not liable."""

    ADMISSION_NOTICE_LATE = "admission_notice_late"
    READY_NOTICE_MISSING = "ready_notice_missing"
    PATIENT_REFUSED_SERVICES = "patient_refused_services"
    SIP_INVITATION_MISSING = "sip_invitation_missing"
    OUTPATIENT_SERVICES_MISSING = "outpatient_services_missing"


@dataclass(frozen=True)
class PaymentPolicy:
    """The payment rules of one agreement. Defaults: the Stockholm agreement (2020), individual rule."""

    name: str
    model: LiabilityModel = LiabilityModel.INDIVIDUAL
    first_liable_day_somatic: int = 3  # days 0, 1, 2 free; liability from day 3 (Stockholm 2020)
    first_liable_day_psychiatric: int = 6  # Samplan's reading of "5 calendar days free": days 0-5 free
    day0_cutoff_hour: int = 12  # sent before 12:00 local -> day 0 that day, else the next; 24 = same day
    day_counting: DayCounting = DayCounting.CALENDAR  # how days up to the first liable day are counted
    discharge_day_charged: bool = False
    average_threshold_days: float | None = None  # average model: the agreed mean level
    switch_to_individual_after_days: int | None = None  # average model: e.g. the VGR 7-day rule
    timezone: str = "Europe/Stockholm"

    def __post_init__(self) -> None:
        # Accept plain strings from configuration; an unknown value raises ValueError here.
        object.__setattr__(self, "model", LiabilityModel(self.model))
        object.__setattr__(self, "day_counting", DayCounting(self.day_counting))
        if not self.name.strip():
            raise ValueError("policy name must not be empty")
        for field_name in ("first_liable_day_somatic", "first_liable_day_psychiatric"):
            value = getattr(self, field_name)
            if value < 0:
                raise ValueError(f"{field_name} must be >= 0, got {value}")
            if value > MAX_FIRST_LIABLE_DAY:
                raise ValueError(f"{field_name} must be <= {MAX_FIRST_LIABLE_DAY}, got {value}")
        if not 0 <= self.day0_cutoff_hour <= 24:
            raise ValueError(f"day0_cutoff_hour must be between 0 and 24, got {self.day0_cutoff_hour}")
        if self.model is LiabilityModel.AVERAGE and self.average_threshold_days is None:
            raise ValueError("the average model requires average_threshold_days")
        if self.average_threshold_days is not None and self.average_threshold_days < 0:
            raise ValueError(f"average_threshold_days must be >= 0, got {self.average_threshold_days}")
        if self.switch_to_individual_after_days is not None and self.switch_to_individual_after_days < 0:
            raise ValueError(
                f"switch_to_individual_after_days must be >= 0, got {self.switch_to_individual_after_days}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def first_liable_day(self, care_type: CareType) -> int:
        """The day number (day 0 = ready day) on which liability starts for ``care_type``."""
        if care_type == CareType.PSYCHIATRIC:
            return self.first_liable_day_psychiatric
        return self.first_liable_day_somatic


STOCKHOLM_2020 = PaymentPolicy(name="stockholm_2020")
"""Region Stockholm and its 26 municipalities, agreement in force from 2020-01-01, individual rule."""

STATUTORY = PaymentPolicy(
    name="statutory",
    first_liable_day_somatic=3,
    first_liable_day_psychiatric=3,
    day0_cutoff_hour=24,
)
"""The law's default (lag 2017:612) as Samplan reads it: three calendar days free for every care type, the
day the ready notice is sent is day 0 whatever the hour, liability from day 3.

Verify this preset against the agreement (or absence of one) in force before using it for billing.
"""

VASTRA_GOTALAND_AVERAGE = PaymentPolicy(
    name="vastra_gotaland_average",
    model=LiabilityModel.AVERAGE,
    average_threshold_days=3.0,
    switch_to_individual_after_days=7,
)
"""Västra Götaland: average model, agreed level 3.0 days, patients over 7 days counted individually."""

PRESETS: dict[str, PaymentPolicy] = {p.name: p for p in (STOCKHOLM_2020, STATUTORY, VASTRA_GOTALAND_AVERAGE)}


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


def _local_date(value: datetime, zone: ZoneInfo) -> date:
    return saturate(value).astimezone(zone).date()


@dataclass(frozen=True)
class ReadyPeriod:
    """One ready-for-discharge period: from a sent ready notice to withdrawal, discharge or still open."""

    ready_at: datetime  # aware: when the ready-for-discharge notice was SENT
    ended_at: datetime | None = None  # withdrawal ("no longer ready") or discharge; None = still ready
    ended_by_discharge: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.ready_at, "ready_at")
        if self.ended_at is None:
            if self.ended_by_discharge:
                raise ValueError("ended_by_discharge requires ended_at")
            return
        _require_aware(self.ended_at, "ended_at")
        if self.ended_at < self.ready_at:
            raise ValueError("ended_at must not be before ready_at")


@dataclass(frozen=True)
class LiabilityConditions:
    """What the region must have done (and what must not have happened) for the municipality to pay.

    Timeliness (admission notice within 24 h, SIP invitation within 3 days) is judged by the caller.
    """

    admission_notice_in_time: bool
    ready_notice_sent: bool = True
    patient_refused_services: bool = False
    sip_invitation_required: bool = False
    sip_invitation_sent: bool = False
    outpatient_services_missing: bool = False

    def reasons_not_liable(self) -> tuple[str, ...]:
        """The failed conditions as :class:`NotLiableReason` codes in a fixed order; empty = all met."""
        failed = (
            (not self.admission_notice_in_time, NotLiableReason.ADMISSION_NOTICE_LATE),
            (not self.ready_notice_sent, NotLiableReason.READY_NOTICE_MISSING),
            (self.patient_refused_services, NotLiableReason.PATIENT_REFUSED_SERVICES),
            (
                self.sip_invitation_required and not self.sip_invitation_sent,
                NotLiableReason.SIP_INVITATION_MISSING,
            ),
            (self.outpatient_services_missing, NotLiableReason.OUTPATIENT_SERVICES_MISSING),
        )
        return tuple(reason for is_failed, reason in failed if is_failed)


def day_zero(ready_at: datetime, policy: PaymentPolicy) -> date:
    """Day 0 of a ready notice sent at ``ready_at`` (see the module docstring)."""
    _require_aware(ready_at, "ready_at")
    local = saturate(ready_at).astimezone(policy.zone)
    d0 = local.date() if local.hour < policy.day0_cutoff_hour else local.date() + timedelta(days=1)
    if policy.day_counting is DayCounting.WORKING and not is_working_day(d0):
        d0 = next_working_day(d0)
    return d0


def first_liable_date(ready_at: datetime, care_type: CareType, policy: PaymentPolicy) -> date:
    """Day 0 plus the first liable day, counted in calendar or working days as the policy says."""
    d0 = day_zero(ready_at, policy)
    n = policy.first_liable_day(care_type)
    if policy.day_counting is DayCounting.WORKING:
        return add_working_days(d0, n)
    return d0 + timedelta(days=n)


def liable_span(
    period: ReadyPeriod, care_type: CareType, policy: PaymentPolicy, now: datetime
) -> tuple[date, date] | None:
    """The first and the last charged calendar date of one period (every date between is charged), or None.

    Last charged date: an open period, today's local date (of ``now``); a period ended by discharge, the
    discharge date if ``discharge_day_charged``, else the day before; a withdrawn period, the day before the
    withdrawal (the clock stopped that day). ``now`` is only used for open periods. Constant time.
    """
    start = first_liable_date(period.ready_at, care_type, policy)
    if period.ended_at is None:
        _require_aware(now, "now")
        last = _local_date(now, policy.zone)
    else:
        end = _local_date(period.ended_at, policy.zone)
        charge_end_day = period.ended_by_discharge and policy.discharge_day_charged
        last = end if charge_end_day else end - timedelta(days=1)
    return (start, last) if start <= last else None


def liable_dates(
    period: ReadyPeriod, care_type: CareType, policy: PaymentPolicy, now: datetime
) -> tuple[date, ...]:
    """The charged calendar dates of one period (:func:`liable_span`), one by one.

    One date per charged day: for showing a period's dates; counting and pricing use the span."""
    span = liable_span(period, care_type, policy, now)
    return _expand(span) if span else ()


def _expand(span: tuple[date, date]) -> tuple[date, ...]:
    first, last = span
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def days_per_year(first: date, last: date) -> dict[int, int]:
    """How many dates of ``first`` .. ``last`` (inclusive) fall in each calendar year: one step per year."""
    counts: dict[int, int] = {}
    for year in range(first.year, last.year + 1):
        start = max(first, date(year, 1, 1))
        end = min(last, date(year, 12, 31))
        if start <= end:
            counts[year] = (end - start).days + 1
    return counts


def days_ready(period: ReadyPeriod, now: datetime, timezone: str = "Europe/Stockholm") -> int:
    """Calendar days from the local ready date to the local end date (or today): the national indicator
    "days as ready for discharge". Discharge on the day of the notice = 0. Independent of the day-0 rule."""
    zone = ZoneInfo(timezone)
    end = period.ended_at
    if end is None:
        _require_aware(now, "now")
        end = now
    return max(0, (_local_date(end, zone) - _local_date(period.ready_at, zone)).days)


@dataclass(frozen=True)
class PaymentLiability:
    """The individual-model result for one discharge case."""

    policy_name: str
    liable: bool  # conditions met AND at least one liable date
    reasons_not_liable: tuple[str, ...]
    day_zero: date | None  # of the latest period
    liability_starts_on: date | None  # of the latest period
    days_ready: int  # summed over periods
    liable_days: int  # 0 when conditions fail (reasons given)
    amount_sek: int | None  # sum of per-day amounts by the day's year; None if a needed year has no amount
    missing_amount_years: tuple[int, ...]
    liable_spans: tuple[tuple[date, date], ...]  # per period: first and last charged date; empty if none

    @property
    def liable_dates(self) -> tuple[date, ...]:
        """Every charged date, one by one (empty when conditions fail): to show them, not to count them."""
        return tuple(d for span in self.liable_spans for d in _expand(span))


def individual_liability(
    periods: Sequence[ReadyPeriod],
    care_type: CareType,
    policy: PaymentPolicy,
    conditions: LiabilityConditions,
    amounts: Mapping[int, int],
    now: datetime,
) -> PaymentLiability:
    """Payment liability of one case under the individual rule.

    Periods are ordered by ``ready_at`` and must not overlap (each but the last must have ended before the
    next notice was sent); otherwise ValueError. No period at all counts as ``ready_notice_missing``. When a
    condition fails, ``day_zero``, ``liability_starts_on`` and ``days_ready`` are still reported for
    information, but nothing is charged (``liable_days`` 0, ``amount_sek`` 0, no dates).
    """
    _require_aware(now, "now")
    ordered = sorted(periods, key=lambda p: p.ready_at)
    for earlier, later in pairwise(ordered):
        if earlier.ended_at is None or earlier.ended_at > later.ready_at:
            raise ValueError("ready periods overlap: a period must end before the next ready notice is sent")
    if not ordered:
        conditions = dataclasses.replace(conditions, ready_notice_sent=False)
    reasons = conditions.reasons_not_liable()

    latest = ordered[-1] if ordered else None
    spans: tuple[tuple[date, date], ...] = ()
    if not reasons:
        spans = tuple(span for p in ordered if (span := liable_span(p, care_type, policy, now)) is not None)
    per_year: dict[int, int] = {}  # charged days per calendar year, over all periods
    for first, last in spans:
        for year, days in days_per_year(first, last).items():
            per_year[year] = per_year.get(year, 0) + days
    missing = tuple(sorted(per_year.keys() - amounts.keys()))
    liable_days = sum(per_year.values())
    return PaymentLiability(
        policy_name=policy.name,
        liable=liable_days > 0,
        reasons_not_liable=reasons,
        day_zero=day_zero(latest.ready_at, policy) if latest else None,
        liability_starts_on=first_liable_date(latest.ready_at, care_type, policy) if latest else None,
        days_ready=sum(days_ready(p, now, policy.timezone) for p in ordered),
        liable_days=liable_days,
        amount_sek=None if missing else sum(amounts[year] * days for year, days in per_year.items()),
        missing_amount_years=missing,
        liable_spans=spans,
    )


@dataclass(frozen=True)
class AverageLiability:
    """The average-model result for one municipality over one period of account.

    ``episodes``, ``total_days`` and ``mean_days`` describe the averaged pool (switched episodes excluded).
    """

    episodes: int
    total_days: int
    mean_days: float
    threshold: float
    liable_days: int  # days above the agreed level, plus the switched episodes' individual days
    liable: bool
    switched_episodes: int = 0  # episodes over switch_to_individual_after_days, counted individually
    individual_days: int = 0  # their days beyond that limit (included in liable_days)


def average_liability(days_ready_per_episode: Sequence[int], policy: PaymentPolicy) -> AverageLiability:
    """Payment liability under the average model (Samplan's reading of the regional agreements).

    ``days_ready_per_episode`` holds each discharged episode's days as ready for discharge (the indicator of
    :func:`days_ready`, day-0 discharges included as 0). With ``switch_to_individual_after_days`` = L, an
    episode of more than L days leaves the average and is charged individually for its days beyond L
    (days - L). The others form the pool: ``liable_days`` from the pool = max(0, total - threshold *
    episodes) rounded down (exact decimal arithmetic). ``liable`` = ``liable_days`` > 0, so a mean only a
    fraction of a day above the level charges nothing.
    """
    threshold = policy.average_threshold_days
    if policy.model is not LiabilityModel.AVERAGE or threshold is None:
        raise ValueError(f"policy {policy.name!r} is not an average-model policy")
    if any(d < 0 for d in days_ready_per_episode):
        raise ValueError("days as ready must be >= 0")
    limit = policy.switch_to_individual_after_days
    pool = list(days_ready_per_episode)
    switched: list[int] = []
    if limit is not None:
        switched = [d - limit for d in pool if d > limit]
        pool = [d for d in pool if d <= limit]
    total = sum(pool)
    above_level = max(0, math.floor(total - Fraction(str(threshold)) * len(pool)))
    liable_days = above_level + sum(switched)
    return AverageLiability(
        episodes=len(pool),
        total_days=total,
        mean_days=total / len(pool) if pool else 0.0,
        threshold=threshold,
        liable_days=liable_days,
        liable=liable_days > 0,
        switched_episodes=len(switched),
        individual_days=sum(switched),
    )
