"""Helpers for the SIP API tests: who is who, starting a plan and acting on it through the REST API.

The plan is owned by Vårdcentral Rönnviken (care.contact, Region Stockholm) with Solna's intake unit
(needs.assessor) and Solna's home care (municipal.nurse); Södermalm (stockholm.assessor) never takes part.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from server.persistence.database import create_engine, session_factory
from server.persistence.models import AccessLogRow
from tests.conftest import Backend
from tests.server.conftest import (
    RONNVIKEN,
    SODERMALM,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    iso,
    new_identity,
    now_utc,
    patient,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
Json = dict[str, Any]

OWNER, OWNER_USER = RONNVIKEN, "care.contact"
MUNICIPAL, MUNICIPAL_USER = SOLNA_INTAKE, "needs.assessor"
HOME_CARE, HOME_CARE_USER = SOLNA_HOME_CARE, "municipal.nurse"
OUTSIDER, OUTSIDER_USER = SODERMALM, "stockholm.assessor"
USERS = {OWNER: OWNER_USER, MUNICIPAL: MUNICIPAL_USER, HOME_CARE: HOME_CARE_USER, OUTSIDER: OUTSIDER_USER}


async def create_plan(client: Client, auth: Auth, *, units: tuple[str, ...] = (MUNICIPAL, HOME_CARE),
                      status: int = 201, headers: dict[str, str] | None = None, **body: Any) -> Json:
    payload: Json = {"owner_unit_id": OWNER, "unit_ids": list(units), **body}
    if "case_id" not in body and "person" not in body:
        payload["person"] = patient(new_identity(), name="Åsa Öberg", address="Ängsvägen 3")
    response = await client.post("/api/v1/sip-plans", json=payload, headers=headers or auth(OWNER_USER))
    assert response.status_code == status, response.text
    result: Json = response.json()
    return result


async def get_plan(client: Client, auth: Auth, plan_id: str, user: str = OWNER_USER, status: int = 200) -> Json:
    response = await client.get(f"/api/v1/sip-plans/{plan_id}", headers=auth(user))
    assert response.status_code == status, response.text
    result: Json = response.json()
    return result


async def act(client: Client, auth: Auth, plan: Json, path: str, body: Json | None = None, *,
              user: str = OWNER_USER, status: int = 200, headers: dict[str, str] | None = None) -> Json:
    response = await client.post(f"/api/v1/sip-plans/{plan['id']}/{path}", json=body or {},
                                 headers={**auth(user), **(headers or {})})
    assert response.status_code == status, response.text
    result: Json = response.json()
    return result


async def give_consent(client: Client, auth: Auth, plan: Json, scope: list[str] | None = None, **extra: Any) -> Json:
    units = scope if scope is not None else [u["unit_id"] for u in plan["units"] if u["active"]]
    return await act(client, auth, plan, "consent", {
        "expected_version": plan["version"], "given_by": "person", "form": "verbal", "scope_unit_ids": units,
        "given_at": iso(now_utc() - timedelta(minutes=1)), **extra})


def principal_of(plan: Json, unit_id: str) -> str:
    return str(next(u["principal_id"] for u in plan["units"] if u["unit_id"] == unit_id))


async def fill_required(client: Client, auth: Auth, plan: Json, follow_up: date | None = None) -> Json:
    """A need, a complete service, the overall responsibility (the region) and the follow-up date."""
    plan = await act(client, auth, plan, "items/needs", {"content": {"description": "Hjälp med insulin, även på "
                                                                                    "helger (å ä ö)"}})
    plan = await act(client, auth, plan, "items/services", {"content": {
        "description": "Hemsjukvård: insulin morgon och kväll", "responsible_unit_id": HOME_CARE,
        "contact_person": "Sjuksköterska Öman", "when": "från måndag"}}, user=HOME_CARE_USER)
    fields = plan["contents"]
    plan = await act(client, auth, plan, "fields/overall_responsibility", {
        "value": principal_of(plan, OWNER), "expected_revision": fields["overall_responsibility"]["revision"]})
    day = follow_up or (now_utc() + timedelta(days=90)).date()
    return await act(client, auth, plan, "fields/next_follow_up_on", {
        "value": day.isoformat(), "expected_revision": plan["contents"]["next_follow_up_on"]["revision"]})


async def agree(client: Client, auth: Auth, plan: Json) -> Json:
    """Both principals approve the current contents: the region (owner) and Solna (the intake unit)."""
    plan = await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]})
    return await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]},
                     user=MUNICIPAL_USER)


async def access_rows(backend: Backend, patient_id: str) -> list[tuple[str, str | None, str]]:
    """(action, unit, user) of every access-log row about the patient, in order."""
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(select(AccessLogRow.action, AccessLogRow.unit_id, AccessLogRow.user_id)
                                         .where(AccessLogRow.patient_id == patient_id).order_by(AccessLogRow.id))
            return [(a, u, us) for a, u, us in rows.tuples()]
    finally:
        await engine.dispose()


async def feed(client: Client, auth: Auth, unit_id: str, after: int = 0) -> Json:
    response = await client.get(f"/api/v1/units/{unit_id}/events", params={"after": after, "limit": 1000},
                                headers=auth(USERS[unit_id]))
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


def plan_events(page: Json, plan_id: str) -> list[Json]:
    return [e for e in page["items"] if e["aggregate_id"] == plan_id]
