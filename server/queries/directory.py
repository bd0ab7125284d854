"""The organisation directory as the API shows it: the signed-in user with their units, and the units."""

from __future__ import annotations

from collections.abc import Callable

from domain.organisation import UnitKind
from server.errors import NotVisible
from server.persistence.models import UnitRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.cases import AssignmentOut, MeOut, UnitOut, UnitPage


def unit_out(row: UnitRow) -> UnitOut:
    return UnitOut(id=row.id, name=row.name, kind=row.kind, hsa_id=row.hsa_id, organisation_id=row.organisation_id,
                   municipality_code=row.municipality_code, district=row.district, routing_role=row.routing_role)


class DirectoryQuery:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def me(self, current_user: CurrentUser) -> MeOut:
        async with self._uow() as uow:
            units = await uow.directory.units(a.unit_id for a in current_user.assignments)
        return MeOut(id=current_user.id, username=current_user.username, hsa_id=current_user.hsa_id,
                     display_name=current_user.display_name, organisation_id=current_user.organisation_id,
                     assignments=[AssignmentOut(unit_id=a.unit_id, unit_name=units[a.unit_id].name
                                                if a.unit_id in units else a.unit_id, role=str(a.role))
                                  for a in current_user.assignments])

    async def units(self, *, kind: UnitKind | None, municipality_code: str | None, organisation_id: str | None,
                    limit: int, offset: int) -> UnitPage:
        async with self._uow() as uow:
            rows = await uow.directory.list_units(kind=kind, municipality_code=municipality_code,
                                                  organisation_id=organisation_id, limit=limit, offset=offset)
        return UnitPage(items=[unit_out(r) for r in rows], limit=limit, offset=offset)

    async def unit(self, unit_id: str) -> UnitOut:
        async with self._uow() as uow:
            row = await uow.directory.unit(unit_id)
        if row is None:
            raise NotVisible("no such unit")
        return unit_out(row)
