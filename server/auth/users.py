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
    claim_value: str = ""  # the token's user claim: an open stream looks the user up by it again


async def authenticate(token: str, verifier: TokenVerifier, uow: UnitOfWork, user_claim: str) -> Authenticated:
    try:
        verified = await verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None
    value = verified.claim(user_claim)
    if value is None:
        raise Unauthenticated(f"the token has no {user_claim} claim")
    current = await current_user(uow, user_claim, value)
    if current is None:
        raise Unauthenticated("no active Samplan user matches the token")
    return Authenticated(current, float(verified.claims.get("exp", 0)), value)


async def current_user(uow: UnitOfWork, user_claim: str, value: str) -> CurrentUser | None:
    """The active user the claim names, with their assignments now; None if there is none (deactivated, or the
    HSA-id changed)."""
    async with uow:
        user = await uow.directory.user_by_claim(user_claim, value)
        if user is None:
            return None
        assignments = await uow.directory.assignments(user.id)
    return CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                       organisation_id=user.organisation_id,
                       assignments=tuple(Assignment(a.unit_id, Role(a.role), a.protected_identity_access)
                                         for a in assignments))
