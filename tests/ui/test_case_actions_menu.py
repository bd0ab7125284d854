"""The UI offers on a case exactly what the API allows the acting unit (`allowed_actions`), whatever the case's
state or the unit says: it keeps no state machine, inbox rule or role set of its own; a refusal is told in Swedish
by the problem's `reason`; every action the API names has its place in the UI."""

from __future__ import annotations

from typing import Any

import pytest

from domain.case_refusals import CaseAction, CaseRefusal
from ui.api_client import REFUSAL_MESSAGES, problem_message
from ui.components import actions as a
from ui.live import in_inbox_of

UNIT = "00000000-0000-4000-8000-0000000000aa"
SECTION_ACTIONS = {a.ADD_PARTICIPANT, a.REMOVE_PARTICIPANT, a.NEEDS_IDENTIFIED, a.LIABILITY_FACTS, a.HOME_READINESS}


def case(state: str, allowed: list[str], unread: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "version": 3, "state": state, "acting_unit_id": UNIT, "allowed_actions": allowed,
            "acknowledgement_status": [{"unit_id": UNIT, "unacknowledged": unread}], **extra}


@pytest.mark.parametrize("state", ["admitted", "planning", "discharged", "closed", "cancelled"])
def test_the_menu_is_what_the_api_allows_in_any_state(state: str) -> None:
    """The same answer from the API gives the same menu, whatever state the case is in: the state is not read."""
    allowed = ["close", "start_leave", "appoint_named_care_contact", "send_sip_invitation", "forward"]
    assert a.actions_for(case(state, allowed)) == [a.LEAVE, a.CLOSE, a.CONTACT, a.SIP, a.FORWARD]
    assert a.actions_for(case(state, [])) == []


def test_acknowledging_is_offered_when_allowed_and_something_is_unread() -> None:
    assert a.ACK in a.actions_for(case("planning", ["acknowledge"], unread=2))
    assert a.ACK not in a.actions_for(case("planning", ["acknowledge"], unread=0))  # it would change nothing
    assert a.ACK not in a.actions_for(case("planning", [], unread=2))  # not the unit's to acknowledge


def test_every_api_action_has_its_place_in_the_ui() -> None:
    """Each action the API can allow is a menu action or a section's. (Whether a SIP applies is set in the UI by
    starting a SIP plan from the case, which marks it: the case view has no button of its own for it.)"""
    offered = {x.name for x in (*a.MENU, *SECTION_ACTIONS)} | {a.UPDATE_PLANNING}
    assert set(CaseAction) - offered == {CaseAction.SET_SIP_APPLIES}
    assert offered <= set(CaseAction)
    assert len({x.key for x in (*a.MENU, *SECTION_ACTIONS)}) == len(a.MENU) + len(SECTION_ACTIONS)


def test_the_inbox_is_what_the_api_says() -> None:
    assert in_inbox_of({"state": "closed", "inbox_unit_ids": [UNIT]}, UNIT)
    assert not in_inbox_of({"state": "planning", "inbox_unit_ids": [], "admission_notice_sent_at": "2026-03-02",
                            "participants": [{"unit_id": UNIT, "status": "active", "part": "municipal_unit"}]}, UNIT)


def test_every_refusal_reason_has_a_swedish_message() -> None:
    assert set(REFUSAL_MESSAGES) == set(CaseRefusal)
    problem = {"code": "invalid_transition", "reason": "case_not_ended", "detail": "cannot close the case ..."}
    assert problem_message(422, problem) == REFUSAL_MESSAGES["case_not_ended"]
    generic = "Åtgärden går inte att göra i ärendets nuvarande läge."
    assert problem_message(422, {"code": "invalid_transition"}) == generic
