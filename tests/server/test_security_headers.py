"""Hardening: security headers on every answer, and rate limiting with a 429 problem."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from server.api import hardening
from server.api.app import create_app
from server.api.hardening import RATE_LIMIT_STORE, MemoryCounterStore, RedisCounterStore, parse_rate_limit
from server.auth.tokens import DevSigningKey
from tests.conftest import Backend
from tests.realtime.cluster import RedisServer
from tests.server.conftest import AUDIENCE, ISSUER
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


# ----- rate limiting across instances -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def as_subject(signing_key: DevSigningKey) -> Callable[[str], dict[str, str]]:
    """A validly signed token for `subject`, whom no Samplan user matches: the limiter keys it by the subject (it
    verifies), and the API then answers 401."""
    def headers(subject: str) -> dict[str, str]:
        token = signing_key.issue(subject=subject, issuer=ISSUER, audience=AUDIENCE,
                                  claims={"hsa_id": f"SE-NOBODY-{subject}"}, lifetime=timedelta(minutes=5))
        return {"Authorization": f"Bearer {token}"}
    return headers


def forged(subject: str) -> dict[str, str]:
    """An unsigned token naming `subject` (anyone can make one)."""
    claims = base64.urlsafe_b64encode(json.dumps({"sub": subject}).encode()).rstrip(b"=").decode()
    return {"Authorization": f"Bearer e30.{claims}.c2ln"}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (real Redis), so the test can also take it away."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def instances(backend: Backend, app: Litestar, redis_url: str, count: int = 2,
                    limit: str = "5/minute") -> AsyncIterator[list[Client]]:
    """`count` API apps (as separate instances would be: each its own store and Redis client), one runtime."""
    settings = replace(settings_for(backend), rate_limit=limit, redis_url=redis_url)
    apps = [create_app(settings, app.state.runtime) for _ in range(count)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for instance in apps:
            instance.state.runtime = app.state.runtime
            await stack.enter_async_context(instance.stores.get(RATE_LIMIT_STORE))  # closes its Redis client
            clients.append(await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=instance), base_url="http://t.local")))
        yield clients


async def statuses(client: Client, headers: dict[str, str], n: int) -> list[int]:
    return [(await client.get("/api/v1/me", headers=headers)).status_code for _ in range(n)]


async def test_instances_sharing_redis_share_the_count(backend: Backend, app: Litestar, private_redis: RedisServer,
                                                       as_subject: Callable[[str], dict[str, str]]) -> None:
    async with instances(backend, app, private_redis.url) as (a, b):
        assert isinstance(app_store(a), RedisCounterStore)
        user = as_subject(str(uuid.uuid4()))
        assert await statuses(a, user, 3) == [401, 401, 401]  # counted, then refused by the token check
        second = await b.get("/api/v1/me", headers=user)
        assert second.status_code == 401
        assert second.headers["ratelimit-remaining"] == "1"  # b saw a's three requests
        assert await statuses(b, user, 1) == [401]
        refused = await a.get("/api/v1/me", headers=user)  # the sixth in the window, through either instance
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 0 < int(refused.headers["ratelimit-reset"]) <= 60
        assert await statuses(b, user, 1) == [429]
        assert await statuses(b, as_subject(str(uuid.uuid4())), 1) == [401]  # another user is not throttled


async def test_without_redis_each_instance_counts_alone(backend: Backend, app: Litestar,
                                                        as_subject: Callable[[str], dict[str, str]]) -> None:
    """Embedded defaults: the counts live in the process (one instance is all there is)."""
    async with instances(backend, app, "") as (a, b):
        assert isinstance(app_store(a), MemoryCounterStore)
        user = as_subject(str(uuid.uuid4()))
        assert await statuses(a, user, 6) == [401] * 5 + [429]
        assert await statuses(b, user, 1) == [401]


async def test_when_redis_goes_away_the_api_stays_up_and_still_limits(
        backend: Backend, app: Litestar, private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch,
        as_subject: Callable[[str], dict[str, str]]) -> None:
    monkeypatch.setattr(hardening, "REDIS_RETRY_SECONDS", 0.0)  # try Redis again at once
    async with instances(backend, app, private_redis.url, count=1) as (a,):
        user = as_subject(str(uuid.uuid4()))
        assert await statuses(a, user, 2) == [401, 401]
        private_redis.stop()
        # Counted in the process meanwhile: no 500, and the limit still holds (per instance).
        assert await statuses(a, user, 6) == [401] * 5 + [429]
        private_redis.start()  # empty again (no persistence): the shared count starts over
        assert await statuses(a, user, 6) == [401] * 5 + [429]


async def test_forged_tokens_naming_a_user_do_not_spend_that_users_budget(
        backend: Backend, app: Litestar, private_redis: RedisServer, token: Callable[..., str]) -> None:
    """Regression: the limiter keyed on the unverified `sub`, so unsigned tokens naming a victim (from anywhere)
    spent the victim's shared bucket and the victim's own valid token got 429. Unverified requests now count
    against the address they come from."""
    victim_token = token("ward.nurse")
    victim_subject = json.loads(base64.urlsafe_b64decode(victim_token.split(".")[1] + "=="))["sub"]
    async with instances(backend, app, private_redis.url, count=1) as (victim,):
        transport = victim._transport
        assert isinstance(transport, httpx.ASGITransport)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=transport.app, client=("203.0.113.7", 4444)),
                                     base_url="http://t.local") as attacker:
            assert await statuses(attacker, forged(victim_subject), 7) == [401] * 5 + [429] * 2
            answer = await victim.get("/api/v1/me", headers={"Authorization": f"Bearer {victim_token}"})
            assert answer.status_code == 200
            assert answer.headers["ratelimit-remaining"] == "4"  # only the victim's own request counted
            # A well-signed token of someone else (another issuer's key) is not the victim either.
            other_key = DevSigningKey.load_or_create(backend.data_dir / "other-issuer-key.json")
            alien = other_key.issue(subject=victim_subject, issuer=ISSUER, audience=AUDIENCE,
                                    claims={"hsa_id": "x"})
            assert (await attacker.get("/api/v1/me", headers={"Authorization": f"Bearer {alien}"})).status_code == 429
            assert (await victim.get("/api/v1/me", headers={"Authorization": f"Bearer {victim_token}"})
                    ).headers["ratelimit-remaining"] == "3"


def app_store(client: Client) -> object:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    instance = transport.app
    assert isinstance(instance, Litestar)
    return instance.stores.get(RATE_LIMIT_STORE)


async def test_the_limiter_and_the_authentication_verify_a_token_once(
        limited: Client, app: Litestar, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = app.state.runtime.verifier
    calls: list[str] = []
    original = verifier.verify

    async def counted(token: str, **kwargs: object) -> object:
        calls.append(token)
        return await original(token, **kwargs)

    monkeypatch.setattr(verifier, "verify", counted)
    assert (await limited.get("/api/v1/me", headers=auth("auditor"))).status_code == 200
    assert len(calls) == 1
