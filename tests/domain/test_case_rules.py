"""What a unit may do on a discharge case: `DischargeCase.refusal` / `allowed_actions` are the same rule the commands
enforce (one source of truth), for every action × state × part, and every refusal says why (`CaseRefusal`)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.case_refusals import ARGUMENT_REFUSALS, CaseAction, CaseRefusal
from domain.commands import CaseCommand, VersionedCaseCommand
from domain.discharge_case import (
    Actor,
    CaseState,
    DischargeCase,
    InterruptionReason,
    Part,
    RejectionReason,
)
from domain.errors import DomainError, InvalidTransition, InvalidValue, NotAllowedForPart
from domain.planning import HomeReadiness, PlanningEdit, PlanningField, PlanningForm
from tests.domain.builders import (
    ADMITTED_AT,
    HOME_INFO,
    MUNICIPAL,
    MUNICIPAL_USER,
    NOTICE_AT,
    OTHER_MUNICIPAL,
    PRIMARY,
    PRIMARY_USER,
    STRANGER,
    STRANGER_USER,
    WARD,
    WARD_USER,
    at,
    build_case,
    register,
    snapshot,
)

ACT_AT = at(2026, 3, 7, 9)  # after every step of the standard story
ACTORS = {WARD: WARD_USER, PRIMARY: PRIMARY_USER, MUNICIPAL: MUNICIPAL_USER, STRANGER: STRANGER_USER,
          OTHER_MUNICIPAL: Actor("user-handlaggare2", OTHER_MUNICIPAL)}


def _prepared(state: CaseState, prepare: Callable[[DischargeCase], object]) -> Callable[[], DischargeCase]:
    def build() -> DischargeCase:
        case = build_case(state)
        prepare(case)
        case.pending_events.clear()
        return case
    return build


def _draft_without_receivers() -> DischargeCase:
    case = register(receiving=[])
    case.pending_events.clear()
    return case


def _cancelled_draft() -> DischargeCase:
    case = build_case(CaseState.ADMITTED)
    case.cancel(WARD_USER, ADMITTED_AT + timedelta(hours=1))
    case.pending_events.clear()
    return case


# Every state of the standard story, and the facts besides the state some actions depend on.
CASES: dict[str, Callable[[], DischargeCase]] = {
    **{str(state): (lambda s=state: build_case(s)) for state in CaseState},
    "admitted, on leave": _prepared(CaseState.ADMITTED, lambda c: c.start_leave(WARD_USER, ADMITTED_AT)),
    "planning, on leave": _prepared(CaseState.PLANNING, lambda c: c.start_leave(WARD_USER, NOTICE_AT)),
    "ready, on leave": _prepared(CaseState.READY, lambda c: c.start_leave(WARD_USER, ACT_AT - timedelta(hours=1))),
    "planning, SIP invitation sent": _prepared(CaseState.PLANNING, lambda c: c.send_sip_invitation(PRIMARY_USER,
                                                                                                   NOTICE_AT)),
    "planning, municipal unit forwarded": _prepared(CaseState.PLANNING, lambda c: c.forward(
        MUNICIPAL_USER, OTHER_MUNICIPAL, NOTICE_AT + timedelta(hours=1))),
    "draft without receivers": _draft_without_receivers,
    "cancelled draft": _cancelled_draft,
}
ARGUMENT_FAILURES = {("draft without receivers", CaseAction.REMOVE_PARTICIPANT)}  # nobody to remove


def _receiver(case: DischargeCase) -> str:
    return (case.receiving_unit_ids() or (MUNICIPAL,))[0]


# Each action's commands, with arguments that are valid whenever the action is allowed.
RUN: dict[CaseAction, tuple[Callable[[DischargeCase, Actor], object], ...]] = {
    CaseAction.SEND_ADMISSION_NOTICE: (lambda c, a: c.send_admission_notice(a, ACT_AT),),
    CaseAction.RECORD_NEEDS_IDENTIFIED: (lambda c, a: c.record_needs_identified(a, ADMITTED_AT + timedelta(hours=3),
                                                                                ACT_AT),),
    CaseAction.ACKNOWLEDGE: (lambda c, a: c.acknowledge(a, ACT_AT),),
    CaseAction.FORWARD: (lambda c, a: c.forward(a, "unit-elsewhere", ACT_AT),),
    CaseAction.REJECT: (lambda c, a: c.reject(a, RejectionReason.WRONG_MUNICIPALITY, ACT_AT),),
    CaseAction.ADD_PARTICIPANT: (lambda c, a: c.add_participant(a, "unit-elsewhere", Part.MUNICIPAL, ACT_AT),),
    CaseAction.REMOVE_PARTICIPANT: (lambda c, a: c.remove_participant(a, _receiver(c), ACT_AT),),
    CaseAction.APPOINT_NAMED_CARE_CONTACT: (lambda c, a: c.appoint_named_care_contact(a, "user-fvk", ACT_AT),),
    CaseAction.CHANGE_ESTIMATED_DISCHARGE: (lambda c, a: c.change_estimated_discharge(a, at(2026, 3, 9, 12),
                                                                                      ACT_AT),),
    CaseAction.UPDATE_PLANNING: (
        lambda c, a: c.update_planning(a, PlanningForm(notes="Rullator"), ACT_AT),
        lambda c, a: c.change_planning(a, [PlanningEdit(PlanningField.NOTES, "Rullator", 0)], ACT_AT)),
    CaseAction.MARK_READY_FOR_DISCHARGE: (lambda c, a: c.mark_ready_for_discharge(a, ACT_AT),),
    CaseAction.WITHDRAW_READY_FOR_DISCHARGE: (lambda c, a: c.withdraw_ready_for_discharge(a, ACT_AT),),
    CaseAction.SET_SIP_APPLIES: (lambda c, a: c.set_sip_applies(a, True, ACT_AT),),
    CaseAction.SEND_SIP_INVITATION: (lambda c, a: c.send_sip_invitation(a, ACT_AT),),
    CaseAction.SET_LIABILITY_FACTS: (lambda c, a: c.set_liability_facts(a, ACT_AT, patient_refused_services=True,
                                                                        outpatient_services_missing=False),),
    CaseAction.UPDATE_HOME_READINESS: (lambda c, a: c.update_home_readiness(a, HomeReadiness(medicines_secured=True),
                                                                            ACT_AT),),
    CaseAction.START_LEAVE: (lambda c, a: c.start_leave(a, ACT_AT),),
    CaseAction.END_LEAVE: (lambda c, a: c.end_leave(a, ACT_AT),),
    CaseAction.SEND_DISCHARGE_NOTICE: (lambda c, a: c.send_discharge_notice(a, ACT_AT, ACT_AT, information=HOME_INFO),),
    CaseAction.INTERRUPT: (lambda c, a: c.interrupt(a, InterruptionReason.DIED, ACT_AT),),
    CaseAction.CANCEL: (lambda c, a: c.cancel(a, ACT_AT),),
    CaseAction.CLOSE: (lambda c, a: c.close(a, ACT_AT),),
}
PART_REASONS = {CaseRefusal.CASE_NOT_VISIBLE, CaseRefusal.WARD_ONLY, CaseRefusal.RECEIVING_UNIT_ONLY,
                CaseRefusal.PRIMARY_CARE_ONLY}


def test_every_action_has_its_commands_here() -> None:
    assert set(RUN) == set(CaseAction)


@pytest.mark.parametrize("unit", list(ACTORS), ids=str)
@pytest.mark.parametrize("name", list(CASES), ids=str)
def test_allowed_actions_are_exactly_what_the_commands_let_through(name: str, unit: str) -> None:
    """For every kind of case and every unit (each part, a stranger, a unit that forwarded its part, the unit it
    was forwarded to): an action is allowed exactly when its commands go through, and a refused command raises the
    very refusal `refusal` gives (class, code, reason and message) and changes nothing."""
    base = CASES[name]()
    allowed = base.allowed_actions(unit)
    for action in CaseAction:
        refusal = base.refusal(action, unit)
        assert (refusal is None) == (action in allowed), action
        if refusal is not None:
            assert refusal.reason is not None, action
            assert (refusal.reason in PART_REASONS) == isinstance(refusal, NotAllowedForPart), action
            assert isinstance(refusal, NotAllowedForPart | InvalidTransition), action
        for run in RUN[action]:
            case = copy.deepcopy(base)
            raised: DomainError | None = None
            try:
                run(case, ACTORS[unit])
            except DomainError as exc:
                raised = exc
            if (name, action) in ARGUMENT_FAILURES and refusal is None:
                assert isinstance(raised, InvalidValue), action
            elif refusal is None:
                assert raised is None, f"{action} is allowed but its command raised {raised!r}"
            else:
                assert raised is not None, f"{action} went through though refused ({refusal.reason})"
                assert (type(raised), raised.code, raised.reason, raised.message) == (
                    type(refusal), refusal.code, refusal.reason, refusal.message), action
                assert snapshot(case) == snapshot(base), action


A = CaseAction
OPEN_WARD = {A.ADD_PARTICIPANT, A.REMOVE_PARTICIPANT, A.CHANGE_ESTIMATED_DISCHARGE, A.SET_SIP_APPLIES,
             A.SET_LIABILITY_FACTS, A.UPDATE_HOME_READINESS, A.START_LEAVE, A.INTERRUPT, A.CANCEL}
OPEN_RECEIVING = {A.ACKNOWLEDGE, A.FORWARD, A.REJECT, A.UPDATE_PLANNING, A.SET_SIP_APPLIES, A.SET_LIABILITY_FACTS}


@pytest.mark.parametrize("unit", list(ACTORS), ids=str)
@pytest.mark.parametrize("name", list(CASES), ids=str)
def test_refusals_of_all_actions_at_once_are_each_actions_refusal(name: str, unit: str) -> None:
    """`refusals` (what the views call once per case) gives what `refusal` gives action by action."""
    case = CASES[name]()
    at_once = case.refusals(unit)
    assert set(at_once) == set(CaseAction)
    for action in CaseAction:
        one = case.refusal(action, unit)
        both = at_once[action]
        assert (type(one), getattr(one, "reason", None), str(one)) == (type(both), getattr(both, "reason", None),
                                                                        str(both)), action


@pytest.mark.parametrize(("name", "unit", "expected"), [
    ("admitted", WARD, OPEN_WARD | {A.SEND_ADMISSION_NOTICE, A.RECORD_NEEDS_IDENTIFIED}),
    ("admitted", PRIMARY, set()),  # the ward's draft: the receivers do not see it yet
    ("admitted, on leave", WARD, OPEN_WARD - {A.START_LEAVE} | {A.END_LEAVE, A.SEND_ADMISSION_NOTICE,
                                                                 A.RECORD_NEEDS_IDENTIFIED}),
    ("draft without receivers", WARD, OPEN_WARD | {A.RECORD_NEEDS_IDENTIFIED}),
    ("planning", WARD, OPEN_WARD | {A.UPDATE_PLANNING, A.MARK_READY_FOR_DISCHARGE, A.SEND_DISCHARGE_NOTICE}),
    ("planning", PRIMARY, OPEN_RECEIVING | {A.APPOINT_NAMED_CARE_CONTACT, A.SEND_SIP_INVITATION}),
    ("planning", MUNICIPAL, OPEN_RECEIVING),
    ("planning, SIP invitation sent", PRIMARY, OPEN_RECEIVING | {A.APPOINT_NAMED_CARE_CONTACT}),
    ("planning, municipal unit forwarded", MUNICIPAL, set()),
    ("planning, municipal unit forwarded", OTHER_MUNICIPAL, OPEN_RECEIVING),
    ("ready_for_discharge", WARD, OPEN_WARD | {A.UPDATE_PLANNING, A.WITHDRAW_READY_FOR_DISCHARGE,
                                               A.SEND_DISCHARGE_NOTICE}),
    ("ready, on leave", WARD, OPEN_WARD - {A.START_LEAVE} | {A.END_LEAVE, A.UPDATE_PLANNING,
                                                              A.WITHDRAW_READY_FOR_DISCHARGE, A.SEND_DISCHARGE_NOTICE}),
    ("discharged", WARD, {A.CLOSE}),
    ("discharged", PRIMARY, {A.ACKNOWLEDGE, A.APPOINT_NAMED_CARE_CONTACT, A.SEND_SIP_INVITATION}),
    ("discharged", MUNICIPAL, {A.ACKNOWLEDGE}),
    ("interrupted", WARD, {A.CLOSE}),
    ("closed", WARD, set()),
    ("closed", MUNICIPAL, {A.ACKNOWLEDGE}),  # acknowledging what is left is harmless
    ("cancelled", WARD, set()),
    ("cancelled draft", PRIMARY, set()),
    ("planning", STRANGER, set()),
])
def test_allowed_actions_per_part_and_state(name: str, unit: str, expected: set[CaseAction]) -> None:
    assert set(CASES[name]().allowed_actions(unit)) == expected


@pytest.mark.parametrize(("name", "unit", "action", "reason"), [
    ("planning", STRANGER, A.UPDATE_PLANNING, CaseRefusal.CASE_NOT_VISIBLE),
    ("admitted", MUNICIPAL, A.ACKNOWLEDGE, CaseRefusal.CASE_NOT_VISIBLE),
    ("planning, municipal unit forwarded", MUNICIPAL, A.FORWARD, CaseRefusal.CASE_NOT_VISIBLE),
    ("planning", MUNICIPAL, A.MARK_READY_FOR_DISCHARGE, CaseRefusal.WARD_ONLY),
    ("planning", WARD, A.ACKNOWLEDGE, CaseRefusal.RECEIVING_UNIT_ONLY),
    ("planning", MUNICIPAL, A.APPOINT_NAMED_CARE_CONTACT, CaseRefusal.PRIMARY_CARE_ONLY),
    ("admitted", WARD, A.MARK_READY_FOR_DISCHARGE, CaseRefusal.ADMISSION_NOTICE_NOT_SENT),
    ("admitted", WARD, A.UPDATE_PLANNING, CaseRefusal.ADMISSION_NOTICE_NOT_SENT),
    ("planning", WARD, A.SEND_ADMISSION_NOTICE, CaseRefusal.ADMISSION_NOTICE_ALREADY_SENT),
    ("ready_for_discharge", WARD, A.RECORD_NEEDS_IDENTIFIED, CaseRefusal.ADMISSION_NOTICE_ALREADY_SENT),
    ("draft without receivers", WARD, A.SEND_ADMISSION_NOTICE, CaseRefusal.NO_RECEIVING_UNIT),
    ("ready_for_discharge", WARD, A.MARK_READY_FOR_DISCHARGE, CaseRefusal.ALREADY_READY_FOR_DISCHARGE),
    ("planning", WARD, A.WITHDRAW_READY_FOR_DISCHARGE, CaseRefusal.NOT_READY_FOR_DISCHARGE),
    ("admitted", WARD, A.WITHDRAW_READY_FOR_DISCHARGE, CaseRefusal.NOT_READY_FOR_DISCHARGE),
    ("discharged", WARD, A.SEND_DISCHARGE_NOTICE, CaseRefusal.ALREADY_DISCHARGED),
    ("discharged", MUNICIPAL, A.FORWARD, CaseRefusal.ALREADY_DISCHARGED),
    ("planning", WARD, A.CLOSE, CaseRefusal.CASE_NOT_ENDED),
    ("admitted", WARD, A.CLOSE, CaseRefusal.CASE_NOT_ENDED),
    ("closed", WARD, A.CLOSE, CaseRefusal.CASE_CLOSED),
    ("closed", PRIMARY, A.SEND_SIP_INVITATION, CaseRefusal.CASE_CLOSED),
    ("interrupted", WARD, A.INTERRUPT, CaseRefusal.CASE_INTERRUPTED),
    ("cancelled", MUNICIPAL, A.UPDATE_PLANNING, CaseRefusal.CASE_CANCELLED),
    ("planning, SIP invitation sent", PRIMARY, A.SEND_SIP_INVITATION, CaseRefusal.SIP_INVITATION_ALREADY_SENT),
    ("planning, on leave", WARD, A.START_LEAVE, CaseRefusal.ALREADY_ON_LEAVE),
    ("planning", WARD, A.END_LEAVE, CaseRefusal.NOT_ON_LEAVE),
])
def test_each_refusal_says_why(name: str, unit: str, action: CaseAction, reason: CaseRefusal) -> None:
    refusal = CASES[name]().refusal(action, unit)
    assert refusal is not None
    assert refusal.reason == reason


def test_every_reason_is_given_somewhere() -> None:
    """No reason code is dead: each is what some unit is told on some case (those a command gives from its
    arguments, `ARGUMENT_REFUSALS`, are raised in tests/domain/test_discharge_notice.py)."""
    given = {r.reason for name, build in CASES.items() for unit in ACTORS for a in CaseAction
             if (r := build().refusal(a, unit)) is not None}
    assert given == set(CaseRefusal) - ARGUMENT_REFUSALS


@pytest.mark.parametrize(("name", "inbox"), [
    ("admitted", set()), ("planning", {PRIMARY, MUNICIPAL}), ("ready_for_discharge", {PRIMARY, MUNICIPAL}),
    ("discharged", {PRIMARY, MUNICIPAL}), ("closed", set()), ("interrupted", set()), ("cancelled", set()),
    ("planning, municipal unit forwarded", {PRIMARY, OTHER_MUNICIPAL}), ("cancelled draft", set()),
])
def test_the_inbox_rule(name: str, inbox: set[str]) -> None:
    """A receiving unit has the case in its inbox from the admission notice until the case ends, while it takes
    part (the ward never; a unit that forwarded its part no longer)."""
    case = CASES[name]()
    assert set(case.inbox_unit_ids()) == inbox
    assert {u for u in ACTORS if case.in_inbox_of(u)} == inbox


def _concrete_commands() -> list[type[CaseCommand]]:
    found: list[type[CaseCommand]] = []
    pending: list[type[CaseCommand]] = [CaseCommand]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if "action" in vars(sub):
                found.append(sub)
    return found


def test_every_command_names_the_rule_its_method_enforces() -> None:
    """The application checks a command's `action` before its arguments: each command names the rule of the
    aggregate method it calls (a command refused by `refusal` raises that very refusal), and every action has one."""
    commands = _concrete_commands()
    assert {c.action for c in commands} == set(CaseAction)
    case = build_case(CaseState.CLOSED)
    for command in commands:
        refusal = case.refusal(command.action, WARD)
        fields: dict[str, object] = {f.name: None for f in dataclasses.fields(command)
                                     if f.name not in ("case_id", "expected_version")}
        fields.update({"part": Part.MUNICIPAL} if "part" in fields else {})  # the arguments matter only after
        built = command(case_id=case.id, expected_version=case.version, **fields) if issubclass(
            command, VersionedCaseCommand) else command(case_id=case.id, **fields)
        with pytest.raises(DomainError) as info:
            built.apply_to(copy.deepcopy(case), WARD_USER, ACT_AT)
        assert refusal is not None
        assert (info.value.code, info.value.reason) == (refusal.code, refusal.reason), command
