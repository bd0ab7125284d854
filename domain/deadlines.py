"""Deadlines of a discharge case (process.md section 3) and its payment liability (section 4), live.

Every deadline has a due time, the time it was met (if it was) and a state: `ok`, `at_risk` (little time
left) or `overdue` (passed without being met, or met late). Deadlines that do not apply are left out.

Times beyond the domain's calendar (stored before the API bounded them) count as its nearer end
(`domain.time_limits.saturate`): a due time is then shown at most at that end, and nothing overflows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.discharge_case import CaseState, DischargeCase, Part
from domain.payment import (
    LiabilityConditions,
    NotLiableReason,
    PaymentLiability,
    PaymentPolicy,
    first_liable_date,
    individual_liability,
)
from domain.time_limits import CALENDAR_MAX, saturate

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class DeadlineKind(StrEnum):
    ADMISSION_NOTICE = "admission_notice"
    NAMED_CARE_CONTACT = "named_care_contact"
    SIP_INVITATION = "sip_invitation"
    DISCHARGE_INFORMATION = "discharge_information"
    PAYMENT_LIABILITY = "payment_liability"
    SIP_FOLLOW_UP = "sip_follow_up"  # of a SIP plan: `domain.sip.deadlines.plan_deadlines`

    @property
    def responsible_part(self) -> Part | None:
        """The part of a discharge case that must act before the deadline (None: a SIP plan's deadline)."""
        return RESPONSIBLE_PART.get(self)


RESPONSIBLE_PART = {DeadlineKind.ADMISSION_NOTICE: Part.WARD, DeadlineKind.DISCHARGE_INFORMATION: Part.WARD,
                    DeadlineKind.NAMED_CARE_CONTACT: Part.PRIMARY_CARE, DeadlineKind.SIP_INVITATION: Part.PRIMARY_CARE,
                    DeadlineKind.PAYMENT_LIABILITY: Part.MUNICIPAL}

# The deadlines a receiving part follows in its inbox, in the order shown: those it must meet itself, the payment
# liability (the municipality pays it; primary care's outpatient services decide whether it runs) and, for the
# municipality, the discharge information it receives. The inbox shows these and no others.
WATCHED_BY: dict[Part, tuple[DeadlineKind, ...]] = {
    Part.MUNICIPAL: (DeadlineKind.PAYMENT_LIABILITY, DeadlineKind.DISCHARGE_INFORMATION),
    Part.PRIMARY_CARE: (DeadlineKind.NAMED_CARE_CONTACT, DeadlineKind.SIP_INVITATION, DeadlineKind.PAYMENT_LIABILITY),
}


def watched_by(part: str | None) -> tuple[str, ...]:
    """`WATCHED_BY` of a part given by its code (as the API names it); none for a part that receives no notices."""
    try:
        return tuple(str(k) for k in WATCHED_BY.get(Part(part or ""), ()))
    except ValueError:
        return ()


class DeadlineState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"

    @property
    def severity(self) -> int:
        return {"ok": 0, "at_risk": 1, "overdue": 2}[self.value]


@dataclass(frozen=True)
class DeadlineRules:
    """How long before a deadline it counts as at risk."""

    admission_notice_window: timedelta = timedelta(hours=24)
    sip_invitation_window: timedelta = timedelta(days=3)
    admission_notice_at_risk: timedelta = timedelta(hours=6)
    named_care_contact_at_risk: timedelta = timedelta(hours=24)
    sip_invitation_at_risk: timedelta = timedelta(hours=24)
    discharge_information_at_risk: timedelta = timedelta(hours=6)
    payment_liability_at_risk: timedelta = timedelta(hours=24)
    sip_follow_up_at_risk: timedelta = timedelta(days=7)


DEFAULT_RULES = DeadlineRules()


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_at: datetime
    met_at: datetime | None
    state: DeadlineState
    # Due at the *estimated* discharge (the patient is still admitted): an estimate, never overdue (see `evaluate`).
    estimated: bool = False

    @property
    def open(self) -> bool:
        return self.met_at is None


def evaluate(due_at: datetime, met_at: datetime | None, now: datetime, at_risk: timedelta, *,
             estimated: bool = False) -> DeadlineState:
    """The state of a deadline now. An `estimated` one (due at the estimated discharge while the patient is still
    admitted) is at most at risk: passing an estimate is not late (the ward is asked to update the estimate), and
    meeting it before the actual discharge is in time."""
    # In UTC: aware datetimes that share a tzinfo compare and subtract by wall clock (wrong across DST).
    due_at, now = saturate(due_at).astimezone(UTC), saturate(now).astimezone(UTC)
    if met_at is not None:
        in_time = estimated or saturate(met_at).astimezone(UTC) <= due_at
        return DeadlineState.OK if in_time else DeadlineState.OVERDUE
    if now > due_at:
        return DeadlineState.AT_RISK if estimated else DeadlineState.OVERDUE
    return DeadlineState.AT_RISK if due_at - now <= at_risk else DeadlineState.OK


def responsible_unit_ids(case: DischargeCase, kind: DeadlineKind) -> tuple[str, ...]:
    """The units of the case that must act before a deadline of `kind`: the ward, or the active participants that
    take the deadline's responsible part (a SIP plan's deadline: none)."""
    part = kind.responsible_part
    if part is None:
        return ()
    if part is Part.WARD:
        return (case.ward_unit_id,)
    return tuple(p.unit_id for p in case.participants if p.part is part and p.active)


def admission_notice_due(case: DischargeCase, rules: DeadlineRules = DEFAULT_RULES) -> datetime:
    start = saturate(max(case.admitted_at, case.needs_identified_at or case.admitted_at))
    # Elapsed hours (24 h is 24 h across a DST change), shown in the start's own time zone.
    return (start.astimezone(UTC) + rules.admission_notice_window).astimezone(start.tzinfo)


def case_deadlines(case: DischargeCase, policy: PaymentPolicy, now: datetime,
                   rules: DeadlineRules = DEFAULT_RULES) -> tuple[Deadline, ...]:
    """The deadlines that apply to the case now. A cancelled case has none."""
    if case.state is CaseState.CANCELLED:
        return ()
    closed = not case.state.is_open and case.state is not CaseState.DISCHARGED
    result: list[Deadline] = []

    def add(kind: DeadlineKind, due: datetime, met: datetime | None, at_risk: timedelta, *,
            estimated: bool = False) -> None:
        if met is None and closed:
            return  # an interrupted or closed case leaves unmet deadlines behind, not overdue
        result.append(Deadline(kind, due, met, evaluate(due, met, now, at_risk, estimated=estimated), estimated))

    # Before the discharge, the deadlines due at it are due at its estimate: estimates, never overdue.
    estimate = case.discharged_at is None and case.state.is_open

    add(DeadlineKind.ADMISSION_NOTICE, admission_notice_due(case, rules), case.admission_notice_sent_at,
        rules.admission_notice_at_risk)
    if case.admission_notice_sent_at is not None and case.estimated_discharge_at is not None:
        due = case.discharged_at or case.estimated_discharge_at
        met = case.named_care_contact.appointed_at if case.named_care_contact else None
        add(DeadlineKind.NAMED_CARE_CONTACT, due, met, rules.named_care_contact_at_risk, estimated=estimate)
    first_ready = case.ready_periods[0].ready_at if case.ready_periods else None
    latest_ready = case.ready_periods[-1].ready_at if case.ready_periods else None
    if case.sip_invitation_required and first_ready is not None:
        # The invitation answers the first ready notice; a withdrawn-and-resent notice does not restart it.
        add(DeadlineKind.SIP_INVITATION, sip_invitation_due(first_ready, rules),
            case.sip_invitation_sent_at, rules.sip_invitation_at_risk)
    discharge_day = case.discharged_at or (case.estimated_discharge_at if latest_ready else None)
    if discharge_day is not None:
        add(DeadlineKind.DISCHARGE_INFORMATION, _end_of_day(discharge_day), case.discharge_notice_sent_at,
            rules.discharge_information_at_risk, estimated=estimate)
    period = case.current_ready_period
    if period is not None:
        starts = datetime.combine(first_liable_date(period.ready_at, case.care_type, policy), time(0),
                                  tzinfo=ZoneInfo(policy.timezone))
        state = DeadlineState.OVERDUE if now >= starts else evaluate(starts, None, now,
                                                                     rules.payment_liability_at_risk)
        result.append(Deadline(DeadlineKind.PAYMENT_LIABILITY, starts, None, state))
    return tuple(result)


def worst_open_state(deadlines: tuple[Deadline, ...]) -> DeadlineState | None:
    """The most urgent state among deadlines not yet met (None when nothing is open)."""
    states = [d.state for d in deadlines if d.open]
    return max(states, key=lambda s: s.severity) if states else None


@dataclass(frozen=True)
class DeadlineThresholds:
    """When a case's most urgent open deadline state changes, whatever `now` is: stored with the case (the case
    list's query model) so that the list decides `worst_open_state` from two times and `now`, in SQL.

    `at_risk_from`: the earliest moment an unmet deadline is at risk (its due time less its at-risk window);
    `overdue_from`: the earliest moment one is overdue (the first microsecond after its due time; the payment
    liability's start itself; `NEVER` when every unmet deadline is an estimate, which is never overdue). Both None
    when the case has no unmet deadline. The times follow the case's
    document, estimates included (a new estimated discharge is a save, which stores them again); they do not
    follow a change of the payment policy (then rebuild the query model)."""

    at_risk_from: datetime | None
    overdue_from: datetime | None

    def state(self, now: datetime) -> DeadlineState | None:
        """The state `worst_open_state(case_deadlines(case, policy, now))` has (what the SQL filter decides)."""
        if self.overdue_from is None or self.at_risk_from is None:
            return None
        if now >= self.overdue_from:
            return DeadlineState.OVERDUE
        return DeadlineState.AT_RISK if now >= self.at_risk_from else DeadlineState.OK


def deadline_thresholds(case: DischargeCase, policy: PaymentPolicy,
                        rules: DeadlineRules = DEFAULT_RULES) -> DeadlineThresholds:
    """The thresholds of `case`'s unmet deadlines (which deadlines apply does not depend on `now`)."""
    at_risk = {DeadlineKind.ADMISSION_NOTICE: rules.admission_notice_at_risk,
               DeadlineKind.NAMED_CARE_CONTACT: rules.named_care_contact_at_risk,
               DeadlineKind.SIP_INVITATION: rules.sip_invitation_at_risk,
               DeadlineKind.DISCHARGE_INFORMATION: rules.discharge_information_at_risk,
               DeadlineKind.PAYMENT_LIABILITY: rules.payment_liability_at_risk}
    risks: list[datetime] = []
    overdues: list[datetime] = []
    for d in case_deadlines(case, policy, CALENDAR_MAX, rules):
        if not d.open:
            continue
        due = saturate(d.due_at).astimezone(UTC)
        if d.kind is DeadlineKind.PAYMENT_LIABILITY:  # overdue from its start (`now >= starts`)
            overdues.append(min(d.due_at.astimezone(UTC), due + _TICK))
        elif d.estimated:  # an estimate is never overdue (`evaluate`): at risk from its window on
            pass
        else:  # overdue once `now > due`
            overdues.append(due + _TICK)
        risks.append(due - at_risk[d.kind])
    if risks and not overdues:  # only estimates are open: at risk in time, never overdue
        overdues.append(NEVER)
    return DeadlineThresholds(min(risks, default=None), min(overdues, default=None))


_TICK = timedelta(microseconds=1)
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # `overdue_from` of a case whose open deadlines are all estimates


def liability_conditions(case: DischargeCase, rules: DeadlineRules = DEFAULT_RULES) -> LiabilityConditions:
    sent = case.admission_notice_sent_at
    sip_due = sip_invitation_due(case.ready_periods[0].ready_at, rules) if case.ready_periods else None
    sip_sent = case.sip_invitation_sent_at
    return LiabilityConditions(
        admission_notice_in_time=sent is not None
        and saturate(sent).astimezone(UTC) <= admission_notice_due(case, rules),
        ready_notice_sent=bool(case.ready_periods),
        patient_refused_services=case.patient_refused_services,
        sip_invitation_required=case.sip_invitation_required,
        sip_invitation_sent=sip_sent is not None and sip_due is not None and sip_sent <= sip_due,
        outpatient_services_missing=case.outpatient_services_missing,
    )


def case_liability(case: DischargeCase, policy: PaymentPolicy, amounts: Mapping[int, int],
                   now: datetime) -> PaymentLiability:
    """Payment liability under the individual rule of `policy` (for the average model: per-patient figures)."""
    return individual_liability(case.ready_periods, case.care_type, policy, liability_conditions(case),
                                amounts, now)


class PaymentStage(StrEnum):
    """Where a case stands with payment liability now: the facts the texts of every client follow, so that no
    client re-derives them (a draft never reads "sent too late", an ended case never "starts … if still there")."""

    NOT_READY = "not_ready"  # open, no ready-for-discharge notice in force: nothing to pay (yet)
    NOT_YET_LIABLE = "not_yet_liable"  # ready: liability starts on `liability_starts_on` if the patient is still in
    LIABLE = "liable"  # ready and charged days so far: the municipality pays from `liability_starts_on`
    WAS_LIABLE = "was_liable"  # the ready period ended (discharge, withdrawal, interruption) after charged days
    NOT_LIABLE = "not_liable"  # a condition failed for good: `reasons_not_liable`
    ENDED_WITHOUT_LIABILITY = "ended_without_liability"  # the case ended before any day was charged


@dataclass(frozen=True)
class PaymentStatus:
    """A case's payment liability with its stage. `reasons_not_liable` holds only failures that are final;
    `reasons_pending` the conditions not met yet that can still be met in time (an admission notice before its
    due time, a SIP invitation within its 3 days, a ready notice while the case is open)."""

    stage: PaymentStage
    liability: PaymentLiability
    reasons_not_liable: tuple[str, ...]
    reasons_pending: tuple[str, ...]
    liability_ends_on: date | None  # the last charged date so far (None: nothing charged)


def pending_reasons(case: DischargeCase, now: datetime, rules: DeadlineRules = DEFAULT_RULES) -> tuple[str, ...]:
    """The unmet liability conditions that can still be met in time (see :class:`PaymentStatus`)."""
    now_utc = saturate(now).astimezone(UTC)
    pending: list[str] = []
    if (case.admission_notice_sent_at is None and case.state.is_open
            and now_utc <= admission_notice_due(case, rules).astimezone(UTC)):
        pending.append(NotLiableReason.ADMISSION_NOTICE_LATE)
    if case.state.is_open and not case.ready_periods:
        pending.append(NotLiableReason.READY_NOTICE_MISSING)
    if case.sip_applies and case.sip_invitation_sent_at is None and case.ready_periods and (
            case.state.is_open or case.state is CaseState.DISCHARGED):
        due = sip_invitation_due(case.ready_periods[0].ready_at, rules)
        if now_utc <= due.astimezone(UTC):
            pending.append(NotLiableReason.SIP_INVITATION_MISSING)
    return tuple(pending)


def payment_status(case: DischargeCase, policy: PaymentPolicy, amounts: Mapping[int, int], now: datetime,
                   rules: DeadlineRules = DEFAULT_RULES) -> PaymentStatus:
    """:func:`case_liability` with the stage the case is in now (:class:`PaymentStage`)."""
    liability = case_liability(case, policy, amounts, now)
    pending = pending_reasons(case, now, rules)
    final = tuple(r for r in liability.reasons_not_liable if r not in pending)
    ready_now = case.state.is_open and case.current_ready_period is not None
    ends_on = liability.liable_spans[-1][1] if liability.liable_spans else None
    if liability.liable:
        stage = PaymentStage.LIABLE if ready_now else PaymentStage.WAS_LIABLE
    elif any(r != NotLiableReason.READY_NOTICE_MISSING for r in final):
        stage = PaymentStage.NOT_LIABLE
    elif ready_now:
        stage = PaymentStage.NOT_YET_LIABLE
    elif case.state.is_open:
        stage = PaymentStage.NOT_READY
    else:
        stage = PaymentStage.ENDED_WITHOUT_LIABILITY
    return PaymentStatus(stage, liability, final, pending, ends_on)


def end_of_day(day: date) -> datetime:
    """The last moment of a calendar day in Stockholm (the calendar's end for a day beyond it)."""
    if day > CALENDAR_MAX.date():
        return CALENDAR_MAX
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM) + timedelta(days=1) - timedelta(microseconds=1)


def sip_invitation_due(ready_at: datetime, rules: DeadlineRules = DEFAULT_RULES) -> datetime:
    """Ready for discharge + 3 calendar days at the same local (Europe/Stockholm) clock time (process.md section
    3): across a summer-time change that is 71 or 73 real hours, not 72. Arithmetic on a zoned datetime adds to
    the wall clock; the result is then told in UTC."""
    local = saturate(ready_at).astimezone(STOCKHOLM)
    return (local + rules.sip_invitation_window).astimezone(UTC)


def _end_of_day(moment: datetime) -> datetime:
    return end_of_day(saturate(moment).astimezone(STOCKHOLM).date())
