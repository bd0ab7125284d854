"""Dependency providers: the runtime, and the authenticated user of each request."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from domain.organisation import Assignment, Role
from server.auth.tokens import InvalidToken, bearer_token
from server.errors import Unauthenticated
from server.principal import CurrentUser
from server.runtime import Runtime


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


async def provide_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    runtime: Runtime = state.runtime
    try:
        token = await runtime.verifier.verify(bearer_token(request.headers.get("authorization")))
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None
    claim = runtime.settings.user_claim
    value = token.claim(claim)
    if value is None:
        raise Unauthenticated(f"the token has no {claim} claim")
    async with runtime.uow() as uow:
        user = await uow.directory.user_by_claim(claim, value)
        if user is None:
            raise Unauthenticated("no active Samplan user matches the token")
        assignments = await uow.directory.assignments(user.id)
    return CurrentUser(id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name,
                       organisation_id=user.organisation_id,
                       assignments=tuple(Assignment(a.unit_id, Role(a.role)) for a in assignments))
