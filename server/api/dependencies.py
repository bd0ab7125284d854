"""Dependency providers: the runtime, and the authenticated user of each request.

Authentication is a guard on the `/api/v1` router (`require_authentication`): Litestar runs guards before it
parses a handler's parameters and body, so a request without a valid token gets 401 before any 400 about its
parameters (nothing about an endpoint's inputs is told to anonymous callers). The event stream authenticates with
its first frame instead (`server/api/stream.py`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler

from server.api.hardening import VERIFIED_TOKEN_SCOPE_KEY
from server.auth.tokens import InvalidToken, VerifiedToken, bearer_token
from server.auth.users import Authenticated, authenticate
from server.errors import Unauthenticated
from server.principal import CurrentUser
from server.runtime import Runtime

AUTHENTICATED_SCOPE_KEY = "samplan.authenticated"


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


async def require_authentication(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of every `/api/v1` HTTP route: a valid, unrevoked token of an active user, or 401."""
    if connection.scope["type"] != ScopeType.HTTP:
        return
    await _authenticated(connection)


async def _authenticated(connection: ASGIConnection[Any, Any, Any, Any]) -> Authenticated:
    done = connection.scope.get(AUTHENTICATED_SCOPE_KEY)
    if isinstance(done, Authenticated):
        return done
    runtime: Runtime = connection.app.state.runtime
    try:
        token = bearer_token(connection.headers.get("authorization"))
    except InvalidToken as exc:
        raise Unauthenticated(f"invalid token: {exc.reason}") from None
    verified: VerifiedToken | None = None
    earlier = connection.scope.get(VERIFIED_TOKEN_SCOPE_KEY)
    if isinstance(earlier, tuple) and earlier[0] == token:  # the rate limiter verified this very token
        verified = earlier[1]
    result = await authenticate(token, runtime.verifier, runtime.uow(), runtime.settings.user_claim,
                                revoked=runtime.revocations, verified=verified)
    connection.scope[AUTHENTICATED_SCOPE_KEY] = result  # type: ignore[literal-required]
    return result


async def provide_authenticated(request: Request[Any, Any, Any]) -> Authenticated:
    return await _authenticated(request)


async def provide_current_user(request: Request[Any, Any, Any], state: State) -> CurrentUser:
    return (await _authenticated(request)).user
