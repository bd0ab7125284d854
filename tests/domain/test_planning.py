"""Planning forms edited per field: each field carries its own revision, like a SIP's contents.

Two people editing different fields (of one form, or of different units' forms) never conflict, and no other
action on the case makes a planning edit stale; two editing the same field get a `FieldConflict` with the
current value and revision, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import events as ev
from domain.discharge_case import Actor, CaseState
from domain.errors import FieldConflict, InvalidTransition, InvalidValue, NotAllowedForPart
from domain.planning import (
    MAX_PLANNING_TEXT,
    Need,
    PlanningEdit,
    PlanningField,
    PlanningForm,
    clean_planning_value,
)
from tests.domain.builders import (
    MUNICIPAL,
    MUNICIPAL_USER,
    PRIMARY,
    PRIMARY_USER,
    STRANGER_USER,
    WARD,
    WARD_USER,
    at,
    build_case,
    last_event,
    snapshot,
    walk_strings,
)

NOW = at(2026, 3, 5, 9)
COLLEAGUE = Actor("user-handlaggare-kollega", MUNICIPAL)  # another user of the same unit
AIDS, ADL, NOTES, NEEDS = (PlanningField.AIDS, PlanningField.ADL, PlanningField.NOTES,
                           PlanningField.EXPECTED_NEEDS)


def edit(name: PlanningField, value: str | tuple[Need, ...], revision: int = 0) -> PlanningEdit:
    return PlanningEdit(name, value, revision)


def test_a_new_form_has_every_field_at_revision_zero() -> None:
    form = PlanningForm()
    assert {f: form.revision(f) for f in PlanningField} == dict.fromkeys(PlanningField, 0)


def test_a_change_moves_only_its_fields_to_the_next_revision() -> None:
    case = build_case(CaseState.PLANNING)
    changed = case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator"), edit(NEEDS, (Need.HOME_HELP,))], NOW)
    assert changed == (NEEDS, AIDS)  # in form order
    form = case.planning[MUNICIPAL]
    assert (form.aids, form.expected_needs) == ("Rollator", (Need.HOME_HELP,))
    assert (form.revision(AIDS), form.revision(NEEDS), form.revision(ADL)) == (1, 1, 0)
    assert (form.updated_at, form.updated_by_user_id) == (NOW, MUNICIPAL_USER.user_id)
    case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator och duschpall", 1)], NOW + timedelta(minutes=5))
    assert case.planning[MUNICIPAL].revision(AIDS) == 2
    assert case.planning[MUNICIPAL].revision(NEEDS) == 1


def test_two_people_editing_different_fields_of_one_form_never_conflict() -> None:
    case = build_case(CaseState.PLANNING)
    read = PlanningForm()  # both read the empty form
    case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator", read.revision(AIDS))], NOW)
    case.change_planning(COLLEAGUE, [edit(ADL, "Går med stöd", read.revision(ADL))], NOW + timedelta(minutes=1))
    form = case.planning[MUNICIPAL]
    assert (form.aids, form.adl) == ("Rollator", "Går med stöd")
    assert form.updated_by_user_id == COLLEAGUE.user_id


def test_edits_of_different_units_forms_and_other_actions_never_conflict() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(MUNICIPAL_USER, [edit(NOTES, "Bor ensam")], NOW)
    case.mark_ready_for_discharge(WARD_USER, NOW + timedelta(minutes=1))  # the case moves on meanwhile
    case.change_planning(PRIMARY_USER, [edit(NOTES, "Diabetes följs upp")], NOW + timedelta(minutes=2))
    case.change_planning(WARD_USER, [edit(NOTES, "Dosett")], NOW + timedelta(minutes=3))
    assert {u: f.notes for u, f in case.planning.items()} == {
        MUNICIPAL: "Bor ensam", PRIMARY: "Diabetes följs upp", WARD: "Dosett"}
    assert all(f.revision(NOTES) == 1 for f in case.planning.values())


def test_two_people_editing_the_same_field_see_the_conflict_and_nothing_is_written() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(COLLEAGUE, [edit(AIDS, "Trygghetslarm")], NOW)
    case.pending_events.clear()
    before = snapshot(case)
    with pytest.raises(FieldConflict) as raised:  # read at revision 0, the field is at 1 now
        case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator"), edit(ADL, "Går själv")], NOW)
    conflict = raised.value
    assert (conflict.code, conflict.field, conflict.item_id) == ("field_conflict", "aids", None)
    assert (conflict.current_value, conflict.current_revision) == ("Trygghetslarm", 1)
    assert [c.field for c in conflict.conflicts] == ["aids"]
    assert snapshot(case) == before  # all or nothing: ADL was not written either
    assert case.pending_events == []
    # Re-sent from the current revision, it overwrites knowingly.
    case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator", conflict.current_revision)], NOW)
    assert case.planning[MUNICIPAL].aids == "Rollator"


def test_a_conflict_names_every_clashing_field() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(COLLEAGUE, [edit(AIDS, "Rullstol"), edit(NEEDS, (Need.AIDS,))], NOW)
    with pytest.raises(FieldConflict) as raised:
        case.change_planning(MUNICIPAL_USER, [edit(NOTES, "ny"), edit(AIDS, "Rollator"),
                                              edit(NEEDS, (Need.HOME_HELP,))], NOW)
    assert raised.value.field == "expected_needs"  # the first in form order
    assert [(c.field, c.current_value, c.current_revision) for c in raised.value.conflicts] == [
        ("expected_needs", (Need.AIDS,), 1), ("aids", "Rullstol", 1)]


def test_asking_for_the_value_already_there_is_no_change_and_no_conflict() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(COLLEAGUE, [edit(AIDS, "Rollator")], NOW)
    case.pending_events.clear()
    before = snapshot(case)
    assert case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator", 0)], NOW + timedelta(hours=1)) == ()
    assert snapshot(case) == before
    assert case.pending_events == []  # no event: the application keeps the case's version


def test_need_flags_are_a_set_in_a_stable_order() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(MUNICIPAL_USER, [edit(NEEDS, (Need.SAFETY_ALARM, Need.HOME_HELP, Need.HOME_HELP))], NOW)
    assert case.planning[MUNICIPAL].expected_needs == (Need.HOME_HELP, Need.SAFETY_ALARM)
    case.pending_events.clear()
    assert case.change_planning(MUNICIPAL_USER, [edit(NEEDS, (Need.SAFETY_ALARM, Need.HOME_HELP), 1)], NOW) == ()


def test_the_event_names_the_unit_and_the_changed_fields_never_the_text() -> None:
    case = build_case(CaseState.PLANNING)
    secret = "Dottern Anna Svensson, 070-123 45 67"
    case.change_planning(MUNICIPAL_USER, [edit(NOTES, secret), edit(AIDS, "")], NOW)  # aids unchanged
    event = last_event(case)
    assert isinstance(event, ev.PlanningUpdated)
    assert (event.unit_id, event.fields) == (MUNICIPAL, ("notes",))
    assert not any(secret in s for s in walk_strings(event))
    assert case.timeline[-1].action == "planning_updated"


def test_the_whole_form_write_moves_the_revisions_of_the_fields_it_changes() -> None:
    case = build_case(CaseState.PLANNING)
    case.change_planning(MUNICIPAL_USER, [edit(AIDS, "Rollator")], NOW)
    case.update_planning(COLLEAGUE, PlanningForm(aids="Rollator", adl="Går själv",
                                                 expected_needs=(Need.AIDS, Need.HOME_HELP)), NOW)
    form = case.planning[MUNICIPAL]
    assert (form.revision(AIDS), form.revision(ADL), form.revision(NEEDS), form.revision(NOTES)) == (1, 1, 1, 0)
    assert form.expected_needs == (Need.HOME_HELP, Need.AIDS)
    event = last_event(case)
    assert isinstance(event, ev.PlanningUpdated)
    assert event.fields == ("expected_needs", "adl")
    # Someone who read ADL before the whole-form write now sees the conflict instead of overwriting it.
    with pytest.raises(FieldConflict):
        case.change_planning(MUNICIPAL_USER, [edit(ADL, "Rullstol", 0)], NOW)


def test_a_whole_form_write_that_changes_nothing_records_nothing() -> None:
    """Else the case's version would move on and every other user's versioned action would become stale."""
    case = build_case(CaseState.PLANNING)
    case.update_planning(COLLEAGUE, PlanningForm(aids="Rollator", expected_needs=(Need.AIDS, Need.HOME_HELP)), NOW)
    case.pending_events.clear()
    before = snapshot(case)
    # The same form again (need flags in another order, repeated): no change, no event, no timeline entry.
    changed = case.update_planning(MUNICIPAL_USER, PlanningForm(
        aids="Rollator", expected_needs=(Need.HOME_HELP, Need.AIDS, Need.AIDS)), NOW + timedelta(hours=1))
    assert case.pending_events == []
    assert snapshot(case) == before
    assert changed == ()
    assert case.planning[MUNICIPAL].updated_by_user_id == COLLEAGUE.user_id
    # An empty form from a unit that has none yet is no change either: no form appears.
    assert case.update_planning(PRIMARY_USER, PlanningForm(), NOW) == ()
    assert (PRIMARY not in case.planning, case.pending_events) == (True, [])


@pytest.mark.parametrize(("edits", "field"), [
    ([], "fields"),
    ([edit(AIDS, "a"), edit(AIDS, "b")], "fields"),
    ([edit(NEEDS, "home_help")], "expected_needs"),
    ([PlanningEdit(NEEDS, ("teleportation",), 0)], "expected_needs"),  # type: ignore[arg-type]
    ([PlanningEdit(AIDS, (Need.AIDS,), 0)], "aids"),
    ([edit(NOTES, "x" * (MAX_PLANNING_TEXT + 1))], "notes"),
])
def test_invalid_edits_are_refused_before_anything_changes(edits: list[PlanningEdit], field: str) -> None:
    case = build_case(CaseState.PLANNING)
    before = snapshot(case)
    with pytest.raises(InvalidValue) as raised:
        case.change_planning(MUNICIPAL_USER, edits, NOW)
    assert raised.value.field == field
    assert snapshot(case) == before


def test_text_is_kept_as_typed() -> None:
    assert clean_planning_value(NOTES, "  två rader\nmed mellanslag  ") == "  två rader\nmed mellanslag  "


def test_only_a_participating_unit_edits_and_only_its_own_form() -> None:
    case = build_case(CaseState.PLANNING)
    with pytest.raises(NotAllowedForPart):
        case.change_planning(STRANGER_USER, [edit(NOTES, "x")], NOW)
    case.change_planning(PRIMARY_USER, [edit(NOTES, "x")], NOW)
    assert set(case.planning) == {PRIMARY}


@pytest.mark.parametrize("state", [CaseState.ADMITTED, CaseState.DISCHARGED, CaseState.CLOSED,
                                   CaseState.INTERRUPTED, CaseState.CANCELLED])
def test_planning_is_edited_only_while_the_parties_plan(state: CaseState) -> None:
    case = build_case(state)
    with pytest.raises((InvalidTransition, NotAllowedForPart)):
        case.change_planning(WARD_USER, [edit(NOTES, "x")], NOW)
