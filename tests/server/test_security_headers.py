"""Hardening: security headers on every answer, and rate limiting with a 429 problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar

from server.api.app import create_app
from server.api.hardening import parse_rate_limit
from tests.conftest import Backend
from tests.server.conftest import test_settings as settings_for

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]


def assert_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(("path", "status"), [("/api/v1/me", 200), ("/api/v1/cases/nope", 404), ("/health", 200),
                                              ("/api/v1/units?limit=0", 400)])
async def test_every_api_answer_carries_the_headers(client: Client, auth: Auth, path: str, status: int) -> None:
    response = await client.get(path, headers=auth("ward.nurse"))
    assert response.status_code == status
    assert_common(response)
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "strict-transport-security" not in response.headers  # plain HTTP: HSTS would mean nothing


async def test_unauthenticated_answers_carry_them_too(client: Client) -> None:
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert_common(response)


async def test_the_interactive_docs_get_a_policy_they_work_with(client: Client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert_common(page)
    policy = page.headers["content-security-policy"]
    for url in ("https://cdn.jsdelivr.net",):
        assert url in policy
        assert url.split("//")[1] in page.text  # the page loads its script and style from there
    assert "script-src" in policy
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200


async def test_hsts_behind_https(client: Client, auth: Auth) -> None:
    response = await client.get("/api/v1/me", headers={**auth("ward.nurse"), "X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.fixture
async def limited(backend: Backend, app: Litestar) -> AsyncIterator[Client]:
    """The same runtime behind an app allowing 3 API requests per minute per user."""
    limited_app = create_app(replace(settings_for(backend), rate_limit="3/minute"), app.state.runtime)
    limited_app.state.runtime = app.state.runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited_app), base_url="http://t.local") as c:
        yield c


async def test_too_many_requests_get_a_429_problem(limited: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    for _ in range(3):
        assert (await limited.get("/api/v1/me", headers=nurse)).status_code == 200
    refused = await limited.get("/api/v1/me", headers=nurse)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 429
    assert_common(refused)
    # Per user: another user is not throttled; health checks never are.
    assert (await limited.get("/api/v1/me", headers=auth("auditor"))).status_code == 200
    for _ in range(5):
        assert (await limited.get("/health")).status_code == 200


def test_rate_limit_settings() -> None:
    assert parse_rate_limit("6000/minute") == ("minute", 6000)
    assert parse_rate_limit("0") is None
    assert parse_rate_limit("off") is None
    with pytest.raises(ValueError, match="600/minute"):
        parse_rate_limit("lots")
