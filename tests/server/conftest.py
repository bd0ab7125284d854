"""API fixtures: the real app on each backend, an HTTP client, and demo users' tokens."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from domain.identity import generate_test_personnummer
from server.api.app import create_app
from server.auth.tokens import DevSigningKey
from server.demo.seed import DEMO_USERS, stable_id
from server.runtime import build_runtime
from server.settings import Settings
from tests.conftest import Backend

ISSUER = "http://samplan.test/dev-idp"
AUDIENCE = "samplan"
STOCKHOLM_OFFSET = "+01:00"


def unit(key: str) -> str:
    return stable_id("unit", key)


WARD = unit("ks-solna-ward-geriatrik-1")
ORTHO = unit("ks-solna-ward-ortoped-3")
PSYCH_WARD = unit("ks-huddinge-ward-psykiatri-2")
SOLNA_INTAKE = unit("solna-stad-intake")
SOLNA_HOME_CARE = unit("solna-stad-hemsjukvard")
SODERMALM = unit("stockholms-stad-intake-sodermalm")
STOCKHOLM_INTAKE = unit("stockholms-stad-intake")
RONNVIKEN = unit("aleris-vc-ronnviken")
VITSIPPSDALEN = unit("slso-vc-vitsippsdalen")


def test_settings(backend: Backend) -> Settings:
    return Settings(data_dir=backend.data_dir, database_url=backend.url, dev_mode=True, oidc_issuer=ISSUER,
                    oidc_audience=AUDIENCE, oidc_jwks_url="", oidc_algorithms=("RS256",), user_claim="hsa_id",
                    payment_policy="stockholm_2020", mail_dispatcher=False)  # mail tests start their own


@pytest.fixture(scope="session")
def signing_key(backend: Backend) -> DevSigningKey:
    return DevSigningKey.load_or_create(test_settings(backend).dev_key_path)


@pytest.fixture(scope="session")
async def app(backend: Backend, signing_key: DevSigningKey) -> AsyncIterator[Litestar]:
    runtime = build_runtime(test_settings(backend))
    application = create_app(test_settings(backend), runtime)
    application.state.runtime = runtime  # what the startup hook does; the client below runs no lifespan
    await runtime.start()
    yield application
    await runtime.close()


@pytest.fixture
async def client(app: Litestar, clean_cases: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app called in the test's own event loop (the session loop, where the runtime's engine lives).

    Not Litestar's AsyncTestClient: it runs the app in a new event loop per client, which strands the session
    engine's pooled PostgreSQL connections in a closed loop, and it blocks on each request, so requests
    started together with asyncio.gather would not overlap.
    """
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local") as c:
        yield c


@pytest.fixture(scope="session")
def token(signing_key: DevSigningKey) -> Callable[..., str]:
    users = {u.username: u for u in DEMO_USERS}

    def issue(username: str, **overrides: Any) -> str:
        user = users[username]
        claims = {"hsa_id": user.hsa_id, **overrides.pop("claims", {})}
        return signing_key.issue(subject=user.id, issuer=overrides.get("issuer", ISSUER),
                                 audience=overrides.get("audience", AUDIENCE), claims=claims,
                                 lifetime=overrides.get("lifetime", timedelta(hours=1)), now=overrides.get("now"))

    return issue


@pytest.fixture(scope="session")
def auth(token: Callable[..., str]) -> Callable[[str], dict[str, str]]:
    return lambda username: {"Authorization": f"Bearer {token(username)}"}


_serials = itertools.count()


def new_identity() -> str:
    """A fresh invented personnummer (valid check digit; serials 980-999 like the demo data)."""
    n = next(_serials)
    return generate_test_personnummer(date(1935, 1, 1) + timedelta(days=n // 20), 980 + n % 20).formatted


def iso(moment: datetime) -> str:
    return moment.isoformat()


def now_utc() -> datetime:
    return datetime.now(UTC)


# A discharge notice's content (invented): home, one contact, the medication list sent in the record.
DISCHARGE_CONTENT: dict[str, Any] = {
    "destination": "home", "contacts": [{"name": "Avdelning 1, ansvarig sjuksköterska", "phone": "08-123 456 78"}],
    "handover": "Går med rollator. Hemtjänst morgon och kväll.", "medication_list": "sent_in_record"}


def patient(identity: str, municipality_code: str = "0184", listed_unit_id: str | None = RONNVIKEN,
            **extra: Any) -> dict[str, Any]:
    return {"identity": identity, "name": "Testa Testsson", "address": "Provgatan 1",
            "municipality_code": municipality_code, "listed_unit_id": listed_unit_id, **extra}


async def register(client: httpx.AsyncClient, headers: dict[str, str],
                   identity: str | None = None, **body: Any) -> dict[str, Any]:
    payload = {"ward_unit_id": WARD, "patient": patient(identity or new_identity()),
               "admitted_at": iso(now_utc() - timedelta(hours=2)), **body}
    response = await client.post("/api/v1/cases", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
