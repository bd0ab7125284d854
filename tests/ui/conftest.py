"""UI tests with NiceGUI's simulated `user` (fast, no browser) against a real API served by uvicorn.

The API runs in the test's event loop on a real port (tests/realtime/conftest.py's `ApiServer`), on PostgreSQL
only (the UI does not care which database serves the API). The UI app is built from tests/ui/main.py, which
reads the API's address and signing key from the environment set here.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from nicegui.testing import User
from nicegui.testing.general_fixtures import get_path_to_main_file
from nicegui.testing.user_simulation import user_simulation

from server.auth.tokens import DevSigningKey
from tests.conftest import Backend, _create_pg_database, _drop_pg_database, _seed
from tests.realtime.conftest import ApiServer, api  # noqa: F401 - fixtures
from tests.server.conftest import ISSUER, app, auth, signing_key, test_settings, token  # noqa: F401 - fixtures

__all__ = ["eventually", "signed_in"]


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """One PostgreSQL database for the UI tests (overrides the two-backend fixture of tests/conftest.py)."""
    from server.persistence.migrate import upgrade

    data_dir = tmp_path_factory.mktemp("samplan-ui")
    name = f"samplan_ui_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_create_pg_database(name))
    upgrade(url)
    asyncio.run(_seed(url))
    yield Backend("postgresql", url, data_dir)
    asyncio.run(_drop_pg_database(name))


@pytest.fixture
async def api_server(api: Callable[[], Awaitable[ApiServer]], clean_cases: None,  # noqa: F811
                     signing_key: DevSigningKey, backend: Backend) -> ApiServer:  # noqa: F811
    server = await api()
    os.environ["SAMPLAN_API_URL"] = server.url
    os.environ["SAMPLAN_TEST_SIGNING_KEY"] = str(test_settings(backend).dev_key_path)
    os.environ["SAMPLAN_TEST_ISSUER"] = ISSUER
    return server


@pytest.fixture
async def user(api_server: ApiServer, caplog: pytest.LogCaptureFixture,
               request: pytest.FixtureRequest) -> AsyncIterator[User]:
    """NiceGUI's simulated user (its plugin's fixture), started after the API so the app finds its address."""
    async with user_simulation(main_file=get_path_to_main_file(request)) as simulated:
        yield simulated
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    assert not errors, f"unexpected ERROR logs: {[r.getMessage() for r in errors]}"


@pytest.fixture
async def http(api_server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_server.url, timeout=10) as client:
        yield client


async def signed_in(user: User, username: str, path: str) -> None:
    """Sign the simulated browser in as a demo user and open `path`."""
    await user.open(f"/_test/signin?user={username}&next={path}")


async def eventually(condition: Callable[[], Any], what: str, within: float = 10.0) -> None:
    """Poll a condition (the UI reacting to a live event) until it holds, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)
