"""The reserve routine's reads (*reservrutin*, docs/reservrutin.md): what a printout needs to work on paper while
Samplan is unavailable.

- `ReserveQuery.unit_list`: every open case of one unit (admitted, planning, ready for discharge), each as the
  unit sees it (`server.views.cases.detail`: deadlines, participants, notices, planning, timeline), with the names
  of the units and people it mentions. Rendered as a PDF and a CSV by `server/exports/reserve.py`.
- `case_sheet`: one case the same way (the one-page printout of a case), read through the case service so the
  usual access rule and access-log row apply.

Each read is access-logged, one row per patient (`export_reserve_list`, `export_case_sheet`). The scheduled export
(`samplan reserve-export`) reads as `OPERATOR`, a system principal of its own that never sees a protected
person's name or address: the paper list lies on a desk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select

from domain.discharge_case import CaseState, DischargeCase
from domain.payment import PaymentPolicy
from server import access_log, authorization
from server.errors import NotVisible
from server.persistence.models import Person, UnitRow, UserRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.views.cases import detail
from server.views.reserve import ReserveList, Sheet

OPEN_STATES = tuple(s for s in CaseState if s.is_open)
LIST_ACTION = "export_reserve_list"
SHEET_ACTION = "export_case_sheet"
CHUNK = 500  # cases per statement (asyncpg takes at most 32 767 parameters)
OPERATOR = CurrentUser(id="system:reserve-export", username="reserve-export", hsa_id="SYSTEM",
                       display_name="Schemalagd reservlisteexport", organisation_id="", assignments=())


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    return (items[i:i + size] for i in range(0, len(items), size))


async def _people(uow: UnitOfWork, user_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted({u for u in user_ids if u})
    names: dict[str, str] = {}
    for chunk in _chunks(ids):
        rows = await uow.session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(chunk)))
        names.update({user_id: name for user_id, name in rows.tuples()})
    return names


def _mentioned_people(case: DischargeCase) -> set[str]:
    people = {t.user_id for t in case.timeline}
    if case.named_care_contact is not None:
        people.add(case.named_care_contact.user_id)
    return people


async def sheets_of(uow: UnitOfWork, cases: Sequence[tuple[DischargeCase, Person]], unit_id: str,
                    policy: PaymentPolicy, now: datetime, *, reveal: bool) -> list[Sheet]:
    """The printouts of `cases` as `unit_id` sees them: one batch of unit names and one of people for all."""
    unit_ids = {p.unit_id for case, _ in cases for p in case.participants} | {unit_id}
    units: dict[str, UnitRow] = await uow.directory.units(sorted(unit_ids))
    amounts = await uow.directory.payment_amounts()
    people = await _people(uow, (u for case, _ in cases for u in _mentioned_people(case)))
    names = {u: row.name for u, row in units.items()}
    phones = {u: row.phone for u, row in units.items() if row.phone}
    return [Sheet(detail(case, person, units, policy, amounts, now, unit_id=unit_id, reveal=reveal), now, names,
                  people, phones)
            for case, person in cases]


async def case_sheet(uow: UnitOfWork, case: DischargeCase, unit_id: str, policy: PaymentPolicy, now: datetime,
                     *, reveal: bool) -> Sheet:
    person = await uow.cases.person_of(case.id)
    assert person is not None
    return (await sheets_of(uow, [(case, person)], unit_id, policy, now, reveal=reveal))[0]


class ReserveQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def unit_list(self, user: CurrentUser, unit_id: str) -> ReserveList:
        """The open cases of one of the user's units."""
        authorization.require_unit_access(user, unit_id)
        return await self._unit_list(user, unit_id, reveal=authorization.reveals_protected_identity(user, unit_id))

    async def operator_list(self, unit_id: str) -> ReserveList:
        """The same list for the scheduled export (no user): protected identities stay masked."""
        return await self._unit_list(OPERATOR, unit_id, reveal=False)

    async def active_unit_ids(self) -> list[str]:
        """Every active unit (the scheduled export's default; a unit without open cases gets an empty list)."""
        async with self._uow() as uow:
            return list(await uow.session.scalars(select(UnitRow.id).where(UnitRow.active.is_(True))
                                                  .order_by(UnitRow.id)))

    async def _unit_list(self, user: CurrentUser, unit_id: str, *, reveal: bool) -> ReserveList:
        async with self._uow() as uow:
            now = self._clock()
            unit = await uow.directory.unit(unit_id)
            if unit is None:
                raise NotVisible("no such unit", field="unit_id")
            ids = await uow.cases.ids_for_units([unit_id], OPEN_STATES)
            cases: list[tuple[DischargeCase, Person]] = []
            for chunk in _chunks(ids):
                cases.extend(await uow.cases.get_many(chunk))
            cases.sort(key=lambda c: (c[0].admitted_at, c[0].id))
            sheets = await sheets_of(uow, cases, unit_id, self._policy, now, reveal=reveal)
            await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[p.id for _, p in cases],
                                    case_ids=[c.id for c, _ in cases], action=LIST_ACTION, at=now)
            await uow.commit()
        return ReserveList(unit_id=unit_id, unit_name=unit.name, generated_at=now, sheets=tuple(sheets))
