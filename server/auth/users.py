"""From a bearer token to the Samplan user with their assignments (one place for REST and the stream).

Besides the token's own checks (`TokenVerifier`): a token revoked at sign-out is refused (`server/auth/revocation.py`),
and so is a token issued before the user's identifying claim (HSA-id) was given to them (`identity_changed_at`, set
when the user is created and when their HSA-id changes): such a token was issued to whoever held the HSA-id before.
`iat` is compared in whole seconds (a token issued in the same second as the change is accepted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.organisation import Assignment, Role
from server.auth.revocation import RevocationList, RevocationUnavailable, revocation_key
from server.auth.tokens import InvalidToken, TokenVerifier, VerifiedToken
from server.errors import Unauthenticated, Unavailable
from server.persistence.event_log import as_utc
from server.persistence.models import AssignmentRow, UserRow
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
    return _current(user, assignments)


def _current(user: UserRow, assignments: Iterable[AssignmentRow]) -> CurrentUser:
    return CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                       organisation_id=user.organisation_id,
                       assignments=tuple(Assignment(a.unit_id, Role(a.role), a.protected_identity_access)
                                         for a in assignments))


async def authenticate_many(tokens: Sequence[str], verifier: TokenVerifier, uow: UnitOfWork, user_claim: str, *,
                            revoked: RevocationList | None = None) -> list[CurrentUser | Unauthenticated]:
    """Several tokens at once (the viewers of one live update, `POST /cases/{id}/views`): each is checked as
    `authenticate` checks one (signature, expiry, deny-list, an active user, issued after the user's identity),
    and a token that fails gets its `Unauthenticated` in its place, never failing the others. The users and their
    assignments are looked up in two queries, whatever the number of tokens. A deny-list that cannot be read
    fails the whole call (503), as it fails a single request."""
    results: list[CurrentUser | Unauthenticated | VerifiedToken] = []
    for token in tokens:
        try:
            results.append(await verify(token, verifier))
        except Unauthenticated as exc:
            results.append(exc)
    checked = [(i, r, revocation_key(tokens[i], r.claims)) for i, r in enumerate(results)
               if isinstance(r, VerifiedToken)]
    if revoked is not None and checked:
        try:
            refused = await asyncio.gather(*(revoked.is_revoked(key) for _, _, key in checked))
        except RevocationUnavailable:
            raise Unavailable("the token cannot be checked right now; try again shortly") from None
        for (i, _, _), no in zip(checked, refused, strict=True):
            if no:
                results[i] = Unauthenticated("invalid token: token revoked")
    wanted: dict[int, str] = {}
    for i, r in enumerate(results):
        if isinstance(r, VerifiedToken):
            value = r.claim(user_claim)
            if value is None:
                results[i] = Unauthenticated(f"the token has no {user_claim} claim")
            else:
                wanted[i] = value
    users = await current_users(uow, user_claim, set(wanted.values())) if wanted else {}
    out: list[CurrentUser | Unauthenticated] = []
    for i, r in enumerate(results):
        if isinstance(r, VerifiedToken):
            user, changed_at = users.get(wanted[i], (None, None))
            if user is None or _issued_before_change(r.claims.get("iat"), changed_at):
                out.append(Unauthenticated("no active Samplan user matches the token"))
                continue
            out.append(user)
        else:
            assert isinstance(r, Unauthenticated)
            out.append(r)
    return out


async def current_users(uow: UnitOfWork, user_claim: str,
                        values: Iterable[str]) -> dict[str, tuple[CurrentUser, datetime | None]]:
    """The active users the claim values name (with when their identity last changed), in two queries."""
    async with uow:
        rows = await uow.directory.users_by_claim(user_claim, values)
        assignments = await uow.directory.assignments_of([u.id for u in rows])
    found: dict[str, tuple[CurrentUser, datetime | None]] = {}
    for user in rows:
        found[user.hsa_id if user_claim == "hsa_id" else user.username] = (
            _current(user, assignments.get(user.id, [])), user.identity_changed_at)
    return found
