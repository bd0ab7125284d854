"""Every refusal of the API is a problem+json answer with the right status, code and field; never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select

from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from server.persistence.models import AccessLogRow, CaseRow, EventRow
from tests.server.conftest import (
    AUDIENCE,
    DISCHARGE_CONTENT,
    ISSUER,
    PSYCH_WARD,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
CASES = "/api/v1/cases"


def problem(response: httpx.Response, status: int, code: str | None = None,
            field: str | None = None) -> dict[str, Any]:
    """Check a problem details answer and return its body."""
    assert response.status_code < 500, response.text
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    assert body["title"]
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
        assert all(e["message"] for e in body["errors"])
    return body


async def post(client: Client, headers: dict[str, str], case: dict[str, Any], action: str,
               **body: Any) -> httpx.Response:
    return await client.post(f"{CASES}/{case['id']}/{action}", json={"expected_version": case["version"], **body},
                             headers=headers)


async def stored(app: Litestar, case_id: str) -> tuple[int, int, int]:
    """The case's stored version, its events and its access-log rows, straight from the database."""
    async with app.state.runtime.sessions() as session:
        version = await session.scalar(select(CaseRow.version).where(CaseRow.id == case_id))
        events = await session.scalar(select(func.count()).select_from(EventRow)
                                      .where(EventRow.aggregate_id == case_id))
        logged = await session.scalar(select(func.count()).select_from(AccessLogRow)
                                      .where(AccessLogRow.case_id == case_id))
    return int(version or 0), int(events or 0), int(logged or 0)


# ----- 401 ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "header"), [
    ("no header", None),
    ("not bearer", "Basic d2FyZC5udXJzZTpzZWNyZXQ="),
    ("malformed", "Bearer not-a-jwt"),
    ("too many parts", "Bearer a b"),
    ("expired", {"now": now_utc() - timedelta(hours=3), "lifetime": timedelta(hours=1)}),
    ("wrong audience", {"audience": "someone-else"}),
    ("wrong issuer", {"issuer": "http://evil.test/idp"}),
    ("unknown user", {"claims": {"hsa_id": "SE2321000016-NOSUCHUSER"}}),
])
async def test_unauthenticated(client: Client, token: Callable[..., str], case: str,
                               header: str | dict[str, Any] | None) -> None:
    headers: dict[str, str] = {}
    if isinstance(header, str):
        headers["Authorization"] = header
    elif isinstance(header, dict):
        headers["Authorization"] = f"Bearer {token('ward.nurse', **header)}"
    for response in (await client.get(CASES, headers=headers), await client.get("/api/v1/me", headers=headers)):
        body = problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "Bearer" not in body["detail"]  # the token is never echoed


async def test_a_valid_token_is_accepted(client: Client, token: Callable[..., str]) -> None:
    headers = {"Authorization": f"Bearer {token('ward.nurse', issuer=ISSUER, audience=AUDIENCE)}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200


# ----- 403 and 404 --------------------------------------------------------------------------------------------------

async def test_forbidden(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await post(client, nurse, await register(client, nurse), "admission-notice")
    case = case.json()
    problem(await post(client, auth("needs.assessor"), case, "ready-for-discharge"), 403, "not_allowed_for_part")
    problem(await post(client, auth("care.contact"), case, "closure"), 403, "not_allowed_for_part")
    problem(await client.get(CASES, headers=auth("auditor")), 403, "forbidden")
    problem(await client.get(f"{CASES}/{case['id']}", headers=auth("statistics")), 403, "forbidden")
    problem(await client.get(CASES, params={"unit_id": WARD}, headers=auth("needs.assessor")), 403, "forbidden",
            "unit_id")
    problem(await client.get(f"/api/v1/units/{WARD}/events", headers=auth("needs.assessor")), 403, "forbidden")
    for user in ("ward.nurse", "municipal.admin", "hospital.admin"):
        response = await client.put("/api/v1/payment/amounts/2031", json={"amount_sek": 1}, headers=auth(user))
        problem(response, 403, "forbidden")
    # A ward user registers only at their own ward.
    response = await client.post(CASES, headers=auth("psych.nurse"), json={
        "ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())})
    problem(response, 403, "not_your_unit", "ward_unit_id")


async def test_not_found(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    problem(await client.get(f"{CASES}/no-such-case", headers=nurse), 404, "not_found")
    problem(await post(client, nurse, {"id": "no-such-case", "version": 1}, "admission-notice"), 404, "not_found")
    # Another ward's user cannot tell the case exists, not even by acting on it.
    problem(await client.get(f"{CASES}/{case['id']}", headers=auth("psych.nurse")), 404, "not_found")
    problem(await post(client, auth("psych.nurse"), case, "cancellation"), 404, "not_found")
    problem(await post(client, auth("stockholm.assessor"), case, "acknowledgements"), 404, "not_found")
    problem(await client.get("/api/v1/units/no-such-unit", headers=nurse), 404, "not_found")
    assert (await client.get(f"{CASES}/{case['id']}", headers=nurse)).json()["version"] == 1


# ----- 409 ----------------------------------------------------------------------------------------------------------

async def test_stale_version_is_a_conflict_with_the_current_case(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    stale = await register(client, nurse)
    fresh = (await post(client, nurse, stale, "admission-notice")).json()
    before = (await client.get(f"{CASES}/{stale['id']}", headers=nurse)).json()
    counts = await stored(app, stale["id"])

    body = problem(await post(client, nurse, stale, "ready-for-discharge"), 409, "version_conflict",
                   "expected_version")
    assert body["current"]["version"] == fresh["version"] == 2
    assert body["current"]["id"] == stale["id"]
    assert body["current"]["state"] == "planning"
    after = (await client.get(f"{CASES}/{stale['id']}", headers=nurse)).json()
    for key in ("version", "state", "notices", "timeline", "participants", "ready_for_discharge_at"):
        assert after[key] == before[key], key
    version, events, logged = await stored(app, stale["id"])
    assert (version, events) == counts[:2]
    assert logged == counts[2] + 2  # the 409 showed the case (patient data): logged like the read after it


async def test_duplicate_open_case_for_the_same_patient_at_the_same_ward(client: Client, auth: Auth) -> None:
    nurse, identity = auth("ward.nurse"), new_identity()
    first = await register(client, nurse, identity=identity)
    body = {"ward_unit_id": WARD, "patient": patient(identity), "admitted_at": iso(now_utc())}
    problem(await client.post(CASES, json=body, headers=nurse), 409, "conflict", "patient.identity")
    # Another ward may admit the same patient; once the first case is over, the ward may admit them again.
    psych = {**body, "ward_unit_id": PSYCH_WARD}
    assert (await client.post(CASES, json=psych, headers=auth("psych.nurse"))).status_code == 201
    assert (await post(client, nurse, first, "cancellation")).status_code == 200
    assert (await client.post(CASES, json=body, headers=nurse)).status_code == 201


# ----- 422: rules of the process --------------------------------------------------------------------------------

async def test_domain_rule_violations(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    bad = patient("19350101-9999")  # wrong check digit
    response = await client.post(CASES, headers=nurse, json={"ward_unit_id": WARD, "patient": bad,
                                                             "admitted_at": iso(now_utc())})
    problem(response, 422, "invalid_identity", "patient.identity")
    for field, value in (("admitted_at", now_utc() + timedelta(hours=1)),
                         ("estimated_discharge_at", now_utc() - timedelta(days=3))):
        body = {"ward_unit_id": WARD, "patient": patient(new_identity()),
                "admitted_at": iso(now_utc() - timedelta(hours=2)), field: iso(value)}
        problem(await client.post(CASES, headers=nurse, json=body), 422, "invalid_value", field)
    body = {"ward_unit_id": WARD, "patient": patient(new_identity(), municipality_code="9999", listed_unit_id=None),
            "admitted_at": iso(now_utc())}
    problem(await client.post(CASES, headers=nurse, json=body), 422, "invalid", "patient.municipality_code")
    body = {"ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc()),
            "receiving_unit_ids": [PSYCH_WARD]}
    problem(await client.post(CASES, headers=nurse, json=body), 422, "invalid", "receiving_unit_ids")

    case = await register(client, nurse)
    case = (await post(client, nurse, case, "admission-notice")).json()
    counts = await stored(app, case["id"])
    before = iso(now_utc() - timedelta(days=1))
    problem(await post(client, nurse, case, "discharge-notice", discharged_at=before, **DISCHARGE_CONTENT), 422,
            "invalid_value", "discharged_at")
    problem(await post(client, nurse, case, "closure"), 422, "invalid_transition")
    problem(await post(client, nurse, case, "admission-notice"), 422, "invalid_transition")
    problem(await post(client, nurse, case, "leave-end"), 422, "invalid_transition")
    problem(await post(client, nurse, case, "ready-for-discharge-withdrawal"), 422, "invalid_transition")
    problem(await post(client, auth("care.contact"), case, "acknowledgements", notice_ids=["nope"]), 422,
            "invalid_value", "notice_ids")
    # No partial write: the refused commands changed neither the case's version nor its events.
    version, events, _ = await stored(app, case["id"])
    assert (version, events) == counts[:2]


# ----- 400: the request does not match the schema ---------------------------------------------------------------

@pytest.mark.parametrize(("action", "body", "field"), [
    ("ready-for-discharge", {}, "expected_version"),
    ("ready-for-discharge", {"expected_version": "two"}, "expected_version"),
    ("ready-for-discharge", {"expected_version": 0}, "expected_version"),
    ("ready-for-discharge", {"expected_version": 1, "force": True}, "force"),
    ("discharge-notice", {"expected_version": 1, "discharged_at": "2026-01-05T10:00:00"}, "discharged_at"),
    ("discharge-notice", {"expected_version": 1, "discharged_at": "yesterday"}, "discharged_at"),
    ("interruption", {"expected_version": 1, "reason": "bored"}, "reason"),
    ("planning", {"expected_version": 1, "expected_needs": ["teleportation"]}, "expected_needs[0]"),
    ("named-care-contact", {"expected_version": 1, "contact_user_id": ""}, "contact_user_id"),
])
async def test_schema_errors_name_the_field(client: Client, auth: Auth, app: Litestar, action: str,
                                            body: dict[str, Any], field: str) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    counts = await stored(app, case["id"])
    response = await client.post(f"{CASES}/{case['id']}/{action}", json=body, headers=nurse)
    problem(response, 400, "validation_failed", field)
    assert await stored(app, case["id"]) == counts  # nothing written, not even to the access log


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", CASES, {"patient": {"identity": "193501019999", "name": "X", "municipality_code": "0184"},
                     "admitted_at": "2026-01-05T10:00:00+01:00"}, "ward_unit_id"),
    ("POST", CASES, {"ward_unit_id": WARD, "patient": {"name": "X", "municipality_code": "0184"},
                     "admitted_at": "2026-01-05T10:00:00+01:00"}, "patient.identity"),
    ("POST", CASES, {"ward_unit_id": WARD, "patient": {"identity": 19350101, "name": "X", "municipality_code":
                     "0184"}, "admitted_at": "2026-01-05T10:00:00+01:00"}, "patient.identity"),
    ("POST", CASES, {"ward_unit_id": WARD, "patient": {"identity": "193501019999", "name": "X",
                     "municipality_code": "Solna"}, "admitted_at": "2026-01-05T10:00:00+01:00"},
     "patient.municipality_code"),
    ("POST", CASES, {"ward_unit_id": WARD, "patient": {"identity": "193501019999", "name": "X",
                     "municipality_code": "0184", "favourite": "tea"}, "admitted_at": "2026-01-05T10:00:00+01:00"},
     "patient.favourite"),
    ("POST", CASES, {"ward_unit_id": WARD, "patient": {"identity": "193501019999", "name": "X",
                     "municipality_code": "0184"}, "admitted_at": "2026-01-05T10:00:00"}, "admitted_at"),
    ("GET", f"{CASES}?limit=-1", None, "limit"),
    ("GET", f"{CASES}?limit=many", None, "limit"),
    ("GET", f"{CASES}?offset=-5", None, "offset"),
    ("GET", f"{CASES}?state=lost", None, "state"),
    ("GET", f"/api/v1/units/{WARD}/events?after=-1", None, "after"),
    ("GET", "/api/v1/units?municipality_code=Solna", None, "municipality_code"),
    ("PUT", "/api/v1/payment/amounts/2031", {"amount_sek": -5}, "amount_sek"),
    ("PUT", "/api/v1/payment/amounts/1066", {"amount_sek": 5}, "year"),
])
async def test_malformed_requests_are_400(client: Client, auth: Auth, method: str, path: str,
                                          body: dict[str, Any] | None, field: str) -> None:
    user = "central.admin" if method == "PUT" else "ward.nurse"
    response = await client.request(method, path, json=body, headers=auth(user))
    problem(response, 400, "validation_failed", field)


async def test_body_that_is_not_json(client: Client, auth: Auth) -> None:
    case = await register(client, auth("ward.nurse"))
    for content in (b"{not json", b"[]", b"null", b""):
        response = await client.post(f"{CASES}/{case['id']}/admission-notice", content=content,
                                     headers={**auth("ward.nurse"), "Content-Type": "application/json"})
        problem(response, 400, "validation_failed", "body")


async def test_acting_unit_refusals_of_a_case_carry_the_same_codes_as_a_plans(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    """One rule for the unit a user acts for, cases and SIP plans alike (`authorization.acting_unit`)."""
    user = await new_solna_user(client, auth, signing_key, [SOLNA_INTAKE, SOLNA_HOME_CARE])
    nurse = auth("ward.nurse")
    case = await register(client, nurse, receiving_unit_ids=[SOLNA_INTAKE, SOLNA_HOME_CARE])
    case = (await post(client, nurse, case, "admission-notice")).json()

    for response in (await client.get(f"{CASES}/{case['id']}", headers=user),
                     await post(client, user, case, "acknowledgements")):
        problem(response, 422, "acting_unit_required", "X-Acting-Unit")
    elsewhere = {**user, "X-Acting-Unit": WARD}  # a unit of the case, but not one of the user's
    for response in (await client.get(f"{CASES}/{case['id']}", headers=elsewhere),
                     await post(client, elsewhere, case, "acknowledgements")):
        problem(response, 403, "acting_unit_not_allowed", "X-Acting-Unit")
    acked = await post(client, {**user, "X-Acting-Unit": SOLNA_HOME_CARE}, case, "acknowledgements")
    assert acked.status_code == 200, acked.text


async def new_solna_user(client: Client, auth: Auth, signing_key: DevSigningKey,
                         units: list[str]) -> dict[str, str]:
    admin = auth("central.admin")
    suffix = uuid.uuid4().hex[:10]
    created = await client.post(f"/api/v1/admin/organisations/{stable_id('organisation', 'solna-stad')}/users",
                                headers=admin, json={"username": f"two.{suffix}", "hsa_id": f"SE2321000016-T{suffix}",
                                                     "display_name": "Två Enheter"})
    assert created.status_code == 201, created.text
    for unit_id in units:
        granted = await client.post(f"/api/v1/admin/users/{created.json()['id']}/assignments", headers=admin,
                                    json={"unit_id": unit_id, "role": "user"})
        assert granted.status_code == 201, granted.text
    token = signing_key.issue(subject=created.json()["id"], issuer=ISSUER, audience=AUDIENCE,
                              claims={"hsa_id": created.json()["hsa_id"]}, lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}
