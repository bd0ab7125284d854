"""What a unit may do on a discharge case (`CaseAction`) and why a case command is refused (`CaseRefusal`).

`DischargeCase.refusal(action, unit_id)` is the one rule for both, as `SipPlan.refusal` is for a SIP plan: every
command checks it before it changes anything (and raises the refusal), and `DischargeCase.allowed_actions(unit_id)`
lists the actions it does not refuse, which the API shows the acting unit (`allowed_actions`, `refused_actions`)
so that a client offers only what would go through. Rules that depend on a command's arguments (which unit, which
time, which notices) are checked by the command itself, after the action's rule.

The class of the error raised says the kind of refusal, its problem `code` and so its HTTP status, unchanged:
`NotAllowedForPart` (403 `not_allowed_for_part`: the acting unit's part in the case does not allow it) or
`InvalidTransition` (422 `invalid_transition`: not in the case's current state). Its `reason` is a `CaseRefusal`:
the problem's `reason` member and the value of `refused_actions` (docs/api.md, "Case refusals").
"""

from __future__ import annotations

from enum import StrEnum


class CaseAction(StrEnum):
    """An action on a case, as far as the acting unit's part and the case's state decide it (not its arguments).

    One per command (`domain.commands`); both planning commands (the whole form, or fields) are `update_planning`.
    """

    SEND_ADMISSION_NOTICE = "send_admission_notice"
    RECORD_NEEDS_IDENTIFIED = "record_needs_identified"
    ACKNOWLEDGE = "acknowledge"  # also when nothing is unacknowledged: then it changes nothing
    FORWARD = "forward"
    REJECT = "reject"
    ADD_PARTICIPANT = "add_participant"
    REMOVE_PARTICIPANT = "remove_participant"
    APPOINT_NAMED_CARE_CONTACT = "appoint_named_care_contact"  # also to appoint another one
    CHANGE_ESTIMATED_DISCHARGE = "change_estimated_discharge"
    UPDATE_PLANNING = "update_planning"  # the acting unit's own planning form
    MARK_READY_FOR_DISCHARGE = "mark_ready_for_discharge"
    WITHDRAW_READY_FOR_DISCHARGE = "withdraw_ready_for_discharge"
    SET_SIP_APPLIES = "set_sip_applies"
    SEND_SIP_INVITATION = "send_sip_invitation"
    SET_LIABILITY_FACTS = "set_liability_facts"
    UPDATE_HOME_READINESS = "update_home_readiness"
    START_LEAVE = "start_leave"
    END_LEAVE = "end_leave"
    SEND_DISCHARGE_NOTICE = "send_discharge_notice"
    INTERRUPT = "interrupt"
    CANCEL = "cancel"
    CLOSE = "close"


class CaseRefusal(StrEnum):
    """Why the domain refuses a case action: the problem's `reason`. (The comment says the error class.)"""

    # the acting unit's part (NotAllowedForPart, 403)
    CASE_NOT_VISIBLE = "case_not_visible"  # the unit does not take part in the case, or does not see it yet (draft)
    WARD_ONLY = "ward_only"  # only the ward (inpatient unit) of the case
    RECEIVING_UNIT_ONLY = "receiving_unit_only"  # only a receiving unit (primary care or municipal)
    PRIMARY_CARE_ONLY = "primary_care_only"  # only the primary care unit

    # the case's state (InvalidTransition, 422)
    ADMISSION_NOTICE_NOT_SENT = "admission_notice_not_sent"  # the case is the ward's draft (admitted)
    ADMISSION_NOTICE_ALREADY_SENT = "admission_notice_already_sent"
    NO_RECEIVING_UNIT = "no_receiving_unit"  # the admission notice needs a receiving unit
    ALREADY_READY_FOR_DISCHARGE = "already_ready_for_discharge"
    NOT_READY_FOR_DISCHARGE = "not_ready_for_discharge"
    ALREADY_DISCHARGED = "already_discharged"
    CASE_NOT_ENDED = "case_not_ended"  # a case is closed once discharged or interrupted
    CASE_CLOSED = "case_closed"
    CASE_INTERRUPTED = "case_interrupted"
    CASE_CANCELLED = "case_cancelled"
    SIP_INVITATION_ALREADY_SENT = "sip_invitation_already_sent"
    ALREADY_ON_LEAVE = "already_on_leave"
    NOT_ON_LEAVE = "not_on_leave"
    NOT_YET_DISCHARGED = "not_yet_discharged"  # closing: the discharge time (stored before it was checked) is ahead

    # the discharge notice's time and content (`domain.discharge_notice`): OutOfRange 400 for the time, else
    # InvalidValue 422; each names its field
    DISCHARGE_TIME_IN_FUTURE = "discharge_time_in_future"  # a planned time is the estimate, not a notice
    DESTINATION_DETAIL_REQUIRED = "destination_detail_required"  # another ward or unit, or "other": name it
    CONTACT_REQUIRED = "contact_required"  # a patient who is alive: at least one contact after discharge
    MEDICATION_LIST_REQUIRED = "medication_list_required"  # attached, or stated as sent in the record
    MEDICATION_LIST_TEXT_REQUIRED = "medication_list_text_required"  # attached, but empty
    MEDICATION_LIST_IN_RECORD = "medication_list_in_record"  # sent in the record: no text of its own
    NOT_APPLICABLE_WHEN_DECEASED = "not_applicable_when_deceased"  # no medication list or contacts


# Reasons a command gives from its arguments or the time (never `DischargeCase.refusal`, so never in
# `refused_actions`): the discharge notice's time and content, and closing before a stored discharge time.
ARGUMENT_REFUSALS = frozenset({
    CaseRefusal.NOT_YET_DISCHARGED, CaseRefusal.DISCHARGE_TIME_IN_FUTURE, CaseRefusal.DESTINATION_DETAIL_REQUIRED,
    CaseRefusal.CONTACT_REQUIRED, CaseRefusal.MEDICATION_LIST_REQUIRED, CaseRefusal.MEDICATION_LIST_TEXT_REQUIRED,
    CaseRefusal.MEDICATION_LIST_IN_RECORD, CaseRefusal.NOT_APPLICABLE_WHEN_DECEASED,
})
