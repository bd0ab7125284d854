"""The inbox of a receiving unit: its cases past the draft, each with the notices it has not acknowledged.

Answered from the query rows in `case_participants` (`server/persistence/read_models.py`): the unit's inbox flag,
its unread count and the inbox order key, walked as keyset pages along the index (unit_id, in_inbox, has_unread,
inbox_at, case_id), so a page costs the same whatever the unit's history; only the page's documents are decoded.
The unread counter (`unread`) is a SUM over the rows with unread notices, without loading them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select, tuple_

from domain.payment import PaymentPolicy
from server import access_log, authorization
from server.errors import Invalid
from server.persistence.models import CaseParticipantRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.views.cases import InboxOut, UnreadOut, inbox_item

Cursor = tuple[bool, datetime, str]


def encode_cursor(position: Cursor) -> str:
    """The position after a page's last row, opaque to the client (no personal data: a flag, a time, a case id)."""
    has_unread, at, case_id = position
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)  # SQLite gives the stored UTC naive
    raw = json.dumps([has_unread, at.isoformat(), case_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """422 `invalid_cursor` on `after` for anything `encode_cursor` did not write."""
    try:
        has_unread, at, case_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        moment = datetime.fromisoformat(at)
        if not isinstance(has_unread, bool) or not isinstance(case_id, str) or moment.tzinfo is None:
            raise ValueError(text)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("not a position this list gave", field="after", code="invalid_cursor") from exc
    return has_unread, moment, case_id


async def unread_of(uow: UnitOfWork, unit_id: str) -> int:
    """The notices the unit has not acknowledged, over the cases in its inbox (the counter): a SUM over the rows
    that have any, through the inbox index."""
    p = CaseParticipantRow
    return int(await uow.session.scalar(select(func.coalesce(func.sum(p.unread), 0)).where(
        p.unit_id == unit_id, p.in_inbox.is_(True), p.has_unread.is_(True))) or 0)


class InboxQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], policy: PaymentPolicy, clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def inbox(self, current_user: CurrentUser, unit_id: str, *, limit: int = 50,
                    after: str | None = None) -> InboxOut:
        """One page of the inbox: cases with unread notices first, newest notice first, then the others, newest
        admission first; `next` is the position to ask for the following page (None after the last). 403/404
        unless the user works at the unit; the read is access-logged with the cases it shows."""
        authorization.require_unit_access(current_user, unit_id)
        position = decode_cursor(after) if after else None
        p = CaseParticipantRow
        where: list[ColumnElement[bool]] = [p.unit_id == unit_id, p.in_inbox.is_(True)]
        if position is not None:
            where.append(tuple_(p.has_unread, p.inbox_at, p.case_id) < tuple_(*position))
        async with self._uow() as uow:
            now = self._clock()
            page = (await uow.session.execute(
                select(p.case_id, p.has_unread, p.inbox_at).where(*where)
                .order_by(p.has_unread.desc(), p.inbox_at.desc(), p.case_id.desc()).limit(limit + 1))).all()
            more, page = len(page) > limit, page[:limit]
            loaded = {c.id: (c, person) for c, person in await uow.cases.get_many([r.case_id for r in page])}
            cases = [loaded[r.case_id] for r in page if r.case_id in loaded]
            reveal = authorization.reveals_protected_identity(current_user, unit_id)
            names = await uow.directory.names_for_cases([c for c, _ in cases], [p for _, p in cases])
            items = [inbox_item(c, p, unit_id, self._policy, now, reveal=reveal, names=names) for c, p in cases]
            unread = await unread_of(uow, unit_id)
            await access_log.record(uow.session, current_user, unit_id=unit_id,
                                    patient_ids=[person.id for _, person in cases],
                                    case_ids=[c.id for c, _ in cases], action="list_inbox", at=now)
            await uow.commit()
        last = page[-1] if page else None
        following = (encode_cursor((bool(last.has_unread), last.inbox_at, last.case_id))
                     if more and last is not None else None)
        return InboxOut(unit_id=unit_id, unread=unread, items=items, next=following)

    async def unread(self, current_user: CurrentUser, unit_id: str) -> UnreadOut:
        """The unit's unread counter alone (no patient data, so no access-log row)."""
        authorization.require_unit_access(current_user, unit_id)
        async with self._uow() as uow:
            return UnreadOut(unit_id=unit_id, unread=await unread_of(uow, unit_id))
