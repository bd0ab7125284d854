"""The inbox of a receiving unit: its cases past the draft, each with the notices it has not acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.discharge_case import INBOX_STATES
from domain.payment import PaymentPolicy
from server import access_log, authorization
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.views.cases import InboxOut, inbox, inbox_item


class InboxQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def inbox(self, current_user: CurrentUser, unit_id: str) -> InboxOut:
        """403/404 unless the user works at the unit; the read is access-logged with the cases it shows."""
        authorization.require_unit_access(current_user, unit_id)
        async with self._uow() as uow:
            now = self._clock()
            ids = await uow.cases.ids_for_units([unit_id], list(INBOX_STATES))
            cases = [(c, p) for c, p in await uow.cases.get_many(ids) if c.in_inbox_of(unit_id)]
            reveal = authorization.reveals_protected_identity(current_user, unit_id)
            names = await uow.directory.names_for_cases([c for c, _ in cases], [p for _, p in cases])
            items = [inbox_item(c, p, unit_id, self._policy, now, reveal=reveal, names=names) for c, p in cases]
            await access_log.record(uow.session, current_user, unit_id=unit_id,
                                    patient_ids=[p.id for _, p in cases], case_ids=[c.id for c, _ in cases],
                                    action="list_inbox", at=now)
            await uow.commit()
        return inbox(unit_id, items)
