"""The read side's query models: ONE place that maps an aggregate to its query rows.

A discharge case has one `case_participants` row per unit that sees it (`case_rows`); a SIP plan one
`sip_plan_units` row per unit that sees it (`plan_rows`). The repositories write them with every save, in the same
transaction as the document (`write_case`, `write_plan`), so a list never lags behind a command; and
`rebuild_read_models` writes every row again from the stored documents (`samplan rebuild-read-models`, migration
0013, a bulk data generator after it wrote aggregates). The documents are the one truth: a row is always what
`case_rows`/`plan_rows` make of its aggregate, whichever way it was written (tests/server/test_read_models.py).

What lives in the rows: the state and whether it is open (the server, not the client, decides what is open), the
admission time, the deadline thresholds (the lists decide the deadline state from them and `now` in SQL,
`server/queries/cases.py`), the unit's inbox state (in its inbox, the notices it has not acknowledged, the inbox
order key), the patient's name search key, and a plan's follow-up order key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import msgspec
from sqlalchemy import Connection, cast, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.types import Text

from domain.deadlines import deadline_thresholds
from domain.discharge_case import DischargeCase
from domain.payment import STOCKHOLM_2020, PaymentPolicy
from domain.sip import SipPlan
from server.persistence.models import CaseParticipantRow, CaseRow
from server.persistence.sip_models import FAR_DAY, SipPlanRow, SipPlanUnitRow

NAME_KEY_LENGTH = 200


def name_key(name: str) -> str:
    """A name as "Sök patient" matches it: Unicode-composed, case-folded, single spaces (å, ä and ö stay letters
    of their own). A search text goes through the same function before its prefix is looked up."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())[:NAME_KEY_LENGTH]


def case_rows(case: DischargeCase, person_name: str, policy: PaymentPolicy) -> list[dict[str, Any]]:
    """The case's query rows: one per unit that sees it (`DischargeCase.visible_unit_ids`)."""
    thresholds = deadline_thresholds(case, policy)
    admitted_at = case.admitted_at.astimezone(UTC)
    common = {"case_id": case.id, "state": str(case.state), "is_open": case.state.is_open, "admitted_at": admitted_at,
              "at_risk_from": thresholds.at_risk_from, "overdue_from": thresholds.overdue_from,
              "name_key": name_key(person_name)}
    rows = []
    for unit_id in case.visible_unit_ids():
        part = case.part_of(unit_id)
        in_inbox = case.in_inbox_of(unit_id)
        unread = [n.sent_at for n in case.unacknowledged(unit_id)] if in_inbox else []
        rows.append({**common, "unit_id": unit_id, "part": str(part) if part else "", "in_inbox": in_inbox,
                     "unread": len(unread), "has_unread": bool(unread),
                     "inbox_at": max(unread).astimezone(UTC) if unread else admitted_at})
    return rows


def plan_rows(plan: SipPlan) -> list[dict[str, Any]]:
    """The plan's query rows: one per unit that sees it (`SipPlan.visible_unit_ids`)."""
    follow_up = listing_follow_up(plan)
    common = {"plan_id": plan.id, "state": str(plan.state), "follow_up_key": follow_up or FAR_DAY,
              "created_at": plan.created_at.astimezone(UTC)}
    return [{**common, "unit_id": u} for u in sorted(set(plan.visible_unit_ids()))]


def listing_follow_up(plan: SipPlan) -> Any:
    """The follow-up date that applies now (the version in force's while it awaits follow-up, else the working
    contents' date); None once closed."""
    if not plan.state.is_open:
        return None
    due = plan.next_follow_up_due()
    return due if due is not None else plan.contents.next_follow_up_on.value


async def write_case(session: AsyncSession, case: DischargeCase, person_name: str, policy: PaymentPolicy, *,
                     fresh: bool = False) -> None:
    """The case's query rows, replacing those it had (`fresh`: a new case has none)."""
    if not fresh:
        await session.execute(delete(CaseParticipantRow).where(CaseParticipantRow.case_id == case.id))
    rows = case_rows(case, person_name, policy)
    if rows:
        await session.execute(insert(CaseParticipantRow), rows)


async def write_plan(session: AsyncSession, plan: SipPlan, seen_by: frozenset[str] | None, *,
                     fresh: bool = False) -> None:
    """The plan's query rows. `seen_by`: the units that saw the plan as loaded (None: unknown, read them); when they
    are still the units that see it, the rows are updated in place."""
    rows = plan_rows(plan)
    if not fresh:
        stored = seen_by if seen_by is not None else frozenset(await session.scalars(
            select(SipPlanUnitRow.unit_id).where(SipPlanUnitRow.plan_id == plan.id)))
        if stored == {r["unit_id"] for r in rows}:
            if rows:
                first = rows[0]
                await session.execute(update(SipPlanUnitRow).where(SipPlanUnitRow.plan_id == plan.id).values(
                    state=first["state"], follow_up_key=first["follow_up_key"], created_at=first["created_at"]))
            return
        await session.execute(delete(SipPlanUnitRow).where(SipPlanUnitRow.plan_id == plan.id))
    if rows:
        await session.execute(insert(SipPlanUnitRow), rows)


# ----- rebuild ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    cases: int
    case_rows: int
    plans: int
    plan_rows: int


def rebuild_read_models_sync(connection: Connection, *, policy: PaymentPolicy = STOCKHOLM_2020, batch: int = 1000,
                             progress: Callable[[Rebuilt], None] | None = None) -> Rebuilt:
    """Write every query row again from the stored documents, `batch` aggregates per round trip: read a batch in id
    order (keyset), decode it, delete its rows and insert the new ones with one executemany. The caller commits
    (a migration's transaction, or `rebuild_read_models`)."""
    cases = _rebuild(connection, CaseRow, CaseParticipantRow.case_id, CaseParticipantRow, batch,
                     lambda doc, extra: case_rows(msgspec.json.decode(doc, type=DischargeCase, strict=False),
                                                  extra, policy),
                     CaseRow.person_name, progress, lambda n, r: Rebuilt(n, r, 0, 0))
    plans = _rebuild(connection, SipPlanRow, SipPlanUnitRow.plan_id, SipPlanUnitRow, batch,
                     lambda doc, _extra: plan_rows(msgspec.json.decode(doc, type=SipPlan, strict=False)),
                     SipPlanRow.id, progress, lambda n, r: Rebuilt(cases.cases, cases.case_rows, n, r))
    return Rebuilt(cases.cases, cases.case_rows, plans.plans, plans.plan_rows)


def _rebuild(connection: Connection, table: Any, key: Any, rows_table: Any, batch: int,
             rows_of: Callable[[str | bytes, Any], Sequence[dict[str, Any]]], extra: Any,
             progress: Callable[[Rebuilt], None] | None, report: Callable[[int, int], Rebuilt]) -> Rebuilt:
    last, done, written = "", 0, 0
    document = cast(table.document, Text)  # the stored JSON as text: msgspec decodes it straight to the type
    while True:
        page = connection.execute(select(table.id, document, extra).where(table.id > last)
                                  .order_by(table.id).limit(batch)).all()
        if not page:
            return report(done, written)
        ids = [r[0] for r in page]
        rows = [row for r in page for row in rows_of(r[1], r[2])]
        connection.execute(delete(rows_table).where(key.in_(ids)))
        if rows:
            connection.execute(insert(rows_table), rows)
        last, done, written = ids[-1], done + len(page), written + len(rows)
        if progress is not None:
            progress(report(done, written))


async def rebuild_read_models(bind: AsyncEngine | AsyncConnection, *, policy: PaymentPolicy = STOCKHOLM_2020,
                              batch: int = 1000, progress: Callable[[Rebuilt], None] | None = None) -> Rebuilt:
    """`rebuild_read_models_sync` on an engine (in its own transaction, committed) or on a connection (in the
    caller's transaction: the caller commits). For `samplan rebuild-read-models` and bulk data generators."""
    def run(connection: Connection) -> Rebuilt:
        return rebuild_read_models_sync(connection, policy=policy, batch=batch, progress=progress)

    if isinstance(bind, AsyncEngine):
        async with bind.begin() as connection:
            return await connection.run_sync(run)
    return await bind.run_sync(run)

