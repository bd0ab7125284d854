"""Routing integrity: one municipality cannot route another municipality's patients to itself.

A unit's municipality code (and with it its routing district) must be its organisation's municipality; otherwise
a central administrator records a cross-municipal agreement. Routing picks only such units, also for rows written
before the rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import insert

from realtime.feeds import unit_feed
from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from server.persistence.database import create_engine, session_factory
from server.persistence.models import FeedRow, UnitRow
from tests.conftest import Backend
from tests.server.conftest import AUDIENCE, ISSUER, SOLNA_INTAKE, STOCKHOLM_INTAKE, new_identity, patient, register

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
ADMIN = "/api/v1/admin"
SOLNA_STAD = stable_id("organisation", "solna-stad")
STOCKHOLMS_STAD = stable_id("organisation", "stockholms-stad")
KAROLINSKA = stable_id("organisation", "karolinska")


def hsa() -> str:
    return f"SE2321000016-RI{uuid.uuid4().hex[:10].upper()}"


def problem(response: httpx.Response, status: int, code: str, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert [e["field"] for e in body["errors"]] == [field]


async def solna_object_specialist(client: Client, auth: Auth, signing_key: DevSigningKey) -> dict[str, str]:
    """A local object specialist of Solna stad (keeps Solna's unit tree), signed in."""
    central = auth("central.admin")
    created = await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/users", headers=central, json={
        "username": f"objekt.{uuid.uuid4().hex[:8]}", "hsa_id": hsa(), "display_name": "Objekt Specialist"})
    assert created.status_code == 201, created.text
    user = created.json()
    granted = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=central,
                                json={"unit_id": SOLNA_INTAKE, "role": "local_object_specialist"})
    assert granted.status_code == 201, granted.text
    token = signing_key.issue(subject=user["id"], issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user["hsa_id"]})
    return {"Authorization": f"Bearer {token}"}


def intake(district: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"Mottagning {district}", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180",
            "district": district, "routing_role": "intake", **extra}


async def routed_to(client: Client, auth: Auth, district: str) -> list[str]:
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity(), municipality_code="0180",
                                                                      listed_unit_id=None, district=district))
    return [p["unit_id"] for p in case["participants"]]


async def test_a_municipality_cannot_route_another_municipalitys_patients_to_itself(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    """Regression: Solna's object specialist created an intake unit for Stockholm (0180) and a Stockholm district;
    the district's next patient went to Solna."""
    solna = await solna_object_specialist(client, auth, signing_key)
    district = f"Bromma-{uuid.uuid4().hex[:6]}"
    problem(await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=solna, json=intake(district)),
            409, "municipality_mismatch", "municipality_code")
    # Nor by claiming an agreement: only central administration records one.
    problem(await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=solna,
                              json=intake(district, cross_municipal_agreement="Avtal 2026/1")),
            403, "cross_municipal_agreement_central_only", "cross_municipal_agreement")
    # Nor by turning an own unit into one: a Solna unit moved to 0180 is refused the same way.
    home_care = stable_id("unit", "solna-stad-hemsjukvard")
    problem(await client.patch(f"{ADMIN}/units/{home_care}", headers=solna, json={"municipality_code": "0180"}),
            409, "municipality_mismatch", "municipality_code")
    listed = await client.get(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=solna)
    assert district not in {u["district"] for u in listed.json()}  # nothing was written
    assert STOCKHOLM_INTAKE in await routed_to(client, auth, district)  # Stockholm's patient stays in Stockholm
    # Solna's own units still work as before.
    own = await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=solna, json={
        "name": "Solna ny", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0184"})
    assert own.status_code == 201, own.text


async def test_a_central_administrator_records_a_cross_municipal_agreement(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    central, solna = auth("central.admin"), await solna_object_specialist(client, auth, signing_key)
    district = f"Avtal-{uuid.uuid4().hex[:6]}"
    problem(await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=central, json=intake(district)),
            409, "municipality_mismatch", "municipality_code")  # central too: the agreement must be recorded
    created = await client.post(f"{ADMIN}/organisations/{SOLNA_STAD}/units", headers=central,
                                json=intake(district, cross_municipal_agreement="KS 2026/123"))
    assert created.status_code == 201, created.text
    unit = created.json()
    assert unit["cross_municipal_agreement"] == "KS 2026/123"
    assert unit["id"] in await routed_to(client, auth, district)  # the agreement is what lets it take the patient
    # The local specialist may rename it but not re-point its routing, nor drop or change the agreement.
    renamed = await client.patch(f"{ADMIN}/units/{unit['id']}", headers=solna, json={"name": "Nytt namn"})
    assert renamed.status_code == 200, renamed.text
    problem(await client.patch(f"{ADMIN}/units/{unit['id']}", headers=solna, json={"district": "Annat"}),
            403, "cross_municipal_agreement_central_only", "municipality_code")
    problem(await client.patch(f"{ADMIN}/units/{unit['id']}", headers=solna,
                               json={"cross_municipal_agreement": None}),
            403, "cross_municipal_agreement_central_only", "cross_municipal_agreement")
    # Central administration ends the agreement only together with the routing it allowed.
    problem(await client.patch(f"{ADMIN}/units/{unit['id']}", headers=central,
                               json={"cross_municipal_agreement": None}),
            409, "municipality_mismatch", "municipality_code")
    ended = await client.patch(f"{ADMIN}/units/{unit['id']}", headers=central, json={
        "cross_municipal_agreement": None, "municipality_code": "0184", "district": None})
    assert ended.status_code == 200, ended.text
    assert ended.json()["cross_municipal_agreement"] is None
    changes = (await client.get(f"{ADMIN}/organisations/{SOLNA_STAD}/changes", headers=central)).json()["items"]
    assert any(c["target_id"] == unit["id"] and c["detail"].get("cross_municipal_agreement") == "KS 2026/123"
               for c in changes)


async def test_an_intake_unit_needs_a_municipalitys_organisation(client: Client, auth: Auth) -> None:
    """A hospital's (region's) organisation cannot take a municipality's notices either."""
    response = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/units", headers=auth("central.admin"),
                                 json=intake(f"Sjukhus-{uuid.uuid4().hex[:6]}"))
    problem(response, 409, "municipality_mismatch", "municipality_code")


async def test_routing_ignores_cross_municipal_rows_written_before_the_rule(
        client: Client, auth: Auth, backend: Backend) -> None:
    """Defence in depth: an intake unit of Solna for a Stockholm district already in the database (written before
    the administration checked it) does not get Stockholm's patients."""
    district = f"Gammal-{uuid.uuid4().hex[:6]}"
    unit_id = str(uuid.uuid4())
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(insert(UnitRow).values(
                id=unit_id, organisation_id=SOLNA_STAD, name="Inskjuten", kind="municipal", hsa_id=hsa(),
                municipality_code="0180", district=district, routing_role="intake", active=True))
            await session.execute(insert(FeedRow).values(feed=unit_feed(unit_id), last_position=0))
    finally:
        await engine.dispose()
    participants = await routed_to(client, auth, district)
    assert unit_id not in participants
    assert STOCKHOLM_INTAKE in participants
