"""The directory (me, units), the payment-liability configuration, operations endpoints and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import delete

from server.persistence.models import PaymentAmountRow
from tests.server.conftest import (
    DISCHARGE_CONTENT,
    ORTHO,
    SODERMALM,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    VITSIPPSDALEN,
    WARD,
    new_identity,
    patient,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
UNSEEDED_YEAR = 2021  # Socialstyrelsen's amounts are seeded for 2019, 2020 and 2022 only


async def get(client: Client, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_me_lists_assignments_with_unit_names(client: Client, auth: Auth) -> None:
    me = await get(client, "/api/v1/me", auth("ward.coordinator"))
    assert me["username"] == "ward.coordinator"
    assert me["display_name"] == "Per Lindqvist"
    assert {(a["unit_id"], a["unit_name"], a["role"]) for a in me["assignments"]} == {
        (WARD, "Avd 12 Geriatrik", "user"), (ORTHO, "Ortopedavdelning 3", "user")}
    admin = await get(client, "/api/v1/me", auth("central.admin"))
    assert [(a["unit_id"], a["role"]) for a in admin["assignments"]] == [(VITSIPPSDALEN, "central_administrator")]
    assert me["id"] != admin["id"]


async def test_units_filter_by_kind_and_municipality(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    solna = await get(client, "/api/v1/units", nurse, kind="municipal", municipality_code="0184")
    assert solna["items"]
    assert all(u["kind"] == "municipal" and u["municipality_code"] == "0184" for u in solna["items"])
    by_id = {u["id"]: u for u in solna["items"]}
    assert by_id[SOLNA_INTAKE]["routing_role"] == "intake"
    assert by_id[SOLNA_HOME_CARE]["routing_role"] is None

    stockholm = await get(client, "/api/v1/units", nurse, municipality_code="0180", limit=500)
    sodermalm = next(u for u in stockholm["items"] if u["id"] == SODERMALM)
    assert (sodermalm["district"], sodermalm["kind"]) == ("Södermalm", "municipal")
    assert {u["municipality_code"] for u in stockholm["items"]} == {"0180"}

    wards = await get(client, "/api/v1/units", nurse, kind="somatic_ward", limit=500)
    assert WARD in {u["id"] for u in wards["items"]}
    assert {u["kind"] for u in wards["items"]} == {"somatic_ward"}
    first = await get(client, "/api/v1/units", nurse, kind="somatic_ward", limit=2)
    second = await get(client, "/api/v1/units", nurse, kind="somatic_ward", limit=2, offset=2)
    assert [u["id"] for u in first["items"] + second["items"]] == [u["id"] for u in wards["items"][:4]]

    response = await client.get("/api/v1/units", params={"kind": "castle"}, headers=nurse)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "kind"


async def test_one_unit(client: Client, auth: Auth) -> None:
    unit = await get(client, f"/api/v1/units/{WARD}", auth("needs.assessor"))
    assert (unit["id"], unit["name"], unit["kind"]) == (WARD, "Avd 12 Geriatrik", "somatic_ward")
    response = await client.get("/api/v1/units/00000000-0000-0000-0000-000000000000", headers=auth("ward.nurse"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert (await client.get(f"/api/v1/units/{WARD}")).status_code == 401


async def test_payment_policy_in_force(client: Client, auth: Auth) -> None:
    policy = await get(client, "/api/v1/payment/policy", auth("needs.assessor"))
    assert policy["name"] == "stockholm_2020"
    assert policy["model"] == "individual"
    assert (policy["first_liable_day_somatic"], policy["first_liable_day_psychiatric"]) == (3, 6)
    assert policy["day0_cutoff_hour"] == 12
    assert policy["day_counting"] == "calendar"
    assert policy["discharge_day_charged"] is False
    amounts = {a["year"]: a["amount_sek"] for a in policy["amounts"]}
    assert {2019: 7800, 2020: 8200, 2022: 9300}.items() <= amounts.items()
    assert list(amounts) == sorted(amounts)


@pytest.fixture
async def remove_entered_amount(app: Litestar) -> AsyncIterator[int]:
    """The year whose amount a test enters; removed afterwards, so that other tests still find it missing."""
    yield UNSEEDED_YEAR
    async with app.state.runtime.sessions() as session, session.begin():
        await session.execute(delete(PaymentAmountRow).where(PaymentAmountRow.year == UNSEEDED_YEAR))


async def test_an_entered_amount_prices_a_case(client: Client, auth: Auth, app: Litestar,
                                               monkeypatch: pytest.MonkeyPatch, remove_entered_amount: int) -> None:
    year = remove_entered_amount
    nurse, admin = auth("ward.nurse"), auth("central.admin")
    clock = {"now": datetime(year, 3, 1, 8, 0, tzinfo=UTC)}
    monkeypatch.setattr(app.state.runtime.services.cases, "_clock", lambda: clock["now"])

    async def step(case: dict[str, Any], action: str, at: datetime, **body: Any) -> dict[str, Any]:
        clock["now"] = at
        response = await client.post(f"/api/v1/cases/{case['id']}/{action}", headers=nurse,
                                     json={"expected_version": case["version"], **body})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    response = await client.post("/api/v1/cases", headers=nurse, json={
        "ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": f"{year}-03-01T06:00:00+00:00"})
    assert response.status_code == 201, response.text
    case = await step(response.json(), "admission-notice", datetime(year, 3, 1, 8, 10, tzinfo=UTC))
    # Sent 10:00 Stockholm time: day 0 is 1 March, liability from day 3.
    case = await step(case, "ready-for-discharge", datetime(year, 3, 1, 9, 0, tzinfo=UTC))
    case = await step(case, "discharge-notice", datetime(year, 3, 11, 10, 0, tzinfo=UTC),
                      discharged_at=f"{year}-03-11T09:00:00+00:00", **DISCHARGE_CONTENT)
    payment = case["payment"]
    assert (payment["day_zero"], payment["liability_starts_on"]) == (f"{year}-03-01", f"{year}-03-04")
    assert (payment["liable"], payment["liable_days"]) == (True, 7)  # 4-10 March; the discharge day is free
    assert payment["amount_sek"] is None
    assert payment["missing_amount_years"] == [year]

    for amount in (8000, 8100):  # entered, then corrected
        response = await client.put(f"/api/v1/payment/amounts/{year}", json={"amount_sek": amount}, headers=admin)
        assert response.status_code == 200, response.text
        assert response.json() == {"year": year, "amount_sek": amount}
        policy = await get(client, "/api/v1/payment/policy", nurse)
        assert {"year": year, "amount_sek": amount} in policy["amounts"]
        payment = (await get(client, f"/api/v1/cases/{case['id']}", nurse))["payment"]
        assert payment["amount_sek"] == 7 * amount
        assert payment["missing_amount_years"] == []


async def test_health_and_readiness_need_no_token(client: Client) -> None:
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_every_operation_is_documented(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    operations = [(path, method, operation) for path, item in document["paths"].items()
                  for method, operation in item.items() if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) > 30
    ids = [operation.get("operationId") for _, _, operation in operations]
    assert all(ids), [(p, m) for p, m, o in operations if not o.get("operationId")]
    assert len(set(ids)) == len(ids)
    assert all(o.get("summary") for _, _, o in operations), [(p, m) for p, m, o in operations if not o.get("summary")]
    assert {"/api/v1/cases", "/api/v1/cases/{case_id}/ready-for-discharge", "/api/v1/me",
            "/api/v1/payment/amounts/{year}", "/health", "/ready"} <= set(document["paths"])
    assert "BearerAuth" in document["components"]["securitySchemes"]
