"""The discharge notice as information transfer through the API (issue 13): the actual time, the content the
receivers see in the case and the inbox, refusals with a field and a reason, and cases discharged with a bare time
before the notice carried any content."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select, update

from server.persistence.models import CaseRow
from tests.server.conftest import DISCHARGE_CONTENT, SOLNA_INTAKE, WARD, iso, now_utc, register
from tests.server.test_api_cases_flow import act, read
from tests.server.test_api_errors import problem, stored
from tests.server.test_api_inbox import inbox

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]

CONTENT: dict[str, Any] = {
    "destination": "short_term_stay", "destination_detail": "Korttidsboendet Linden",
    "contacts": [{"name": "Avdelning 1, ansvarig sjuksköterska", "phone": "08-123 456 78"},
                 {"name": "Hemsjukvården Solna"}],
    "handover": "Sårvård varannan dag. Anhörig informerad.",
    "medication_list": "attached", "medication_list_text": "Paracetamol 500 mg 1x3\nOmeprazol 20 mg 1x1"}


async def noticed(client: Client, nurse: dict[str, str]) -> dict[str, Any]:
    """A case whose admission notice went out (admitted three hours ago)."""
    case = await register(client, nurse, admitted_at=iso(now_utc() - timedelta(hours=3)))
    return await act(client, nurse, case, "admission-notice")


async def test_the_receivers_see_the_actual_time_and_the_content(client: Client, auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await noticed(client, nurse)
    left = now_utc() - timedelta(hours=1)  # the notice is written an hour after the patient left
    case = await act(client, nurse, case, "discharge-notice", discharged_at=iso(left), **CONTENT)
    assert case["state"] == "discharged"
    assert case["discharged_at"][:19] == iso(left)[:19]
    assert case["discharge_notice_sent_at"] > case["discharged_at"]
    expected = {**CONTENT, "contacts": [{"name": "Avdelning 1, ansvarig sjuksköterska", "phone": "08-123 456 78"},
                                        {"name": "Hemsjukvården Solna", "phone": ""}]}
    assert case["discharge_information"] == expected
    assert case["timeline"][-1]["action"] == "discharge_notice_sent"
    assert case["timeline"][-1]["detail"][:19] == iso(left)[:19]

    seen = await read(client, assessor, case["id"])  # the municipality's case detail
    assert (seen["discharged_at"], seen["discharge_information"]) == (case["discharged_at"], expected)
    box = await inbox(client, assessor, SOLNA_INTAKE)
    [item] = [i for i in box["items"] if i["case"]["id"] == case["id"]]  # type: ignore[attr-defined]
    assert (item["case"]["discharged_at"], item["case"]["discharge_information"]) == (case["discharged_at"], expected)
    assert [n["kind"] for n in item["unacknowledged"]] == ["discharge_notice", "admission_notice"]

    # The event carries the destination's code, never the notice's text.
    response = await client.get(f"/api/v1/units/{SOLNA_INTAKE}/events", headers=assessor, params={"limit": 500})
    [event] = [e for e in response.json()["items"]
               if e["type"] == "DischargeNoticeSent" and e["aggregate_id"] == case["id"]]
    assert event["data"]["destination"] == "short_term_stay"
    flat = repr(event)
    assert all(text not in flat for text in ("Linden", "Sårvård", "Paracetamol", "08-123", "Hemsjukvården"))


async def test_a_deceased_patient_needs_no_contacts_nor_medication_list(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(client, nurse, await noticed(client, nurse), "discharge-notice",
                     discharged_at=iso(now_utc() - timedelta(minutes=10)), destination="deceased")
    assert case["discharge_information"]["destination"] == "deceased"
    assert (case["discharge_information"]["contacts"], case["discharge_information"]["medication_list"]) == ([], None)


@pytest.mark.parametrize(("change", "status", "code", "field", "reason"), [
    ({"discharged_at": "ahead"}, 400, "time_out_of_range", "discharged_at", "discharge_time_in_future"),
    ({"destination": None}, 400, "validation_failed", "destination", None),
    ({"destination": "moon"}, 400, "validation_failed", "destination", None),
    ({"contacts": [{"name": "Avd 1", "phone": "ring mig"}]}, 400, "validation_failed", "contacts[0].phone", None),
    ({"contacts": [{"name": ""}]}, 400, "validation_failed", "contacts[0].name", None),
    ({"medication_list": "lost"}, 400, "validation_failed", "medication_list", None),
    ({"destination": "other_unit"}, 422, "invalid_value", "destination_detail", "destination_detail_required"),
    ({"contacts": []}, 422, "invalid_value", "contacts", "contact_required"),
    ({"medication_list": None}, 422, "invalid_value", "medication_list", "medication_list_required"),
    ({"medication_list": "attached"}, 422, "invalid_value", "medication_list_text", "medication_list_text_required"),
    ({"destination": "deceased"}, 422, "invalid_value", "medication_list", "not_applicable_when_deceased"),
], ids=["future-time", "no-destination", "unknown-destination", "bad-phone", "contact-without-name",
        "unknown-medication-list", "other-unit-unnamed", "no-contact", "no-medication-list", "attached-empty",
        "deceased-with-medication-list"])
async def test_bad_discharge_notices_name_the_field_and_change_nothing(
        client: Client, auth: Auth, app: Litestar, change: dict[str, Any], status: int, code: str, field: str,
        reason: str | None) -> None:
    nurse = auth("ward.nurse")
    case = await noticed(client, nurse)
    counts = await stored(app, case["id"])
    body: dict[str, Any] = {"expected_version": case["version"], "discharged_at": iso(now_utc()),
                            **DISCHARGE_CONTENT, **change}
    if body["discharged_at"] == "ahead":  # a planned time, even within the clients' clock skew
        body["discharged_at"] = iso(now_utc() + timedelta(minutes=2))
    body = {k: v for k, v in body.items() if v is not None}
    answer = problem(await client.post(f"/api/v1/cases/{case['id']}/discharge-notice", json=body, headers=nurse),
                     status, code, field)
    assert answer.get("reason") == reason
    assert (await stored(app, case["id"]))[:2] == counts[:2]  # neither the version nor an event changed
    assert (await read(client, nurse, case["id"]))["state"] == "planning"


async def test_closing_needs_a_discharge_or_an_interruption(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await noticed(client, nurse)
    answer = problem(await client.post(f"/api/v1/cases/{case['id']}/closure", headers=nurse,
                                       json={"expected_version": case["version"]}), 422, "invalid_transition")
    assert answer["reason"] == "case_not_ended"
    assert case["refused_actions"]["close"] == "case_not_ended"
    case = await act(client, nurse, case, "discharge-notice", discharged_at=iso(now_utc()), **DISCHARGE_CONTENT)
    assert "close" in case["allowed_actions"]
    assert (await act(client, nurse, case, "closure"))["state"] == "closed"


async def test_a_case_discharged_with_a_bare_time_still_loads(client: Client, auth: Auth, app: Litestar) -> None:
    """Cases stored before the notice carried its content have `discharged_at` and nothing else (and could hold a
    time ahead): they load with no content, and closing waits until that time has passed."""
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(client, nurse, await noticed(client, nurse), "discharge-notice", discharged_at=iso(now_utc()),
                     **DISCHARGE_CONTENT)
    ahead = now_utc() + timedelta(days=2)
    async with app.state.runtime.sessions() as session, session.begin():
        document = dict(await session.scalar(select(CaseRow.document).where(CaseRow.id == case["id"])) or {})
        del document["discharge_information"]
        document["discharged_at"] = iso(ahead)
        await session.execute(update(CaseRow).where(CaseRow.id == case["id"]).values(document=document))

    seen = await read(client, assessor, case["id"])
    assert (seen["state"], seen["discharge_information"]) == ("discharged", None)
    assert seen["discharged_at"][:19] == iso(ahead)[:19]
    [item] = [i for i in (await inbox(client, assessor, SOLNA_INTAKE))["items"]  # type: ignore[attr-defined]
              if i["case"]["id"] == case["id"]]
    assert item["case"]["discharge_information"] is None
    listed = (await client.get("/api/v1/cases", headers=nurse, params={"unit_id": WARD, "state": "discharged"}))
    [row] = [c for c in listed.json()["items"] if c["id"] == case["id"]]
    assert (row["discharged_at"], row["discharge_information"]) == (seen["discharged_at"], None)
    answer = problem(await client.post(f"/api/v1/cases/{case['id']}/closure", headers=nurse,
                                       json={"expected_version": case["version"]}), 422, "invalid_transition")
    assert answer["reason"] == "not_yet_discharged"
