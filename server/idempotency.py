"""Idempotency-Key for command POSTs: a retried request gets the first answer instead of a second change.

The key is stored with the response in the same transaction as the change, so a key exists exactly when
the change committed. A key reused with a different request body is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Invalid
from server.persistence.models import IdempotencyRow
from server.principal import CurrentUser


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
