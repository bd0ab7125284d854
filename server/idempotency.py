"""Idempotency-Key for command POSTs: a retried request gets the first answer instead of a second change.

The key is stored with the response in the same transaction as the change, so a key exists exactly when
the change committed. A key reused with a different request body is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Conflict, Invalid
from server.persistence.models import IdempotencyRow
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser

U = TypeVar("U", bound=UnitOfWork)


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    request_hash: str

    @classmethod
    def from_request(cls, key: str | None, method: str, path: str, body: bytes) -> IdempotencyKey | None:
        if key is None:
            return None
        if not 1 <= len(key) <= 200:
            raise Invalid("the Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
        digest = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        return cls(key, digest)


async def replay_or_none(session: AsyncSession, user: CurrentUser, idem: IdempotencyKey) -> tuple[int, bytes] | None:
    row = await session.scalar(select(IdempotencyRow).where(IdempotencyRow.user_id == user.id,
                                                            IdempotencyRow.key == idem.key))
    if row is None:
        return None
    if row.request_hash != idem.request_hash:
        raise Invalid("this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return row.status_code, row.response_body.encode()


async def store_response(session: AsyncSession, user: CurrentUser, idem: IdempotencyKey, status: int, body: bytes,
                         now: datetime) -> None:
    await session.execute(insert(IdempotencyRow).values(user_id=user.id, key=idem.key, request_hash=idem.request_hash,
                                                        status_code=status, response_body=body.decode(),
                                                        created_at=now))


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < cutoff))


@dataclass(frozen=True)
class CommandResult:
    status: int
    body: bytes


async def run_once(uow: Callable[[], U], user: CurrentUser, idem: IdempotencyKey | None,
                   run: Callable[[], Awaitable[CommandResult]],
                   log_replay: Callable[[UnitOfWork, bytes], Awaitable[None]]) -> CommandResult:
    """Run a command; if a concurrent retry with the same key committed first, answer with its response.

    The retry notices the first one as a unique-key violation, or as the conflict the first one's change
    causes (e.g. the patient's open case it registered). The replayed answer is a read: `log_replay` logs it."""
    try:
        return await run()
    except (IntegrityError, Conflict):
        if idem is None:
            raise
        async with uow() as unit_of_work:
            replay = await replay_or_none(unit_of_work.session, user, idem)
            if replay is None:
                raise
            await log_replay(unit_of_work, replay[1])
            await unit_of_work.commit()
        return CommandResult(*replay)
