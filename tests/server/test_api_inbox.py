"""The read models the UI needs beyond the process routes: a receiving unit's inbox, unit staff, staff names."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from server.demo.seed import stable_id
from tests.server.conftest import RONNVIKEN, SOLNA_INTAKE, WARD, register
from tests.server.test_api_cases_flow import act

Auth = Callable[[str], dict[str, str]]


async def inbox(client: httpx.AsyncClient, headers: dict[str, str], unit_id: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/units/{unit_id}/inbox", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def test_inbox_lists_unacknowledged_notices_and_counts_them(client: httpx.AsyncClient, auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    draft = await register(client, nurse)
    assert (await inbox(client, assessor, SOLNA_INTAKE))["items"] == []  # a draft is the ward's alone

    case = await act(client, nurse, draft, "admission-notice")
    box = await inbox(client, assessor, SOLNA_INTAKE)
    assert box["unread"] == 1
    [item] = box["items"]  # type: ignore[misc]
    assert item["case"]["id"] == case["id"]
    assert item["part"] == "municipal_unit"
    assert [n["kind"] for n in item["unacknowledged"]] == ["admission_notice"]

    case = await act(client, nurse, case, "ready-for-discharge")
    box = await inbox(client, assessor, SOLNA_INTAKE)
    assert box["unread"] == 2
    assert [n["kind"] for n in box["items"][0]["unacknowledged"]] == [  # type: ignore[index]
        "ready_for_discharge", "admission_notice"]

    await act(client, assessor, case, "acknowledgements")
    box = await inbox(client, assessor, SOLNA_INTAKE)
    assert box["unread"] == 0
    assert box["items"][0]["unacknowledged"] == []  # type: ignore[index]


async def test_inbox_only_for_my_units(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get(f"/api/v1/units/{RONNVIKEN}/inbox", headers=auth("needs.assessor"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_staff_of_my_unit_and_names_of_people(client: httpx.AsyncClient, auth: Auth) -> None:
    response = await client.get(f"/api/v1/units/{RONNVIKEN}/staff", headers=auth("care.contact"))
    assert response.status_code == 200, response.text
    assert [p["display_name"] for p in response.json()] == ["Maria Nyström"]
    assert (await client.get(f"/api/v1/units/{WARD}/staff", headers=auth("care.contact"))).status_code == 403

    # `/people` names only staff one works with (docs/security.md): the ward and the municipality once they
    # share a case with the primary care unit.
    ids = [stable_id("user", "ward.nurse"), stable_id("user", "needs.assessor")]
    response = await client.get("/api/v1/people", params={"id": ids}, headers=auth("care.contact"))
    assert response.status_code == 200, response.text
    assert response.json() == []
    case = await act(client, auth("ward.nurse"), await register(client, auth("ward.nurse")), "admission-notice")
    assert {p["unit_id"] for p in case["participants"]} >= {RONNVIKEN, SOLNA_INTAKE}
    response = await client.get("/api/v1/people", params={"id": ids}, headers=auth("care.contact"))
    assert response.status_code == 200, response.text
    assert sorted(p["display_name"] for p in response.json()) == ["Karin Berg", "Sara Sjöberg"]
