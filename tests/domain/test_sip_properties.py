"""Property-based tests of the SIP plan: per-field editing never loses an edit, agreement is always
unanimous on one revision, and the diff is consistent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.discharge_case import Actor
from domain.errors import InvalidTransition
from domain.sip import (
    ChangeKind,
    ContentChanged,
    FieldConflict,
    GoalContent,
    ItemList,
    NeedContent,
    PlanContents,
    PlanField,
    SipPlan,
    diff_contents,
    same_contents,
)
from tests.domain.builders import MUNICIPAL_USER, at
from tests.domain.sip_builders import OWNER_USER, PSYCH_USER, build_plan

NOW = at(2026, 3, 11, 9)
EDITORS = (OWNER_USER, MUNICIPAL_USER, PSYCH_USER)
TEXTS = st.sampled_from(["", "a", "b", "c"])
SETTINGS = settings(max_examples=150, deadline=None)

# What the editors edit: the own contribution (a field), the need (an item) and a goal (an item).
TARGETS = ("own", "need", "goal")


def _plan_with_goal() -> SipPlan:
    plan = build_plan()
    plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("start"), NOW, item_id="goal-1")
    return plan


def _current(plan: SipPlan, target: str) -> tuple[object, int]:
    if target == "own":
        field = plan.contents.own_contribution
        return field.value, field.revision
    item = plan.contents.item(ItemList.NEEDS if target == "need" else ItemList.GOALS,
                              "need-1" if target == "need" else "goal-1")
    assert item is not None
    return item.content, item.revision


def _edit(plan: SipPlan, actor: Actor, target: str, text: str, revision: int) -> bool:
    if target == "own":
        return plan.change_field(actor, PlanField.OWN_CONTRIBUTION, text, revision, NOW)
    if target == "need":
        return plan.change_item(actor, ItemList.NEEDS, "need-1", NeedContent(text or "n"), revision, NOW)
    return plan.change_item(actor, ItemList.GOALS, "goal-1", GoalContent(text or "g"), revision, NOW)


def _content(target: str, text: str) -> object:
    if target == "own":
        return text
    return NeedContent(text or "n") if target == "need" else GoalContent(text or "g")


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(EDITORS) - 1), st.sampled_from(TARGETS), TEXTS), max_size=30))
def test_concurrent_editors_never_lose_an_edit(ops: list[tuple[int, str, str]]) -> None:
    """Each editor edits from what it last read. An edit lands exactly when nobody changed that field since;
    otherwise it conflicts, writes nothing, and tells the editor the current value and revision."""
    plan = _plan_with_goal()
    model = {t: _current(plan, t) for t in TARGETS}  # target -> (value, revision)
    known = [{t: model[t][1] for t in TARGETS} for _ in EDITORS]  # what each editor last read
    content_revision = plan.content_revision
    for editor, target, text in ops:
        value, revision = model[target]
        new_value = _content(target, text) if target != "own" else text.strip()
        conflict: FieldConflict | None = None
        try:
            changed = _edit(plan, EDITORS[editor], target, text, known[editor][target])
        except FieldConflict as error:
            conflict = error
        if conflict is not None:
            assert known[editor][target] != revision
            assert new_value != value  # wanting what is already there is never a conflict
            assert (conflict.current_value, conflict.current_revision) == (value, revision)
            known[editor][target] = conflict.current_revision  # the editor reads again
        else:
            assert known[editor][target] == revision or new_value == value
            assert changed == (new_value != value)
            if changed:
                model[target] = (new_value, revision + 1)
                content_revision += 1
            known[editor][target] = model[target][1]
        assert {t: _current(plan, t) for t in TARGETS} == model
        assert plan.content_revision == content_revision


@SETTINGS
@given(st.permutations(TARGETS), st.lists(TEXTS, min_size=3, max_size=3))
def test_editors_of_different_fields_never_conflict(order: list[str], texts: list[str]) -> None:
    """Editors that each edit their own field or item, all from the same read, all succeed, in any order."""
    plan = _plan_with_goal()
    read = {t: _current(plan, t)[1] for t in TARGETS}
    for editor, target in enumerate(order):
        _edit(plan, EDITORS[editor], target, texts[editor] + f" by {editor}", read[target])
    for target in TARGETS:
        assert _current(plan, target)[1] == read[target] + 1


@dataclass(frozen=True)
class Op:
    kind: str  # "edit" or "approve"
    actor: int
    fresh: bool = True  # approve the current revision (or a stale one)


OPS = st.one_of(st.builds(Op, st.just("edit"), st.integers(0, 2)),
                st.builds(Op, st.just("approve"), st.integers(0, 2), st.booleans()))


@SETTINGS
@given(st.lists(OPS, max_size=25))
def test_a_version_is_agreed_only_by_every_principal_on_one_revision(ops: list[Op]) -> None:
    plan = build_plan()
    principals = set(plan.principal_ids())
    snapshots: dict[int, PlanContents] = {}
    for step, op in enumerate(ops):
        actor = EDITORS[op.actor]
        now = NOW + timedelta(minutes=step)
        if op.kind == "edit":
            _edit(plan, actor, "own", f"text {step}", plan.contents.own_contribution.revision)
            assert plan.approvals == {}  # every edit invalidates pending approvals
            continue
        revision = plan.content_revision if op.fresh else plan.content_revision - 1
        before = dict(plan.approvals)
        versions = len(plan.versions)
        contents = plan.contents
        try:
            agreed = plan.approve(actor, revision, now)
        except ContentChanged:
            assert not op.fresh
            continue
        except InvalidTransition:  # already approved by this principal, or already agreed
            principal = plan.unit(actor.unit_id).principal_id  # type: ignore[union-attr]
            assert principal in before or not plan.has_unagreed_changes
            continue
        if agreed:
            assert len(plan.versions) == versions + 1
            version = plan.versions[-1]
            assert version.contents is contents
            assert {a.principal_id for a in version.approvals} == principals
            assert {a.content_revision for a in version.approvals} == {version.content_revision}
            assert plan.approvals == {}
            snapshots[version.number] = version.contents
        assert all(a.content_revision == plan.content_revision for a in plan.approvals.values())
    for number, contents in snapshots.items():
        assert plan.agreed_version(number).contents is contents  # agreed versions never change


EDIT_OPS = st.lists(st.tuples(st.sampled_from(["own", "add_goal", "change_need", "remove_goal", "follow"]),
                              TEXTS), max_size=8)


def _apply(plan: SipPlan, ops: list[tuple[str, str]], tag: str) -> PlanContents:
    for index, (kind, text) in enumerate(ops):
        if kind == "own":
            revision = plan.contents.own_contribution.revision
            plan.change_field(OWNER_USER, PlanField.OWN_CONTRIBUTION, text, revision, NOW)
        elif kind == "add_goal":
            plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent(text or "g"), NOW, item_id=f"{tag}-{index}")
        elif kind == "change_need":
            plan.change_item(OWNER_USER, ItemList.NEEDS, "need-1", NeedContent(text or "n"),
                             plan.contents.needs[0].revision, NOW)
        elif kind == "remove_goal" and plan.contents.goals:
            goal = plan.contents.goals[0]
            plan.remove_item(OWNER_USER, ItemList.GOALS, goal.id, goal.revision, NOW)
        elif kind == "follow":
            day = NOW.date() + timedelta(days=len(text))
            plan.change_field(OWNER_USER, PlanField.NEXT_FOLLOW_UP_ON, day, plan.contents.next_follow_up_on.revision,
                              NOW)
    return plan.contents


@SETTINGS
@given(EDIT_OPS, EDIT_OPS)
def test_the_diff_is_consistent(ops_a: list[tuple[str, str]], ops_b: list[tuple[str, str]]) -> None:
    a = _apply(_plan_with_goal(), ops_a, "a")
    b = _apply(_plan_with_goal(), ops_b, "b")
    forward, backward = diff_contents(a, b), diff_contents(b, a)
    assert diff_contents(a, a).empty
    assert forward.empty == backward.empty == same_contents(a, b)
    assert forward.empty == (
        all(a.field(f).value == b.field(f).value for f in PlanField)
        and all([(i.id, i.content) for i in a.items(n)] == [(i.id, i.content) for i in b.items(n)] for n in ItemList))
    assert {(c.field, c.before, c.after) for c in forward.fields} == {(c.field, c.after, c.before)
                                                                      for c in backward.fields}

    def ids(diff_items: tuple[object, ...], kind: ChangeKind) -> set[tuple[object, str]]:
        return {(c.list_name, c.item_id) for c in diff_items if c.kind is kind}  # type: ignore[attr-defined]

    assert ids(forward.items, ChangeKind.ADDED) == ids(backward.items, ChangeKind.REMOVED)
    assert ids(forward.items, ChangeKind.CHANGED) == ids(backward.items, ChangeKind.CHANGED)
    for change in forward.items:
        if change.kind is ChangeKind.ADDED:
            assert b.item(change.list_name, change.item_id) is not None
            assert a.item(change.list_name, change.item_id) is None
