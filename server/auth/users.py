"""From a bearer token to the Samplan user with their assignments (one place for REST and the stream)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.organisation import Assignment, Role
from server.auth.tokens import InvalidToken, TokenVerifier
from server.errors import Unauthenticated
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser


@dataclass(frozen=True)
class Authenticated:
    user: CurrentUser
    expires_at: float


async def authenticate(token: str, verifier: TokenVerifier, uow: UnitOfWork, user_claim: str) -> Authenticated:
    try:
        verified = await verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None
    value = verified.claim(user_claim)
    if value is None:
        raise Unauthenticated(f"the token has no {user_claim} claim")
    async with uow:
        user = await uow.directory.user_by_claim(user_claim, value)
        if user is None:
            raise Unauthenticated("no active Samplan user matches the token")
        assignments = await uow.directory.assignments(user.id)
    current = CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                          organisation_id=user.organisation_id,
                          assignments=tuple(Assignment(a.unit_id, Role(a.role), a.protected_identity_access)
                                            for a in assignments))
    return Authenticated(current, float(verified.claims.get("exp", 0)))
