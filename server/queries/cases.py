"""The case list of a user's units (`GET /cases`), answered from the query model in `case_participants`.

One SQL query filters (units, states, deadline state at `now`), orders (admission time) and pages; another counts;
only the page's documents are then loaded and decoded (`WHERE id IN (page ids)`, at most `limit`). The deadline
state is decided from the stored thresholds (`domain.deadlines.DeadlineThresholds`) and `now`, so a request
neither grows with a unit's history nor computes a deadline of a case it does not return.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, case, func, select

from domain.deadlines import DeadlineState
from domain.discharge_case import CaseState
from domain.payment import PaymentPolicy
from server import access_log, authorization
from server.persistence import mail_outbox
from server.persistence.models import CaseParticipantRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.cases import CasePage, CaseSummary
from server.views.cases import summary


class CaseOrder(StrEnum):
    """The order of the case list: newest admission first (the default), or oldest first."""

    NEWEST = "-admitted_at"
    OLDEST = "admitted_at"


def deadline_state_is(state: DeadlineState, now: datetime, p: Any = CaseParticipantRow) -> ColumnElement[bool]:
    """The SQL condition `worst_open_state(case_deadlines(case, policy, now)) == state` over the stored
    thresholds (`DeadlineThresholds.state`) of `p` (the query rows, or a subquery's columns); a case without an
    unmet deadline has no state and matches none."""
    now = now.astimezone(UTC)
    if state is DeadlineState.OVERDUE:
        overdue: ColumnElement[bool] = p.overdue_from <= now
        return overdue
    if state is DeadlineState.AT_RISK:
        return and_(p.at_risk_from <= now, p.overdue_from > now)
    return and_(p.at_risk_from > now, p.overdue_from > now)


class CaseListQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def list_cases(self, user: CurrentUser, *, unit_id: str | None, states: list[CaseState] | None,
                         deadline_state: DeadlineState | None, limit: int, offset: int,
                         order: CaseOrder = CaseOrder.NEWEST, open_: bool | None = None) -> CasePage:
        """`open_`: only open cases (True: what the board shows), only ended ones (False: its history), or both."""
        units = authorization.listing_units(user, unit_id)
        p = CaseParticipantRow
        async with self._uow() as uow:
            now = self._clock()
            where: list[ColumnElement[bool]] = [p.unit_id.in_(sorted(units))]
            if states:
                where.append(p.state.in_(sorted({str(s) for s in states})))
            if open_ is not None:
                where.append(p.is_open.is_(open_))
            if deadline_state is not None:
                where.append(deadline_state_is(deadline_state, now))
            # One row per case: with one unit, the (case, unit) key already is; with several, DISTINCT.
            ids: Any = select(p.case_id, p.admitted_at).where(*where)
            if len(units) > 1:
                ids = ids.distinct()
            by = (p.admitted_at.desc(), p.case_id.desc()) if order is CaseOrder.NEWEST else (p.admitted_at, p.case_id)
            page_ids = list(await uow.session.scalars(ids.order_by(*by).limit(limit).offset(offset)))
            total, overdue, at_risk = await _counts(uow, where, now, distinct_cases=len(units) > 1)
            loaded = {c.id: (c, person) for c, person in await uow.cases.get_many(page_ids)}
            page = [loaded[i] for i in page_ids if i in loaded]
            through = [authorization.seen_through(units, c.visible_unit_ids()) for c, _ in page]
            await access_log.record(uow.session, user, unit_id=list(through),
                                    patient_ids=[person.id for _, person in page],
                                    case_ids=[c.id for c, _ in page], action="list_cases", at=now)
            names = await uow.directory.names_for_cases([c for c, _ in page], [person for _, person in page])
            items = [summary(c, person, self._policy, now, unit_id=u,
                             reveal=authorization.reveals_protected_identity(user, u), names=names)
                     for (c, person), u in zip(page, through, strict=True)]
            items = await self._mark_escalated(uow, items)
            await uow.commit()
        return CasePage(items=items, total=total, limit=limit, offset=offset, overdue=overdue, at_risk=at_risk)

    @staticmethod
    async def _mark_escalated(uow: UnitOfWork, items: list[CaseSummary]) -> list[CaseSummary]:
        """`escalated` for the cases whose current overdue threshold was escalated (server/services/escalation.py)."""
        p = CaseParticipantRow
        ids = [i.id for i in items]
        current = dict((await uow.session.execute(select(p.case_id, p.overdue_from).where(p.case_id.in_(ids))
                                                  .distinct())).tuples().all()) if ids else {}
        escalated = await mail_outbox.escalated_case_ids(uow.session, ids, current)
        return [msgspec.structs.replace(i, escalated=True) if i.id in escalated else i for i in items]


async def _counts(uow: UnitOfWork, where: list[ColumnElement[bool]], now: datetime, *,
                  distinct_cases: bool) -> tuple[int, int, int]:
    """How many cases the filter matches, and how many of them are overdue and at risk at `now`: counted in SQL
    (no rows loaded), so every count a board shows equals the rows its filter shows."""
    p = CaseParticipantRow
    rows: Any = select(p.case_id, p.at_risk_from, p.overdue_from).where(*where)
    if distinct_cases:
        rows = rows.distinct()
    sub = rows.subquery()
    overdue = deadline_state_is(DeadlineState.OVERDUE, now, sub.c)
    at_risk = deadline_state_is(DeadlineState.AT_RISK, now, sub.c)
    counted = (await uow.session.execute(select(
        func.count(), func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.coalesce(func.sum(case((at_risk, 1), else_=0)), 0)).select_from(sub))).one()
    return int(counted[0]), int(counted[1]), int(counted[2])
