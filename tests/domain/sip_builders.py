"""Shared builders for the SIP tests: principals, units, actors, times and a plan advanced to a given state.

The standard plan is owned by the primary care unit of the discharge-case builders (PRIMARY, Region
Stockholm) with Solna's municipal unit (MUNICIPAL) and a psychiatric clinic of the region (PSYCH). Times are
aware (Europe/Stockholm), in March 2026 after the standard case's story:

    Mon 9 March 09:00   plan created (START)
    Mon 9 March 09:10   consent given for every unit
    Mon 9 March 09:20   contents filled in (one need, one service, overall responsibility, follow-up date)
    Tue 10 March 10:00  agreed by both principals (version 1; the plan is active)
    Wed 10 June 10:00   followed up (FOLLOW_UP_ON is 10 June)
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from domain.discharge_case import Actor
from domain.organisation import PrincipalKind
from domain.sip import (
    CloseReason,
    ConsentForm,
    ConsentGiver,
    ItemList,
    NeedContent,
    PlanField,
    PlanState,
    ServiceContent,
    SipPlan,
    UnitRef,
)
from domain.sip.events import SipEvent
from tests.domain.builders import MUNICIPAL, OTHER_MUNICIPAL, PRIMARY, PRIMARY_USER, STRANGER, at

PLAN_ID = "plan-1"
PERSON_ID = "patient-ref-0001"

REGION = "principal-region-stockholm"
SOLNA = "principal-solna-kommun"
SUNDBYBERG = "principal-sundbybergs-kommun"

PSYCH = "unit-psykiatri-solna"
PSYCH_USER = Actor("user-psykiatri", PSYCH)
OTHER_MUNICIPAL_USER = Actor("user-handlaggare2", OTHER_MUNICIPAL)
STRANGER_USER = Actor("user-stranger", STRANGER)
OWNER_USER = PRIMARY_USER
OWNER = PRIMARY

PRIMARY_REF = UnitRef(PRIMARY, REGION, PrincipalKind.REGION)
MUNICIPAL_REF = UnitRef(MUNICIPAL, SOLNA, PrincipalKind.MUNICIPALITY)
PSYCH_REF = UnitRef(PSYCH, REGION, PrincipalKind.REGION)
OTHER_MUNICIPAL_REF = UnitRef(OTHER_MUNICIPAL, SUNDBYBERG, PrincipalKind.MUNICIPALITY)

START = at(2026, 3, 9, 9)
CONSENT_AT = START + timedelta(minutes=10)
FILLED_AT = START + timedelta(minutes=20)
AGREED_AT = at(2026, 3, 10, 10)
FOLLOW_UP_ON = date(2026, 6, 10)
FOLLOWED_UP_AT = at(2026, 6, 10, 10)
CLOSED_AT = at(2026, 6, 10, 15)

SECRET_TEXT = "Anna Andersson vill bo kvar hemma; dottern Eva hjälper till. Diabetes, insulin morgon och kväll"
SECRET_NAME = "Eva Andersson"


def new_plan(*, units: tuple[UnitRef, ...] = (MUNICIPAL_REF, PSYCH_REF), now: datetime = START,
             case_id: str | None = None) -> SipPlan:
    return SipPlan.create(person_id=PERSON_ID, owner=PRIMARY_REF, actor=OWNER_USER, now=now, units=units,
                          case_id=case_id, plan_id=PLAN_ID)


def give_consent(plan: SipPlan, now: datetime = CONSENT_AT, *, scope: tuple[str, ...] | None = None,
                 actor: Actor = OWNER_USER, **kwargs: Any) -> str:
    """Consent for `scope`, by default every unit taking part."""
    units = scope if scope is not None else tuple(u.unit_id for u in plan.active_units())
    return plan.give_consent(actor, given_by=ConsentGiver.PERSON, form=ConsentForm.VERBAL, scope_unit_ids=units,
                             given_at=now, now=now, **kwargs)


def fill_required(plan: SipPlan, now: datetime = FILLED_AT, actor: Actor = OWNER_USER) -> None:
    """The minimum an agreement needs: a need, a complete service, the overall responsibility, a follow-up."""
    plan.add_item(actor, ItemList.NEEDS, NeedContent("Hjälp med insulin morgon och kväll"), now, item_id="need-1")
    plan.add_item(actor, ItemList.SERVICES, ServiceContent("Hemsjukvård: insulin", responsible_unit_id=MUNICIPAL,
                                                           contact_person="Sjuksköterska", when="från 11 mars"),
                  now, item_id="service-1")
    field = plan.contents.field(PlanField.OVERALL_RESPONSIBILITY)
    plan.change_field(actor, PlanField.OVERALL_RESPONSIBILITY, REGION, field.revision, now)
    follow = plan.contents.field(PlanField.NEXT_FOLLOW_UP_ON)
    plan.change_field(actor, PlanField.NEXT_FOLLOW_UP_ON, FOLLOW_UP_ON, follow.revision, now)


def agree(plan: SipPlan, now: datetime = AGREED_AT) -> None:
    """Every principal approves the current content revision (one unit each)."""
    done: set[str] = set()
    for unit in plan.active_units():
        if unit.principal_id in done or not plan.is_visible_to(unit.unit_id):
            continue
        done.add(unit.principal_id)
        plan.approve(Actor(f"user-at-{unit.unit_id}", unit.unit_id), plan.content_revision, now)


def build_plan(state: PlanState = PlanState.DRAFT, *, consent: bool = True, filled: bool = True,
               keep_events: bool = False, units: tuple[UnitRef, ...] = (MUNICIPAL_REF, PSYCH_REF)) -> SipPlan:
    """A standard plan advanced to `state` (a draft by default with consent and the required contents)."""
    plan = new_plan(units=units)
    if consent or state is not PlanState.DRAFT:
        give_consent(plan)
    if filled or state is not PlanState.DRAFT:
        fill_required(plan)
    if state in (PlanState.ACTIVE, PlanState.FOLLOWED_UP, PlanState.CLOSED):
        agree(plan)
    if state in (PlanState.FOLLOWED_UP, PlanState.CLOSED):
        plan.record_follow_up(OWNER_USER, FOLLOWED_UP_AT, FOLLOWED_UP_AT)
    if state is PlanState.CLOSED:
        plan.close(OWNER_USER, CloseReason.GOALS_MET, CLOSED_AT)
    assert plan.state is state, (plan.state, state)
    if not keep_events:
        plan.pending_events.clear()
    return plan


def plan_snapshot(plan: SipPlan) -> dict[str, Any]:
    """Everything observable on a plan, to check that a refused action changed nothing."""
    data = dataclasses.asdict(plan)
    data["pending_events"] = [dataclasses.asdict(e) for e in plan.pending_events]
    return data


def sip_event_types(plan: SipPlan) -> list[str]:
    return [e.type for e in plan.pending_events]


def last_sip_event(plan: SipPlan) -> SipEvent:
    assert plan.pending_events, "no event was recorded"
    return plan.pending_events[-1]

