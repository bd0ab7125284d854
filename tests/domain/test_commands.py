"""Commands: each one calls its aggregate method with its own fields, and the rules still apply."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any, cast

import pytest

from domain import commands as cmd
from domain.discharge_case import (
    Actor,
    CaseState,
    DischargeCase,
    InterruptionReason,
    NoticeKind,
    Part,
    RejectionReason,
)
from domain.errors import InvalidTransition, InvalidValue, NotAllowedForPart
from domain.planning import HomeReadiness, Need, PlanningEdit, PlanningField, PlanningForm
from tests.domain.builders import (
    CASE_ID,
    HOME_INFO,
    MUNICIPAL,
    MUNICIPAL_USER,
    OTHER_MUNICIPAL,
    OTHER_PRIMARY,
    PRIMARY_USER,
    WARD,
    WARD_USER,
    Clock,
    at,
    build_case,
    register,
    snapshot,
)

NOW = at(2026, 3, 5, 9)
LATER = at(2026, 3, 9, 12)
FORM = PlanningForm(expected_needs=(Need.HOME_HELP,), notes="Behöver hjälp med dusch")
EDITS = (PlanningEdit(PlanningField.AIDS, "Rollator", 0), PlanningEdit(PlanningField.EXPECTED_NEEDS, (Need.AIDS,), 2))
READINESS = HomeReadiness(medicines_secured=True, aids_in_place=True)


class RecordingCase:
    """A plain fake of the aggregate: remembers every method call instead of applying rules."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record


def base(**fields: Any) -> dict[str, Any]:
    return {"case_id": CASE_ID, "expected_version": 3, **fields}


# (command, the method it must call, the arguments after `actor`/`now` substitution)
A, N = WARD_USER, NOW
ROUTING = [
    (cmd.SendAdmissionNotice(**base()), "send_admission_notice", (A, N), {}),
    (cmd.RecordNeedsIdentified(**base(at=LATER)), "record_needs_identified", (A, LATER, N), {}),
    (cmd.Acknowledge(**base()), "acknowledge", (A, N, None), {}),
    (cmd.Acknowledge(**base(notice_ids=("n1", "n2"))), "acknowledge", (A, N, ["n1", "n2"]), {}),
    (cmd.Acknowledge(**base(notice_ids=())), "acknowledge", (A, N, []), {}),
    (cmd.Forward(**base(to_unit_id=OTHER_MUNICIPAL)), "forward", (A, OTHER_MUNICIPAL, N), {}),
    (cmd.Reject(**base(reason=RejectionReason.NOT_LISTED_HERE)), "reject",
     (A, RejectionReason.NOT_LISTED_HERE, N), {}),
    (cmd.AddParticipant(**base(unit_id=OTHER_PRIMARY, part=Part.PRIMARY_CARE)), "add_participant",
     (A, OTHER_PRIMARY, Part.PRIMARY_CARE, N), {}),
    (cmd.RemoveParticipant(**base(unit_id=MUNICIPAL)), "remove_participant", (A, MUNICIPAL, N), {}),
    (cmd.AppointNamedCareContact(**base(contact_user_id="user-fvk")), "appoint_named_care_contact",
     (A, "user-fvk", N), {}),
    (cmd.ChangeEstimatedDischarge(**base(estimated_discharge_at=LATER)), "change_estimated_discharge",
     (A, LATER, N), {}),
    (cmd.UpdatePlanning(**base(form=FORM)), "update_planning", (A, FORM, N), {}),
    (cmd.MarkReadyForDischarge(**base()), "mark_ready_for_discharge", (A, N), {}),
    (cmd.WithdrawReadyForDischarge(**base()), "withdraw_ready_for_discharge", (A, N), {}),
    (cmd.SetSipApplies(**base(applies=True)), "set_sip_applies", (A, True, N), {"consent": None}),
    (cmd.SetSipApplies(**base(applies=True, consent=False)), "set_sip_applies", (A, True, N), {"consent": False}),
    (cmd.SetSipApplies(**base(applies=False)), "set_sip_applies", (A, False, N), {"consent": None}),
    (cmd.SendSipInvitation(**base()), "send_sip_invitation", (A, N), {}),
    (cmd.SetLiabilityFacts(**base(patient_refused_services=True, outpatient_services_missing=False)),
     "set_liability_facts", (A, N), {"patient_refused_services": True, "outpatient_services_missing": False}),
    (cmd.UpdateHomeReadiness(**base(readiness=READINESS)), "update_home_readiness", (A, READINESS, N), {}),
    (cmd.StartLeave(**base()), "start_leave", (A, N), {}),
    (cmd.EndLeave(**base()), "end_leave", (A, N), {}),
    (cmd.SendDischargeNotice(**base(discharged_at=LATER, information=HOME_INFO)), "send_discharge_notice",
     (A, LATER, N), {"information": HOME_INFO}),
    (cmd.Interrupt(**base(reason=InterruptionReason.COMPULSORY_OUTPATIENT_CARE)), "interrupt",
     (A, InterruptionReason.COMPULSORY_OUTPATIENT_CARE, N), {}),
    (cmd.Cancel(**base()), "cancel", (A, N), {}),
    (cmd.Close(**base()), "close", (A, N), {}),
]
# Guarded per field (never by the case's version).
PER_FIELD = [
    (cmd.ChangePlanning(case_id=CASE_ID, edits=EDITS), "change_planning", (A, EDITS, N), {}),
]


@pytest.mark.parametrize(("command", "method", "args", "kwargs"), ROUTING + PER_FIELD,
                         ids=[f"{type(r[0]).__name__}-{i}" for i, r in enumerate(ROUTING + PER_FIELD)])
def test_command_calls_its_method(command: cmd.CaseCommand, method: str, args: tuple[Any, ...],
                                  kwargs: dict[str, Any]) -> None:
    fake = RecordingCase()
    command.apply_to(cast(DischargeCase, fake), WARD_USER, NOW)
    assert fake.calls == [(method, args, kwargs)]


def test_every_command_is_routed() -> None:
    versioned = set(cmd.VersionedCaseCommand.__subclasses__())
    assert versioned == {type(r[0]) for r in ROUTING}
    per_field = set(cmd.CaseCommand.__subclasses__()) - {cmd.VersionedCaseCommand}
    assert per_field == {type(r[0]) for r in PER_FIELD}
    bases = (cmd.CaseCommand, cmd.VersionedCaseCommand)
    public = {name for name in dir(cmd) if isinstance(getattr(cmd, name), type)
              and issubclass(getattr(cmd, name), cmd.CaseCommand) and getattr(cmd, name) not in bases}
    assert public == {c.__name__ for c in versioned | per_field}


@pytest.mark.parametrize("command", [cmd.CaseCommand(case_id=CASE_ID),
                                     cmd.VersionedCaseCommand(case_id=CASE_ID, expected_version=0)],
                         ids=lambda c: type(c).__name__)
def test_the_base_commands_do_nothing_by_themselves(command: cmd.CaseCommand) -> None:
    with pytest.raises(NotImplementedError):
        command.apply_to(cast(DischargeCase, RecordingCase()), WARD_USER, NOW)


def test_a_planning_edit_carries_no_case_version() -> None:
    command = cmd.ChangePlanning(case_id=CASE_ID, edits=EDITS)
    assert not isinstance(command, cmd.VersionedCaseCommand)
    assert not hasattr(command, "expected_version")
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.edits = ()  # type: ignore[misc]
    assert hash(command) == hash(dataclasses.replace(command))


@pytest.mark.parametrize("command", [r[0] for r in ROUTING], ids=lambda c: type(c).__name__)
def test_commands_are_frozen_and_carry_the_version(command: cmd.VersionedCaseCommand) -> None:
    assert (command.case_id, command.expected_version) == (CASE_ID, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.expected_version = 4  # type: ignore[misc]
    assert dataclasses.replace(command) == command
    assert hash(command) == hash(dataclasses.replace(command))


def test_commands_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        cmd.Close(CASE_ID, 0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        cmd.Forward(case_id=CASE_ID, expected_version=0)  # type: ignore[call-arg]


def test_add_participant_without_a_part_is_refused_before_the_case_is_touched() -> None:
    fake = RecordingCase()
    with pytest.raises(InvalidValue) as info:
        cmd.AddParticipant(**base(unit_id=OTHER_PRIMARY)).apply_to(cast(DischargeCase, fake), WARD_USER, NOW)
    assert info.value.field == "part"
    assert fake.calls == []


def test_acknowledge_does_not_share_its_ids_with_the_case() -> None:
    fake = RecordingCase()
    command = cmd.Acknowledge(**base(notice_ids=("n1",)))
    command.apply_to(cast(DischargeCase, fake), MUNICIPAL_USER, NOW)
    passed = fake.calls[0][1][2]
    assert isinstance(passed, list)
    passed.append("mutated")
    assert command.notice_ids == ("n1",)


# ----- against the real aggregate -------------------------------------------------------------------------


def test_a_whole_discharge_through_commands() -> None:
    clock = Clock(at(2026, 3, 2, 8))
    case = register()
    steps: list[tuple[cmd.CaseCommand, Actor]] = [
        (cmd.SendAdmissionNotice(**base()), WARD_USER),
        (cmd.Acknowledge(**base()), MUNICIPAL_USER),
        (cmd.AppointNamedCareContact(**base(contact_user_id="user-fvk")), PRIMARY_USER),
        (cmd.UpdatePlanning(**base(form=FORM)), MUNICIPAL_USER),
        (cmd.ChangePlanning(case_id=CASE_ID, edits=(PlanningEdit(PlanningField.ADL, "Går själv", 0),)), WARD_USER),
        (cmd.SetSipApplies(**base(applies=True)), PRIMARY_USER),
        (cmd.ChangeEstimatedDischarge(**base(estimated_discharge_at=LATER)), WARD_USER),
        (cmd.MarkReadyForDischarge(**base()), WARD_USER),
        (cmd.WithdrawReadyForDischarge(**base()), WARD_USER),
        (cmd.MarkReadyForDischarge(**base()), WARD_USER),
        (cmd.SendSipInvitation(**base()), PRIMARY_USER),
        (cmd.UpdateHomeReadiness(**base(readiness=READINESS)), WARD_USER),
        (cmd.StartLeave(**base()), WARD_USER),
        (cmd.EndLeave(**base()), WARD_USER),
        (cmd.SetLiabilityFacts(**base(patient_refused_services=False, outpatient_services_missing=True)),
         MUNICIPAL_USER),
    ]
    for command, actor in steps:
        command.apply_to(case, actor, clock.tick(timedelta(hours=1)))
    discharged = clock.tick(timedelta(hours=1))
    cmd.SendDischargeNotice(**base(discharged_at=discharged, information=HOME_INFO)).apply_to(case, WARD_USER,
                                                                                             discharged)
    cmd.Close(**base()).apply_to(case, WARD_USER, clock.tick())

    assert case.state is CaseState.CLOSED
    assert case.named_care_contact is not None
    assert case.planning[MUNICIPAL].notes == FORM.notes
    assert case.planning[WARD].adl == "Går själv"
    assert case.estimated_discharge_at == LATER
    assert len(case.ready_periods) == 2
    assert case.ready_periods[-1].ended_by_discharge
    assert case.sip_invitation_sent_at is not None
    assert case.outpatient_services_missing
    assert case.home_readiness == READINESS
    assert [n.kind for n in case.notices] == [
        NoticeKind.ADMISSION, NoticeKind.ESTIMATE_CHANGED, NoticeKind.READY, NoticeKind.READY_WITHDRAWN,
        NoticeKind.READY, NoticeKind.SIP_INVITATION, NoticeKind.DISCHARGE]
    assert len(case.pending_events) == len(steps) + 3  # registered, discharge notice, closed


@pytest.mark.parametrize(
    ("state", "command", "actor", "error"),
    [
        (CaseState.ADMITTED, cmd.MarkReadyForDischarge(**base()), WARD_USER, InvalidTransition),
        (CaseState.PLANNING, cmd.MarkReadyForDischarge(**base()), MUNICIPAL_USER, NotAllowedForPart),
        (CaseState.PLANNING, cmd.Acknowledge(**base()), WARD_USER, NotAllowedForPart),
        (CaseState.ADMITTED, cmd.Acknowledge(**base()), MUNICIPAL_USER, NotAllowedForPart),
        (CaseState.READY, cmd.SendDischargeNotice(**base(discharged_at=NOW, information=HOME_INFO)), PRIMARY_USER,
         NotAllowedForPart),
        (CaseState.PLANNING, cmd.Close(**base()), WARD_USER, InvalidTransition),
        (CaseState.PLANNING, cmd.Acknowledge(**base(notice_ids=("nope",))), MUNICIPAL_USER, InvalidValue),
        (CaseState.PLANNING, cmd.Forward(**base(to_unit_id=MUNICIPAL)), MUNICIPAL_USER, InvalidValue),
        (CaseState.READY, cmd.SendDischargeNotice(**base(discharged_at=at(2026, 3, 1), information=HOME_INFO)),
         WARD_USER, InvalidValue),
        (CaseState.PLANNING,
         cmd.ChangeEstimatedDischarge(**base(estimated_discharge_at=datetime(2026, 3, 9))),  # deliberately naive
         WARD_USER, InvalidValue),
        (CaseState.CLOSED, cmd.Interrupt(**base(reason=InterruptionReason.DIED)), WARD_USER, InvalidTransition),
        (CaseState.CANCELLED, cmd.Reject(**base(reason=RejectionReason.OTHER)), MUNICIPAL_USER, InvalidTransition),
    ],
)
def test_commands_are_refused_by_the_rules(state: CaseState, command: cmd.CaseCommand, actor: Actor,
                                           error: type[Exception]) -> None:
    case = build_case(state)
    before = snapshot(case)
    with pytest.raises(error):
        command.apply_to(case, actor, NOW)
    assert snapshot(case) == before
