"""Names of staff (never patients): a unit's staff for appointing a named care contact, and people by id."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from server import authorization
from server.persistence.models import AssignmentRow, UserRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.views.cases import PersonOut


class StaffQuery:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def unit_staff(self, current_user: CurrentUser, unit_id: str) -> list[PersonOut]:
        """The active users who work with cases at one of the user's units (403/404 for any other unit)."""
        authorization.require_unit_access(current_user, unit_id)
        query = (select(UserRow).join(AssignmentRow, AssignmentRow.user_id == UserRow.id)
                 .where(AssignmentRow.unit_id == unit_id, AssignmentRow.role.in_(["user", "super_user"]),
                        UserRow.active.is_(True)).distinct().order_by(UserRow.display_name))
        async with self._uow() as uow:
            rows = list(await uow.session.scalars(query))
        return [PersonOut(id=r.id, display_name=r.display_name, title=r.title) for r in rows]

    async def people(self, current_user: CurrentUser, ids: list[str]) -> list[PersonOut]:
        """The named users the user works with (own organisation, or sharing a case or plan); others left out."""
        async with self._uow() as uow:
            rows = await uow.directory.people_visible_to(ids, current_user.organisation_id,
                                                         authorization.case_units(current_user))
        return [PersonOut(id=r.id, display_name=r.display_name, title=r.title) for r in rows]
