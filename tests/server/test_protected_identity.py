"""Protected identity (skyddad identitet): name and address are masked for every user without the explicit need.

The need is a flag on one assignment (`protected_identity_access`, set by the user's administrators): it counts
only when the user acts for that unit. In the demo world Solna's home-care nurse (municipal.nurse) has it; the
ward nurse, the needs assessor and the primary-care contact do not. The same rule holds for case reads, SIP
plan reads and the SIP exports (PDF, FHIR); every such read is in the access log like any other.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from tests.conftest import Backend
from tests.server.conftest import AUDIENCE, ISSUER, SOLNA_HOME_CARE, SOLNA_INTAKE, new_identity, patient, register
from tests.server.sip_support import Auth, Client, Json, access_rows, act, create_plan, give_consent
from tests.server.test_sip_exports import agreed_plan, pdf_text

MASK = "Skyddad identitet"
ADDRESS = "Dold gata 1"
SOLNA_STAD = stable_id("organisation", "solna-stad")


def secret_name() -> str:
    return f"Hemlig {uuid.uuid4().hex[:8]}"


def headers(signing_key: DevSigningKey, user: Json) -> dict[str, str]:
    token = signing_key.issue(subject=user["id"], issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user["hsa_id"]},
                              lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def protected_case(client: Client, auth: Auth, name: str) -> Json:
    """A case of a person with protected identity, received by Solna's intake and home care (notice sent)."""
    case = await register(client, auth("ward.nurse"), receiving_unit_ids=[SOLNA_INTAKE, SOLNA_HOME_CARE],
                          patient=patient(new_identity(), name=name, address=ADDRESS, protected_identity=True))
    response = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                                 json={"expected_version": case["version"]}, headers=auth("ward.nurse"))
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def get(client: Client, path: str, who: dict[str, str], **extra: str) -> Any:
    response = await client.get(path, headers={**who, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def not_in(text: str, *secrets: str) -> bool:
    return not any(s in text for s in secrets)


def shown(person: Json, name: str) -> None:
    assert (person["name"], person["address"], person["protected_identity"], person["masked"]) == (
        name, ADDRESS, True, False)


def masked(person: Json) -> None:
    assert (person["name"], person["address"], person["protected_identity"], person["masked"]) == (
        MASK, "", True, True)


async def test_case_reads_show_a_protected_identity_only_with_the_explicit_need(
        client: Client, auth: Auth, backend: Backend) -> None:
    name = secret_name()
    case = await protected_case(client, auth, name)
    masked(case["patient"])  # the ward nurse's own answer: no need recorded for her
    home_care = auth("municipal.nurse")

    shown((await get(client, f"/api/v1/cases/{case['id']}", home_care))["patient"], name)
    listed = await get(client, f"/api/v1/cases?unit_id={SOLNA_HOME_CARE}", home_care)
    shown(next(i for i in listed["items"] if i["id"] == case["id"])["patient"], name)
    inbox = await get(client, f"/api/v1/units/{SOLNA_HOME_CARE}/inbox", home_care)
    shown(next(i for i in inbox["items"] if i["case"]["id"] == case["id"])["case"]["patient"], name)
    acknowledged = await client.post(f"/api/v1/cases/{case['id']}/acknowledgements",
                                     json={"expected_version": case["version"]}, headers=home_care)
    assert acknowledged.status_code == 200, acknowledged.text
    shown(acknowledged.json()["patient"], name)  # a command's answer follows the same rule

    for user, unit in (("ward.nurse", None), ("needs.assessor", SOLNA_INTAKE)):
        who = auth(user)
        response = await client.get(f"/api/v1/cases/{case['id']}", headers=who)
        assert not_in(response.text, name, ADDRESS)
        masked(response.json()["patient"])
        if unit:
            for path in (f"/api/v1/cases?unit_id={unit}", f"/api/v1/units/{unit}/inbox"):
                text = (await client.get(path, headers=who)).text
                assert not_in(text, name, ADDRESS)

    # The reads with the name shown are logged like any read: who, through which unit, which patient.
    rows = await access_rows(backend, case["patient"]["id"])
    home_care_rows = {a for a, u, who in rows if who == stable_id("user", "municipal.nurse") and u == SOLNA_HOME_CARE}
    assert {"read_case", "list_cases", "list_inbox", "acknowledge"} <= home_care_rows, rows


async def test_the_need_counts_only_for_the_unit_acted_for(client: Client, auth: Auth,
                                                           signing_key: DevSigningKey) -> None:
    """A user of both Solna units with the need at home care only: the unit they act for decides."""
    admin = auth("municipal.admin")
    created = await client.post(f"/api/v1/admin/organisations/{SOLNA_STAD}/users", headers=admin, json={
        "username": f"tva.{uuid.uuid4().hex[:8]}", "hsa_id": f"SE2321000016-S{uuid.uuid4().hex[:10].upper()}",
        "display_name": "Två Enheter"})
    assert created.status_code == 201, created.text
    user = created.json()
    for unit_id, need in ((SOLNA_INTAKE, False), (SOLNA_HOME_CARE, True)):
        granted = await client.post(f"/api/v1/admin/users/{user['id']}/assignments", headers=admin,
                                    json={"unit_id": unit_id, "role": "user", "protected_identity_access": need})
        assert granted.status_code == 201, granted.text
    assignments = {a["unit_id"]: a["id"] for a in granted.json()["assignments"]}
    who = headers(signing_key, user)
    name = secret_name()
    case = await protected_case(client, auth, name)
    path = f"/api/v1/cases/{case['id']}"

    shown((await get(client, path, who, **{"X-Acting-Unit": SOLNA_HOME_CARE}))["patient"], name)
    masked((await get(client, path, who, **{"X-Acting-Unit": SOLNA_INTAKE}))["patient"])
    for unit_id, reveal in ((SOLNA_HOME_CARE, True), (SOLNA_INTAKE, False)):
        listed = await get(client, f"/api/v1/cases?unit_id={unit_id}", who)
        person = next(i for i in listed["items"] if i["id"] == case["id"])["patient"]
        shown(person, name) if reveal else masked(person)

    # Taken away by the administrator: masked from the next request on.
    changed = await client.patch(f"/api/v1/admin/users/{user['id']}/assignments/{assignments[SOLNA_HOME_CARE]}",
                                 headers=admin, json={"protected_identity_access": False})
    assert changed.status_code == 200, changed.text
    masked((await get(client, path, who, **{"X-Acting-Unit": SOLNA_HOME_CARE}))["patient"])


async def test_sip_plan_reads_follow_the_same_rule(client: Client, auth: Auth) -> None:
    name = secret_name()
    plan = await give_consent(client, auth, await create_plan(
        client, auth, person=patient(new_identity(), name=name, address=ADDRESS, protected_identity=True)))
    plan = await act(client, auth, plan, "named-participants", {"expected_version": plan["version"],
                                                               "kind": "next_of_kin", "name": "Hemlig Anhörig"})
    masked(plan["person"])  # the owner (primary care): no need recorded
    assert plan["named_participants"][0]["name"] == MASK

    home_care = auth("municipal.nurse")
    seen = await get(client, f"/api/v1/sip-plans/{plan['id']}", home_care)
    shown(seen["person"], name)
    assert seen["named_participants"][0]["name"] == "Hemlig Anhörig"
    listed = await get(client, f"/api/v1/sip-plans?unit_id={SOLNA_HOME_CARE}", home_care)
    shown(next(i for i in listed["items"] if i["id"] == plan["id"])["person"], name)

    for user in ("needs.assessor", "care.contact"):
        response = await client.get(f"/api/v1/sip-plans/{plan['id']}", headers=auth(user))
        assert response.status_code == 200, response.text
        assert not_in(response.text, name, ADDRESS, "Hemlig Anhörig")
        masked(response.json()["person"])


async def test_sip_exports_follow_the_same_rule(client: Client, auth: Auth, backend: Backend) -> None:
    plan = await agreed_plan(client, auth, protected_identity=True)
    base = f"/api/v1/sip-plans/{plan['id']}/versions/1"

    with_need = await client.get(f"{base}/pdf", headers=auth("municipal.nurse"))
    assert with_need.status_code == 200, with_need.text
    assert "Person: Åsa Öberg" in pdf_text(with_need.content)
    without = pdf_text((await client.get(f"{base}/pdf", headers=auth("needs.assessor"))).content)
    assert MASK in without
    assert "Åsa" not in without

    fhir = await client.get(f"{base}/fhir", headers=auth("municipal.nurse"))
    assert fhir.status_code == 200, fhir.text
    assert fhir.json()["subject"]["display"] == "Åsa Öberg"
    hidden = await client.get(f"{base}/fhir", headers=auth("care.contact"))
    assert "display" not in hidden.json()["subject"]
    assert "Åsa" not in hidden.text

    rows = await access_rows(backend, plan["person"]["id"])
    nurse = stable_id("user", "municipal.nurse")
    assert {("export_sip_pdf", SOLNA_HOME_CARE, nurse), ("export_sip_fhir", SOLNA_HOME_CARE, nurse)} <= set(rows)
