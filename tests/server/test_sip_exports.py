"""Exports of an agreed SIP: the PDF (parsed back with pypdf: the Swedish text is there) and the FHIR R4
CarePlan (validated with fhir.resources' R4B models, which keep R4's CarePlan, CareTeam and Consent). Both
are reads of patient data: access-logged; other units get 404."""

from __future__ import annotations

import io
import json

from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.consent import Consent
from pypdf import PdfReader

from server.demo.seed import DEMO_USERS
from server.exports.pdf import font_paths
from server.exports.sip_fhir import IDENTITY_SYSTEMS
from tests.conftest import Backend
from tests.server.conftest import new_identity, patient
from tests.server.sip_support import (
    MUNICIPAL_USER,
    OUTSIDER_USER,
    Auth,
    Client,
    Json,
    access_rows,
    act,
    agree,
    create_plan,
    fill_required,
    give_consent,
)


def pdf_text(content: bytes) -> str:
    """The PDF's text with lines joined and whitespace normalised (wrapping moves line breaks)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


async def agreed_plan(client: Client, auth: Auth, **person: object) -> Json:
    plan = await create_plan(client, auth, person=patient(new_identity(), name="Åsa Öberg", **person))
    plan = await fill_required(client, auth, await give_consent(client, auth, plan))
    plan = await act(client, auth, plan, "items/goals", {"content": {"description": "Kunna gå på älgpromenad"}})
    plan = await act(client, auth, plan, "items/measures", {"content": {
        "description": "Ansöka om bostadstillägg", "by_whom": "Försäkringskassan", "when": "i höst"}})
    plan = await act(client, auth, plan, "fields/own_contribution", {"value": "Tar insulin själv på lördagar",
                                                                     "expected_revision": 0})
    return await agree(client, auth, plan)


def test_the_pdf_font_is_a_unicode_truetype_font() -> None:
    regular, _bold = font_paths()
    assert regular.suffix == ".ttf"
    assert regular.is_file()


async def test_the_agreed_plan_as_pdf(client: Client, auth: Auth, backend: Backend) -> None:
    plan = await agreed_plan(client, auth)
    response = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/1/pdf", headers=auth(MUNICIPAL_USER))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    for expected in ("Samordnad individuell plan (SIP)", "Version 1", "Åsa Öberg", "1. Behov",
                     "Hjälp med insulin, även på helger (å ä ö)", "Hemsjukvård: insulin morgon och kväll",
                     "Försäkringskassan", "Kunna gå på älgpromenad", "Tar insulin själv på lördagar",
                     "Nästa uppföljning", "Godkänd (justerad) av", "reservrutin"):
        assert expected in text, expected
    assert ("export_sip_pdf", "needs.assessor") in [(a, u) for a, _, u in await _with_usernames(backend, plan)]
    missing = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/2/pdf", headers=auth(MUNICIPAL_USER))
    assert missing.status_code == 404
    hidden = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/1/pdf", headers=auth(OUTSIDER_USER))
    assert hidden.status_code == 404


async def test_protected_identity_stays_masked_in_the_pdf(client: Client, auth: Auth) -> None:
    plan = await agreed_plan(client, auth, protected_identity=True)
    response = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/1/pdf", headers=auth("care.contact"))
    text = pdf_text(response.content)
    assert "Skyddad identitet" in text
    assert "Åsa" not in text


async def test_the_agreed_plan_as_a_fhir_r4_care_plan(client: Client, auth: Auth, backend: Backend) -> None:
    plan = await agreed_plan(client, auth)
    response = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/1/fhir", headers=auth("care.contact"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    data = response.json()
    care_plan = CarePlan.model_validate(data)  # raises on anything R4 does not allow
    assert (care_plan.status, care_plan.intent) == ("active", "plan")
    assert care_plan.subject.identifier.system == IDENTITY_SYSTEMS["personnummer"]
    assert care_plan.subject.identifier.value == plan["person"]["identity"].replace("-", "")
    contained = {r["resourceType"]: r for r in data["contained"]}
    CareTeam.model_validate(contained["CareTeam"])
    consent = Consent.model_validate(contained["Consent"])
    assert consent.status == "active"
    assert {a["detail"].get("description", "").split(";")[0] for a in data["activity"]} >= {
        "Hemsjukvård: insulin morgon och kväll", "Ansöka om bostadstillägg", "Uppföljning av planen"}
    assert [r["code"]["text"] for r in data["contained"] if r["resourceType"] == "Condition"] == [
        "Hjälp med insulin, även på helger (å ä ö)"]
    assert data["note"] == [{"text": "Egen insats: Tar insulin själv på lördagar"}]
    # Every contained resource is referenced from the plan (FHIR's dom-3).
    references = json.dumps({k: v for k, v in data.items() if k != "contained"})
    assert all(f"#{r['id']}" in references for r in data["contained"])
    actions = [a for a, _, _ in await access_rows(backend, plan["person"]["id"])]
    assert "export_sip_fhir" in actions

    # A later version supersedes the first: its export says so.
    plan = await act(client, auth, plan, "items/goals", {"content": {"description": "Träffa barnbarnen"}})
    plan = await agree(client, auth, plan)
    old = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions/1/fhir", headers=auth("care.contact"))
    assert CarePlan.model_validate(old.json()).status == "revoked"


async def _with_usernames(backend: Backend, plan: Json) -> list[tuple[str, str | None, str]]:
    names = {u.id: u.username for u in DEMO_USERS}
    return [(a, u, names.get(user, user)) for a, u, user in await access_rows(backend, plan["person"]["id"])]
