"""Dependency providers: the runtime, the use cases and queries composed once (`server/composition.py`), and
the authenticated user of each request.

Authentication is a guard on the `/api/v1` router (`require_authentication`): Litestar runs guards before it
parses a handler's parameters and body, so a request without a valid token gets 401 before any 400 about its
parameters (nothing about an endpoint's inputs is told to anonymous callers). The event stream authenticates with
its first frame instead (`server/api/stream.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler

from server.api.hardening import VERIFIED_TOKEN_SCOPE_KEY
from server.auth.tokens import InvalidToken, VerifiedToken, bearer_token
from server.auth.users import Authenticated, authenticate, authenticate_many
from server.composition import Queries
from server.errors import ApplicationError, Unauthenticated
from server.principal import CurrentUser
from server.runtime import Runtime
from server.services.admin import AdminService
from server.services.audit import AuditService
from server.services.cases import CaseService
from server.services.payment import PaymentService
from server.services.sip import SipService

AUTHENTICATED_SCOPE_KEY = "samplan.authenticated"


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def provide_case_service(state: State) -> CaseService:
    return provide_runtime(state).services.cases


def provide_sip_service(state: State) -> SipService:
    return provide_runtime(state).services.sip


def provide_admin_service(state: State) -> AdminService:
    return provide_runtime(state).services.admin


def provide_audit_service(state: State) -> AuditService:
    return provide_runtime(state).services.audit


def provide_payment_service(state: State) -> PaymentService:
    return provide_runtime(state).services.payment


def provide_queries(state: State) -> Queries:
    return provide_runtime(state).queries


Cases = NamedDependency[CaseService]
Sip = NamedDependency[SipService]
Admin = NamedDependency[AdminService]
Audit = NamedDependency[AuditService]
Payment = NamedDependency[PaymentService]
Reads = NamedDependency[Queries]


def dependencies() -> dict[str, Provide]:
    """The dependencies of every `/api/v1` route: a handler names the one it needs (`NamedDependency[T]`)."""
    def sync(provider: Any) -> Provide:
        return Provide(provider, sync_to_thread=False)

    return {"current_user": Provide(provide_current_user), "authenticated": Provide(provide_authenticated),
            "runtime": sync(provide_runtime), "cases": sync(provide_case_service), "sip": sync(provide_sip_service),
            "admin": sync(provide_admin_service), "audit": sync(provide_audit_service),
            "payment": sync(provide_payment_service), "queries": sync(provide_queries)}


async def authenticate_viewers(runtime: Runtime, tokens: Sequence[str]) -> list[CurrentUser | ApplicationError]:
    """The users of several tokens (the viewers of one live update), each checked as a request's own token is;
    a token that fails gets its 401 in its place (`server.auth.users.authenticate_many`)."""
    users = await authenticate_many(tokens, runtime.verifier, runtime.uow(), runtime.settings.user_claim,
                                    revoked=runtime.revocations)
    return list(users)


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
