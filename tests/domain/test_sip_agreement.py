"""Agreement (justering): required contents, approvals per principal, invalidation by edits, agreed versions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.discharge_case import Actor
from domain.errors import InvalidTransition, NotAllowedForPart
from domain.organisation import PrincipalKind
from domain.sip import (
    ContentChanged,
    GoalContent,
    ItemList,
    MissingContents,
    NeedContent,
    PlanField,
    PlanState,
    Requirement,
    ServiceContent,
    SipPlan,
    UnitRef,
)
from domain.sip import events as ev
from tests.domain.builders import MUNICIPAL, MUNICIPAL_USER, at
from tests.domain.sip_builders import (
    OTHER_MUNICIPAL_REF,
    OTHER_MUNICIPAL_USER,
    OWNER_USER,
    PSYCH,
    PSYCH_REF,
    PSYCH_USER,
    REGION,
    SOLNA,
    SUNDBYBERG,
    build_plan,
    give_consent,
    last_sip_event,
    new_plan,
    plan_snapshot,
    sip_event_types,
)

NOW = at(2026, 3, 11, 9)
LATER = NOW + timedelta(hours=1)


# ----- required contents ------------------------------------------------------------------------------------


def test_a_fresh_plan_misses_everything() -> None:
    # "services complete" is asked only of services that exist
    assert new_plan().missing_for_agreement() == tuple(r for r in Requirement if r is not Requirement.SERVICES_COMPLETE)


def test_the_standard_plan_has_everything() -> None:
    assert build_plan().missing_for_agreement() == ()


def _clear(name: PlanField) -> Callable[[SipPlan], None]:
    def run(plan: SipPlan) -> None:
        plan.change_field(OWNER_USER, name, None, plan.contents.field(name).revision, NOW)
    return run


BREAKERS: dict[Requirement, Callable[[SipPlan], None]] = {
    Requirement.CONSENT: lambda p: p.withdraw_consent(OWNER_USER, NOW),
    Requirement.REGION_AND_MUNICIPALITY: lambda p: p.remove_participant(OWNER_USER, MUNICIPAL, NOW),
    Requirement.NEEDS: lambda p: p.remove_item(OWNER_USER, ItemList.NEEDS, "need-1", 1, NOW),
    Requirement.SERVICES: lambda p: p.remove_item(OWNER_USER, ItemList.SERVICES, "service-1", 1, NOW),
    Requirement.SERVICES_COMPLETE: lambda p: p.change_item(OWNER_USER, ItemList.SERVICES, "service-1",
                                                           ServiceContent("Hemtjänst", principal_id=SOLNA), 1, NOW),
    Requirement.OVERALL_RESPONSIBILITY: _clear(PlanField.OVERALL_RESPONSIBILITY),
    Requirement.NEXT_FOLLOW_UP: _clear(PlanField.NEXT_FOLLOW_UP_ON),
}


@pytest.mark.parametrize("requirement", list(Requirement), ids=str)
def test_each_requirement_alone_blocks_agreement(requirement: Requirement) -> None:
    plan = build_plan()
    BREAKERS[requirement](plan)
    missing = plan.missing_for_agreement()
    if requirement is Requirement.REGION_AND_MUNICIPALITY:
        # Removing the only municipality also leaves the service with a principal that no longer takes part.
        assert missing == (Requirement.REGION_AND_MUNICIPALITY, Requirement.SERVICES_COMPLETE)
    elif requirement is Requirement.CONSENT:
        # Without consent only the owner (the region) sees the plan.
        assert missing[:2] == (Requirement.CONSENT, Requirement.REGION_AND_MUNICIPALITY)
    else:
        assert missing == (requirement,)
    if plan.sharing_ended:
        return  # a plan without consent cannot be approved at all (see the consent tests)
    before = plan_snapshot(plan)
    with pytest.raises(MissingContents) as raised:
        plan.approve(OWNER_USER, plan.content_revision, NOW)
    assert raised.value.missing == missing
    assert raised.value.code == "missing_contents"
    assert isinstance(raised.value, InvalidTransition)
    assert plan_snapshot(plan) == before


def test_overall_responsibility_must_still_take_part() -> None:
    plan = build_plan()
    plan.change_field(OWNER_USER, PlanField.OVERALL_RESPONSIBILITY, SOLNA, 1, NOW)
    plan.add_unit(OWNER_USER, UnitRef("unit-solna-hemtjanst", SOLNA, PrincipalKind.MUNICIPALITY), NOW)
    plan.remove_participant(OWNER_USER, MUNICIPAL, NOW)
    assert Requirement.OVERALL_RESPONSIBILITY in plan.missing_for_agreement()  # the new unit awaits consent


def test_a_plan_of_one_kind_of_principal_cannot_be_agreed() -> None:
    plan = new_plan(units=(PSYCH_REF,))
    give_consent(plan)
    assert Requirement.REGION_AND_MUNICIPALITY in plan.missing_for_agreement()


# ----- approvals --------------------------------------------------------------------------------------------


def test_agreed_when_every_principal_approved_the_same_revision() -> None:
    plan = build_plan()
    revision = plan.content_revision
    assert not plan.approve(MUNICIPAL_USER, revision, NOW)
    assert set(plan.approvals) == {SOLNA}
    approved = last_sip_event(plan)
    assert isinstance(approved, ev.SipVersionApproved)
    assert (approved.principal_id, approved.content_revision) == (SOLNA, revision)
    assert plan.state is PlanState.DRAFT
    assert plan.approve(PSYCH_USER, revision, LATER)  # Region Stockholm, through another of its units
    assert plan.state is PlanState.ACTIVE
    assert plan.approvals == {}
    version = plan.versions[0]
    assert (version.number, version.content_revision, version.agreed_at) == (1, revision, LATER)
    assert version.contents is plan.contents
    assert [(a.principal_id, a.unit_id, a.at) for a in version.approvals] == [(REGION, PSYCH, LATER),
                                                                               (SOLNA, MUNICIPAL, NOW)]
    agreed = last_sip_event(plan)
    assert isinstance(agreed, ev.SipVersionAgreed)
    assert (agreed.version_number, agreed.content_revision, agreed.principal_ids) == (1, revision, (REGION, SOLNA))
    assert sip_event_types(plan)[-2:] == ["SipVersionApproved", "SipVersionAgreed"]


def test_a_principal_approves_once() -> None:
    plan = build_plan()
    plan.approve(OWNER_USER, plan.content_revision, NOW)
    with pytest.raises(InvalidTransition, match="already approved"):
        plan.approve(PSYCH_USER, plan.content_revision, NOW)  # the same principal, another unit


def test_approving_a_stale_revision_is_refused() -> None:
    plan = build_plan()
    stale = plan.content_revision
    plan.add_item(PSYCH_USER, ItemList.GOALS, GoalContent("Nytt mål"), NOW)
    before = plan_snapshot(plan)
    with pytest.raises(ContentChanged) as raised:
        plan.approve(MUNICIPAL_USER, stale, NOW)
    assert raised.value.current_revision == plan.content_revision
    assert raised.value.code == "content_changed"
    assert plan_snapshot(plan) == before


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.change_field(PSYCH_USER, PlanField.OWN_CONTRIBUTION, "x", 0, NOW),
        lambda p: p.add_item(PSYCH_USER, ItemList.GOALS, GoalContent("x"), NOW),
        lambda p: p.change_item(PSYCH_USER, ItemList.NEEDS, "need-1", NeedContent("x"), 1, NOW),
        lambda p: p.remove_item(PSYCH_USER, ItemList.NEEDS, "need-1", 1, NOW),
    ],
    ids=["field", "add_item", "change_item", "remove_item"],
)
def test_any_content_edit_invalidates_pending_approvals(edit: Callable[[SipPlan], object]) -> None:
    plan = build_plan()
    revision = plan.content_revision
    plan.approve(MUNICIPAL_USER, revision, NOW)
    plan.pending_events.clear()
    edit(plan)
    assert plan.approvals == {}
    invalidated = last_sip_event(plan)
    assert isinstance(invalidated, ev.SipApprovalsInvalidated)
    assert (invalidated.principal_ids, invalidated.content_revision) == ((SOLNA,), plan.content_revision)
    assert len(plan.pending_events) == 2  # the edit, then the invalidation
    with pytest.raises(ContentChanged):
        plan.approve(OWNER_USER, revision, NOW)  # the region cannot complete the old revision


def test_after_invalidation_everyone_approves_again() -> None:
    plan = build_plan()
    plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("x"), NOW)
    assert not plan.approve(OWNER_USER, plan.content_revision, NOW)
    assert plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    assert plan.versions[0].content_revision == plan.content_revision


def test_an_edit_without_pending_approvals_records_no_invalidation() -> None:
    plan = build_plan()
    plan.add_item(OWNER_USER, ItemList.GOALS, GoalContent("x"), NOW)
    assert sip_event_types(plan) == ["SipItemAdded"]


def test_the_agreed_content_cannot_be_approved_again() -> None:
    plan = build_plan(PlanState.ACTIVE)
    with pytest.raises(InvalidTransition, match="already the agreed version"):
        plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)


def test_a_new_principal_taking_part_invalidates_approvals() -> None:
    plan = build_plan()
    plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    plan.add_unit(OWNER_USER, OTHER_MUNICIPAL_REF, NOW)  # awaits consent: not taking part yet
    assert set(plan.approvals) == {SOLNA}
    give_consent(plan, NOW)  # now Sundbyberg takes part
    assert plan.approvals == {}
    assert SUNDBYBERG in plan.principal_ids()
    for actor in (MUNICIPAL_USER, OWNER_USER):
        assert not plan.approve(actor, plan.content_revision, LATER)
    assert plan.approve(OTHER_MUNICIPAL_USER, plan.content_revision, LATER)
    assert plan.versions[0].approvals[-1].principal_id == SUNDBYBERG


def test_another_unit_of_a_principal_taking_part_keeps_approvals() -> None:
    plan = build_plan(units=(UnitRef(MUNICIPAL, SOLNA, PrincipalKind.MUNICIPALITY),))
    plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    plan.add_unit(OWNER_USER, PSYCH_REF, NOW)
    give_consent(plan, NOW)  # the region took part already through the owner
    assert set(plan.approvals) == {SOLNA}


def test_a_principal_leaving_does_not_leave_the_others_stuck() -> None:
    plan = build_plan(units=(UnitRef(MUNICIPAL, SOLNA, PrincipalKind.MUNICIPALITY), OTHER_MUNICIPAL_REF))
    plan.change_item(OWNER_USER, ItemList.SERVICES, "service-1",
                     ServiceContent("Hemsjukvård", responsible_unit_id=MUNICIPAL), 1, NOW)
    plan.approve(OWNER_USER, plan.content_revision, NOW)
    plan.approve(MUNICIPAL_USER, plan.content_revision, NOW)
    plan.remove_participant(OWNER_USER, OTHER_MUNICIPAL_REF.unit_id, NOW)  # Sundbyberg never approved
    assert plan.approvals == {}  # the parties changed: the approvals are asked for again
    assert not plan.approve(OWNER_USER, plan.content_revision, LATER)
    assert plan.approve(MUNICIPAL_USER, plan.content_revision, LATER)


def test_an_active_plan_stays_in_force_while_revised() -> None:
    plan = build_plan(PlanState.ACTIVE)
    plan.change_item(MUNICIPAL_USER, ItemList.NEEDS, "need-1", NeedContent("Ändrat"), 1, NOW)
    assert plan.state is PlanState.ACTIVE
    assert plan.has_unagreed_changes
    assert plan.current_version is not None
    assert plan.current_version.contents.needs[0].content == NeedContent("Hjälp med insulin morgon och kväll")
    assert plan.responsible_principal_id == REGION
    plan.change_field(MUNICIPAL_USER, PlanField.OVERALL_RESPONSIBILITY, SOLNA, 1, NOW)
    assert plan.responsible_principal_id == REGION  # the version in force decides until the next is agreed
    for actor in (MUNICIPAL_USER, OWNER_USER):
        plan.approve(actor, plan.content_revision, LATER)
    assert plan.responsible_principal_id == SOLNA
    assert len(plan.versions) == 2


def test_approval_needs_a_unit_that_sees_the_plan() -> None:
    plan = new_plan()
    give_consent(plan, scope=(MUNICIPAL,))
    with pytest.raises(NotAllowedForPart, match="takes part"):
        plan.approve(Actor("u", PSYCH), plan.content_revision, NOW)
