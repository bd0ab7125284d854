"""SIP, the coordinated individual plan (*samordnad individuell plan*, HSL 16 kap. 4 §, SoL 2 kap. 7 §).

The aggregate is `SipPlan` (`domain.sip.plan`). This package is its public surface; import from here.

**Where a plan comes from.** Anyone who sees the need starts one at their own unit, the *owner*
(`SipPlan.create`), or from a discharge case (`open_plan_for_case`): then the plan names the case, and its
first meeting invitation is the case's SIP invitation (`record_invitation_on_case`, which meets the case's
3-day deadline).

**Participants.** Units, each acting for its *principal* (*huvudman*: the region or a municipality,
`UnitRef`); the person the plan is about (always); named participants without accounts: next of kin, a legal
representative, other actors such as Försäkringskassan or the school (`NamedParticipant`).

**Consent and visibility.** The person's consent (`Consent`: given by whom, when, in what form, and its
scope: which units, whether next of kin may take part, whether it goes to 1177) decides who sees the plan:
`visible_unit_ids()` is the owner plus the participating units the consent in force names. Before consent the
plan is the owner's draft. Withdrawal *ends sharing*: every other unit loses sight of the plan (they are told
by `SipConsentWithdrawn`), upcoming meetings are cancelled, pending approvals dropped, and the plan is frozen
(no edits, meetings or approvals) until new consent is recorded or the owner closes it. Agreed versions stay
as the record of what was agreed. The same rule applies to REST and to the event stream.

**Contents, edited per field** (`domain.sip.contents`). The four statutory contents: needs, services per
principal (responsible unit, contact person, time), measures by others, and the principal with the overall
responsibility; plus the person's goals ("vad är viktigt för dig"), their own contribution and the next
follow-up date. Scalar fields (`PlanField`) and list items (`ItemList`, items with stable ids) each carry their
own revision. An edit names the revision it was made from: if someone changed that field or item meanwhile,
it fails with `FieldConflict` carrying the current value and revision, and nothing is written (asking for the
value already there is a no-op, not a conflict). Edits to different fields or items never conflict; adding an
item never conflicts. Every edit bumps the plan's
`content_revision`.

**Agreement (*justering*).** Each principal taking part approves a content revision (`approve`). When all have
approved the same revision, it becomes the next `AgreedVersion` (numbered from 1, kept forever, comparable:
`diff_versions`, `diff_since_agreed`, `diff_contents`). Any content edit invalidates pending approvals, as does
a change in the principals taking part. A version can be agreed only when nothing in
`missing_for_agreement()` is missing (`Requirement`): consent in force; a region and a municipality take part;
at least one need; at least one service, each naming a principal taking part and a responsible unit; the
overall responsibility with a principal taking part; the next follow-up date.

**States** (`PlanState`): `draft` → (first agreed version) `active` → (follow-up recorded) `followed_up` →
(a revised version agreed) `active` ... → `closed` (from any state, by the owner or the principal with the
overall responsibility). An active plan can be edited: the version in force stays in force until the next one
is agreed.

**Ownership.** The owner unit may hand the plan over (`hand_over`) to another unit that takes part and sees it;
the former owner stays a participant.

**What a unit may do** (`domain.sip.refusals`): `SipPlan.refusal(action, unit_id)` is the one rule per
`SipAction` (edit, approve, follow up, close, record consent...), checked by every command before it changes
anything; `allowed_actions(unit_id)` lists what it does not refuse, for clients to offer. Every refusal carries a
specific code (`Refusal`), the `code` of the API's problem details.

**Meetings.** `schedule_meeting` sends the invitations (units, the person, named participants); units answer
for themselves, a unit records the answers of the person and named participants; rescheduling resets answers.

**Commands** (`domain.sip.commands`): one per action, `apply_to(plan, actor, now)`; content commands are guarded
by revisions, structural ones (`VersionedSipCommand`) by the plan's `version`.

**Events** (`domain.sip.events`) carry ids, codes, field and list names, revisions and unit ids, never personal
data: "field X of plan P is now at revision R"; clients fetch the content through the API.

**Deadlines.** `plan_deadlines` gives the follow-up of the version in force (`DeadlineKind.SIP_FOLLOW_UP`).
"""

from domain.sip import commands, events
from domain.sip.case_link import can_record_invitation_on_case, open_plan_for_case, record_invitation_on_case
from domain.sip.consent import Consent, ConsentForm, ConsentGiver, ConsentScope
from domain.sip.contents import (
    ChangeKind,
    ContentChanged,
    FieldChange,
    FieldConflict,
    FieldValue,
    GoalContent,
    Item,
    ItemChange,
    ItemContent,
    ItemList,
    MeasureContent,
    NeedContent,
    PlanContents,
    PlanDiff,
    PlanField,
    Revised,
    ServiceContent,
    diff_contents,
    same_contents,
)
from domain.sip.deadlines import plan_deadlines
from domain.sip.meetings import PERSON_REF, Answer, Invitation, InviteeKind, Meeting
from domain.sip.participants import NamedParticipant, NamedParticipantKind, UnitParticipant, UnitRef
from domain.sip.plan import CloseReason, PlanState, SipPlan
from domain.sip.refusals import Refusal, SipAction
from domain.sip.versions import AgreedVersion, Approval, FollowUp, MissingContents, Requirement

__all__ = [
    "PERSON_REF",
    "AgreedVersion",
    "Answer",
    "Approval",
    "ChangeKind",
    "CloseReason",
    "Consent",
    "ConsentForm",
    "ConsentGiver",
    "ConsentScope",
    "ContentChanged",
    "FieldChange",
    "FieldConflict",
    "FieldValue",
    "FollowUp",
    "GoalContent",
    "Invitation",
    "InviteeKind",
    "Item",
    "ItemChange",
    "ItemContent",
    "ItemList",
    "MeasureContent",
    "Meeting",
    "MissingContents",
    "NamedParticipant",
    "NamedParticipantKind",
    "NeedContent",
    "PlanContents",
    "PlanDiff",
    "PlanField",
    "PlanState",
    "Refusal",
    "Requirement",
    "Revised",
    "ServiceContent",
    "SipAction",
    "SipPlan",
    "UnitParticipant",
    "UnitRef",
    "can_record_invitation_on_case",
    "commands",
    "diff_contents",
    "events",
    "open_plan_for_case",
    "plan_deadlines",
    "record_invitation_on_case",
    "same_contents",
]
