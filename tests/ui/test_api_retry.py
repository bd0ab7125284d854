"""The UI's API client rides out an API instance that dies or restarts (ui/api_client.py): the user sees neither an
error nor a change applied twice.

Against a real API (uvicorn on a real port, stopped and started again on the same port as a restarting instance).
A lost answer is what a proxy sends when the instance it picked dies after taking the request: the request reached
the API (its change committed), the answer is a 502. `LoseAnswers` plays that proxy in front of the real API; the
whole topology, with Caddy and API processes killed by SIGKILL, is tests/e2e/test_topology.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.realtime.conftest import ApiServer
from tests.server.conftest import WARD, iso, new_identity, now_utc, patient, register
from tests.ui.conftest import eventually
from ui import api_client
from ui.api_client import ApiClient, ApiError

Auth = Callable[[str], dict[str, str]]
StartApi = Callable[[], Awaitable[ApiServer]]


class LoseAnswers(httpx.AsyncBaseTransport):
    """A proxy whose upstream dies after taking the first `lose` requests: each reaches the API, the answer is lost
    and the client gets a 502. Records every request the API answered: (method, Idempotency-Key, status, body)."""

    def __init__(self, lose: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._lose = lose
        self.answered: list[tuple[str, str | None, int, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        self.answered.append((request.method, request.headers.get("Idempotency-Key"), response.status_code,
                              httpx.Response(response.status_code, content=body).json() if body else None))
        if self._lose > 0:
            self._lose -= 1
            return httpx.Response(502, text="upstream went away")
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_command_whose_answer_was_lost_is_answered_once_without_error(api: StartApi, clean_cases: None,
                                                                              auth: Auth) -> None:
    server = await api()
    nurse = auth("ward.nurse")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        case = await register(http, nurse)
        proxy = LoseAnswers(lose=1)
        client = ApiClient(server.url, transport=proxy)
        try:
            result = await client.action(bearer(nurse), case["id"], "admission-notice",
                                         {"expected_version": case["version"]}, acting_unit=None)
        finally:
            await client.close()
        assert result["state"] == "planning"
        assert result["version"] == case["version"] + 1
        [(_, first_key, first, _), (_, second_key, second, _)] = proxy.answered
        assert first_key, "a command carries an Idempotency-Key"
        assert second_key == first_key, "the retry must carry the first attempt's Idempotency-Key"
        assert (first, second) == (200, 200)  # the second answer is the first one, replayed: no 409, no error
        current = (await http.get(f"/api/v1/cases/{case['id']}", headers=nurse)).json()
        assert current["version"] == case["version"] + 1, "the change was applied twice"


async def test_a_registration_whose_answer_was_lost_registers_one_case(api: StartApi, clean_cases: None,
                                                                       auth: Auth) -> None:
    server = await api()
    nurse = auth("ward.nurse")
    proxy = LoseAnswers(lose=2)
    client = ApiClient(server.url, transport=proxy)
    body = {"ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())}
    try:
        case = await client.register_case(bearer(nurse), body, idempotency_key="registration-1")
    finally:
        await client.close()
    assert [status for _, _, status, _ in proxy.answered] == [201, 201, 201]
    assert {answer["id"] for _, _, _, answer in proxy.answered} == {case["id"]}, "a second case was registered"


async def test_a_command_waits_for_a_restarting_api(api: StartApi, clean_cases: None, auth: Auth) -> None:
    server = await api()
    nurse = auth("ward.nurse")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        case = await register(http, nurse)
    client = ApiClient(server.url)
    try:
        await server.stop()
        command = asyncio.create_task(client.action(bearer(nurse), case["id"], "admission-notice",
                                                    {"expected_version": case["version"]}, acting_unit=None))
        await eventually(lambda: client.retries >= 1 or command.done(), "the first attempt to fail")
        await server.start()  # the same port, as a restarted instance
        result = await command
    finally:
        await client.close()
    assert result["version"] == case["version"] + 1
    assert client.retries >= 1


async def test_a_write_without_a_key_is_not_sent_twice(api: StartApi, clean_cases: None, auth: Auth) -> None:
    """Sending it again could apply it twice: the user is told it failed instead."""
    server = await api()
    proxy = LoseAnswers(lose=1)
    client = ApiClient(server.url, transport=proxy)
    try:
        with pytest.raises(ApiError) as failed:
            await client.request("POST", "/admin/organisations", bearer(auth("central.admin")), json={})
    finally:
        await client.close()
    assert failed.value.message == api_client.UNAVAILABLE
    assert len(proxy.answered) == 1
    assert client.retries == 0


async def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_client, "RETRY_DELAYS", (0.01, 0.02, 0.04))
    client = ApiClient("http://127.0.0.1:9")  # nothing listens there
    started = time.monotonic()
    try:
        with pytest.raises(ApiError) as failed:
            await client.me("token")
    finally:
        await client.close()
    assert failed.value.status == 503
    assert client.retries == 3
    assert time.monotonic() - started < 2
