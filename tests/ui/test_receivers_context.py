"""Receivers' context (issue 13) in the UI: the inbox row and the case header name the sending hospital and ward with
its phone, the municipality and the receiving units by name (never the code "0184"), and the named care contact."""

from __future__ import annotations

import httpx
from nicegui.testing import User

from server.demo.world import fiction_phone
from tests.server.conftest import register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_case_view import html_of, open_case
from tests.ui.test_pages import Auth, act, row_html

WARD_PHONE = fiction_phone("ks-solna-ward-geriatrik-1")


async def test_the_inbox_row_and_the_case_say_where_the_patient_is(user: User, http: httpx.AsyncClient,
                                                                    auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "needs.assessor", "/inkorg")
    await eventually(lambda: "Från:" in row_html(user, case["id"]), "the context on the inbox row")
    row = row_html(user, case["id"])
    assert "Karolinska Universitetssjukhuset, Avd 12 Geriatrik" in row
    assert WARD_PHONE in row
    assert "Solna stad (Biståndsenheten Solna)" in row
    assert "Vårdcentral:</span> Vårdcentral Rönnviken" in row
    assert "Fast vårdkontakt:</span> inte utsedd" in row
    assert "0184" not in row

    await open_case(user, "needs.assessor", case)
    header = html_of(user, "case-header").content
    assert "Solna stad" in header
    assert "0184" not in header
    assert "Sjukhus och avdelning" in header
    assert f'href="tel:{WARD_PHONE.replace(" ", "").replace("-", "")}"' in header
    assert "Vårdcentral Rönnviken" in header


async def test_the_wards_own_board_leaves_out_its_own_name(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: "Vårdcentral Rönnviken" in row_html(user, case["id"]), "the context on the board row")
    row = row_html(user, case["id"])
    assert "Solna stad (Biståndsenheten Solna)" in row
    assert "Från:" not in row
