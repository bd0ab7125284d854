"""Users for every role, and targets in an own and another organisation, for the authorisation tests.

Every matrix user belongs to Karolinska and holds one role at the main ward. The "other" side is
Södersjukhuset (a case at its ward, received by Stockholms stad; its own auditor and review).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select

from domain.organisation import Role
from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from server.persistence.database import create_engine, session_factory
from server.persistence.models import AssignmentRow, UnitRow, UserRow
from tests.conftest import Backend
from tests.server.conftest import AUDIENCE, ISSUER, WARD, unit

OTHER_WARD = unit("sos-ward-akutgeriatrik-54")
KAROLINSKA = stable_id("organisation", "karolinska")


@dataclass(frozen=True)
class MatrixUser:
    username: str
    role: Role
    unit_id: str

    @property
    def id(self) -> str:
        return stable_id("user", self.username)

    @property
    def hsa_id(self) -> str:
        return f"SE2321000016-MX{self.username.replace('.', '').replace('_', '').upper()[:20]}"


MATRIX = {role: MatrixUser(f"matrix.{role.value}", role, WARD) for role in Role}
OTHER_WARD_USER = MatrixUser("matrix.other.ward", Role.USER, OTHER_WARD)
OTHER_AUDITOR = MatrixUser("matrix.other.auditor", Role.AUDITOR, OTHER_WARD)


async def ensure_users(backend: Backend) -> None:
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for user in [*MATRIX.values(), OTHER_WARD_USER, OTHER_AUDITOR]:
                if await session.scalar(select(UserRow.id).where(UserRow.id == user.id)):
                    continue
                org = await session.scalar(select(UnitRow.organisation_id).where(UnitRow.id == user.unit_id))
                await session.execute(insert(UserRow).values(
                    id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.username, title="",
                    organisation_id=org, active=True))
                await session.execute(insert(AssignmentRow).values(user_id=user.id, unit_id=user.unit_id,
                                                                   role=str(user.role)))
    finally:
        await engine.dispose()


def headers_for(signing_key: DevSigningKey, user: MatrixUser) -> dict[str, str]:
    token = signing_key.issue(subject=user.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user.hsa_id},
                              lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}
