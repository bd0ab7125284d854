"""What a unit may do on a SIP plan (`SipAction`) and why a SIP command is refused (`Refusal`).

`SipPlan.refusal(action, unit_id)` is the one rule for both: every command checks it before it changes anything
(and raises the refusal), and `SipPlan.allowed_actions(unit_id)` lists the actions it does not refuse, which the
API shows the acting unit (`allowed_actions`) so that a client offers only what would go through. Rules that
depend on a command's arguments (which meeting, which value) are checked by the command itself, after the action's
rule, with their own codes.

`Refusal` values are the `code` of the problem details the API answers with (docs/api.md, "SIP refusals"); the
class of the error raised with it says the kind of refusal and so the HTTP status: `NotAllowedForPart` (403: the
acting unit's part in the plan does not allow it), `InvalidTransition` (422: not in the plan's current state),
`InvalidValue` (422: a value breaks a rule; the field is named), `NotFound` (404: the named meeting, item...).
"""

from __future__ import annotations

from enum import StrEnum


class SipAction(StrEnum):
    """An action on a plan, as far as the acting unit and the plan's state decide it (not its arguments)."""

    EDIT = "edit"  # the contents: fields and items
    ADD_PARTICIPANT = "add_participant"  # a unit, a legal representative or another actor
    ADD_NEXT_OF_KIN = "add_next_of_kin"  # next of kin: only if the person does not object
    REMOVE_PARTICIPANT = "remove_participant"
    RECORD_CONSENT = "record_consent"  # also after a withdrawal: it resumes sharing
    WITHDRAW_CONSENT = "withdraw_consent"
    SCHEDULE_MEETING = "schedule_meeting"
    RESCHEDULE_MEETING = "reschedule_meeting"
    CANCEL_MEETING = "cancel_meeting"
    ANSWER_INVITATION = "answer_invitation"
    APPROVE = "approve"  # justera: the acting unit's principal approves the working contents
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    HAND_OVER = "hand_over"  # the owner unit passes the plan to another unit that takes part


class Refusal(StrEnum):
    """Why the domain refuses a SIP command: the problem's `code`. (The comment says the error class.)"""

    # the acting unit's part (NotAllowedForPart, 403)
    NOT_PLAN_PARTICIPANT = "not_plan_participant"  # the unit does not take part in (see) the plan
    NOT_RESPONSIBLE_FOR_PLAN = "not_responsible_for_plan"  # neither the owner nor of the principal responsible
    NOT_PLAN_OWNER = "not_plan_owner"  # only the owner unit hands the plan over
    ANSWERS_FOR_OWN_UNIT_ONLY = "answers_for_own_unit_only"  # a unit answers an invitation only for itself
    NOT_YOUR_UNIT = "not_your_unit"  # a plan is started by a user of its owner unit
    NOT_CASE_PARTICIPANT = "not_case_participant"  # only a unit taking part in the case starts its SIP

    # the plan's state (InvalidTransition, 422)
    PLAN_CLOSED = "plan_closed"
    SHARING_ENDED = "sharing_ended"  # consent withdrawn: frozen until new consent or closing
    CONSENT_REQUIRED = "consent_required"  # meetings need the person's consent in force
    NO_CONSENT_TO_WITHDRAW = "no_consent_to_withdraw"
    NO_AGREED_VERSION = "no_agreed_version"  # a follow-up needs an agreed version in force
    ALREADY_AGREED = "already_agreed"  # the working contents are the agreed version already
    ALREADY_APPROVED = "already_approved"  # the acting unit's principal has approved these contents
    MISSING_CONTENTS = "missing_contents"  # the contents cannot be agreed yet (`missing` lists what they lack)
    NEXT_OF_KIN_OBJECTED = "next_of_kin_objected"  # the person objects to next of kin taking part
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_OVER = "meeting_over"
    NO_UNIT_TO_HAND_OVER_TO = "no_unit_to_hand_over_to"  # no other unit takes part and sees the plan
    CASE_CANCELLED = "case_cancelled"  # a cancelled discharge case has no SIP

    # a value (InvalidValue, 422, with the field)
    TEXT_REQUIRED = "text_required"
    TEXT_TOO_LONG = "text_too_long"
    NOT_TEXT = "not_text"
    WRONG_ITEM_TYPE = "wrong_item_type"
    PERSON_REQUIRED = "person_required"
    ID_TAKEN = "id_taken"  # a client-chosen id (item, meeting, consent, follow-up, participant) is used
    UNIT_ALREADY_PARTICIPATES = "unit_already_participates"
    OWNER_CANNOT_LEAVE = "owner_cannot_leave"
    RESPONSIBILITY_NOT_PARTICIPATING = "responsibility_not_participating"  # overall responsibility: a principal
    FOLLOW_UP_NOT_A_DATE = "follow_up_not_a_date"
    FOLLOW_UP_DATE_PASSED = "follow_up_date_passed"
    PRINCIPAL_MISMATCH = "principal_mismatch"  # a service's responsible unit acts for another principal
    PRINCIPAL_NOT_PARTICIPATING = "principal_not_participating"
    UNKNOWN_PARTICIPANT = "unknown_participant"  # a named participant that does not take part
    CONSENT_IN_FUTURE = "consent_in_future"
    WITHDRAWAL_TIME_INVALID = "withdrawal_time_invalid"
    INVITEE_NOT_VISIBLE = "invitee_not_visible"  # only units that see the plan are invited
    NOBODY_INVITED = "nobody_invited"
    MEETING_IN_PAST = "meeting_in_past"
    MEETING_ENDS_BEFORE_START = "meeting_ends_before_start"
    PLACE_OR_VIDEO_LINK_REQUIRED = "place_or_video_link_required"
    VIDEO_LINK_NOT_HTTPS = "video_link_not_https"
    ANSWER_REQUIRED = "answer_required"  # an answer is accepted or declined
    INVITEE_REQUIRED = "invitee_required"  # name the participant who answers
    FOLLOW_UP_TIME_INVALID = "follow_up_time_invalid"
    HAND_OVER_TARGET_INVALID = "hand_over_target_invalid"  # not a unit that takes part and sees the plan
    ALREADY_OWNER = "already_owner"
    PLAN_NOT_FOR_CASE = "plan_not_for_case"

    # something named that does not exist (NotFound, 404, with the field)
    VERSION_NOT_FOUND = "version_not_found"
    MEETING_NOT_FOUND = "meeting_not_found"
    ITEM_NOT_FOUND = "item_not_found"
    PARTICIPANT_NOT_FOUND = "participant_not_found"
    INVITATION_NOT_FOUND = "invitation_not_found"
