"""Storing SIP plans, like `CaseRepository` stores cases (the `UnitOfWork` has both)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from domain.sip import PlanState, SipPlan
from server.persistence import read_models
from server.persistence.documents import from_document, to_document
from server.persistence.models import PatientRow, Person, PersonDetails
from server.persistence.read_models import listing_follow_up
from server.persistence.repositories import ConcurrencyConflict
from server.persistence.sip_models import SipPlanRow, SipPlanUnitRow


class SipPlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen_by: dict[str, frozenset[str]] = {}  # plan id -> the units that saw it as loaded (or last saved)

    async def get(self, plan_id: str, *, for_update: bool = False) -> SipPlan | None:
        query = select(SipPlanRow).where(SipPlanRow.id == plan_id)
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = await self.session.scalar(query)
        if row is None:
            return None
        plan = from_document(row.document, row.version, SipPlan)  # plan.person_id is the patient's id (row.patient_id)
        self._seen_by[plan.id] = frozenset(plan.visible_unit_ids())
        return plan

    async def person_of(self, plan_id: str) -> Person | None:
        """The plan's person: the shared identity with the plan's own details."""
        row = (await self.session.execute(
            select(SipPlanRow, PatientRow).join(PatientRow, PatientRow.id == SipPlanRow.patient_id)
            .where(SipPlanRow.id == plan_id))).tuples().first()
        return Person.of(row[1], PersonDetails.of(row[0])) if row else None

    async def exists(self, plan_id: str) -> bool:
        return await self.session.scalar(select(SipPlanRow.id).where(SipPlanRow.id == plan_id)) is not None

    async def add(self, plan: SipPlan, patient_id: str, person: PersonDetails, now: datetime) -> int:
        """Store a new plan with its own copy of the person's details (`person`, as its creator registered them)."""
        plan.version = 1
        await self.session.execute(insert(SipPlanRow).values(
            id=plan.id, patient_id=patient_id, case_id=plan.case_id, owner_unit_id=plan.owner_unit_id,
            state=str(plan.state), next_follow_up_on=listing_follow_up(plan), created_at=plan.created_at,
            updated_at=now, version=1, document=to_document(plan), **person.columns()))
        await read_models.write_plan(self.session, plan, None, fresh=True)
        self._seen_by[plan.id] = frozenset(plan.visible_unit_ids())
        return 1

    async def save(self, plan: SipPlan, now: datetime) -> int:
        """Store the changed plan if nobody changed it since it was read; returns the new version."""
        result = await self.session.execute(
            update(SipPlanRow).where(SipPlanRow.id == plan.id, SipPlanRow.version == plan.version)
            .values(state=str(plan.state), owner_unit_id=plan.owner_unit_id,
                    next_follow_up_on=listing_follow_up(plan), updated_at=now,
                    version=plan.version + 1, document=to_document(plan)))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(plan.id)
        plan.version += 1
        await read_models.write_plan(self.session, plan, self._seen_by.get(plan.id))
        self._seen_by[plan.id] = frozenset(plan.visible_unit_ids())
        return plan.version

    async def page_for_units(self, unit_ids: Iterable[str], *, states: Sequence[PlanState] | None,
                             follow_up_before: date | None, limit: int, offset: int,
                             case_id: str | None = None) -> tuple[int, list[tuple[SipPlan, Person]]]:
        """Plans seen by any of the units (with their person), soonest follow-up first (none last), from the query
        rows in `sip_plan_units` (index: unit, follow-up key, creation); only the page's documents are loaded. With
        `case_id` only the plans opened from that discharge case (an indexed column)."""
        units = sorted(set(unit_ids))
        u = SipPlanUnitRow
        where: list[ColumnElement[bool]] = [u.unit_id.in_(units)]
        if case_id is not None:
            where.append(u.plan_id.in_(select(SipPlanRow.id).where(SipPlanRow.case_id == case_id)))
        if states:
            where.append(u.state.in_([str(s) for s in states]))
        if follow_up_before is not None:
            where.append(u.follow_up_key <= follow_up_before)
        ids: Any = select(u.plan_id, u.follow_up_key, u.created_at).where(*where)
        counted: Any = u.plan_id
        if len(units) > 1:
            ids, counted = ids.distinct(), func.distinct(u.plan_id)
        page = list(await self.session.scalars(
            ids.order_by(u.follow_up_key, u.created_at, u.plan_id).limit(limit).offset(offset)))
        total = int(await self.session.scalar(select(func.count(counted)).where(*where)) or 0)
        if not page:
            return total, []
        rows = {r.id: (r, p) for r, p in (await self.session.execute(
            select(SipPlanRow, PatientRow).join(PatientRow, PatientRow.id == SipPlanRow.patient_id)
            .where(SipPlanRow.id.in_(page)))).tuples()}
        return total, [(from_document(r.document, r.version, SipPlan), Person.of(p, PersonDetails.of(r)))
                       for r, p in (rows[i] for i in page if i in rows)]
