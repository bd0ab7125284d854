"""Dependency providers: the runtime, and the authenticated user of each request."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from server.auth.tokens import InvalidToken, bearer_token
from server.auth.users import authenticate
from server.errors import Unauthenticated
from server.principal import CurrentUser
from server.runtime import Runtime


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


async def provide_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    runtime: Runtime = state.runtime
    try:
        token = bearer_token(request.headers.get("authorization"))
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None
    result = await authenticate(token, runtime.verifier, runtime.uow(), runtime.settings.user_claim)
    return result.user
