"""Deadlines of a SIP plan, in the same shape as a discharge case's (`domain.deadlines`).

SIP has no national deadline (process.md section 5). What a plan shows is its follow-up: the version in
force names the date of its next follow-up; the deadline is due at the end of that day (Stockholm time) and is
met by the first follow-up recorded for that version (at the time it was held). A revised version agreed at
the follow-up brings the next date. The SIP invitation inside a discharge case stays a deadline of the case
(`domain.deadlines.case_deadlines`), met through `domain.sip.case_link.record_invitation_on_case`.
"""

from __future__ import annotations

from datetime import datetime

from domain.deadlines import DEFAULT_RULES, Deadline, DeadlineKind, DeadlineRules, end_of_day, evaluate
from domain.sip.plan import SipPlan


def plan_deadlines(plan: SipPlan, now: datetime, rules: DeadlineRules = DEFAULT_RULES) -> tuple[Deadline, ...]:
    """The deadlines of the plan now: the follow-up of the version in force, when it names a date.

    A draft has none. A closed plan, or one whose sharing has ended, leaves an unmet follow-up behind (not
    overdue); a met one stays visible with its state."""
    current = plan.current_version
    if current is None or current.contents.next_follow_up_on.value is None:
        return ()
    day = current.contents.next_follow_up_on.value
    due = end_of_day(day)
    met = next((f.held_at for f in plan.follow_ups if f.version_number == current.number), None)
    if met is None and (not plan.state.is_open or plan.sharing_ended):
        return ()
    return (Deadline(DeadlineKind.SIP_FOLLOW_UP, due, met, evaluate(due, met, now, rules.sip_follow_up_at_risk)),)
