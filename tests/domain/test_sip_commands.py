"""SIP commands: each calls its aggregate method with its own fields; the guard each one carries."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any, cast

import pytest

from domain.sip import (
    Answer,
    CloseReason,
    ConsentForm,
    ConsentGiver,
    FieldConflict,
    GoalContent,
    InviteeKind,
    ItemList,
    NamedParticipantKind,
    NeedContent,
    PlanField,
    SipPlan,
)
from domain.sip import commands as cmd
from tests.domain.builders import MUNICIPAL, MUNICIPAL_USER, at
from tests.domain.sip_builders import OTHER_MUNICIPAL_REF, PLAN_ID, PSYCH_USER, build_plan

NOW = at(2026, 3, 11, 9)
LATER = at(2026, 3, 20, 13)
A, N = MUNICIPAL_USER, NOW


class RecordingPlan:
    """A plain fake of the aggregate: remembers every method call instead of applying rules."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record


P = {"plan_id": PLAN_ID}
V = {"plan_id": PLAN_ID, "expected_version": 4}
GOAL = GoalContent("mål")

ROUTING: list[tuple[cmd.SipCommand, str, tuple[Any, ...], dict[str, Any]]] = [
    (cmd.ChangeSipField(**P, field=PlanField.OWN_CONTRIBUTION, value="x", expected_revision=2), "change_field",
     (A, PlanField.OWN_CONTRIBUTION, "x", 2, N), {}),
    (cmd.AddSipItem(**P, list_name=ItemList.GOALS, content=GOAL), "add_item", (A, ItemList.GOALS, GOAL, N),
     {"item_id": None}),
    (cmd.AddSipItem(**P, list_name=ItemList.GOALS, content=GOAL, item_id="g"), "add_item",
     (A, ItemList.GOALS, GOAL, N), {"item_id": "g"}),
    (cmd.ChangeSipItem(**P, list_name=ItemList.GOALS, item_id="g", content=GOAL, expected_revision=3),
     "change_item", (A, ItemList.GOALS, "g", GOAL, 3, N), {}),
    (cmd.RemoveSipItem(**P, list_name=ItemList.GOALS, item_id="g", expected_revision=3), "remove_item",
     (A, ItemList.GOALS, "g", 3, N), {}),
    (cmd.ApproveSipVersion(**P, content_revision=9), "approve", (A, 9, N), {}),
    (cmd.WithdrawSipConsent(**P), "withdraw_consent", (A, N, None), {}),
    (cmd.WithdrawSipConsent(**P, withdrawn_at=LATER), "withdraw_consent", (A, N, LATER), {}),
    (cmd.ScheduleSipMeeting(**P, starts_at=LATER, ends_at=LATER + timedelta(hours=1), place="Hemma",
                            invite_unit_ids=(MUNICIPAL,)), "schedule_meeting", (A,),
     {"starts_at": LATER, "ends_at": LATER + timedelta(hours=1), "now": N, "place": "Hemma", "video_link": "",
      "invite_unit_ids": (MUNICIPAL,), "invite_person": True, "invite_participant_ids": None, "meeting_id": None}),
    (cmd.AnswerSipInvitation(**P, meeting_id="m", answer=Answer.DECLINED), "answer_invitation",
     (A, "m", Answer.DECLINED, N), {"invitee_kind": InviteeKind.UNIT, "invitee_ref": None}),
    (cmd.AddSipUnit(**V, unit=OTHER_MUNICIPAL_REF), "add_unit", (A, OTHER_MUNICIPAL_REF, N), {}),
    (cmd.AddSipNamedParticipant(**V, kind=NamedParticipantKind.OTHER_ACTOR, name="FK", organisation="FK"),
     "add_named_participant", (A, NamedParticipantKind.OTHER_ACTOR, "FK", N),
     {"organisation": "FK", "role": "", "participant_id": None}),
    (cmd.RemoveSipParticipant(**V, participant_id="p"), "remove_participant", (A, "p", N), {}),
    (cmd.GiveSipConsent(**V, given_by=ConsentGiver.PERSON, form=ConsentForm.WRITTEN, scope_unit_ids=(MUNICIPAL,),
                        given_at=NOW), "give_consent", (A,),
     {"given_by": ConsentGiver.PERSON, "form": ConsentForm.WRITTEN, "scope_unit_ids": (MUNICIPAL,), "given_at": NOW,
      "now": N, "next_of_kin_may_take_part": True, "patient_portal": False, "consent_id": None}),
    (cmd.RescheduleSipMeeting(**V, meeting_id="m", starts_at=LATER, ends_at=LATER + timedelta(hours=1)),
     "reschedule_meeting", (A, "m"),
     {"starts_at": LATER, "ends_at": LATER + timedelta(hours=1), "now": N, "place": None, "video_link": None}),
    (cmd.CancelSipMeeting(**V, meeting_id="m"), "cancel_meeting", (A, "m", N), {}),
    (cmd.RecordSipFollowUp(**V, held_at=NOW), "record_follow_up", (A, NOW, N), {"notes": "", "follow_up_id": None}),
    (cmd.HandOverSipPlan(**V, to_unit_id=MUNICIPAL), "hand_over", (A, MUNICIPAL, N), {}),
    (cmd.CloseSipPlan(**V, reason=CloseReason.GOALS_MET), "close", (A, CloseReason.GOALS_MET, N), {}),
]


@pytest.mark.parametrize(("command", "method", "args", "kwargs"), ROUTING, ids=lambda v: type(v).__name__)
def test_each_command_calls_its_method(command: cmd.SipCommand, method: str, args: tuple[Any, ...],
                                       kwargs: dict[str, Any]) -> None:
    plan = RecordingPlan()
    command.apply_to(cast(SipPlan, plan), A, N)
    assert plan.calls == [(method, args, kwargs)]


def test_every_command_is_routed() -> None:
    covered = {type(c) for c, *_ in ROUTING}
    defined = {c for c in vars(cmd).values()
               if isinstance(c, type) and issubclass(c, cmd.SipCommand)
               and c not in (cmd.SipCommand, cmd.VersionedSipCommand)}
    assert covered == defined


CONTENT_COMMANDS = {cmd.ChangeSipField, cmd.AddSipItem, cmd.ChangeSipItem, cmd.RemoveSipItem, cmd.ApproveSipVersion}


@pytest.mark.parametrize("command_type", sorted(CONTENT_COMMANDS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_content_commands_are_not_guarded_by_the_plan_version(command_type: type[cmd.SipCommand]) -> None:
    assert not issubclass(command_type, cmd.VersionedSipCommand)
    assert "expected_version" not in {f.name for f in dataclasses.fields(command_type)}


def test_the_base_command_applies_nothing() -> None:
    with pytest.raises(NotImplementedError):
        cmd.SipCommand(plan_id=PLAN_ID).apply_to(build_plan(), A, N)


def test_commands_apply_the_rules() -> None:
    plan = build_plan()
    first = cmd.ChangeSipField(plan_id=PLAN_ID, field=PlanField.NEXT_FOLLOW_UP_ON, value=date(2026, 5, 1),
                               expected_revision=1)
    first.apply_to(plan, MUNICIPAL_USER, NOW)
    with pytest.raises(FieldConflict):  # another value from the same (now stale) read
        dataclasses.replace(first, value=date(2026, 5, 2)).apply_to(plan, PSYCH_USER, NOW)
    cmd.ChangeSipItem(plan_id=PLAN_ID, list_name=ItemList.NEEDS, item_id="need-1", content=NeedContent("Ändrat"),
                      expected_revision=1).apply_to(plan, PSYCH_USER, NOW)
    assert plan.contents.next_follow_up_on.value == date(2026, 5, 1)
    assert plan.contents.needs[0].content == NeedContent("Ändrat")
