from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.server.conftest import register


async def test_register_and_read(client: AsyncTestClient[Litestar], auth: Callable[[str], dict[str, str]]) -> None:
    case = await register(client, auth("ward.nurse"))
    assert case["state"] == "admitted"
    response = await client.get(f"/api/v1/cases/{case['id']}", headers=auth("ward.nurse"))
    assert response.status_code == 200
