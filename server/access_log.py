"""The access log (åtkomstlogg): every read and write of patient data, written in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from server.persistence.models import AccessLogRow
from server.principal import CurrentUser


async def record(session: AsyncSession, user: CurrentUser, *, unit_id: str | None, patient_ids: list[str],
                 case_ids: list[str | None], action: str, at: datetime, purpose: str = "care_coordination") -> None:
    if not patient_ids:
        return
    await session.execute(insert(AccessLogRow), [
        {"at": at, "user_id": user.id, "user_hsa_id": user.hsa_id, "unit_id": unit_id, "patient_id": patient_id,
         "case_id": case_id, "action": action, "purpose": purpose}
        for patient_id, case_id in zip(patient_ids, case_ids, strict=True)
    ])
