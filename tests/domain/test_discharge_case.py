"""The discharge case aggregate: transitions, parts, visibility, events, notices and the ready clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain import events as ev
from domain.care import CareType
from domain.discharge_case import (
    Actor,
    CaseState,
    DischargeCase,
    InterruptionReason,
    NoticeKind,
    Part,
    ParticipantStatus,
    RejectionReason,
)
from domain.discharge_notice import Destination
from domain.errors import DomainError, InvalidTransition, InvalidValue, NotAllowedForPart, OutOfRange
from domain.planning import HomeReadiness, Need, PlanningEdit, PlanningField, PlanningForm
from tests.domain.builders import (
    ADMITTED_AT,
    ALL_STATES,
    ALL_UNITS,
    CASE_ID,
    DISCHARGED_AT,
    ESTIMATED_AT,
    HOME_INFO,
    MUNICIPAL,
    MUNICIPAL_USER,
    NOTICE_AT,
    OTHER_MUNICIPAL,
    OTHER_MUNICIPAL_USER,
    OTHER_PRIMARY,
    OTHER_PRIMARY_USER,
    PATIENT_ID,
    PRIMARY,
    PRIMARY_USER,
    READY_AT,
    RECEIVERS,
    STRANGER,
    STRANGER_USER,
    WARD,
    WARD_USER,
    Clock,
    at,
    build_case,
    event_types,
    last_event,
    register,
    snapshot,
    walk_strings,
)

ACT_AT = at(2026, 3, 7, 9)  # Saturday morning: after every step of the standard story
OPEN_STATES = frozenset({CaseState.ADMITTED, CaseState.PLANNING, CaseState.READY})
SECRET_TEXT = "Bor ensam, dottern Anna hjälper till. Rullator. Waran 5 mg"


def planning_form(text: str = SECRET_TEXT) -> PlanningForm:
    return PlanningForm(current_services=text, expected_needs=(Need.HOME_HELP, Need.AIDS), aids=text,
                        medication_handover=text, adl=text, notes=text)


def _start_leave_if_open(case: DischargeCase) -> None:
    if case.state.is_open and not case.on_leave:
        case.start_leave(WARD_USER, ACT_AT - timedelta(hours=1))


# ----- the action table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One action of the aggregate, done by `actor` with valid arguments."""

    name: str
    actor: Actor
    run: Callable[[DischargeCase, Actor, datetime], object]
    states: frozenset[CaseState]  # the states it is allowed in
    parts: frozenset[Part]  # the parts allowed to do it
    event: type[ev.CaseEvent]
    leads_to: CaseState | None = None  # the state after it, when it changes the state
    prepare: Callable[[DischargeCase], None] | None = None  # set up its precondition (not its state)

    def on(self, state: CaseState) -> DischargeCase:
        """A standard case in `state`, prepared for this action, with no pending events."""
        case = build_case(state)
        if self.prepare is not None:
            self.prepare(case)
            case.pending_events.clear()
        return case

    def __str__(self) -> str:
        return self.name


WARD_ONLY = frozenset({Part.WARD})
RECEIVING = frozenset({Part.PRIMARY_CARE, Part.MUNICIPAL})
EVERY_PART = frozenset(Part)

ACTIONS = (
    Action("send_admission_notice", WARD_USER, lambda c, a, n: c.send_admission_notice(a, n),
           frozenset({CaseState.ADMITTED}), WARD_ONLY, ev.AdmissionNoticeSent, CaseState.PLANNING),
    Action("record_needs_identified", WARD_USER,
           lambda c, a, n: c.record_needs_identified(a, ADMITTED_AT + timedelta(hours=3), n),
           frozenset({CaseState.ADMITTED}), WARD_ONLY, ev.LiabilityFactsChanged),
    Action("acknowledge", MUNICIPAL_USER, lambda c, a, n: c.acknowledge(a, n),
           frozenset(ALL_STATES) - {CaseState.ADMITTED}, RECEIVING, ev.NoticeAcknowledged),
    Action("forward", MUNICIPAL_USER, lambda c, a, n: c.forward(a, OTHER_MUNICIPAL, n),
           frozenset({CaseState.PLANNING, CaseState.READY}), RECEIVING, ev.CaseForwarded),
    Action("reject", MUNICIPAL_USER, lambda c, a, n: c.reject(a, RejectionReason.WRONG_MUNICIPALITY, n),
           frozenset({CaseState.PLANNING, CaseState.READY}), RECEIVING, ev.CaseRejected),
    Action("add_participant", WARD_USER, lambda c, a, n: c.add_participant(a, OTHER_MUNICIPAL, Part.MUNICIPAL, n),
           OPEN_STATES, WARD_ONLY, ev.ParticipantAdded),
    Action("remove_participant", WARD_USER, lambda c, a, n: c.remove_participant(a, MUNICIPAL, n),
           OPEN_STATES, WARD_ONLY, ev.ParticipantRemoved),
    Action("appoint_named_care_contact", PRIMARY_USER,
           lambda c, a, n: c.appoint_named_care_contact(a, "user-fvk", n),
           frozenset({CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED}),
           frozenset({Part.PRIMARY_CARE}), ev.NamedCareContactAppointed),
    Action("change_estimated_discharge", WARD_USER,
           lambda c, a, n: c.change_estimated_discharge(a, at(2026, 3, 9, 12), n),
           OPEN_STATES, WARD_ONLY, ev.EstimatedDischargeChanged),
    Action("update_planning(ward)", WARD_USER, lambda c, a, n: c.update_planning(a, planning_form(), n),
           frozenset({CaseState.PLANNING, CaseState.READY}), EVERY_PART, ev.PlanningUpdated),
    Action("update_planning(municipal)", MUNICIPAL_USER, lambda c, a, n: c.update_planning(a, planning_form(), n),
           frozenset({CaseState.PLANNING, CaseState.READY}), EVERY_PART, ev.PlanningUpdated),
    Action("change_planning", PRIMARY_USER,
           lambda c, a, n: c.change_planning(a, [PlanningEdit(PlanningField.NOTES, SECRET_TEXT, 0)], n),
           frozenset({CaseState.PLANNING, CaseState.READY}), EVERY_PART, ev.PlanningUpdated),
    Action("mark_ready_for_discharge", WARD_USER, lambda c, a, n: c.mark_ready_for_discharge(a, n),
           frozenset({CaseState.PLANNING}), WARD_ONLY, ev.ReadyForDischargeSent, CaseState.READY),
    Action("withdraw_ready_for_discharge", WARD_USER, lambda c, a, n: c.withdraw_ready_for_discharge(a, n),
           frozenset({CaseState.READY}), WARD_ONLY, ev.ReadyForDischargeWithdrawn, CaseState.PLANNING),
    Action("set_sip_applies", WARD_USER, lambda c, a, n: c.set_sip_applies(a, True, n),
           OPEN_STATES, frozenset({Part.WARD, Part.PRIMARY_CARE, Part.MUNICIPAL}), ev.SipApplicabilityChanged),
    Action("send_sip_invitation", PRIMARY_USER, lambda c, a, n: c.send_sip_invitation(a, n),
           frozenset({CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED}),
           frozenset({Part.PRIMARY_CARE}), ev.SipInvitationSent),
    Action("set_liability_facts", WARD_USER,
           lambda c, a, n: c.set_liability_facts(a, n, patient_refused_services=True,
                                                 outpatient_services_missing=False),
           OPEN_STATES, EVERY_PART, ev.LiabilityFactsChanged),
    Action("update_home_readiness", WARD_USER,
           lambda c, a, n: c.update_home_readiness(a, HomeReadiness(medicines_secured=True), n),
           OPEN_STATES, WARD_ONLY, ev.HomeReadinessUpdated),
    Action("start_leave", WARD_USER, lambda c, a, n: c.start_leave(a, n), OPEN_STATES, WARD_ONLY, ev.LeaveStarted),
    Action("end_leave", WARD_USER, lambda c, a, n: c.end_leave(a, n), OPEN_STATES, WARD_ONLY, ev.LeaveEnded,
           prepare=_start_leave_if_open),
    Action("send_discharge_notice", WARD_USER, lambda c, a, n: c.send_discharge_notice(a, n, n, information=HOME_INFO),
           frozenset({CaseState.PLANNING, CaseState.READY}), WARD_ONLY, ev.DischargeNoticeSent,
           CaseState.DISCHARGED),
    Action("interrupt", WARD_USER, lambda c, a, n: c.interrupt(a, InterruptionReason.DIED, n),
           OPEN_STATES, WARD_ONLY, ev.CaseInterrupted, CaseState.INTERRUPTED),
    Action("cancel", WARD_USER, lambda c, a, n: c.cancel(a, n), OPEN_STATES, WARD_ONLY, ev.CaseCancelled,
           CaseState.CANCELLED),
    Action("close", WARD_USER, lambda c, a, n: c.close(a, n),
           frozenset({CaseState.DISCHARGED, CaseState.INTERRUPTED}), WARD_ONLY, ev.CaseClosed, CaseState.CLOSED),
)
ACTION_BY_NAME = {a.name: a for a in ACTIONS}


def test_the_table_covers_every_public_action() -> None:
    methods = {name for name, value in vars(DischargeCase).items()
               if callable(value) and not name.startswith("_") and name not in {
                   "register", "active_unit_ids", "visible_unit_ids", "is_visible_to", "receiving_unit_ids",
                   "part_of", "unacknowledged", "in_inbox_of", "inbox_unit_ids", "refusal", "refusals",
                   "allowed_actions",
                   "merge_patient_identity"}}  # an administrator's step, not a unit's action on the case
    covered = {a.name.split("(")[0] for a in ACTIONS}
    assert methods == covered


def _expected_refusal(action: Action, state: CaseState) -> type[DomainError] | None:
    if state in action.states:
        return None
    if state is CaseState.ADMITTED and action.actor.unit_id != WARD:
        return NotAllowedForPart  # the case is the ward's draft: receivers cannot see it yet
    return InvalidTransition


@pytest.mark.parametrize("state", ALL_STATES, ids=str)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_action_by_state(action: Action, state: CaseState) -> None:
    case = action.on(state)
    refusal = _expected_refusal(action, state)
    if refusal is None:
        action.run(case, action.actor, ACT_AT)
        assert case.state is (action.leads_to or state)
        if action.name == "acknowledge" and state is CaseState.CANCELLED:
            assert case.pending_events == []  # every notice is void: nothing to acknowledge
            return
        assert [type(e) for e in case.pending_events] == [action.event]
        assert case.timeline[-1].at == ACT_AT
        assert case.timeline[-1].unit_id == action.actor.unit_id
    else:
        before = snapshot(case)
        with pytest.raises(refusal) as info:
            action.run(case, action.actor, ACT_AT)
        assert snapshot(case) == before, "a refused action must change nothing"
        assert info.value.code == refusal.code
        if refusal is InvalidTransition:
            assert info.value.message.startswith("cannot ")
            assert info.value.message.endswith(f"when the case is {state}")


def _allowed_state(action: Action) -> CaseState:
    for state in (CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED, CaseState.ADMITTED):
        if state in action.states:
            return state
    raise AssertionError(action)


_PART_ACTORS = {WARD_USER: Part.WARD, PRIMARY_USER: Part.PRIMARY_CARE, MUNICIPAL_USER: Part.MUNICIPAL}
WRONG_PART_CASES = [
    pytest.param(action, actor, id=f"{action}-by-{part}")
    for action in ACTIONS for actor, part in _PART_ACTORS.items() if part not in action.parts
]


@pytest.mark.parametrize(("action", "actor"), WRONG_PART_CASES)
def test_action_refused_for_the_wrong_part(action: Action, actor: Actor) -> None:
    case = action.on(_allowed_state(action))
    before = snapshot(case)
    with pytest.raises(NotAllowedForPart) as info:
        action.run(case, actor, ACT_AT)
    assert snapshot(case) == before
    assert info.value.message.startswith("only the ")
    assert all(str(p) in info.value.message for p in action.parts)


def test_named_examples_of_wrong_parts() -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(NotAllowedForPart, match="only the inpatient_unit may mark the patient ready"):
        case.mark_ready_for_discharge(MUNICIPAL_USER, ACT_AT)
    with pytest.raises(NotAllowedForPart, match="acknowledge notices"):
        case.acknowledge(WARD_USER, ACT_AT)
    case = build_case(CaseState.READY)
    with pytest.raises(NotAllowedForPart, match="only the inpatient_unit may send the discharge notice"):
        case.send_discharge_notice(PRIMARY_USER, ACT_AT, ACT_AT, information=HOME_INFO)


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_action_refused_for_a_unit_not_taking_part(action: Action) -> None:
    case = action.on(_allowed_state(action))
    before = snapshot(case)
    with pytest.raises(NotAllowedForPart):
        action.run(case, STRANGER_USER, ACT_AT)
    assert snapshot(case) == before


FORMER_PARTICIPANTS: dict[str, Callable[[DischargeCase], None]] = {
    "forwarded": lambda c: c.forward(MUNICIPAL_USER, OTHER_MUNICIPAL, NOTICE_AT + timedelta(hours=1)),
    "rejected": lambda c: c.reject(MUNICIPAL_USER, RejectionReason.WRONG_MUNICIPALITY, NOTICE_AT + timedelta(hours=1)),
    "removed": lambda c: c.remove_participant(WARD_USER, MUNICIPAL, NOTICE_AT + timedelta(hours=1)),
}


@pytest.mark.parametrize("how", FORMER_PARTICIPANTS)
@pytest.mark.parametrize("action", [a for a in ACTIONS if Part.MUNICIPAL in a.parts], ids=str)
def test_a_former_participant_can_no_longer_act(action: Action, how: str) -> None:
    case = action.on(CaseState.PLANNING)
    FORMER_PARTICIPANTS[how](case)
    assert case.part_of(MUNICIPAL) is None
    assert not case.is_visible_to(MUNICIPAL)
    with pytest.raises(NotAllowedForPart):
        action.run(case, MUNICIPAL_USER, ACT_AT)


@pytest.mark.parametrize("part", list(Part), ids=str)
def test_allowed_parts_may_update_planning_and_liability_facts(part: Part) -> None:
    actor = {Part.WARD: WARD_USER, Part.PRIMARY_CARE: PRIMARY_USER, Part.MUNICIPAL: MUNICIPAL_USER}[part]
    case = build_case(CaseState.READY)
    case.update_planning(actor, planning_form(), ACT_AT)
    case.set_liability_facts(actor, ACT_AT, patient_refused_services=False, outpatient_services_missing=True)
    assert case.planning[actor.unit_id].updated_by_user_id == actor.user_id
    assert case.outpatient_services_missing


@pytest.mark.parametrize("actor", [WARD_USER, PRIMARY_USER, MUNICIPAL_USER], ids=lambda a: a.unit_id)
def test_every_part_may_decide_whether_a_sip_applies(actor: Actor) -> None:
    case = build_case(CaseState.PLANNING)
    case.set_sip_applies(actor, True, ACT_AT)
    assert case.sip_applies
    case.set_sip_applies(actor, False, ACT_AT)
    assert not case.sip_applies
    assert [type(e) for e in case.pending_events] == [ev.SipApplicabilityChanged] * 2
    assert [t.action for t in case.timeline[-2:]] == ["sip_applies", "sip_not_applies"]


def test_the_persons_consent_to_a_sip_is_recorded_with_the_decision() -> None:
    case = build_case(CaseState.PLANNING)
    case.set_sip_applies(PRIMARY_USER, True, ACT_AT, consent=True)
    assert (case.sip_applies, case.sip_consent, case.sip_invitation_required) == (True, True, True)
    case.set_sip_applies(PRIMARY_USER, True, ACT_AT, consent=False)  # the person said no: no invitation is due
    assert (case.sip_applies, case.sip_consent, case.sip_invitation_required) == (True, False, False)
    event = case.pending_events[-1]
    assert isinstance(event, ev.SipApplicabilityChanged)
    assert (event.sip_applies, event.sip_consent) == (True, False)
    case.set_sip_applies(PRIMARY_USER, False, ACT_AT)
    assert (case.sip_applies, case.sip_consent) == (False, None)


def test_a_consent_without_a_sip_is_refused_and_changes_nothing() -> None:
    case = build_case(CaseState.PLANNING)
    case.set_sip_applies(WARD_USER, True, ACT_AT, consent=True)
    with pytest.raises(InvalidValue) as refused:
        case.set_sip_applies(WARD_USER, False, ACT_AT, consent=True)
    assert refused.value.field == "consent"
    assert (case.sip_applies, case.sip_consent) == (True, True)


# ----- registration and the draft ------------------------------------------------------------------------


def test_register_creates_the_wards_draft() -> None:
    case = register()
    assert case.id == CASE_ID
    assert case.state is CaseState.ADMITTED
    assert case.version == 0
    assert [(p.unit_id, p.part, p.status) for p in case.participants] == [
        (WARD, Part.WARD, ParticipantStatus.ACTIVE),
        (PRIMARY, Part.PRIMARY_CARE, ParticipantStatus.ACTIVE),
        (MUNICIPAL, Part.MUNICIPAL, ParticipantStatus.ACTIVE),
    ]
    assert case.ward_unit_id == WARD
    assert case.receiving_unit_ids() == RECEIVERS
    assert case.visible_unit_ids() == (WARD,)
    assert case.estimated_discharge_at == ESTIMATED_AT
    (event,) = case.pending_events
    assert isinstance(event, ev.CaseRegistered)
    assert event.care_type == "somatic"
    assert event.unit_ids == (WARD,)
    assert (event.case_id, event.occurred_at, event.actor_user_id, event.actor_unit_id) == (
        CASE_ID, ADMITTED_AT, WARD_USER.user_id, WARD)
    assert [t.action for t in case.timeline] == ["registered"]


def test_register_without_case_id_generates_one() -> None:
    case = DischargeCase.register(patient_id=PATIENT_ID, care_type=CareType.PSYCHIATRIC, admitted_at=ADMITTED_AT,
                                  actor=WARD_USER, receiving=[], now=ADMITTED_AT)
    other = DischargeCase.register(patient_id=PATIENT_ID, care_type=CareType.PSYCHIATRIC, admitted_at=ADMITTED_AT,
                                   actor=WARD_USER, receiving=[], now=ADMITTED_AT)
    assert case.id
    assert other.id
    assert case.id != other.id
    assert case.care_type is CareType.PSYCHIATRIC


NAIVE = datetime(2026, 3, 2, 8, 0)  # deliberately naive


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"admitted_at": NAIVE}, "admitted_at"),
        ({"admitted_at": ADMITTED_AT + timedelta(minutes=1), "now": ADMITTED_AT}, "admitted_at"),
        ({"estimated_discharge_at": NAIVE}, "estimated_discharge_at"),
        ({"estimated_discharge_at": ADMITTED_AT - timedelta(minutes=1)}, "estimated_discharge_at"),
        ({"needs_identified_at": NAIVE}, "needs_identified_at"),
        ({"needs_identified_at": ADMITTED_AT - timedelta(minutes=1)}, "needs_identified_at"),
        ({"needs_identified_at": ADMITTED_AT + timedelta(hours=2), "now": ADMITTED_AT + timedelta(hours=1)},
         "needs_identified_at"),
        ({"receiving": [(OTHER_PRIMARY, Part.WARD)]}, "receiving"),
        ({"receiving": [(PRIMARY, Part.PRIMARY_CARE), (PRIMARY, Part.MUNICIPAL)]}, "receiving"),
        ({"receiving": [(WARD, Part.MUNICIPAL)]}, "receiving"),
        ({"routing_reason": "Bor hos dottern"}, "routing_reason"),
        ({"routing_reason": "x" * 301, "routed_by_hand": True}, "routing_reason"),
    ],
    ids=["naive-admission", "admission-in-future", "naive-estimate", "estimate-before-admission", "naive-needs",
         "needs-before-admission", "needs-in-future", "receiver-as-ward", "unit-twice", "ward-as-receiver",
         "reason-without-hand-routing", "reason-too-long"],
)
def test_register_rejects_invalid_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue) as info:
        register(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_receivers_chosen_by_hand_keep_the_wards_reason_on_the_timeline() -> None:
    case = register(routing_reason="  Bor hos dottern  ", routed_by_hand=True)
    assert (case.timeline[0].action, case.timeline[0].detail) == ("registered", "Bor hos dottern")
    event = case.pending_events[0]
    assert isinstance(event, ev.CaseRegistered)
    assert event.routed_by_hand


def test_register_accepts_other_time_zones_and_an_estimate_equal_to_admission() -> None:
    admitted = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    case = register(admitted_at=admitted, estimated_discharge_at=admitted, needs_identified_at=admitted,
                    now=admitted)
    assert case.admitted_at == ADMITTED_AT  # the same instant


def test_receiving_units_cannot_see_or_act_on_the_draft() -> None:
    case = build_case(CaseState.ADMITTED)
    assert case.visible_unit_ids() == (WARD,)
    assert case.is_visible_to(WARD)
    for unit in RECEIVERS:
        assert not case.is_visible_to(unit)
        assert case.part_of(unit) is not None  # they take part, they just cannot see it yet
    with pytest.raises(NotAllowedForPart):
        case.acknowledge(MUNICIPAL_USER, ACT_AT)
    with pytest.raises(NotAllowedForPart):
        case.update_planning(PRIMARY_USER, planning_form(), ACT_AT)
    case.send_admission_notice(WARD_USER, NOTICE_AT)
    assert case.visible_unit_ids() == ALL_UNITS
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT)


@pytest.mark.parametrize(
    ("state", "visible"),
    [
        (CaseState.ADMITTED, (WARD,)),
        (CaseState.PLANNING, ALL_UNITS),
        (CaseState.READY, ALL_UNITS),
        (CaseState.DISCHARGED, ALL_UNITS),
        (CaseState.CLOSED, ALL_UNITS),
        (CaseState.INTERRUPTED, ALL_UNITS),
        (CaseState.CANCELLED, ALL_UNITS),  # cancelled after the notice: receivers must learn to disregard it
    ],
)
def test_visible_units_by_state(state: CaseState, visible: tuple[str, ...]) -> None:
    assert build_case(state).visible_unit_ids() == visible


DRAFT_ENDINGS: dict[str, Callable[[DischargeCase], None]] = {
    "cancelled": lambda c: c.cancel(WARD_USER, ACT_AT),
    "interrupted": lambda c: c.interrupt(WARD_USER, InterruptionReason.MOVED_TO_OTHER_HOSPITAL, ACT_AT),
    "interrupted-and-closed": lambda c: (c.interrupt(WARD_USER, InterruptionReason.DIED, ACT_AT),
                                         c.close(WARD_USER, ACT_AT)),
}


@pytest.mark.parametrize("ending", DRAFT_ENDINGS)
def test_a_draft_stays_the_wards_whatever_becomes_of_it(ending: str) -> None:
    case = build_case(CaseState.ADMITTED)
    DRAFT_ENDINGS[ending](case)
    assert case.visible_unit_ids() == (WARD,)
    assert all(e.unit_ids == (WARD,) for e in case.pending_events)
    with pytest.raises(NotAllowedForPart):
        case.acknowledge(MUNICIPAL_USER, ACT_AT)


def test_every_event_of_a_draft_reaches_only_the_ward() -> None:
    case = register()
    for action in ACTIONS:
        if CaseState.ADMITTED in action.states and action.leads_to is None:
            if action.prepare is not None:
                action.prepare(case)
            action.run(case, action.actor, ACT_AT)
    case.cancel(WARD_USER, ACT_AT)
    assert len(case.pending_events) > 10
    assert {e.unit_ids for e in case.pending_events} == {(WARD,)}


# ----- the admission notice -------------------------------------------------------------------------------


def test_admission_notice_goes_to_every_receiver() -> None:
    case = build_case(CaseState.ADMITTED)
    case.send_admission_notice(WARD_USER, NOTICE_AT)
    (notice,) = case.notices
    assert notice.kind is NoticeKind.ADMISSION
    assert notice.recipient_unit_ids == list(RECEIVERS)
    assert (notice.sent_at, notice.sent_by_user_id, notice.sent_by_unit_id) == (NOTICE_AT, WARD_USER.user_id, WARD)
    assert case.admission_notice_sent_at == NOTICE_AT
    (event,) = case.pending_events
    assert isinstance(event, ev.AdmissionNoticeSent)
    assert event.notice_id == notice.id
    assert event.recipient_unit_ids == RECEIVERS
    assert event.unit_ids == ALL_UNITS
    for unit in RECEIVERS:
        assert case.unacknowledged(unit) == [notice]


def test_admission_notice_needs_a_receiver() -> None:
    case = register(receiving=[])
    with pytest.raises(InvalidTransition, match="at least one receiving unit"):
        case.send_admission_notice(WARD_USER, NOTICE_AT)
    case = register()
    case.remove_participant(WARD_USER, PRIMARY, NOTICE_AT)
    case.remove_participant(WARD_USER, MUNICIPAL, NOTICE_AT)
    with pytest.raises(InvalidTransition):
        case.send_admission_notice(WARD_USER, NOTICE_AT)
    assert case.state is CaseState.ADMITTED


@pytest.mark.parametrize(
    ("at_", "error"),
    [
        (ADMITTED_AT + timedelta(hours=1), None),
        (ADMITTED_AT, None),
        (ADMITTED_AT - timedelta(seconds=1), "needs cannot be identified before the admission"),
        (ACT_AT + timedelta(seconds=1), "in the future"),
        (datetime(2026, 3, 2, 9, 0), "time zone"),  # deliberately naive
    ],
    ids=["later", "at-admission", "before-admission", "future", "naive"],
)
def test_record_needs_identified(at_: datetime, error: str | None) -> None:
    case = build_case(CaseState.ADMITTED)
    if error is None:
        case.record_needs_identified(WARD_USER, at_, ACT_AT)
        assert case.needs_identified_at == at_
        assert isinstance(last_event(case), ev.LiabilityFactsChanged)
        assert case.timeline[-1].action == "needs_identified"
    else:
        with pytest.raises(InvalidValue, match=error) as info:
            case.record_needs_identified(WARD_USER, at_, ACT_AT)
        assert info.value.field == "needs_identified_at"
        assert case.needs_identified_at is None
        assert case.pending_events == []


# ----- acknowledgements -----------------------------------------------------------------------------------


def _case_with_three_notices() -> DischargeCase:
    case = build_case(CaseState.PLANNING)
    case.change_estimated_discharge(WARD_USER, at(2026, 3, 8, 12), NOTICE_AT + timedelta(hours=1))
    case.mark_ready_for_discharge(WARD_USER, READY_AT)
    case.pending_events.clear()
    return case


def test_acknowledge_all_pending() -> None:
    case = _case_with_three_notices()
    ids = [n.id for n in case.notices]
    assert [n.kind for n in case.notices] == [NoticeKind.ADMISSION, NoticeKind.ESTIMATE_CHANGED, NoticeKind.READY]
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT) == ids
    assert case.unacknowledged(MUNICIPAL) == []
    assert [n.id for n in case.unacknowledged(PRIMARY)] == ids  # one unit's kvittens is not another's
    for notice in case.notices:
        ack = notice.acknowledgements[MUNICIPAL]
        assert (ack.user_id, ack.at) == (MUNICIPAL_USER.user_id, ACT_AT)
    (event,) = case.pending_events
    assert isinstance(event, ev.NoticeAcknowledged)
    assert event.notice_ids == tuple(ids)
    assert event.unit_ids == ALL_UNITS
    assert event.actor_unit_id == MUNICIPAL


def test_acknowledge_specific_ids() -> None:
    case = _case_with_three_notices()
    first, second, third = (n.id for n in case.notices)
    assert case.acknowledge(PRIMARY_USER, ACT_AT, [third, first]) == [third, first]
    assert [n.id for n in case.unacknowledged(PRIMARY)] == [second]
    # already acknowledged ones are skipped, the rest are taken; each id once
    assert case.acknowledge(PRIMARY_USER, ACT_AT, [first, second, second]) == [second]
    assert case.unacknowledged(PRIMARY) == []


def test_acknowledge_is_idempotent() -> None:
    case = _case_with_three_notices()
    ids = [n.id for n in case.notices]
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT) == ids
    later = ACT_AT + timedelta(hours=1)
    assert case.acknowledge(MUNICIPAL_USER, later) == []
    assert case.acknowledge(MUNICIPAL_USER, later, ids) == []
    assert case.acknowledge(MUNICIPAL_USER, later, []) == []
    assert len(case.pending_events) == 1
    assert all(n.acknowledgements[MUNICIPAL].at == ACT_AT for n in case.notices)  # the first kvittens stands


@pytest.mark.parametrize("bad_id", ["no-such-notice", ""])
def test_acknowledge_unknown_id(bad_id: str) -> None:
    case = _case_with_three_notices()
    before = snapshot(case)
    with pytest.raises(InvalidValue, match="no such notice") as info:
        case.acknowledge(MUNICIPAL_USER, ACT_AT, [case.notices[0].id, bad_id])
    assert info.value.field == "notice_ids"
    assert snapshot(case) == before  # nothing is acknowledged when one id is wrong


def test_a_notice_not_addressed_to_the_unit_is_unknown_to_it() -> None:
    case = build_case(CaseState.READY)
    case.send_sip_invitation(PRIMARY_USER, ACT_AT)
    invitation = case.notices[-1]
    assert invitation.recipient_unit_ids == [MUNICIPAL]  # never back to the sender
    assert invitation not in case.unacknowledged(PRIMARY)
    with pytest.raises(InvalidValue):
        case.acknowledge(PRIMARY_USER, ACT_AT, [invitation.id])


def test_cancelled_notices_are_not_pending() -> None:
    case = _case_with_three_notices()
    case.cancel(WARD_USER, ACT_AT)
    assert case.unacknowledged(MUNICIPAL) == []
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT) == []
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT, [case.notices[0].id]) == []


# ----- forward, reject, add and remove participants -------------------------------------------------------


def test_forward_moves_the_part_and_the_notices() -> None:
    case = _case_with_three_notices()
    admission, estimate, ready = case.notices
    case.acknowledge(MUNICIPAL_USER, ACT_AT, [admission.id])
    case.pending_events.clear()

    case.forward(MUNICIPAL_USER, OTHER_MUNICIPAL, ACT_AT)

    old = next(p for p in case.participants if p.unit_id == MUNICIPAL)
    assert (old.status, old.forwarded_to) == (ParticipantStatus.FORWARDED, OTHER_MUNICIPAL)
    assert case.part_of(MUNICIPAL) is None
    assert case.part_of(OTHER_MUNICIPAL) is Part.MUNICIPAL
    assert case.receiving_unit_ids() == (PRIMARY, OTHER_MUNICIPAL)
    assert case.visible_unit_ids() == (WARD, PRIMARY, OTHER_MUNICIPAL)
    assert all(OTHER_MUNICIPAL in n.recipient_unit_ids for n in case.notices)
    assert case.unacknowledged(OTHER_MUNICIPAL) == [admission, estimate, ready]  # the new unit has seen nothing
    assert admission.acknowledgements[MUNICIPAL].user_id == MUNICIPAL_USER.user_id  # history kept
    (event,) = case.pending_events
    assert isinstance(event, ev.CaseForwarded)
    assert (event.from_unit_id, event.to_unit_id) == (MUNICIPAL, OTHER_MUNICIPAL)
    assert set(event.unit_ids) == {WARD, PRIMARY, OTHER_MUNICIPAL, MUNICIPAL}  # the old unit is told too
    # the new unit can act, the old one cannot
    assert case.acknowledge(OTHER_MUNICIPAL_USER, ACT_AT) == [admission.id, estimate.id, ready.id]
    with pytest.raises(NotAllowedForPart):
        case.acknowledge(MUNICIPAL_USER, ACT_AT)


def test_forward_by_primary_care_keeps_the_primary_care_part() -> None:
    case = build_case(CaseState.READY)
    case.forward(PRIMARY_USER, OTHER_PRIMARY, ACT_AT)
    assert case.part_of(OTHER_PRIMARY) is Part.PRIMARY_CARE
    case.appoint_named_care_contact(OTHER_PRIMARY_USER, "user-fvk", ACT_AT)
    assert case.named_care_contact is not None
    assert case.named_care_contact.unit_id == OTHER_PRIMARY


@pytest.mark.parametrize("target", [MUNICIPAL, PRIMARY, WARD], ids=["itself", "other-receiver", "ward"])
def test_forward_to_a_unit_already_taking_part_is_refused(target: str) -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(InvalidValue, match="already takes part") as info:
        case.forward(MUNICIPAL_USER, target, ACT_AT)
    assert info.value.field == "to_unit_id"
    assert case.part_of(MUNICIPAL) is Part.MUNICIPAL


def test_forward_back_to_a_former_unit_lists_it_once_per_notice() -> None:
    case = build_case(CaseState.PLANNING)
    case.forward(MUNICIPAL_USER, OTHER_MUNICIPAL, ACT_AT)
    case.forward(OTHER_MUNICIPAL_USER, MUNICIPAL, ACT_AT + timedelta(minutes=5))
    assert case.part_of(MUNICIPAL) is Part.MUNICIPAL
    assert case.notices[0].recipient_unit_ids == [PRIMARY, MUNICIPAL, OTHER_MUNICIPAL]
    assert case.acknowledge(MUNICIPAL_USER, ACT_AT + timedelta(minutes=6)) == [case.notices[0].id]


@pytest.mark.parametrize("reason", list(RejectionReason), ids=str)
def test_reject(reason: RejectionReason) -> None:
    case = build_case(CaseState.PLANNING)
    case.reject(MUNICIPAL_USER, reason, ACT_AT)
    rejected = next(p for p in case.participants if p.unit_id == MUNICIPAL)
    assert (rejected.status, rejected.reason) == (ParticipantStatus.REJECTED, str(reason))
    assert case.receiving_unit_ids() == (PRIMARY,)
    assert not case.is_visible_to(MUNICIPAL)
    event = last_event(case)
    assert isinstance(event, ev.CaseRejected)
    assert (event.unit_id, event.reason_code) == (MUNICIPAL, str(reason))
    assert set(event.unit_ids) == set(ALL_UNITS)  # the rejecting unit gets its own answer back
    assert case.timeline[-1].detail == str(reason)
    # the ward routes it elsewhere: the new unit receives the earlier notices
    case.add_participant(WARD_USER, OTHER_MUNICIPAL, Part.MUNICIPAL, ACT_AT)
    assert case.unacknowledged(OTHER_MUNICIPAL) == [case.notices[0]]


def test_add_participant_receives_earlier_notices_but_not_the_discharge_notice() -> None:
    case = build_case(CaseState.READY)
    case.add_participant(WARD_USER, OTHER_MUNICIPAL, Part.MUNICIPAL, ACT_AT)
    assert case.part_of(OTHER_MUNICIPAL) is Part.MUNICIPAL
    assert [n.kind for n in case.unacknowledged(OTHER_MUNICIPAL)] == [NoticeKind.ADMISSION, NoticeKind.READY]
    event = last_event(case)
    assert isinstance(event, ev.ParticipantAdded)
    assert (event.unit_id, event.part) == (OTHER_MUNICIPAL, "municipal_unit")
    assert set(event.unit_ids) == {*ALL_UNITS, OTHER_MUNICIPAL}
    # later notices reach it too
    case.send_discharge_notice(WARD_USER, ACT_AT, ACT_AT, information=HOME_INFO)
    assert case.notices[-1].recipient_unit_ids == [PRIMARY, MUNICIPAL, OTHER_MUNICIPAL]


@pytest.mark.parametrize(
    ("unit", "part", "match"),
    [
        (OTHER_PRIMARY, Part.WARD, "only a primary care or municipal unit"),
        (MUNICIPAL, Part.MUNICIPAL, "already takes part"),
        (MUNICIPAL, Part.PRIMARY_CARE, "already takes part"),
        (WARD, Part.MUNICIPAL, "already takes part"),
    ],
)
def test_add_participant_refused(unit: str, part: Part, match: str) -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(InvalidValue, match=match):
        case.add_participant(WARD_USER, unit, part, ACT_AT)


def test_remove_participant_and_add_it_again() -> None:
    case = build_case(CaseState.PLANNING)
    case.remove_participant(WARD_USER, MUNICIPAL, ACT_AT)
    removed = next(p for p in case.participants if p.unit_id == MUNICIPAL)
    assert removed.status is ParticipantStatus.REMOVED
    assert case.receiving_unit_ids() == (PRIMARY,)
    event = last_event(case)
    assert isinstance(event, ev.ParticipantRemoved)
    assert event.unit_id == MUNICIPAL
    assert set(event.unit_ids) == set(ALL_UNITS)  # the removed unit is told
    case.mark_ready_for_discharge(WARD_USER, ACT_AT)
    assert case.notices[-1].recipient_unit_ids == [PRIMARY]

    case.add_participant(WARD_USER, MUNICIPAL, Part.MUNICIPAL, ACT_AT + timedelta(hours=1))
    assert case.part_of(MUNICIPAL) is Part.MUNICIPAL
    assert [n.recipient_unit_ids.count(MUNICIPAL) for n in case.notices] == [1, 1]
    assert [n.kind for n in case.unacknowledged(MUNICIPAL)] == [NoticeKind.ADMISSION, NoticeKind.READY]


@pytest.mark.parametrize("unit", [WARD, STRANGER], ids=["ward", "stranger"])
def test_remove_participant_refused(unit: str) -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(InvalidValue, match="not a receiving participant"):
        case.remove_participant(WARD_USER, unit, ACT_AT)


def test_removing_a_receiver_from_the_draft_does_not_tell_it() -> None:
    case = build_case(CaseState.ADMITTED)
    case.remove_participant(WARD_USER, MUNICIPAL, ACT_AT)
    assert last_event(case).unit_ids == (WARD,)


# ----- named care contact, planning, SIP, facts, home readiness ------------------------------------------


def test_appoint_named_care_contact() -> None:
    case = build_case(CaseState.PLANNING)
    case.appoint_named_care_contact(PRIMARY_USER, "user-fvk", ACT_AT)
    contact = case.named_care_contact
    assert contact is not None
    assert (contact.user_id, contact.unit_id, contact.appointed_at, contact.appointed_by_user_id) == (
        "user-fvk", PRIMARY, ACT_AT, PRIMARY_USER.user_id)
    event = last_event(case)
    assert isinstance(event, ev.NamedCareContactAppointed)
    assert event.contact_user_id == "user-fvk"
    case.appoint_named_care_contact(PRIMARY_USER, "user-fvk-2", ACT_AT + timedelta(hours=1))
    assert case.named_care_contact is not None
    assert case.named_care_contact.user_id == "user-fvk-2"


def test_update_planning_keeps_one_form_per_unit() -> None:
    case = build_case(CaseState.READY)
    case.update_planning(MUNICIPAL_USER, planning_form("a"), ACT_AT)
    case.update_planning(WARD_USER, planning_form("b"), ACT_AT)
    case.update_planning(MUNICIPAL_USER, planning_form("c"), ACT_AT + timedelta(hours=1))
    assert set(case.planning) == {MUNICIPAL, WARD}
    form = case.planning[MUNICIPAL]
    assert (form.notes, form.updated_at, form.updated_by_user_id) == ("c", ACT_AT + timedelta(hours=1),
                                                                       MUNICIPAL_USER.user_id)
    event = last_event(case)
    assert isinstance(event, ev.PlanningUpdated)
    assert event.unit_id == MUNICIPAL


def test_send_sip_invitation() -> None:
    case = build_case(CaseState.READY)
    assert not case.sip_applies
    case.send_sip_invitation(PRIMARY_USER, ACT_AT)
    assert case.sip_applies
    assert case.sip_invitation_sent_at == ACT_AT
    notice = case.notices[-1]
    assert (notice.kind, notice.sent_by_unit_id) == (NoticeKind.SIP_INVITATION, PRIMARY)
    event = last_event(case)
    assert isinstance(event, ev.SipInvitationSent)
    assert event.notice_id == notice.id
    with pytest.raises(InvalidTransition, match="already been sent"):
        case.send_sip_invitation(PRIMARY_USER, ACT_AT)


def test_set_liability_facts_and_home_readiness() -> None:
    case = build_case(CaseState.READY)
    case.set_liability_facts(MUNICIPAL_USER, ACT_AT, patient_refused_services=True,
                             outpatient_services_missing=True)
    assert case.patient_refused_services
    assert case.outpatient_services_missing
    complete = HomeReadiness(medicines_secured=True, aids_in_place=True, patient_informed=True,
                             next_provider_informed=True)
    case.update_home_readiness(WARD_USER, HomeReadiness(medicines_secured=True), ACT_AT)
    first = last_event(case)
    case.update_home_readiness(WARD_USER, complete, ACT_AT)
    second = last_event(case)
    assert isinstance(first, ev.HomeReadinessUpdated)
    assert isinstance(second, ev.HomeReadinessUpdated)
    assert (first.home_ready, second.home_ready) == (False, True)
    assert case.home_readiness == complete


# ----- estimated discharge --------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "notice"), [(CaseState.ADMITTED, False), (CaseState.PLANNING, True),
                                                 (CaseState.READY, True)])
def test_change_estimated_discharge(state: CaseState, notice: bool) -> None:
    case = build_case(state)
    new = at(2026, 3, 10, 14)
    case.change_estimated_discharge(WARD_USER, new, ACT_AT)
    assert case.estimated_discharge_at == new
    event = last_event(case)
    assert isinstance(event, ev.EstimatedDischargeChanged)
    assert event.estimated_discharge_at == new
    if notice:
        assert case.notices[-1].kind is NoticeKind.ESTIMATE_CHANGED
        assert event.notice_id == case.notices[-1].id
        assert case.notices[-1].recipient_unit_ids == list(RECEIVERS)
    else:
        assert case.notices == []
        assert event.notice_id is None
        assert event.unit_ids == (WARD,)


@pytest.mark.parametrize(
    ("estimate", "match"),
    [(ADMITTED_AT - timedelta(minutes=1), "before the admission"),
     (datetime(2026, 3, 9, 12), "time zone")],  # deliberately naive
    ids=["before-admission", "naive"],
)
def test_change_estimated_discharge_refused(estimate: datetime, match: str) -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(InvalidValue, match=match) as info:
        case.change_estimated_discharge(WARD_USER, estimate, ACT_AT)
    assert info.value.field == "estimated_discharge_at"
    assert case.estimated_discharge_at == ESTIMATED_AT


# ----- ready for discharge and the ready periods ----------------------------------------------------------


def test_ready_withdraw_ready_gives_two_periods() -> None:
    case = build_case(CaseState.PLANNING)
    first, withdrawn, second = at(2026, 3, 3, 10), at(2026, 3, 4, 9), at(2026, 3, 5, 13)
    case.mark_ready_for_discharge(WARD_USER, first)
    assert case.ready_for_discharge_at == first
    case.withdraw_ready_for_discharge(WARD_USER, withdrawn)
    assert case.state is CaseState.PLANNING
    assert case.current_ready_period is None
    assert case.ready_for_discharge_at is None
    case.mark_ready_for_discharge(WARD_USER, second)
    assert case.state is CaseState.READY
    assert [(p.ready_at, p.ended_at, p.ended_by_discharge) for p in case.ready_periods] == [
        (first, withdrawn, False), (second, None, False)]
    assert case.current_ready_period == case.ready_periods[1]
    assert case.ready_for_discharge_at == second
    assert [n.kind for n in case.notices] == [NoticeKind.ADMISSION, NoticeKind.READY, NoticeKind.READY_WITHDRAWN,
                                              NoticeKind.READY]
    assert event_types(case) == ["ReadyForDischargeSent", "ReadyForDischargeWithdrawn", "ReadyForDischargeSent"]
    assert all(e.unit_ids == ALL_UNITS for e in case.pending_events)


def test_discharge_ends_the_ready_period() -> None:
    case = build_case(CaseState.READY)
    sent = DISCHARGED_AT + timedelta(hours=2)
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, sent, information=HOME_INFO)
    assert case.state is CaseState.DISCHARGED
    (period,) = case.ready_periods
    assert (period.ready_at, period.ended_at, period.ended_by_discharge) == (READY_AT, DISCHARGED_AT, True)
    assert case.current_ready_period is None
    assert (case.discharged_at, case.discharge_notice_sent_at) == (DISCHARGED_AT, sent)
    notice = case.notices[-1]
    assert (notice.kind, notice.sent_at, notice.recipient_unit_ids) == (NoticeKind.DISCHARGE, sent, list(RECEIVERS))
    event = last_event(case)
    assert isinstance(event, ev.DischargeNoticeSent)
    assert (event.notice_id, event.discharged_at, event.occurred_at) == (notice.id, DISCHARGED_AT, sent)


def test_discharge_without_a_ready_notice() -> None:
    case = build_case(CaseState.PLANNING)
    case.send_discharge_notice(WARD_USER, ACT_AT, ACT_AT, information=HOME_INFO)
    assert case.state is CaseState.DISCHARGED
    assert case.ready_periods == []


@pytest.mark.parametrize("ahead", [timedelta(microseconds=1), timedelta(hours=3), timedelta(days=2)],
                         ids=["a-moment", "hours", "days"])
def test_a_planned_discharge_time_is_no_discharge_notice(ahead: timedelta) -> None:
    """A time still ahead is an estimate (change the estimated discharge), never a notice: refused, nothing changes,
    the case is not discharged (issue 13: it was "Utskriven" at once, two days early)."""
    case = build_case(CaseState.READY)
    before = snapshot(case)
    with pytest.raises(OutOfRange, match="in the future") as info:
        case.send_discharge_notice(WARD_USER, DISCHARGED_AT + ahead, DISCHARGED_AT, information=HOME_INFO)
    assert (info.value.field, info.value.reason) == ("discharged_at", "discharge_time_in_future")
    assert snapshot(case) == before
    assert case.state is CaseState.READY


def test_the_discharge_notice_may_come_after_the_patient_left() -> None:
    case = build_case(CaseState.READY)
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, DISCHARGED_AT + timedelta(hours=5), information=HOME_INFO)
    assert case.ready_periods[0].ended_at == DISCHARGED_AT
    assert case.discharge_information == HOME_INFO


@pytest.mark.parametrize(
    ("state", "discharged_at", "match"),
    [
        (CaseState.PLANNING, ADMITTED_AT - timedelta(minutes=1), "before the admission"),
        (CaseState.READY, ADMITTED_AT - timedelta(days=1), "before the admission"),
        (CaseState.READY, READY_AT - timedelta(minutes=1), "before the ready-for-discharge notice"),
        (CaseState.READY, datetime(2026, 3, 6, 11), "time zone"),  # deliberately naive
    ],
    ids=["before-admission", "before-admission-ready", "before-ready", "naive"],
)
def test_discharge_time_refused(state: CaseState, discharged_at: datetime, match: str) -> None:
    case = build_case(state)
    before = snapshot(case)
    with pytest.raises(InvalidValue, match=match) as info:
        case.send_discharge_notice(WARD_USER, discharged_at, ACT_AT, information=HOME_INFO)
    assert info.value.field == "discharged_at"
    assert snapshot(case) == before


def test_discharge_at_the_moment_of_admission_is_accepted() -> None:
    case = build_case(CaseState.PLANNING)
    case.send_discharge_notice(WARD_USER, ADMITTED_AT, ACT_AT, information=HOME_INFO)
    assert case.discharged_at == ADMITTED_AT


# ----- cancel, interrupt, close ---------------------------------------------------------------------------


def test_cancel_voids_notices_and_clears_ready_periods() -> None:
    case = _case_with_three_notices()
    case.withdraw_ready_for_discharge(WARD_USER, ACT_AT - timedelta(hours=2))
    case.mark_ready_for_discharge(WARD_USER, ACT_AT - timedelta(hours=1))
    assert len(case.ready_periods) == 2
    case.pending_events.clear()
    case.cancel(WARD_USER, ACT_AT)
    assert case.state is CaseState.CANCELLED
    assert all(n.cancelled for n in case.notices)
    assert case.ready_periods == []
    assert case.current_ready_period is None
    assert case.unacknowledged(PRIMARY) == case.unacknowledged(MUNICIPAL) == []
    (event,) = case.pending_events
    assert isinstance(event, ev.CaseCancelled)
    assert event.unit_ids == ALL_UNITS  # receivers are told to disregard it


@pytest.mark.parametrize("reason", list(InterruptionReason), ids=str)
@pytest.mark.parametrize("state", sorted(OPEN_STATES), ids=str)
def test_interrupt_with_each_reason(state: CaseState, reason: InterruptionReason) -> None:
    case = build_case(state)
    case.interrupt(WARD_USER, reason, ACT_AT)
    assert case.state is CaseState.INTERRUPTED
    assert case.interruption_reason is reason
    event = last_event(case)
    assert isinstance(event, ev.CaseInterrupted)
    assert event.reason_code == str(reason)
    assert case.timeline[-1].detail == str(reason)
    assert event.unit_ids == case.visible_unit_ids()
    if state is CaseState.READY:
        (period,) = case.ready_periods
        assert (period.ended_at, period.ended_by_discharge) == (ACT_AT, False)
    case.close(WARD_USER, ACT_AT + timedelta(days=1))
    assert case.state is CaseState.CLOSED
    assert case.closed_at == ACT_AT + timedelta(days=1)


def test_close_after_discharge() -> None:
    case = build_case(CaseState.DISCHARGED)
    case.close(WARD_USER, ACT_AT)
    assert (case.state, case.closed_at) == (CaseState.CLOSED, ACT_AT)
    event = last_event(case)
    assert isinstance(event, ev.CaseClosed)
    assert event.unit_ids == ALL_UNITS


# ----- leave ----------------------------------------------------------------------------------------------


def test_leave_start_and_end() -> None:
    case = build_case(CaseState.READY)
    case.start_leave(WARD_USER, ACT_AT)
    assert case.on_leave
    with pytest.raises(InvalidTransition, match="already on leave"):
        case.start_leave(WARD_USER, ACT_AT)
    case.end_leave(WARD_USER, ACT_AT + timedelta(hours=5))
    assert not case.on_leave
    with pytest.raises(InvalidTransition, match="not on leave"):
        case.end_leave(WARD_USER, ACT_AT)
    assert event_types(case) == ["LeaveStarted", "LeaveEnded"]
    assert [t.action for t in case.timeline[-2:]] == ["leave_started", "leave_ended"]
    assert case.state is CaseState.READY  # leave is not a state of its own


@pytest.mark.parametrize("ending", ["discharge", "interrupt", "cancel"])
def test_leaving_the_open_track_ends_a_leave(ending: str) -> None:
    case = build_case(CaseState.READY)
    case.start_leave(WARD_USER, ACT_AT)
    {
        "discharge": lambda: case.send_discharge_notice(WARD_USER, ACT_AT, ACT_AT, information=HOME_INFO),
        "interrupt": lambda: case.interrupt(WARD_USER, InterruptionReason.DIED, ACT_AT),
        "cancel": lambda: case.cancel(WARD_USER, ACT_AT),
    }[ending]()
    assert not case.on_leave
    with pytest.raises(InvalidTransition):
        case.end_leave(WARD_USER, ACT_AT)


# ----- events: no free text, no patient data --------------------------------------------------------------


def _full_story() -> DischargeCase:
    """Every action at least once, with free text wherever the domain accepts it."""
    clock = Clock(ADMITTED_AT)
    case = register(needs_identified_at=None)
    case.record_needs_identified(WARD_USER, ADMITTED_AT, clock.tick())
    case.set_sip_applies(WARD_USER, True, clock.tick())
    case.send_admission_notice(WARD_USER, clock.tick())
    case.acknowledge(MUNICIPAL_USER, clock.tick())
    case.acknowledge(PRIMARY_USER, clock.tick(), [case.notices[0].id])
    case.update_planning(WARD_USER, planning_form(), clock.tick())
    case.update_planning(MUNICIPAL_USER, planning_form(), clock.tick())
    case.forward(MUNICIPAL_USER, OTHER_MUNICIPAL, clock.tick())
    case.reject(OTHER_MUNICIPAL_USER, RejectionReason.OTHER, clock.tick())
    case.add_participant(WARD_USER, MUNICIPAL, Part.MUNICIPAL, clock.tick())
    case.add_participant(WARD_USER, OTHER_PRIMARY, Part.PRIMARY_CARE, clock.tick())
    case.remove_participant(WARD_USER, OTHER_PRIMARY, clock.tick())
    case.appoint_named_care_contact(PRIMARY_USER, "user-fvk", clock.tick())
    case.change_estimated_discharge(WARD_USER, at(2026, 3, 9, 12), clock.tick())
    case.set_liability_facts(PRIMARY_USER, clock.tick(), patient_refused_services=False,
                             outpatient_services_missing=False)
    case.update_home_readiness(WARD_USER, HomeReadiness(patient_informed=True), clock.tick())
    case.mark_ready_for_discharge(WARD_USER, clock.tick(timedelta(days=1)))
    case.withdraw_ready_for_discharge(WARD_USER, clock.tick(timedelta(hours=3)))
    case.mark_ready_for_discharge(WARD_USER, clock.tick(timedelta(hours=3)))
    case.send_sip_invitation(PRIMARY_USER, clock.tick())
    case.start_leave(WARD_USER, clock.tick())
    case.end_leave(WARD_USER, clock.tick(timedelta(hours=4)))
    case.send_discharge_notice(WARD_USER, clock.tick(timedelta(days=1)), clock.now(), information=HOME_INFO)
    case.acknowledge(MUNICIPAL_USER, clock.tick())
    case.close(WARD_USER, clock.tick())
    case.merge_patient_identity(WARD_USER, "patient-identified", clock.tick())  # an administrator's in fact
    return case


def test_the_full_story_records_every_event_type_once_or_more() -> None:
    case = _full_story()
    recorded = set(event_types(case))
    assert recorded == set(ev.EVENT_TYPES) - {"CaseInterrupted", "CaseCancelled"}
    assert len(case.timeline) == len(case.pending_events)
    assert [t.at for t in case.timeline] == [e.occurred_at for e in case.pending_events]
    assert all(e.case_id == CASE_ID for e in case.pending_events)


def test_no_event_field_contains_free_text_or_patient_data() -> None:
    case = _full_story()
    allowed = {CASE_ID, WARD, PRIMARY, MUNICIPAL, OTHER_PRIMARY, OTHER_MUNICIPAL, "user-fvk",
               *(n.id for n in case.notices),
               *(a.user_id for a in (WARD_USER, PRIMARY_USER, MUNICIPAL_USER, OTHER_MUNICIPAL_USER)),
               *CareType, *Part, *RejectionReason, *InterruptionReason, *PlanningField, *Destination}
    for event in case.pending_events:
        data = dataclasses.asdict(event)
        for value in data.values():
            assert isinstance(value, str | bool | datetime | tuple | None), (event.type, value)
        strings = set(walk_strings(data)) - set(data)  # field names aside
        assert strings <= allowed, (event.type, strings - allowed)
        text = repr(data)
        assert PATIENT_ID not in text
        assert SECRET_TEXT not in text
        assert "Anna" not in text


def test_planning_text_stays_on_the_case() -> None:
    case = _full_story()
    assert case.planning[WARD].notes == SECRET_TEXT  # the text is kept where it belongs
    assert all(SECRET_TEXT not in (t.detail or "") for t in case.timeline)


def test_events_are_told_to_the_units_concerned() -> None:
    for action in ACTIONS:
        if CaseState.PLANNING not in action.states or action.leads_to is not None:
            continue
        probe = action.on(CaseState.PLANNING)
        action.run(probe, action.actor, ACT_AT)
        event = last_event(probe)
        assert type(event) is action.event
        assert (event.case_id, event.occurred_at, event.actor_unit_id, event.actor_user_id) == (
            CASE_ID, ACT_AT, action.actor.unit_id, action.actor.user_id)
        expected = {
            "forward": {*ALL_UNITS, OTHER_MUNICIPAL},
            "add_participant": {*ALL_UNITS, OTHER_MUNICIPAL},
        }.get(action.name, set(ALL_UNITS))
        assert set(event.unit_ids) == expected, action.name
        assert len(event.unit_ids) == len(set(event.unit_ids))


def test_a_reserve_number_merged_into_the_real_identity_moves_the_case_in_any_state() -> None:
    case = _full_story()  # closed, then merged
    assert case.patient_id == "patient-identified"
    assert case.pending_events[-1].type == "PatientIdentityMerged"
    assert case.timeline[-1].action == "patient_identity_merged"
    with pytest.raises(InvalidValue):
        case.merge_patient_identity(WARD_USER, "patient-identified", datetime.now(UTC))
