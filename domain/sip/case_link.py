"""How a SIP plan and a discharge case meet (process.md sections 3 and 5, step 5 "SIP invitation").

A plan made inside the discharge process is started from the case (`open_plan_for_case`): it names the case
and the person of the case, and marks on the open case that a SIP applies. The case's SIP-invitation deadline
(3 days after the first ready-for-discharge notice) then follows the plan: the plan's first meeting invitation
*is* the invitation (kallelse) the law asks for. `record_invitation_on_case` writes it on the case, at the time
the plan sent it.

The two aggregates stay separate: the use case that schedules the first meeting loads the case too and calls
the hook in the same transaction (or a process manager calls it on `SipMeetingScheduled` with
`first_invitation` true, acting as the user who scheduled it). The hook is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.discharge_case import SIP_INVITATION_STATES, Actor, CaseState, DischargeCase, Part
from domain.errors import InvalidTransition, InvalidValue, NotAllowedForPart
from domain.sip.participants import UnitRef
from domain.sip.plan import SipPlan
from domain.sip.refusals import Refusal


def open_plan_for_case(case: DischargeCase, *, owner: UnitRef, actor: Actor, now: datetime,
                       units: Sequence[UnitRef] = (), plan_id: str | None = None) -> SipPlan:
    """Start a plan inside a discharge case, at a unit that takes part in the case (any part may: either
    principal's judgement that a plan is needed binds both).

    While the case is open, starting a plan also marks that a SIP applies to the case (`SetSipApplies`, event
    `SipApplicabilityChanged`), which starts the case's SIP-invitation deadline once the patient is ready.
    The caller saves both aggregates."""
    if case.part_of(actor.unit_id) is None or not case.is_visible_to(actor.unit_id):
        raise NotAllowedForPart("only a unit that takes part in the case may start its SIP", field="case_id",
                                code=Refusal.NOT_CASE_PARTICIPANT)
    if case.state is CaseState.CANCELLED:
        raise InvalidTransition("a cancelled case has no SIP", field="case_id", code=Refusal.CASE_CANCELLED)
    plan = SipPlan.create(person_id=case.patient_id, owner=owner, actor=actor, now=now, units=units,
                          case_id=case.id, plan_id=plan_id)
    if case.state.is_open and not case.sip_applies:
        case.set_sip_applies(actor, True, now)
    return plan


def can_record_invitation_on_case(plan: SipPlan, case: DischargeCase, actor: Actor) -> bool:
    """Whether `record_invitation_on_case` would change the case (see there for the rules)."""
    if plan.case_id != case.id:
        raise InvalidValue("the plan does not belong to this case", field="case_id", code=Refusal.PLAN_NOT_FOR_CASE)
    return (plan.first_invitation_sent_at is not None and case.sip_invitation_sent_at is None
            and case.state in SIP_INVITATION_STATES and case.part_of(actor.unit_id) is Part.PRIMARY_CARE
            and case.is_visible_to(actor.unit_id))


def record_invitation_on_case(plan: SipPlan, case: DischargeCase, actor: Actor) -> bool:
    """The plan's first meeting invitation meets the case's SIP-invitation deadline. True when the case changed.

    It does when the plan belongs to the case and has sent its first invitation, the case has no SIP
    invitation yet and is planning, ready or discharged, and the actor acts for the case's primary care unit
    (the law gives the invitation to the named care contact). Otherwise nothing changes: an invitation sent by
    another unit leaves the case's deadline to its primary care unit (`SendSipInvitation`).
    """
    if not can_record_invitation_on_case(plan, case, actor):
        return False
    assert plan.first_invitation_sent_at is not None
    case.send_sip_invitation(actor, plan.first_invitation_sent_at, sip_plan_id=plan.id)
    return True
