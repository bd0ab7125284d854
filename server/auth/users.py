"""From a bearer token to the Samplan user with their assignments (one place for REST and the stream).

Besides the token's own checks (`TokenVerifier`): a token revoked at sign-out is refused (`server/auth/revocation.py`),
and so is a token issued before the user's identifying claim (HSA-id) was given to them (`identity_changed_at`, set
when the user is created and when their HSA-id changes): such a token was issued to whoever held the HSA-id before.
`iat` is compared in whole seconds (a token issued in the same second as the change is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.organisation import Assignment, Role
from server.auth.revocation import RevocationList, RevocationUnavailable, revocation_key
from server.auth.tokens import InvalidToken, TokenVerifier, VerifiedToken
from server.errors import Unauthenticated, Unavailable
from server.persistence.event_log import as_utc
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser


@dataclass(frozen=True)
class Authenticated:
    user: CurrentUser
    expires_at: float
    token_key: str = ""  # the token's key in the deny-list (`revocation_key`)


async def verify(token: str, verifier: TokenVerifier) -> VerifiedToken:
    try:
        return await verifier.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None


async def authenticate(token: str, verifier: TokenVerifier, uow: UnitOfWork, user_claim: str, *,
                       revoked: RevocationList | None = None,
                       verified: VerifiedToken | None = None) -> Authenticated:
    """`verified`: the token's verification already made for this request (the rate limiter makes one)."""
    if verified is None:
        verified = await verify(token, verifier)
    key = revocation_key(token, verified.claims)
    if revoked is not None:
        try:
            if await revoked.is_revoked(key):
                raise Unauthenticated("invalid token: token revoked")
        except RevocationUnavailable:
            raise Unavailable("the token cannot be checked right now; try again shortly") from None
    value = verified.claim(user_claim)
    if value is None:
        raise Unauthenticated(f"the token has no {user_claim} claim")
    async with uow:
        user = await uow.directory.user_by_claim(user_claim, value)
        if user is None:
            raise Unauthenticated("no active Samplan user matches the token")
        if user.identity_changed_at is not None:
            iat = verified.claims.get("iat")
            if (not isinstance(iat, int | float) or isinstance(iat, bool)
                    or iat < int(as_utc(user.identity_changed_at).timestamp())):
                raise Unauthenticated("invalid token: issued before the user's identity changed; sign in again")
        assignments = await uow.directory.assignments(user.id)
    current = CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                          organisation_id=user.organisation_id,
                          assignments=tuple(Assignment(a.unit_id, Role(a.role), a.protected_identity_access)
                                            for a in assignments))
    return Authenticated(current, float(verified.claims.get("exp", 0)), key)

