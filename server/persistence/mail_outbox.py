"""The mail outbox: e-mail notices written in the transaction of what causes them, claimed and marked by the
dispatcher (`server/mail_dispatcher.py`).

- `enqueue_for_events`: called by `UnitOfWork.record_events` in the command's transaction. For each event that
  mails (`domain.mail_notices.mailed_category`), one row per user who works (user or super user) at a unit the
  event concerns, other than the acting unit, and who chose that category with an address. `dedupe_key`
  (`event:<event id>:<user id>`) is unique: a replay writes nothing twice. A crash before commit loses the event
  and its mail together; after commit, both are there.
- `claim`: due queued rows whose lease is free get a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two
  dispatchers never claim one row); `mark_sent` / `mark_failed` / `release` end it. A dispatcher that dies keeps
  its rows until the lease runs out; another then sends them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.mail_notices import Category, Delivery, Schedule, mailed_category, parse_clock
from domain.organisation import Role
from server.persistence.event_log import StoredEvent, as_utc
from server.persistence.mail_models import DeadlineEscalationRow, MailOutboxRow, NotificationSettingsRow
from server.persistence.models import AssignmentRow, UserRow

CASE_ROLES = (str(Role.USER), str(Role.SUPER_USER))
ESCALATION_ROLES = (str(Role.SUPER_USER), str(Role.LOCAL_ACCESS_ADMINISTRATOR))


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either backend."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def schedule_of(row: NotificationSettingsRow) -> Schedule:
    return Schedule(delivery=Delivery(row.delivery), digest_at=parse_clock(row.digest_at),
                    quiet_from=parse_clock(row.quiet_from) if row.quiet_from else None,
                    quiet_to=parse_clock(row.quiet_to) if row.quiet_to else None)


async def recipients(session: AsyncSession, unit_ids: Iterable[str], category: Category | None,
                     roles: Sequence[str] = CASE_ROLES) -> list[tuple[NotificationSettingsRow, str]]:
    """(settings, unit id) of active users with e-mail on at these units in these roles, who chose `category`
    (None: any), one per user (the first unit in sorted order)."""
    units = sorted(set(unit_ids))
    if not units:
        return []
    s = NotificationSettingsRow
    chosen = getattr(s, str(category)) == true() if category is not None else true()
    rows = (await session.execute(
        select(s, AssignmentRow.unit_id).join(AssignmentRow, AssignmentRow.user_id == s.user_id)
        .join(UserRow, UserRow.id == s.user_id)
        .where(AssignmentRow.unit_id.in_(units), AssignmentRow.role.in_(list(roles)), UserRow.active == true(),
               s.email_enabled == true(), s.email.is_not(None), chosen)
        .order_by(s.user_id, AssignmentRow.unit_id))).tuples()
    seen: dict[str, tuple[NotificationSettingsRow, str]] = {}
    for settings, unit_id in rows:
        seen.setdefault(settings.user_id, (settings, unit_id))
    return list(seen.values())


@dataclass(frozen=True)
class Notice:
    """One mail to enqueue: what it is about, for whom (settings), through which unit."""

    dedupe_key: str
    settings: NotificationSettingsRow
    unit_id: str
    kind: str
    event_type: str | None
    aggregate_type: str
    aggregate_id: str


async def enqueue(session: AsyncSession, notices: Sequence[Notice], now: datetime) -> None:
    if not notices:
        return
    rows = []
    for n in notices:
        schedule = schedule_of(n.settings)
        rows.append({"dedupe_key": n.dedupe_key, "user_id": n.settings.user_id, "unit_id": n.unit_id,
                     "kind": n.kind, "event_type": n.event_type, "aggregate_type": n.aggregate_type,
                     "aggregate_id": n.aggregate_id, "created_at": now, "due_at": schedule.due_at(now),
                     "digest": schedule.delivery is Delivery.DIGEST, "status": "queued", "attempts": 0})
    await session.execute(insert_ignoring_duplicates(session, MailOutboxRow), rows)


async def enqueue_for_events(session: AsyncSession, stored: Sequence[StoredEvent], now: datetime) -> None:
    """The mails the events cause, in the events' transaction."""
    notices: list[Notice] = []
    for event in stored:
        if not event.envelopes:
            continue
        envelope = event.envelopes[0]
        category = mailed_category(envelope.type, envelope.data)
        if category is None:
            continue
        actor_unit, actor_user = envelope.data.get("actor_unit_id"), envelope.data.get("actor_user_id")
        told = [u for u in envelope.unit_ids if u != actor_unit]
        kind = "sip_meeting" if category is Category.SIP_MEETINGS else "notice"
        notices.extend(
            Notice(f"event:{envelope.event_id}:{settings.user_id}", settings, unit_id, kind, envelope.type,
                   str(envelope.aggregate_type), envelope.aggregate_id)
            for settings, unit_id in await recipients(session, told, category) if settings.user_id != actor_user)
    await enqueue(session, notices, now)


# ----- the dispatcher's side ------------------------------------------------------------------------------------

@dataclass
class Lease:
    """A dispatcher's hold on claimed rows: every later write is fenced by `token`, so a dispatcher whose lease ran
    out (and whose rows another one claimed) changes nothing of them."""

    token: str
    until: datetime


async def claim(session: AsyncSession, now: datetime, lease: timedelta,
                limit: int) -> tuple[Lease, list[MailOutboxRow]]:
    """Lease up to `limit` due rows (oldest first) in the caller's transaction; commit to hold the lease."""
    m = MailOutboxRow
    held = Lease(str(uuid.uuid4()), now + lease)
    free = or_(m.lease_until.is_(None), m.lease_until < now)
    ids = list(await session.scalars(
        select(m.id).where(m.status == "queued", m.due_at <= now, free).order_by(m.due_at, m.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if not ids:
        return held, []
    await session.execute(update(m).where(m.id.in_(ids))
                          .values(lease_until=held.until, lease_token=held.token, attempts=m.attempts + 1))
    return held, list(await session.scalars(select(m).where(m.id.in_(ids)).order_by(m.id)))


def _mine(lease: Lease, ids: Sequence[int]) -> Any:
    m = MailOutboxRow
    return and_(m.id.in_(list(ids)), m.lease_token == lease.token, m.status == "queued")


async def renew(session: AsyncSession, lease: Lease, ids: Sequence[int], until: datetime) -> set[int]:
    """Extend the lease on those of `ids` still held by it; returns them (the others went to another dispatcher)."""
    m = MailOutboxRow
    await session.execute(update(m).where(_mine(lease, ids)).values(lease_until=until))
    return set(await session.scalars(select(m.id).where(_mine(lease, ids))))


async def mark_sent(session: AsyncSession, lease: Lease, ids: Sequence[int], at: datetime) -> int:
    if session.get_bind().dialect.name == "postgresql":  # no fsync wait: a database crash can only cause a resend
        await session.execute(text("SET LOCAL synchronous_commit = off"))
    result = await session.execute(update(MailOutboxRow).where(_mine(lease, ids))
                                   .values(status="sent", sent_at=at, lease_until=None, error=None))
    marked = int(result.rowcount)  # type: ignore[attr-defined]
    if marked < len(ids):  # the lease ran out while the server accepted it: still sent (no later resend)
        m = MailOutboxRow
        await session.execute(update(m).where(m.id.in_(list(ids)), m.status == "queued")
                              .values(status="sent", sent_at=at, lease_until=None, error=None))
    return marked


async def mark_failed(session: AsyncSession, lease: Lease, ids: Sequence[int], error: str) -> None:
    await session.execute(update(MailOutboxRow).where(_mine(lease, ids))
                          .values(status="failed", lease_until=None, error=error[:200]))


async def retry_later(session: AsyncSession, lease: Lease, ids: Sequence[int], at: datetime, error: str) -> None:
    await session.execute(update(MailOutboxRow).where(_mine(lease, ids))
                          .values(lease_until=None, due_at=at, error=error[:200]))


async def release(session: AsyncSession, lease: Lease, ids: Sequence[int]) -> None:
    """Give claimed rows back at once (a dispatcher stopping): another may send them without waiting for the lease."""
    await session.execute(update(MailOutboxRow).where(_mine(lease, ids)).values(lease_until=None))


async def report_address_failure(session: AsyncSession, user_id: str, at: datetime, failure: str) -> None:
    await session.execute(update(NotificationSettingsRow).where(NotificationSettingsRow.user_id == user_id)
                          .values(address_failed_at=at, address_failure=failure[:200]))


async def oldest_queued(session: AsyncSession) -> datetime | None:
    oldest = await session.scalar(select(func.min(MailOutboxRow.created_at)).where(MailOutboxRow.status == "queued"))
    return as_utc(oldest) if oldest else None


# ----- escalation ----------------------------------------------------------------------------------------------

async def record_escalation(session: AsyncSession, case_id: str, level: int, threshold: datetime,
                            unit_ids: Sequence[str], now: datetime) -> bool:
    """Record that `case_id`'s threshold reached `level`; False if it was already (another scan did it)."""
    result = await session.execute(insert_ignoring_duplicates(session, DeadlineEscalationRow).values(
        case_id=case_id, level=level, threshold=threshold, unit_ids=list(unit_ids), escalated_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def not_escalated(case_id: Any, level: int, threshold: Any) -> Any:
    e = DeadlineEscalationRow
    return ~select(e.case_id).where(and_(e.case_id == case_id, e.level == level, e.threshold == threshold)).exists()


async def escalated_case_ids(session: AsyncSession, case_ids: Sequence[str],
                             current: dict[str, datetime | None]) -> set[str]:
    """Of these cases, those whose current overdue threshold reached level 2 (shown as "Eskalerad")."""
    if not case_ids:
        return set()
    e = DeadlineEscalationRow
    rows = (await session.execute(select(e.case_id, e.threshold).where(e.case_id.in_(list(case_ids)), e.level == 2)))
    return {case_id for case_id, threshold in rows.tuples()
            if (due := current.get(case_id)) is not None and as_utc(threshold) == as_utc(due)}


