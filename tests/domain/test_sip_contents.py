"""SIP contents: per-field revisions and conflicts, list items with stable ids, validation, and the diff."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from domain.errors import InvalidValue, NotFound
from domain.sip import (
    ChangeKind,
    FieldChange,
    FieldConflict,
    GoalContent,
    ItemChange,
    ItemList,
    MeasureContent,
    NamedParticipantKind,
    NeedContent,
    PlanContents,
    PlanField,
    PlanState,
    ServiceContent,
    diff_contents,
    same_contents,
)
from domain.sip import events as ev
from tests.domain.builders import MUNICIPAL, MUNICIPAL_USER, PRIMARY, at
from tests.domain.sip_builders import (
    FOLLOW_UP_ON,
    OWNER_USER,
    PSYCH,
    PSYCH_USER,
    REGION,
    SOLNA,
    SUNDBYBERG,
    build_plan,
    last_sip_event,
    plan_snapshot,
    sip_event_types,
)

NOW = at(2026, 3, 11, 9)
OWN = PlanField.OWN_CONTRIBUTION


# ----- scalar fields ----------------------------------------------------------------------------------------


def test_a_field_change_bumps_its_revision_and_the_content_revision() -> None:
    plan = build_plan()
    content_revision = plan.content_revision
    assert plan.contents.own_contribution.revision == 0
    assert plan.change_field(MUNICIPAL_USER, OWN, "  Går promenad varje dag ", 0, NOW)
    field = plan.contents.own_contribution
    assert (field.value, field.revision, field.changed_at) == ("Går promenad varje dag", 1, NOW)
    assert (field.changed_by_user_id, field.changed_by_unit_id) == (MUNICIPAL_USER.user_id, MUNICIPAL)
    assert plan.content_revision == content_revision + 1
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipFieldChanged)
    assert (event.field, event.revision, event.content_revision) == ("own_contribution", 1, plan.content_revision)


def test_the_same_field_from_a_stale_read_conflicts_and_writes_nothing() -> None:
    plan = build_plan()
    plan.change_field(MUNICIPAL_USER, OWN, "Anna's version", 0, NOW)  # both read revision 0
    before = plan_snapshot(plan)
    with pytest.raises(FieldConflict) as raised:
        plan.change_field(PSYCH_USER, OWN, "Bo's version", 0, NOW)
    conflict = raised.value
    assert (conflict.code, conflict.field, conflict.item_id) == ("field_conflict", "own_contribution", None)
    assert (conflict.current_value, conflict.current_revision) == ("Anna's version", 1)
    assert plan_snapshot(plan) == before  # never a silent loss
    plan.change_field(PSYCH_USER, OWN, "Anna's and Bo's version", conflict.current_revision, NOW)
    assert plan.contents.own_contribution.value == "Anna's and Bo's version"
    assert plan.contents.own_contribution.revision == 2


def test_different_fields_from_the_same_read_never_conflict() -> None:
    plan = build_plan()
    read = plan.contents  # both editors read the plan once
    plan.change_field(MUNICIPAL_USER, OWN, "Promenader", read.own_contribution.revision, NOW)
    plan.change_field(PSYCH_USER, PlanField.NEXT_FOLLOW_UP_ON, date(2026, 5, 1), read.next_follow_up_on.revision,
                      NOW)
    plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", NeedContent("Ändrat behov"), read.needs[0].revision, NOW)
    assert plan.contents.own_contribution.value == "Promenader"
    assert plan.contents.next_follow_up_on.value == date(2026, 5, 1)
    assert plan.contents.needs[0].content == NeedContent("Ändrat behov")


def test_the_same_value_from_a_stale_read_is_no_conflict() -> None:
    plan = build_plan()
    plan.change_field(MUNICIPAL_USER, OWN, "Promenader", 0, NOW)
    plan.change_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", NeedContent("Samma"), 1, NOW)
    before = plan_snapshot(plan)
    assert not plan.change_field(PSYCH_USER, OWN, "Promenader", 0, NOW)  # both typed the same
    assert not plan.change_item(PSYCH_USER, ItemList.NEEDS, "need-1", NeedContent("Samma"), 1, NOW)
    assert plan_snapshot(plan) == before


def test_setting_the_value_a_field_has_changes_nothing() -> None:
    plan = build_plan()
    plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    before = plan_snapshot(plan)
    assert not plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, REGION, 1, NOW)
    assert plan_snapshot(plan) == before  # no event, no revision, the approval stands


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        (OWN, None, "text"),
        (OWN, date(2026, 5, 1), "text"),
        (OWN, "x" * 4001, "longer"),
        (PlanField.OVERALL_RESPONSIBILITY, SUNDBYBERG, "principal taking part"),
        (PlanField.NEXT_FOLLOW_UP_ON, "2026-05-01", "date"),
        (PlanField.NEXT_FOLLOW_UP_ON, datetime(2026, 5, 1, 9), "date"),
        (PlanField.NEXT_FOLLOW_UP_ON, date(2026, 3, 10), "passed"),
    ],
)
def test_field_values_are_checked(name: PlanField, value: object, match: str) -> None:
    plan = build_plan()
    revision = plan.contents.field(name).revision
    with pytest.raises(InvalidValue, match=match) as raised:
        plan.change_field(OWNER_USER, name, value, revision, NOW)  # type: ignore[arg-type]
    assert raised.value.field == name.value


def test_fields_can_be_cleared() -> None:
    plan = build_plan()
    plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, None, 1, NOW)
    plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, None, 1, NOW)
    assert plan.contents.overall_responsibility.value is None
    assert plan.contents.next_follow_up_on.value is None
    plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, NOW.date(), 2, NOW)  # today is fine


def test_the_overall_responsibility_must_be_a_principal_that_sees_the_plan() -> None:
    plan = build_plan(consent=False)
    with pytest.raises(InvalidValue):
        plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, SOLNA, 1, NOW)  # Solna awaits consent


# ----- list items -------------------------------------------------------------------------------------------


def test_add_item() -> None:
    plan = build_plan()
    item_id = plan.add_item(MUNICIPAL_USER, ItemList.GOALS, GoalContent("  Kunna gå till affären "), NOW)
    item = plan.contents.goals[-1]
    assert (item.id, item.content, item.revision, item.changed_by_unit_id) == (
        item_id, GoalContent("Kunna gå till affären"), 1, MUNICIPAL)
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipItemAdded)
    assert (event.list_name, event.item_id, event.revision) == ("goals", item_id, 1)
    assert event.content_revision == plan.content_revision


def test_concurrent_additions_both_land() -> None:
    plan = build_plan()
    a = plan.add_item(MUNICIPAL_USER, ItemList.NEEDS, NeedContent("Hemtjänst"), NOW)
    b = plan.add_item(PSYCH_USER, ItemList.NEEDS, NeedContent("Samtalsstöd"), NOW)
    assert [i.id for i in plan.contents.needs] == ["need-1", a, b]


def test_a_client_chosen_item_id_is_kept_and_unique() -> None:
    plan = build_plan()
    assert plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("a"), NOW, item_id="goal-x") == "goal-x"
    with pytest.raises(InvalidValue, match="already used"):
        plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("b"), NOW, item_id="goal-x")


def test_change_item_with_a_stale_revision_conflicts_with_the_current_content() -> None:
    plan = build_plan()
    plan.change_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", NeedContent("Version A"), 1, NOW)
    before = plan_snapshot(plan)
    with pytest.raises(FieldConflict) as raised:
        plan.change_item(PSYCH_USER, ItemList.NEEDS, "need-1", NeedContent("Version B"), 1, NOW)
    conflict = raised.value
    assert (conflict.field, conflict.item_id, conflict.current_revision) == ("needs", "need-1", 2)
    assert conflict.current_value == NeedContent("Version A")
    assert plan_snapshot(plan) == before
    event_types = sip_event_types(plan)
    assert event_types[-1] == "SipItemChanged"


def test_edits_of_different_items_in_the_same_list_never_conflict() -> None:
    plan = build_plan()
    other = plan.add_item(OWNER_USER, ItemList.NEEDS, NeedContent("Annat behov"), NOW)
    plan.change_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", NeedContent("A"), 1, NOW)
    plan.change_item(PSYCH_USER, ItemList.NEEDS, other, NeedContent("B"), 1, NOW)
    assert [(i.content.description, i.revision) for i in plan.contents.needs] == [("A", 2), ("B", 2)]


def test_unchanged_item_content_changes_nothing() -> None:
    plan = build_plan()
    before = plan_snapshot(plan)
    assert not plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", NeedContent(" Hjälp med insulin morgon och "
                                                                                  "kväll "), 1, NOW)
    assert plan_snapshot(plan) == before


def test_remove_item() -> None:
    plan = build_plan()
    with pytest.raises(FieldConflict):
        plan.remove_item(OWNER_USER, ItemList.NEEDS, "need-1", 7, NOW)  # nobody removes what they have not seen
    plan.remove_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", 1, NOW)
    assert plan.contents.needs == ()
    event = last_sip_event(plan)
    assert isinstance(event, ev.SipItemRemoved)
    assert (event.list_name, event.item_id) == ("needs", "need-1")
    with pytest.raises(NotFound, match="removed"):
        plan.change_item(PSYCH_USER, ItemList.NEEDS, "need-1", NeedContent("x"), 1, NOW)
    with pytest.raises(NotFound):
        plan.remove_item(PSYCH_USER, ItemList.NEEDS, "need-1", 1, NOW)


@pytest.mark.parametrize(
    ("list_name", "content", "field"),
    [
        (ItemList.NEEDS, GoalContent("fel lista"), "needs"),
        (ItemList.NEEDS, NeedContent("   "), "needs.description"),
        (ItemList.GOALS, GoalContent("x" * 4001), "goals.description"),
        (ItemList.SERVICES, ServiceContent(""), "services.description"),
        (ItemList.SERVICES, ServiceContent("x", contact_person="y" * 201), "services.contact_person"),
        (ItemList.SERVICES, ServiceContent("x", principal_id=SUNDBYBERG), "services.principal_id"),
        (ItemList.SERVICES, ServiceContent("x", principal_id=REGION, responsible_unit_id=MUNICIPAL),
         "services.principal_id"),
        (ItemList.MEASURES, MeasureContent("x", by_whom=" "), "measures.by_whom"),
        (ItemList.MEASURES, MeasureContent("x", by_whom="FK", participant_id="nobody"), "measures.participant_id"),
    ],
)
def test_item_contents_are_checked(list_name: ItemList, content: object, field: str) -> None:
    plan = build_plan()
    before = plan_snapshot(plan)
    with pytest.raises(InvalidValue) as raised:
        plan.add_item(OWNER_USER, list_name, content, NOW)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert plan_snapshot(plan) == before


def test_a_service_takes_the_principal_of_its_responsible_unit() -> None:
    plan = build_plan()
    item_id = plan.add_item(OWNER_USER, ItemList.SERVICES, ServiceContent("Samtal", responsible_unit_id=PSYCH), NOW)
    item = plan.contents.item(ItemList.SERVICES, item_id)
    assert item is not None
    assert item.content.principal_id == REGION
    # A unit outside the plan can be responsible when the principal is named.
    plan.add_item(OWNER_USER, ItemList.SERVICES,
                  ServiceContent("Hemtjänst", principal_id=SOLNA, responsible_unit_id="unit-hemtjanst-solna"), NOW)


def test_a_measure_can_name_a_participant() -> None:
    plan = build_plan()
    pid = plan.add_named_participant(OWNER_USER, NamedParticipantKind.OTHER_ACTOR, "Handläggare", NOW,
                                     organisation="Försäkringskassan")
    plan.add_item(OWNER_USER, ItemList.MEASURES, MeasureContent("Sjukpenning", by_whom="Försäkringskassan",
                                                                participant_id=pid), NOW)
    assert plan.contents.measures[0].content.participant_id == pid


# ----- versions and the diff --------------------------------------------------------------------------------


def test_diff_contents_by_value() -> None:
    plan = build_plan()
    old = plan.contents
    plan.change_field(OWNER_USER, OWN, "Promenader", 0, NOW)
    plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", NeedContent("Nytt behov"), 1, NOW)
    goal = plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("Bo kvar hemma"), NOW)
    plan.remove_item(OWNER_USER, ItemList.SERVICES, "service-1", 1, NOW)
    diff = diff_contents(old, plan.contents)
    assert diff.fields == (FieldChange(OWN, "", "Promenader"),)
    assert diff.changed_fields() == {OWN}
    assert diff.items == (
        ItemChange(ItemList.NEEDS, "need-1", ChangeKind.CHANGED, NeedContent("Hjälp med insulin morgon och kväll"),
                   NeedContent("Nytt behov")),
        ItemChange(ItemList.SERVICES, "service-1", ChangeKind.REMOVED, old.services[0].content, None),
        ItemChange(ItemList.GOALS, goal, ChangeKind.ADDED, None, GoalContent("Bo kvar hemma")),
    )
    assert not diff.empty
    assert diff_contents(plan.contents, plan.contents).empty


def test_an_edit_and_its_undo_make_no_difference() -> None:
    plan = build_plan()
    old = plan.contents
    plan.change_field(OWNER_USER, OWN, "tillfälligt", 0, NOW)
    plan.change_field(OWNER_USER, OWN, "", 1, NOW)
    plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", NeedContent("tillfälligt"), 1, NOW)
    plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", old.needs[0].content, 2, NOW)
    assert plan.contents != old  # revisions moved on
    assert same_contents(old, plan.contents)


def test_every_agreed_version_is_kept_and_comparable() -> None:
    plan = build_plan(PlanState.ACTIVE)
    first = plan.versions[0]
    later = NOW + timedelta(days=1)
    plan.change_field(PSYCH_USER, OWN, "Tar sin medicin själv", 0, later)
    plan.add_item(PSYCH_USER, ItemList.GOALS, GoalContent("Träffa barnbarnen"), later, item_id="goal-1")
    assert plan.has_unagreed_changes
    assert plan.current_version is first  # the version in force stays in force
    since = plan.diff_since_agreed()
    assert since.changed_fields() == {OWN}
    assert [(c.list_name, c.kind) for c in since.items] == [(ItemList.GOALS, ChangeKind.ADDED)]
    plan.approve(PSYCH_USER, plan.content_revision, later)
    plan.approve(MUNICIPAL_USER, plan.content_revision, later)
    assert [v.number for v in plan.versions] == [1, 2]
    assert plan.versions[0] is first
    assert first.contents.own_contribution.value == ""  # untouched by later edits
    diff = plan.diff_versions(1, 2)
    assert diff.fields == (FieldChange(OWN, "", "Tar sin medicin själv"),)
    assert diff.items == (ItemChange(ItemList.GOALS, "goal-1", ChangeKind.ADDED, None,
                                     GoalContent("Träffa barnbarnen")),)
    assert plan.diff_versions(2, 1).items[0].kind is ChangeKind.REMOVED
    assert plan.diff_since_agreed().empty
    with pytest.raises(NotFound):
        plan.diff_versions(1, 3)
    with pytest.raises(NotFound):
        plan.agreed_version(0)


def test_a_draft_diffs_against_empty_contents() -> None:
    plan = build_plan()
    diff = plan.diff_since_agreed()
    assert diff.changed_fields() == {PlanField.OVERALL_RESPONSIBILITY, PlanField.NEXT_FOLLOW_UP_ON}
    assert {(c.list_name, c.kind) for c in diff.items} == {(ItemList.NEEDS, ChangeKind.ADDED),
                                                            (ItemList.SERVICES, ChangeKind.ADDED)}
    assert diff.fields[1].after == FOLLOW_UP_ON
    assert PlanContents().own_contribution.revision == 0


def test_edits_are_attributed_per_field() -> None:
    plan = build_plan()
    plan.change_field(MUNICIPAL_USER, OWN, "x", 0, NOW)
    assert plan.contents.own_contribution.changed_by_unit_id == MUNICIPAL
    assert plan.contents.overall_responsibility.changed_by_unit_id == PRIMARY
