"""Receivers' context (issue 13): every row and the case name the sending hospital and ward with its phone, the
patient's municipality and the receiving units by name (never a code), and the named care contact; looked up in
one batch per page, not per row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import event

from server.demo.world import fiction_phone
from tests.server.conftest import RONNVIKEN, SOLNA_INTAKE, WARD, register
from tests.server.test_api_cases_flow import act, user_id

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]


async def names_of(client: Client, headers: dict[str, str], *unit_ids: str) -> list[str]:
    return [(await client.get(f"/api/v1/units/{u}", headers=headers)).json()["name"] for u in unit_ids]


async def test_rows_and_the_case_name_who_is_who(client: Client, auth: Auth) -> None:
    nurse, assessor, head = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    case = await act(client, nurse, await register(client, nurse), "admission-notice")
    ward, intake, vc = await names_of(client, nurse, WARD, SOLNA_INTAKE, RONNVIKEN)

    contact_id = await user_id(client, auth, "care.contact")
    case = await act(client, head, case, "named-care-contact", contact_user_id=contact_id)
    me = (await client.get("/api/v1/me", headers=head)).json()
    expected = {
        "hospital": "Karolinska Universitetssjukhuset",
        "ward": {"id": WARD, "name": ward, "phone": fiction_phone("ks-solna-ward-geriatrik-1")},
        "municipality": "Solna stad",  # the patient's registered municipality 0184, by name
        "municipal_units": [{"id": SOLNA_INTAKE, "name": intake, "phone": None}],
        "primary_care_units": [{"id": RONNVIKEN, "name": vc, "phone": None}],
    }
    context = case["context"]
    assert {k: context[k] for k in expected} == expected
    assert context["named_care_contact"].startswith(me["display_name"])

    listed = (await client.get("/api/v1/cases", params={"unit_id": SOLNA_INTAKE}, headers=assessor)).json()
    row = next(c for c in listed["items"] if c["id"] == case["id"])
    assert row["context"] == context
    inbox = (await client.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox", headers=assessor)).json()
    item = next(i for i in inbox["items"] if i["case"]["id"] == case["id"])
    assert item["case"]["context"] == context
    assert "0184" not in str(context)


async def test_the_context_of_a_page_is_read_in_one_batch(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    engine = app.state.runtime.engine.sync_engine
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(f"FROM {table}" in statement for table in ("units", "principals", "users", "organisations")):
            seen.append(statement)  # the directory reads (the access log writes a row per case, by design)

    async def statements_for_a_page() -> int:
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = await client.get("/api/v1/cases", params={"unit_id": WARD, "limit": 50}, headers=nurse)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(seen)

    await act(client, nurse, await register(client, nurse), "admission-notice")
    one = await statements_for_a_page()
    assert one > 0
    for _ in range(4):
        await act(client, nurse, await register(client, nurse), "admission-notice")
    assert await statements_for_a_page() == one  # five rows cost what one row costs
