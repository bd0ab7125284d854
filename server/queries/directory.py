"""The organisation directory as the API shows it: the signed-in user with their units, and the units."""

from __future__ import annotations

from collections.abc import Callable, Collection

from domain.discharge_case import forward_target_kinds
from domain.organisation import UnitKind
from server import authorization
from server.errors import Invalid, NotVisible
from server.persistence.models import UnitRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.queries.routing import routed_receivers
from server.schemas.cases import (
    AssignmentOut,
    CapabilitiesOut,
    MeOut,
    RoutedUnitOut,
    RoutingOut,
    UnitOut,
    UnitPage,
)


def unit_out(row: UnitRow) -> UnitOut:
    return UnitOut(id=row.id, name=row.name, kind=row.kind, hsa_id=row.hsa_id, organisation_id=row.organisation_id,
                   municipality_code=row.municipality_code, district=row.district, routing_role=row.routing_role,
                   phone=row.phone)


class DirectoryQuery:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def me(self, current_user: CurrentUser) -> MeOut:
        async with self._uow() as uow:
            units = await uow.directory.units(a.unit_id for a in current_user.assignments)
        can = authorization.capabilities(current_user, units)  # what the user may do: the domain decides
        return MeOut(id=current_user.id, username=current_user.username, hsa_id=current_user.hsa_id,
                     display_name=current_user.display_name, organisation_id=current_user.organisation_id,
                     assignments=[AssignmentOut(unit_id=a.unit_id, unit_name=units[a.unit_id].name
                                                if a.unit_id in units else a.unit_id, role=str(a.role))
                                  for a in current_user.assignments],
                     capabilities=CapabilitiesOut(
                         case_unit_ids=list(can.case_unit_ids), unit_parts=can.unit_parts,
                         register_case_unit_ids=list(can.register_case_unit_ids),
                         inbox_unit_ids=list(can.inbox_unit_ids), administer=can.administer,
                         manage_users=can.manage_users, manage_units=can.manage_units,
                         connect_organisations=can.connect_organisations, review_logs=can.review_logs,
                         verify_log=can.verify_log, grantable_roles=[str(r) for r in can.grantable_roles],
                         case_roles=[str(r) for r in can.case_roles],
                         statistics_unit_ids=list(can.statistics_unit_ids), merge_identities=can.merge_identities,
                         enter_payment_amounts=can.enter_payment_amounts))

    async def units(self, *, kind: UnitKind | None, municipality_code: str | None, organisation_id: str | None,
                    kinds: Collection[str] | None = None, forward_from: str | None = None, limit: int,
                    offset: int) -> UnitPage:
        """Active units by the filters. `forward_from`: only the units that unit may forward a case to, by the rule
        the forward command enforces (`domain.discharge_case.forward_target_kinds`; itself excluded)."""
        async with self._uow() as uow:
            exclude = None
            if forward_from is not None:
                acting = await uow.directory.unit(forward_from)
                if acting is None:
                    raise Invalid("no such unit", field="forward_from")
                allowed = {str(k) for k in forward_target_kinds(UnitKind(acting.kind))}
                kinds, exclude = (allowed if kinds is None else allowed & set(kinds)), acting.id
            rows = await uow.directory.list_units(kind=kind, municipality_code=municipality_code,
                                                  organisation_id=organisation_id, kinds=kinds, exclude_id=exclude,
                                                  limit=limit, offset=offset)
        return UnitPage(items=[unit_out(r) for r in rows], limit=limit, offset=offset)

    async def routing(self, *, municipality_code: str, district: str | None,
                      listed_unit_id: str | None) -> RoutingOut:
        """The units a new case's admission notice would reach by the routing rule (the registration's own)."""
        async with self._uow() as uow:
            routed = await routed_receivers(uow.directory, municipality_code, district, listed_unit_id)
        return RoutingOut(receivers=[RoutedUnitOut(unit_id=u.id, unit_name=u.name, part=part) for u, part in routed])

    async def unit(self, unit_id: str) -> UnitOut:
        async with self._uow() as uow:
            row = await uow.directory.unit(unit_id)
        if row is None:
            raise NotVisible("no such unit")
        return unit_out(row)
