"""E-mail notices: a user's own settings, and the health of notices per unit for administrators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import case, func, select

from server import authorization as authz
from server.errors import Invalid
from server.persistence.event_log import as_utc
from server.persistence.mail_models import MailOutboxRow, NotificationSettingsRow
from server.persistence.models import UnitRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.notifications import MailHealth, NotificationSettings, NotificationSettingsOut, UnitMailHealth


def settings_out(row: NotificationSettingsRow | None) -> NotificationSettingsOut:
    if row is None:
        return NotificationSettingsOut()
    return NotificationSettingsOut(
        email=row.email, email_enabled=row.email_enabled, notices=row.notices, deadlines=row.deadlines,
        sip_meetings=row.sip_meetings, delivery=row.delivery, digest_at=row.digest_at,  # type: ignore[arg-type]
        quiet_from=row.quiet_from, quiet_to=row.quiet_to,
        address_failed_at=as_utc(row.address_failed_at) if row.address_failed_at else None,
        address_failure=row.address_failure)


class NotificationService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime], *, smtp_configured: bool) -> None:
        self._uow = uow
        self._clock = clock
        self._smtp_configured = smtp_configured

    async def settings(self, user: CurrentUser) -> NotificationSettingsOut:
        async with self._uow() as uow:
            return settings_out(await uow.session.get(NotificationSettingsRow, user.id))

    async def change_settings(self, user: CurrentUser, data: NotificationSettings) -> NotificationSettingsOut:
        if data.email_enabled and not data.email:
            raise Invalid("an e-mail address is needed to get notices by e-mail", field="email")
        if (data.quiet_from is None) != (data.quiet_to is None):
            raise Invalid("give both the start and the end of the quiet hours, or neither",
                          field="quiet_to" if data.quiet_to is None else "quiet_from")
        async with self._uow() as uow:
            now = self._clock()
            row = await uow.session.get(NotificationSettingsRow, user.id)
            if row is None:
                row = NotificationSettingsRow(user_id=user.id, updated_at=now)
                uow.session.add(row)
            elif row.email != data.email:
                row.address_failed_at, row.address_failure = None, None  # a new address: the old refusal is past
            for name in ("email", "email_enabled", "notices", "deadlines", "sip_meetings", "delivery", "digest_at",
                         "quiet_from", "quiet_to"):
                setattr(row, name, getattr(data, name))
            row.updated_at = now
            await uow.commit()
            return settings_out(row)

    async def health(self, user: CurrentUser) -> MailHealth:
        """Queued, sent and failed notices per unit of the organisations the administrator sees."""
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            authz.require_administrator(g)
            m = MailOutboxRow
            rows = (await uow.session.execute(
                select(m.unit_id, UnitRow.name, UnitRow.organisation_id,
                       func.sum(case((m.status == "queued", 1), else_=0)),
                       func.sum(case((m.status == "sent", 1), else_=0)),
                       func.sum(case((m.status == "failed", 1), else_=0)),
                       func.min(case((m.status == "queued", m.created_at), else_=None)))
                .join(UnitRow, UnitRow.id == m.unit_id).group_by(m.unit_id, UnitRow.name, UnitRow.organisation_id)
                .order_by(UnitRow.name))).tuples()
            units = [UnitMailHealth(unit_id=unit_id, unit_name=name, queued=int(q or 0), sent=int(s or 0),
                                    failed=int(f or 0), oldest_queued_at=as_utc(oldest) if oldest else None)
                     for unit_id, name, organisation_id, q, s, f, oldest in rows
                     if authz.may_see_organisation(g, organisation_id)]
            return MailHealth(smtp_configured=self._smtp_configured, units=units)
