"""The discharge case (utskrivningsärende): the aggregate every notice and action of the process acts on.

Each public method checks the acting unit's part and the current state, changes the case and records
past-tense events in `pending_events`. The repository bumps `version` once per saved change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from domain import events as ev
from domain.care import CareType
from domain.case_refusals import CaseAction, CaseRefusal
from domain.discharge_notice import DischargeInformation
from domain.errors import (
    DomainError,
    FieldConflict,
    InvalidTransition,
    InvalidValue,
    NotAllowedForPart,
    OutOfRange,
    require_aware,
)
from domain.organisation import UnitKind
from domain.payment import ReadyPeriod
from domain.planning import HomeReadiness, PlanningEdit, PlanningField, PlanningForm, clean_planning_value


class CaseState(StrEnum):
    ADMITTED = "admitted"  # registered at the ward; no admission notice yet
    PLANNING = "planning"  # admission notice sent; the parties plan
    READY = "ready_for_discharge"
    DISCHARGED = "discharged"
    CLOSED = "closed"
    INTERRUPTED = "interrupted"  # avbrott: died, moved to another hospital, compulsory outpatient care...
    CANCELLED = "cancelled"  # felsänt: sent by mistake

    @property
    def is_open(self) -> bool:
        return self in (CaseState.ADMITTED, CaseState.PLANNING, CaseState.READY)


class Part(StrEnum):
    """The part a unit takes in a case; it decides which actions the unit may take."""

    WARD = "inpatient_unit"
    PRIMARY_CARE = "primary_care_unit"
    MUNICIPAL = "municipal_unit"


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    FORWARDED = "forwarded"
    REJECTED = "rejected"
    REMOVED = "removed"


class NoticeKind(StrEnum):
    ADMISSION = "admission_notice"
    ESTIMATE_CHANGED = "estimated_discharge_changed"
    READY = "ready_for_discharge"
    READY_WITHDRAWN = "ready_for_discharge_withdrawn"
    SIP_INVITATION = "sip_invitation"
    DISCHARGE = "discharge_notice"


class InterruptionReason(StrEnum):
    DIED = "died"
    MOVED_TO_OTHER_HOSPITAL = "moved_to_other_hospital"
    COMPULSORY_OUTPATIENT_CARE = "compulsory_outpatient_care"  # ÖPT/ÖRV: leaves the normal track
    NO_NEEDS = "no_needs"
    OTHER = "other"


class RejectionReason(StrEnum):
    WRONG_MUNICIPALITY = "wrong_municipality"
    NOT_LISTED_HERE = "not_listed_here"
    UNKNOWN_PATIENT = "unknown_patient"
    OTHER = "other"


# The states in which the SIP invitation may be sent (also by a SIP plan: `domain.sip.case_link`).
SIP_INVITATION_STATES = (CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED)


@dataclass(frozen=True)
class Actor:
    """Who acts: the user and the unit they act for."""

    user_id: str
    unit_id: str


@dataclass(frozen=True)
class Participant:
    unit_id: str
    part: Part
    added_at: datetime
    status: ParticipantStatus = ParticipantStatus.ACTIVE
    reason: str | None = None
    forwarded_to: str | None = None

    @property
    def active(self) -> bool:
        return self.status is ParticipantStatus.ACTIVE


@dataclass(frozen=True)
class Acknowledgement:
    user_id: str
    at: datetime


@dataclass
class Notice:
    id: str
    kind: NoticeKind
    sent_at: datetime
    sent_by_user_id: str
    sent_by_unit_id: str
    recipient_unit_ids: list[str]
    acknowledgements: dict[str, Acknowledgement] = field(default_factory=dict)
    cancelled: bool = False


@dataclass(frozen=True)
class NamedCareContact:
    user_id: str
    unit_id: str
    appointed_at: datetime
    appointed_by_user_id: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    action: str
    user_id: str
    unit_id: str
    detail: str | None = None


RECEIVING_PARTS = (Part.PRIMARY_CARE, Part.MUNICIPAL)
MAX_ROUTING_REASON = 300  # the ward's reason for choosing the receivers by hand
# The part a receiving unit takes in a case, by its kind (a psychiatric outpatient clinic acts as primary care).
RECEIVING_PART_OF_KIND = {UnitKind.MUNICIPAL: Part.MUNICIPAL, UnitKind.PRIMARY_CARE: Part.PRIMARY_CARE,
                          UnitKind.PSYCHIATRIC_OUTPATIENT: Part.PRIMARY_CARE}
EVERY_PART = (Part.WARD, *RECEIVING_PARTS)
OPEN_STATES = (CaseState.ADMITTED, CaseState.PLANNING, CaseState.READY)
PLANNING_STATES = (CaseState.PLANNING, CaseState.READY)
# Where a receiving unit gets the case's notices (its inbox): once the admission notice is sent, until it ends.
INBOX_STATES = (CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED)


def forward_target_kinds(acting: UnitKind) -> frozenset[UnitKind]:
    """The kinds of unit a unit of kind `acting` may forward its part of a case to: the receiving kinds that take
    the same part (a municipality's unit to another municipal unit, e.g. the right municipality; a primary care
    unit to another primary care unit or a psychiatric outpatient clinic). None for a ward. The forward command
    and the list of targets offered (`GET /units?forward_from=`) both follow this rule (the target active, not
    the acting unit itself, and, checked by `DischargeCase.forward`, not already taking part in the case)."""
    part = RECEIVING_PART_OF_KIND.get(acting)
    return frozenset(k for k, p in RECEIVING_PART_OF_KIND.items() if part is not None and p is part)


def part_of_kind(kind: UnitKind) -> Part:
    """The part a unit of this kind takes in a discharge case: a ward registers it, the others receive it."""
    return Part.WARD if kind.is_inpatient else RECEIVING_PART_OF_KIND[kind]


@dataclass(frozen=True)
class ActionRule:
    """Who may take an action on a case, and in which states (`DischargeCase.refusal` adds the few other facts of
    the case some actions depend on: receivers, the SIP invitation, a leave)."""

    what: str  # the action in the (English, developer-facing) message of a refusal
    parts: tuple[Part, ...]
    states: tuple[CaseState, ...] | None  # None: in every state


ACTION_RULES: dict[CaseAction, ActionRule] = {
    CaseAction.SEND_ADMISSION_NOTICE: ActionRule("send the admission notice", (Part.WARD,), (CaseState.ADMITTED,)),
    CaseAction.RECORD_NEEDS_IDENTIFIED: ActionRule("record when needs were identified", (Part.WARD,),
                                                   (CaseState.ADMITTED,)),
    CaseAction.ACKNOWLEDGE: ActionRule("acknowledge notices", RECEIVING_PARTS, None),
    CaseAction.FORWARD: ActionRule("forward the case", RECEIVING_PARTS, OPEN_STATES),
    CaseAction.REJECT: ActionRule("answer that the case is not theirs", RECEIVING_PARTS, OPEN_STATES),
    CaseAction.ADD_PARTICIPANT: ActionRule("add a participating unit", (Part.WARD,), OPEN_STATES),
    CaseAction.REMOVE_PARTICIPANT: ActionRule("remove a participating unit", (Part.WARD,), OPEN_STATES),
    CaseAction.APPOINT_NAMED_CARE_CONTACT: ActionRule("appoint the named care contact", (Part.PRIMARY_CARE,),
                                                      (*PLANNING_STATES, CaseState.DISCHARGED)),
    CaseAction.CHANGE_ESTIMATED_DISCHARGE: ActionRule("change the estimated discharge time", (Part.WARD,),
                                                      OPEN_STATES),
    CaseAction.UPDATE_PLANNING: ActionRule("update the planning", EVERY_PART, PLANNING_STATES),
    CaseAction.MARK_READY_FOR_DISCHARGE: ActionRule("mark the patient ready for discharge", (Part.WARD,),
                                                    (CaseState.PLANNING,)),
    CaseAction.WITHDRAW_READY_FOR_DISCHARGE: ActionRule("withdraw ready for discharge", (Part.WARD,),
                                                        (CaseState.READY,)),
    CaseAction.SET_SIP_APPLIES: ActionRule("decide whether a SIP applies", EVERY_PART, OPEN_STATES),
    CaseAction.SEND_SIP_INVITATION: ActionRule("send the SIP invitation", (Part.PRIMARY_CARE,),
                                               SIP_INVITATION_STATES),
    CaseAction.SET_LIABILITY_FACTS: ActionRule("record payment-liability facts", EVERY_PART, OPEN_STATES),
    CaseAction.UPDATE_HOME_READINESS: ActionRule("update the home-ready checklist", (Part.WARD,), OPEN_STATES),
    CaseAction.START_LEAVE: ActionRule("start a leave", (Part.WARD,), OPEN_STATES),
    CaseAction.END_LEAVE: ActionRule("end a leave", (Part.WARD,), OPEN_STATES),
    CaseAction.SEND_DISCHARGE_NOTICE: ActionRule("send the discharge notice", (Part.WARD,), PLANNING_STATES),
    CaseAction.INTERRUPT: ActionRule("interrupt the case", (Part.WARD,), OPEN_STATES),
    CaseAction.CANCEL: ActionRule("cancel a wrongly sent case", (Part.WARD,), OPEN_STATES),
    CaseAction.CLOSE: ActionRule("close the case", (Part.WARD,), (CaseState.DISCHARGED, CaseState.INTERRUPTED)),
}
# Why a unit of another part is refused, by the parts an action allows.
PART_REFUSALS = {(Part.WARD,): CaseRefusal.WARD_ONLY, RECEIVING_PARTS: CaseRefusal.RECEIVING_UNIT_ONLY,
                 (Part.PRIMARY_CARE,): CaseRefusal.PRIMARY_CARE_ONLY}
# Why an action is refused in a state it is not allowed in, where the state alone says it.
STATE_REFUSALS = {CaseState.ADMITTED: CaseRefusal.ADMISSION_NOTICE_NOT_SENT,
                  CaseState.DISCHARGED: CaseRefusal.ALREADY_DISCHARGED, CaseState.CLOSED: CaseRefusal.CASE_CLOSED,
                  CaseState.INTERRUPTED: CaseRefusal.CASE_INTERRUPTED,
                  CaseState.CANCELLED: CaseRefusal.CASE_CANCELLED}


@dataclass
class DischargeCase:
    id: str
    patient_id: str
    care_type: CareType
    admitted_at: datetime
    participants: list[Participant]
    state: CaseState = CaseState.ADMITTED
    version: int = 0
    needs_identified_at: datetime | None = None
    estimated_discharge_at: datetime | None = None
    admission_notice_sent_at: datetime | None = None
    notices: list[Notice] = field(default_factory=list)
    ready_periods: list[ReadyPeriod] = field(default_factory=list)
    named_care_contact: NamedCareContact | None = None
    sip_applies: bool = False
    # the person's consent to a SIP as recorded on the case: True, False (refused) or None (not asked yet)
    sip_consent: bool | None = None
    sip_invitation_sent_at: datetime | None = None
    sip_plan_id: str | None = None  # the SIP plan whose first meeting invitation was the SIP invitation
    discharged_at: datetime | None = None  # the actual time the patient left (sent with the discharge notice)
    discharge_notice_sent_at: datetime | None = None
    # the discharge notice's content; None on cases discharged before the notice carried any (a bare time)
    discharge_information: DischargeInformation | None = None
    patient_refused_services: bool = False
    outpatient_services_missing: bool = False
    on_leave: bool = False
    home_readiness: HomeReadiness = field(default_factory=HomeReadiness)
    planning: dict[str, PlanningForm] = field(default_factory=dict)
    interruption_reason: InterruptionReason | None = None
    closed_at: datetime | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pending_events: list[ev.CaseEvent] = []

    # ----- registration -----------------------------------------------------------------------------------

    @classmethod
    def register(cls, *, patient_id: str, care_type: CareType, admitted_at: datetime, actor: Actor,
                 receiving: list[tuple[str, Part]], now: datetime,
                 estimated_discharge_at: datetime | None = None,
                 needs_identified_at: datetime | None = None, case_id: str | None = None,
                 routing_reason: str | None = None, routed_by_hand: bool = False) -> DischargeCase:
        """A ward registers an admission, with the receivers chosen by routing (or by hand: `routed_by_hand`, with
        the ward's `routing_reason` for overriding the routing rule, kept on the timeline's entry).

        A reason belongs to receivers chosen by hand: a reason for the routing rule's own choice is refused."""
        require_aware(admitted_at, "admitted_at")
        if admitted_at > now:
            raise InvalidValue("admission time is in the future", field="admitted_at")
        reason = (routing_reason or "").strip() or None
        if reason is not None and not routed_by_hand:
            raise InvalidValue("a routing reason is given only for receivers chosen by hand", field="routing_reason")
        if reason is not None and len(reason) > MAX_ROUTING_REASON:
            raise InvalidValue(f"the routing reason is longer than {MAX_ROUTING_REASON} characters",
                               field="routing_reason")
        participants = [Participant(actor.unit_id, Part.WARD, now)]
        for unit_id, part in receiving:
            if part not in RECEIVING_PARTS:
                raise InvalidValue(f"a receiving unit cannot take the part {part}", field="receiving")
            if any(p.unit_id == unit_id for p in participants):
                raise InvalidValue("a unit takes part only once", field="receiving")
            participants.append(Participant(unit_id, part, now))
        case = cls(id=case_id or str(uuid.uuid4()), patient_id=patient_id, care_type=care_type,
                   admitted_at=admitted_at, participants=participants)
        case._set_needs_identified(needs_identified_at, now)
        if estimated_discharge_at is not None:
            case._check_estimate(estimated_discharge_at)
            case.estimated_discharge_at = estimated_discharge_at
        case._record(ev.CaseRegistered, actor, now, "registered", care_type=str(care_type),
                     routed_by_hand=routed_by_hand, detail=reason)
        return case

    # ----- queries ----------------------------------------------------------------------------------------

    @property
    def ward_unit_id(self) -> str:
        return next(p.unit_id for p in self.participants if p.part is Part.WARD)

    def active_unit_ids(self) -> tuple[str, ...]:
        return tuple(p.unit_id for p in self.participants if p.active)

    def visible_unit_ids(self) -> tuple[str, ...]:
        """Receiving units see the case from the admission notice on; before that it is the ward's draft."""
        if self.admission_notice_sent_at is None:  # admitted, or cancelled/interrupted/closed as a draft
            return (self.ward_unit_id,)
        return self.active_unit_ids()

    def is_visible_to(self, unit_id: str) -> bool:
        return unit_id in self.visible_unit_ids()

    def receiving_unit_ids(self) -> tuple[str, ...]:
        return tuple(p.unit_id for p in self.participants if p.active and p.part in RECEIVING_PARTS)

    def part_of(self, unit_id: str) -> Part | None:
        return next((p.part for p in self.participants if p.unit_id == unit_id and p.active), None)

    @property
    def current_ready_period(self) -> ReadyPeriod | None:
        if self.ready_periods and self.ready_periods[-1].ended_at is None:
            return self.ready_periods[-1]
        return None

    @property
    def ready_for_discharge_at(self) -> datetime | None:
        period = self.current_ready_period
        return period.ready_at if period else None

    def unacknowledged(self, unit_id: str) -> list[Notice]:
        return [n for n in self.notices
                if unit_id in n.recipient_unit_ids and unit_id not in n.acknowledgements and not n.cancelled]

    def in_inbox_of(self, unit_id: str) -> bool:
        """The unit has the case in its inbox: an active receiving participant, from the admission notice until the
        case ends (planning, ready for discharge, discharged)."""
        return (self.state in INBOX_STATES and self.admission_notice_sent_at is not None
                and self.part_of(unit_id) in RECEIVING_PARTS)

    def inbox_unit_ids(self) -> tuple[str, ...]:
        """The units that have the case in their inbox now."""
        return tuple(u for u in self.receiving_unit_ids() if self.in_inbox_of(u))

    # ----- what a unit may do (one rule for the commands and for what the client offers) ------------------------

    def refusal(self, action: CaseAction, unit_id: str) -> DomainError | None:
        """Why `unit_id` may not take `action` on the case now, or None when it may, as far as the unit's part and
        the case's state decide it (`domain.case_refusals`). Every command checks this before it changes anything
        and raises the refusal; `allowed_actions` lists the actions it does not refuse. A command's arguments (which
        unit, which time) are checked by the command afterwards."""
        return self._refusal(action, self.part_of(unit_id), self.is_visible_to(unit_id))

    def refusals(self, unit_id: str) -> dict[CaseAction, DomainError | None]:
        """`refusal` of every action for `unit_id`, with the unit's part and visibility looked up once (the case
        detail and every board or inbox row carry them)."""
        part, visible = self.part_of(unit_id), self.is_visible_to(unit_id)
        return {action: self._refusal(action, part, visible) for action in CaseAction}

    def _refusal(self, action: CaseAction, part: Part | None, visible: bool) -> DomainError | None:
        rule = ACTION_RULES[action]
        if part is None or part not in rule.parts or not visible:
            names = " or ".join(str(p) for p in rule.parts)
            seen = part is not None and visible
            return NotAllowedForPart(f"only the {names} may {rule.what}",
                                     reason=PART_REFUSALS[rule.parts] if seen else CaseRefusal.CASE_NOT_VISIBLE)
        if rule.states is not None and self.state not in rule.states:
            return InvalidTransition(f"cannot {rule.what} when the case is {self.state}",
                                     reason=self._state_refusal(action))
        if action is CaseAction.SEND_ADMISSION_NOTICE and not self.receiving_unit_ids():
            return InvalidTransition("the admission notice needs at least one receiving unit",
                                     reason=CaseRefusal.NO_RECEIVING_UNIT)
        if action is CaseAction.SEND_SIP_INVITATION and self.sip_invitation_sent_at is not None:
            return InvalidTransition("the SIP invitation has already been sent",
                                     reason=CaseRefusal.SIP_INVITATION_ALREADY_SENT)
        if action is CaseAction.START_LEAVE and self.on_leave:
            return InvalidTransition("the patient is already on leave", reason=CaseRefusal.ALREADY_ON_LEAVE)
        if action is CaseAction.END_LEAVE and not self.on_leave:
            return InvalidTransition("the patient is not on leave", reason=CaseRefusal.NOT_ON_LEAVE)
        return None

    def allowed_actions(self, unit_id: str) -> tuple[CaseAction, ...]:
        """The actions `refusal` does not refuse `unit_id` now (empty for a unit that does not see the case)."""
        return tuple(a for a, refused in self.refusals(unit_id).items() if refused is None)

    def _state_refusal(self, action: CaseAction) -> CaseRefusal:
        """Why `action` is not allowed in the case's state (which its rule does not list)."""
        state = self.state
        if action is CaseAction.CLOSE and state.is_open:
            return CaseRefusal.CASE_NOT_ENDED
        if action is CaseAction.WITHDRAW_READY_FOR_DISCHARGE and state in (CaseState.ADMITTED, CaseState.PLANNING):
            return CaseRefusal.NOT_READY_FOR_DISCHARGE
        if action is CaseAction.MARK_READY_FOR_DISCHARGE and state is CaseState.READY:
            return CaseRefusal.ALREADY_READY_FOR_DISCHARGE
        if state in PLANNING_STATES:  # only the draft's own actions are not allowed once planning started
            return CaseRefusal.ADMISSION_NOTICE_ALREADY_SENT
        return STATE_REFUSALS[state]

    # ----- the process, step by step ---------------------------------------------------------------------

    def send_admission_notice(self, actor: Actor, now: datetime) -> None:
        self._require(CaseAction.SEND_ADMISSION_NOTICE, actor)
        notice = self._add_notice(NoticeKind.ADMISSION, actor, now)
        self.admission_notice_sent_at = now
        self.state = CaseState.PLANNING
        self._record(ev.AdmissionNoticeSent, actor, now, "admission_notice_sent", notice_id=notice.id,
                     recipient_unit_ids=tuple(notice.recipient_unit_ids))

    def record_needs_identified(self, actor: Actor, at: datetime, now: datetime) -> None:
        """The doctor judged later that needs may arise: the 24-hour notice clock starts from here."""
        self._require(CaseAction.RECORD_NEEDS_IDENTIFIED, actor)
        self._set_needs_identified(at, now)
        self._record(ev.LiabilityFactsChanged, actor, now, "needs_identified")

    def acknowledge(self, actor: Actor, now: datetime, notice_ids: list[str] | None = None) -> list[str]:
        """A receiving unit acknowledges notices (kvittens): the given ones, or all it has not seen."""
        self._require(CaseAction.ACKNOWLEDGE, actor)
        pending = {n.id: n for n in self.unacknowledged(actor.unit_id)}
        if notice_ids is None:
            chosen = list(pending)
        else:
            known = {n.id for n in self.notices if actor.unit_id in n.recipient_unit_ids}
            unknown = [i for i in notice_ids if i not in known]
            if unknown:
                raise InvalidValue("no such notice for this unit", field="notice_ids")
            chosen = [i for i in dict.fromkeys(notice_ids) if i in pending]
        if not chosen:
            return []
        for notice_id in chosen:
            pending[notice_id].acknowledgements[actor.unit_id] = Acknowledgement(actor.user_id, now)
        self._record(ev.NoticeAcknowledged, actor, now, "acknowledged", notice_ids=tuple(chosen))
        return chosen

    def forward(self, actor: Actor, to_unit_id: str, now: datetime) -> None:
        """A receiving unit hands its part to another unit (its own organisation, or the right municipality)."""
        self._require(CaseAction.FORWARD, actor)
        part = self.part_of(actor.unit_id)
        assert part is not None
        if to_unit_id == actor.unit_id or self.part_of(to_unit_id) is not None:
            raise InvalidValue("the unit already takes part in the case", field="to_unit_id")
        self._replace_participant(actor.unit_id, status=ParticipantStatus.FORWARDED, forwarded_to=to_unit_id)
        self.participants.append(Participant(to_unit_id, part, now))
        for notice in self.notices:
            if (actor.unit_id in notice.recipient_unit_ids and not notice.cancelled
                    and to_unit_id not in notice.recipient_unit_ids):
                notice.recipient_unit_ids.append(to_unit_id)
        self._record(ev.CaseForwarded, actor, now, "forwarded", extra_units=(actor.unit_id,),
                     from_unit_id=actor.unit_id, to_unit_id=to_unit_id)

    def reject(self, actor: Actor, reason: RejectionReason, now: datetime) -> None:
        """A receiving unit answers that the case is not theirs; the ward must route it elsewhere."""
        self._require(CaseAction.REJECT, actor)
        self._replace_participant(actor.unit_id, status=ParticipantStatus.REJECTED, reason=str(reason))
        self._record(ev.CaseRejected, actor, now, "rejected", extra_units=(actor.unit_id,),
                     detail=str(reason), unit_id=actor.unit_id, reason_code=str(reason))

    def add_participant(self, actor: Actor, unit_id: str, part: Part, now: datetime) -> None:
        self._require(CaseAction.ADD_PARTICIPANT, actor)
        if part not in RECEIVING_PARTS:
            raise InvalidValue("only a primary care or municipal unit can be added", field="part")
        if self.part_of(unit_id) is not None:
            raise InvalidValue("the unit already takes part in the case", field="unit_id")
        self.participants = [p for p in self.participants if p.unit_id != unit_id]
        self.participants.append(Participant(unit_id, part, now))
        for notice in self.notices:
            if (not notice.cancelled and notice.kind is not NoticeKind.DISCHARGE
                    and unit_id not in notice.recipient_unit_ids):
                notice.recipient_unit_ids.append(unit_id)
        self._record(ev.ParticipantAdded, actor, now, "participant_added", unit_id=unit_id, part=str(part))

    def remove_participant(self, actor: Actor, unit_id: str, now: datetime) -> None:
        self._require(CaseAction.REMOVE_PARTICIPANT, actor)
        if self.part_of(unit_id) not in RECEIVING_PARTS:
            raise InvalidValue("the unit is not a receiving participant", field="unit_id")
        told = (unit_id,) if self.is_visible_to(unit_id) else ()  # a draft's receivers never saw it
        self._replace_participant(unit_id, status=ParticipantStatus.REMOVED)
        self._record(ev.ParticipantRemoved, actor, now, "participant_removed", extra_units=told,
                     unit_id=unit_id)

    def appoint_named_care_contact(self, actor: Actor, contact_user_id: str, now: datetime) -> None:
        """The head of the primary care unit appoints the named care contact (fast vårdkontakt)."""
        self._require(CaseAction.APPOINT_NAMED_CARE_CONTACT, actor)
        self.named_care_contact = NamedCareContact(contact_user_id, actor.unit_id, now, actor.user_id)
        self._record(ev.NamedCareContactAppointed, actor, now, "named_care_contact_appointed",
                     contact_user_id=contact_user_id)

    def change_estimated_discharge(self, actor: Actor, estimated: datetime, now: datetime) -> None:
        self._require(CaseAction.CHANGE_ESTIMATED_DISCHARGE, actor)
        self._check_estimate(estimated)
        self.estimated_discharge_at = estimated
        notice_id = None
        if self.state is not CaseState.ADMITTED:  # before the admission notice nobody is told yet
            notice_id = self._add_notice(NoticeKind.ESTIMATE_CHANGED, actor, now).id
        self._record(ev.EstimatedDischargeChanged, actor, now, "estimated_discharge_changed",
                     detail=estimated.isoformat(), notice_id=notice_id, estimated_discharge_at=estimated)

    def update_planning(self, actor: Actor, form: PlanningForm, now: datetime) -> tuple[PlanningField, ...]:
        """Write the acting unit's whole planning form (guarded by the case's version, by the caller).

        Every field whose value changes moves to its next revision, so per-field editors see the change. A form
        equal to the one stored is no change, as in `change_planning`: nothing is written or recorded, so the
        case keeps its version and nobody else's versioned action becomes stale. Returns the changed fields."""
        self._require(CaseAction.UPDATE_PLANNING, actor)
        current = self.planning.get(actor.unit_id, PlanningForm())
        clean = form.normalised()
        values = {f: clean.value(f) for f in PlanningField}
        changed = current.differing_fields(values)
        if not changed:
            return ()
        self.planning[actor.unit_id] = current.changed(values, now, actor.user_id)
        self._record(ev.PlanningUpdated, actor, now, "planning_updated", unit_id=actor.unit_id,
                     fields=tuple(f.value for f in changed))
        return changed

    def change_planning(self, actor: Actor, edits: Sequence[PlanningEdit], now: datetime) -> tuple[PlanningField, ...]:
        """Set fields of the acting unit's planning form, each from the revision the editor read it at.

        Guarded per field, never by the case's version: edits of other fields (of this form or another unit's)
        and every other action on the case never conflict. If a field to change has moved past its expected
        revision, `FieldConflict` names it (and in `conflicts` every such field) with the current value and
        revision, and nothing is written. A field given the value it already has is no change and no conflict,
        even from a stale revision (nobody's edit is lost when both wanted the same); when nothing changes,
        nothing is recorded. Returns the changed fields."""
        self._require(CaseAction.UPDATE_PLANNING, actor)
        if not edits:
            raise InvalidValue("name at least one field to change", field="fields")
        if len({e.field for e in edits}) != len(edits):
            raise InvalidValue("each field may be changed once per edit", field="fields")
        current = self.planning.get(actor.unit_id, PlanningForm())
        wanted = {e.field: clean_planning_value(e.field, e.value) for e in edits}
        expected = {e.field: e.expected_revision for e in edits}
        changed = current.differing_fields(wanted)
        clashes = tuple(
            FieldConflict(f"{name} of the planning form was changed by someone else", field=name.value, item_id=None,
                          current_value=current.value(name), current_revision=current.revision(name))
            for name in changed if expected[name] != current.revision(name))
        if clashes:
            first = clashes[0]
            raise FieldConflict(first.message, field=first.field or "", item_id=None, current_value=first.current_value,
                                current_revision=first.current_revision, conflicts=clashes)
        if not changed:
            return ()
        self.planning[actor.unit_id] = current.changed({f: wanted[f] for f in changed}, now, actor.user_id)
        self._record(ev.PlanningUpdated, actor, now, "planning_updated", unit_id=actor.unit_id,
                     fields=tuple(f.value for f in changed))
        return changed

    def mark_ready_for_discharge(self, actor: Actor, now: datetime) -> None:
        """The treating doctor judged the patient ready; the time it is sent starts the payment clock."""
        self._require(CaseAction.MARK_READY_FOR_DISCHARGE, actor)
        notice = self._add_notice(NoticeKind.READY, actor, now)
        self.ready_periods.append(ReadyPeriod(ready_at=now))
        self.state = CaseState.READY
        self._record(ev.ReadyForDischargeSent, actor, now, "ready_for_discharge", notice_id=notice.id)

    def withdraw_ready_for_discharge(self, actor: Actor, now: datetime) -> None:
        """No longer ready: the clock stops; a later ready notice starts a new day 0."""
        self._require(CaseAction.WITHDRAW_READY_FOR_DISCHARGE, actor)
        self._end_ready_period(now, by_discharge=False)
        notice = self._add_notice(NoticeKind.READY_WITHDRAWN, actor, now)
        self.state = CaseState.PLANNING
        self._record(ev.ReadyForDischargeWithdrawn, actor, now, "ready_for_discharge_withdrawn",
                     notice_id=notice.id)

    def set_sip_applies(self, actor: Actor, applies: bool, now: datetime, *, consent: bool | None = None) -> None:
        """The patient needs services from both principals (or no longer), and whether they consent to a SIP
        (`consent`: True, False for a refusal, None when not asked yet).

        Either principal's judgement binds both (HSL 16 kap. 4 §, SoL 2 kap. 7 §), so every part may decide.
        A consent belongs to a SIP that applies: recording one while deciding that no SIP applies is refused.
        A refused consent means no SIP invitation is due (process.md step 5: "and consents to a SIP")."""
        self._require(CaseAction.SET_SIP_APPLIES, actor)
        if not applies and consent is not None:
            raise InvalidValue("a consent to a SIP is recorded only when a SIP applies", field="consent")
        self.sip_applies = applies
        self.sip_consent = consent
        self._record(ev.SipApplicabilityChanged, actor, now, "sip_applies" if applies else "sip_not_applies",
                     sip_applies=applies, sip_consent=consent)

    @property
    def sip_invitation_required(self) -> bool:
        """A SIP applies and the person has not refused it: the SIP invitation is due (process.md step 5)."""
        return self.sip_applies and self.sip_consent is not False

    def send_sip_invitation(self, actor: Actor, now: datetime, *, sip_plan_id: str | None = None) -> None:
        """Kallelse till SIP. Sent from a SIP plan (`domain.sip.case_link`), it names the plan."""
        self._require(CaseAction.SEND_SIP_INVITATION, actor)
        notice = self._add_notice(NoticeKind.SIP_INVITATION, actor, now)
        self.sip_applies = True
        self.sip_invitation_sent_at = now
        self.sip_plan_id = sip_plan_id
        self._record(ev.SipInvitationSent, actor, now, "sip_invitation_sent", notice_id=notice.id)

    def set_liability_facts(self, actor: Actor, now: datetime, *, patient_refused_services: bool,
                            outpatient_services_missing: bool) -> None:
        self._require(CaseAction.SET_LIABILITY_FACTS, actor)
        self.patient_refused_services = patient_refused_services
        self.outpatient_services_missing = outpatient_services_missing
        self._record(ev.LiabilityFactsChanged, actor, now, "liability_facts_changed")

    def update_home_readiness(self, actor: Actor, readiness: HomeReadiness, now: datetime) -> None:
        self._require(CaseAction.UPDATE_HOME_READINESS, actor)
        self.home_readiness = readiness
        self._record(ev.HomeReadinessUpdated, actor, now, "home_readiness_updated",
                     home_ready=readiness.complete)

    def start_leave(self, actor: Actor, now: datetime) -> None:
        self._require(CaseAction.START_LEAVE, actor)
        self.on_leave = True
        self._record(ev.LeaveStarted, actor, now, "leave_started")

    def end_leave(self, actor: Actor, now: datetime) -> None:
        self._require(CaseAction.END_LEAVE, actor)
        self.on_leave = False
        self._record(ev.LeaveEnded, actor, now, "leave_ended")

    def send_discharge_notice(self, actor: Actor, discharged_at: datetime, now: datetime, *,
                              information: DischargeInformation) -> None:
        """Discharge notice / information transfer, due no later than the day of discharge: the patient has left at
        `discharged_at` (never later than now: a planned time is the estimated discharge, not a notice), and the
        receivers get what they need (`DischargeInformation`). The case is discharged as of that time: it ends the
        ready-for-discharge period (the payment clock) there."""
        self._require(CaseAction.SEND_DISCHARGE_NOTICE, actor)
        require_aware(discharged_at, "discharged_at")
        if discharged_at > now:
            raise OutOfRange("the discharge time is in the future: a planned time is an estimate (change the "
                             "estimated discharge), the notice is sent when the patient has left",
                             field="discharged_at", reason=CaseRefusal.DISCHARGE_TIME_IN_FUTURE)
        if discharged_at < self.admitted_at:
            raise InvalidValue("the discharge time is before the admission", field="discharged_at")
        if self.current_ready_period is not None and discharged_at < self.current_ready_period.ready_at:
            raise InvalidValue("the discharge time is before the ready-for-discharge notice", field="discharged_at")
        content = information.checked()
        if self.current_ready_period is not None:
            self._end_ready_period(discharged_at, by_discharge=True)
        notice = self._add_notice(NoticeKind.DISCHARGE, actor, now)
        self.discharged_at = discharged_at
        self.discharge_notice_sent_at = now
        self.discharge_information = content
        self.on_leave = False
        self.state = CaseState.DISCHARGED
        self._record(ev.DischargeNoticeSent, actor, now, "discharge_notice_sent", detail=discharged_at.isoformat(),
                     notice_id=notice.id, discharged_at=discharged_at, destination=str(content.destination))

    def interrupt(self, actor: Actor, reason: InterruptionReason, now: datetime) -> None:
        """Avbrott: the process stops (the patient died, moved, or left the normal track under LPT/LRV)."""
        self._require(CaseAction.INTERRUPT, actor)
        if self.current_ready_period is not None:
            self._end_ready_period(now, by_discharge=False)
        self.interruption_reason = reason
        self.on_leave = False
        self.state = CaseState.INTERRUPTED
        self._record(ev.CaseInterrupted, actor, now, "interrupted", detail=str(reason), reason_code=str(reason))

    def cancel(self, actor: Actor, now: datetime) -> None:
        """Felsänt meddelande: the case was sent by mistake; every notice on it is void."""
        self._require(CaseAction.CANCEL, actor)
        for notice in self.notices:
            notice.cancelled = True
        self.ready_periods.clear()
        self.on_leave = False
        self.state = CaseState.CANCELLED
        self._record(ev.CaseCancelled, actor, now, "cancelled")

    def close(self, actor: Actor, now: datetime) -> None:
        """Close a discharged or interrupted case (`ACTION_RULES`). A discharge time still ahead (stored before the
        notice refused a future time) is no discharge yet: refused until it has passed."""
        self._require(CaseAction.CLOSE, actor)
        if self.state is CaseState.DISCHARGED and self.discharged_at is not None and self.discharged_at > now:
            raise InvalidTransition("the patient has not left yet: the discharge time is ahead",
                                    reason=CaseRefusal.NOT_YET_DISCHARGED)
        self.closed_at = now
        self.state = CaseState.CLOSED
        self._record(ev.CaseClosed, actor, now, "closed")

    def merge_patient_identity(self, actor: Actor, patient_id: str, now: datetime) -> None:
        """The person registered under a reserve number is identified: the case now belongs to the person's real
        identity (`patient_id`), in any state (the history stays with the case, and the timeline says so). Not an
        action of a unit taking part: an administrator's (who may is `server/services/patient_merge.py`'s rule)."""
        if not patient_id or patient_id == self.patient_id:
            raise InvalidValue("the case already belongs to this identity", field="patient_id")
        self.patient_id = patient_id
        self._record(ev.PatientIdentityMerged, actor, now, "patient_identity_merged")

    # ----- helpers -------------------------------------------------------------------------------------------

    def _require(self, action: CaseAction, actor: Actor) -> None:
        refusal = self.refusal(action, actor.unit_id)
        if refusal is not None:
            raise refusal

    def _set_needs_identified(self, at: datetime | None, now: datetime) -> None:
        if at is None:
            return
        require_aware(at, "needs_identified_at")
        if at > now:
            raise InvalidValue("the time is in the future", field="needs_identified_at")
        if at < self.admitted_at:
            raise InvalidValue("needs cannot be identified before the admission", field="needs_identified_at")
        self.needs_identified_at = at

    def _check_estimate(self, estimated: datetime) -> None:
        require_aware(estimated, "estimated_discharge_at")
        if estimated < self.admitted_at:
            raise InvalidValue("the estimated discharge is before the admission", field="estimated_discharge_at")

    def _replace_participant(self, unit_id: str, **changes: object) -> None:
        self.participants = [replace(p, **changes) if p.unit_id == unit_id and p.active else p  # type: ignore[arg-type]
                             for p in self.participants]

    def _end_ready_period(self, at: datetime, *, by_discharge: bool) -> None:
        period = self.ready_periods[-1]
        self.ready_periods[-1] = replace(period, ended_at=max(at, period.ready_at), ended_by_discharge=by_discharge)

    def _add_notice(self, kind: NoticeKind, actor: Actor, now: datetime) -> Notice:
        recipients = [u for u in self.receiving_unit_ids() if u != actor.unit_id]
        notice = Notice(str(uuid.uuid4()), kind, now, actor.user_id, actor.unit_id, recipients)
        self.notices.append(notice)
        return notice

    def _record(self, event_type: type[ev.CaseEvent], actor: Actor, now: datetime, action: str, *,
                detail: str | None = None, extra_units: tuple[str, ...] = (), **fields: object) -> None:
        units = tuple(dict.fromkeys((*self.visible_unit_ids(), *extra_units)))
        event = event_type(case_id=self.id, occurred_at=now, actor_user_id=actor.user_id,
                           actor_unit_id=actor.unit_id, unit_ids=units, **fields)
        self.pending_events.append(event)
        self.timeline.append(TimelineEntry(now, action, actor.user_id, actor.unit_id, detail))
