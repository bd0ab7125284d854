"""Merging a reserve number into the person's real identity (`POST /admin/patient-identity-merges`,
server/services/patient_merge.py): the cases and plans move, each as a recorded change; the history stays (the
access log's rows of the reserve number are found by the real identity); the merge is in the admin log and the
access log; who may, and every refusal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from server.demo.seed import stable_id
from tests.server.conftest import STOCKHOLM_INTAKE, WARD, new_identity, patient, register

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
MERGES = "/api/v1/admin/patient-identity-merges"
KAROLINSKA = stable_id("organisation", "karolinska")


def reserve_number() -> str:
    return f"99{uuid.uuid4().int % 10**10:010d}"


async def merge(client: Client, headers: dict[str, str], reserve: str, identity: str) -> httpx.Response:
    return await client.post(MERGES, json={"reserve_number": reserve, "identity": identity}, headers=headers)


async def test_the_cases_and_plans_move_to_the_real_identity_and_the_history_stays(client: Client,
                                                                                   auth: Auth) -> None:
    nurse, admin, auditor = auth("ward.nurse"), auth("hospital.admin"), auth("auditor")
    reserve, real = reserve_number(), new_identity()
    case = await register(client, nurse, reserve)
    plan = (await client.post("/api/v1/sip-plans", headers=nurse,
                              json={"owner_unit_id": WARD, "case_id": case["id"]})).json()
    head = (await client.get(f"/api/v1/units/{WARD}/events", headers=nurse)).json()["head"]
    case = (await client.get(f"/api/v1/cases/{case['id']}", headers=nurse)).json()  # the plan changed it

    merged = await merge(client, admin, reserve, real)
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["from_patient_id"] == case["patient"]["id"]
    assert (answer["case_ids"], answer["sip_plan_ids"]) == ([case["id"]], [plan["id"]])
    assert answer["identity_kind"] == "personnummer"

    moved = (await client.get(f"/api/v1/cases/{case['id']}", headers=nurse)).json()
    assert (moved["patient"]["identity"], moved["patient"]["id"]) == (real, answer["to_patient_id"])
    assert moved["patient"]["name"] == case["patient"]["name"]  # the case keeps its own details
    assert moved["version"] == case["version"] + 1
    assert moved["timeline"][-1]["action"] == "patient_identity_merged"
    moved_plan = (await client.get(f"/api/v1/sip-plans/{plan['id']}", headers=nurse)).json()
    assert moved_plan["person"]["identity"] == real
    events = (await client.get(f"/api/v1/units/{WARD}/events", params={"after": head}, headers=nurse)).json()
    assert {"PatientIdentityMerged", "SipPersonIdentityMerged"} <= {e["type"] for e in events["items"]}
    assert all(real not in str(e) and reserve not in str(e) for e in events["items"])  # ids only

    # History: searching the log by the real identity finds what was logged under the reserve number.
    found = (await client.post("/api/v1/audit/access-log/search", headers=auditor,
                               json={"patient_identity": real, "limit": 100})).json()["items"]
    assert {"register_case", "merge_patient_identity"} <= {e["action"] for e in found}
    assert {e["patient_id"] for e in found} == {answer["from_patient_id"], answer["to_patient_id"]}
    merges = [e for e in found if e["action"] == "merge_patient_identity"]
    assert {e["purpose"] for e in merges} == {"administration"}
    assert {e["user_id"] for e in merges} == {stable_id("user", "hospital.admin")}
    changes = (await client.get(f"/api/v1/admin/organisations/{KAROLINSKA}/changes", headers=admin)).json()
    logged = next(c for c in changes["items"] if c["action"] == "merge_patient_identity")
    assert logged["target_id"] == answer["from_patient_id"]
    assert logged["detail"]["into_patient_id"] == answer["to_patient_id"]
    assert reserve not in str(logged)
    assert real not in str(logged)

    # The merged reserve number, typed again at a registration, finds the real identity.
    again = await register(client, auth("ward.coordinator"), reserve, ward_unit_id=stable_id("unit",
                                                                                              "ks-solna-ward-ortoped-3"))
    assert again["patient"]["id"] == answer["to_patient_id"]
    assert again["patient"]["identity"] == real


async def test_a_protected_reserve_number_protects_the_real_identity(client: Client, auth: Auth) -> None:
    reserve = reserve_number()
    await register(client, auth("ward.nurse"), patient=patient(reserve, protected_identity=True))
    merged = await merge(client, auth("central.admin"), reserve, new_identity())
    assert merged.status_code == 200, merged.text
    assert merged.json()["protected_identity"] is True


async def test_refusals(client: Client, auth: Auth) -> None:
    nurse, admin = auth("ward.nurse"), auth("hospital.admin")
    reserve = reserve_number()
    case = await register(client, nurse, patient=patient(reserve, municipality_code="0180", listed_unit_id=None),
                          receiving_unit_ids=[STOCKHOLM_INTAKE])

    def code(response: httpx.Response) -> tuple[int, Any]:
        return response.status_code, response.json().get("code")

    assert code(await merge(client, admin, new_identity(), new_identity())) == (422, "not_a_reserve_number")
    assert code(await merge(client, admin, reserve, reserve_number())) == (422, "invalid_identity")
    assert code(await merge(client, admin, reserve, "19121212-1213")) == (422, "invalid_identity")  # check digit
    assert (await merge(client, admin, reserve_number(), new_identity())).status_code == 404  # unknown
    assert code(await merge(client, nurse, reserve, new_identity())) == (403, "not_identity_administrator")
    # Solna's administrator: Solna takes no part in this person's case, so it does not exist for them
    assert (await merge(client, auth("municipal.admin"), reserve, new_identity())).status_code == 404

    # The real person already has an open case at the same ward: one of them must end first.
    real = new_identity()
    await register(client, nurse, real)
    assert code(await merge(client, admin, reserve, real)) == (409, "open_case_at_same_ward")
    unchanged = (await client.get(f"/api/v1/cases/{case['id']}", headers=nurse)).json()
    assert unchanged["patient"]["identity"] == reserve  # nothing written
    assert unchanged["version"] == case["version"]

    assert (await merge(client, admin, reserve, new_identity())).status_code == 200
    assert code(await merge(client, admin, reserve, new_identity())) == (409, "identity_already_merged")
