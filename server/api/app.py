"""The Litestar application: `/api/v1` (authenticated), `/health`, `/ready` and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Router, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Scope, Send
from prometheus_client import generate_latest
from sqlalchemy import text

from server.api.admin import ADMIN_ROUTES
from server.api.cases import CASE_ROUTES
from server.api.dependencies import dependencies, require_authentication
from server.api.directory import DIRECTORY_ROUTES
from server.api.feeds import FEED_ROUTES
from server.api.hardening import rate_limit, rate_limit_stores, security_headers
from server.api.limits import depth_limited_request
from server.api.log_review import LOG_REVIEW_ROUTES
from server.api.notifications import NOTIFICATION_ROUTES
from server.api.openapi import openapi_config
from server.api.payment import PAYMENT_ROUTES
from server.api.problems import EXCEPTION_HANDLERS, problem
from server.api.reserve import RESERVE_ROUTES
from server.api.sip import SIP_ROUTES
from server.api.stream import event_stream
from server.runtime import Runtime, build_runtime
from server.schemas.cases import Health, Problem
from server.settings import Settings, get_settings


@get("/health", operation_id="health", summary="Liveness", tags=["operations"], media_type=MediaType.JSON,
     description="The process is up.")
async def health() -> Health:
    return Health("ok")


@get("/ready", operation_id="ready", summary="Readiness", tags=["operations"],
     description="The process can serve: the database answers. 503 otherwise.",
     responses={503: ResponseSpec(data_container=Problem, description="The database does not answer.",
                                  media_type="application/problem+json")})
async def ready(state: State) -> Health:
    runtime: Runtime = state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        raise ServiceUnavailable from None
    return Health("ready")


@get("/metrics", operation_id="metrics", summary="Prometheus metrics", tags=["operations"],
     media_type="text/plain; version=0.0.4", include_in_schema=False)
async def metrics() -> bytes:
    return generate_latest()


class ServiceUnavailable(Exception):
    pass


class SamplanApp(Litestar):
    """Litestar, with the `before_send` hooks (security headers: HTTP only) kept off websocket messages.

    The event stream sends each event to every subscriber; a hook call per frame is measurable in the fan-out
    (bench/fanout.py), and headers mean nothing to a websocket frame."""

    def _wrap_send(self, send: Send, scope: Scope) -> Send:
        if scope["type"] == ScopeType.WEBSOCKET:
            return send
        return super()._wrap_send(send, scope)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Litestar:
    settings = settings or get_settings()

    async def start(app: Litestar) -> None:
        app.state.runtime = runtime or build_runtime(settings)
        if runtime is None:
            await app.state.runtime.start()

    async def stop(app: Litestar) -> None:
        if runtime is None:
            await app.state.runtime.close()

    api = Router("/api/v1", route_handlers=[*CASE_ROUTES, *DIRECTORY_ROUTES, *FEED_ROUTES, *PAYMENT_ROUTES,
                                            *ADMIN_ROUTES, *LOG_REVIEW_ROUTES, *SIP_ROUTES, *RESERVE_ROUTES,
                                            *NOTIFICATION_ROUTES,
                                            event_stream],
                 dependencies=dependencies(),
                 guards=[require_authentication],
                 security=[{"BearerAuth": []}])
    handlers: list[Router | Any] = [api, health, ready, metrics]
    if settings.dev_mode:  # the development identity provider exists only in development mode
        from server.auth.dev_idp_routes import dev_idp_router

        handlers.append(dev_idp_router(settings))
    return SamplanApp(
        route_handlers=handlers, openapi_config=openapi_config(),
        exception_handlers={**EXCEPTION_HANDLERS,
                            ServiceUnavailable: lambda _r, _e: problem(503, "the database does not answer",
                                                                       "not_ready")},
        on_startup=[start], on_shutdown=[stop], debug=False,
        request_class=depth_limited_request(settings.max_json_depth), request_max_body_size=settings.max_body_bytes,
        before_send=[security_headers(settings.hsts_seconds)],
        middleware=[limiter.middleware] if (limiter := rate_limit(settings.rate_limit)) else [],
        stores=rate_limit_stores(settings.redis_url) if limiter else None,
    )
