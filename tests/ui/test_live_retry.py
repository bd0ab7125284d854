"""A transient failure of the UI's read of a changed case (the API busy or restarting) does not lose the change:
the read is tried again after a pause, and the board shows the change without another event."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from nicegui.testing import User

from tests.server.conftest import register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_pages import act, row_html

Auth = Callable[[str], dict[str, str]]


async def test_a_change_whose_read_fails_once_still_reaches_the_board(user: User, http: httpx.AsyncClient,
                                                                      auth: Auth,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    nurse = auth("ward.nurse")
    case = await register(http, nurse)
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: "Inskriven (utkast)" in row_html(user, case["id"]), "the registered case")

    api_client = importlib.import_module("ui.api_client")  # the module the running app uses
    real = api_client.ApiClient.case_views
    failed: list[str] = []

    async def busy_once(self: Any, token: str, case_id: str, unit_id: str, tokens: list[str]) -> Any:
        if not failed:
            failed.append(case_id)
            raise api_client.ApiError(503, "unavailable", "Tjänsten svarar inte just nu.")
        return await real(self, token, case_id, unit_id, tokens)

    monkeypatch.setattr(api_client.ApiClient, "case_views", busy_once)
    await act(http, nurse, case, "admission-notice")

    await eventually(lambda: "Planering" in row_html(user, case["id"]), "the change, read again after the failure")
    assert failed == [case["id"]]
