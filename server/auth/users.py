"""From a bearer token to the Samplan user with their assignments (one place for REST and the stream).

Besides the token's own checks (`TokenVerifier`): a token revoked at sign-out is refused (`server/auth/revocation.py`),
and so is a token issued before the user's identifying claim (HSA-id) was given to them (`identity_changed_at`, set
when the user is created and when their HSA-id changes): such a token was issued to whoever held the HSA-id before.
`iat` is compared in whole seconds (a token issued in the same second as the change is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    claim_value: str = ""  # the token's user claim: an open stream looks the user up by it again
    issued_at: object = None  # the token's `iat`, checked again against `identity_changed_at` on every look-up


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
    issued_at = verified.claims.get("iat")
    current = await current_user(uow, user_claim, value, issued_at)
    if current is None:
        raise Unauthenticated("no active Samplan user matches the token (or it was issued before the user's "
                              "identity changed; sign in again)")
    return Authenticated(current, float(verified.claims.get("exp", 0)), key, value, issued_at)


def _issued_before_change(issued_at: object, changed_at: datetime | None) -> bool:
    if changed_at is None:
        return False
    return (not isinstance(issued_at, int | float) or isinstance(issued_at, bool)
            or issued_at < int(as_utc(changed_at).timestamp()))


async def current_user(uow: UnitOfWork, user_claim: str, value: str, issued_at: object) -> CurrentUser | None:
    """The active user the claim names, with their assignments now; None if there is none (deactivated, the
    HSA-id changed) or the token (issued at `issued_at`) predates the user's identity."""
    async with uow:
        user = await uow.directory.user_by_claim(user_claim, value)
        if user is None or _issued_before_change(issued_at, user.identity_changed_at):
            return None
        assignments = await uow.directory.assignments(user.id)
    return CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                       organisation_id=user.organisation_id,
                       assignments=tuple(Assignment(a.unit_id, Role(a.role), a.protected_identity_access)
                                         for a in assignments))
