"""Administration through the API: connect organisations, keep the unit tree, manage users and assignments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from tests.server.conftest import (
    AUDIENCE,
    ISSUER,
    SOLNA_INTAKE,
    STOCKHOLM_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
ADMIN = "/api/v1/admin"
KAROLINSKA = stable_id("organisation", "karolinska")
STOCKHOLMS_STAD = stable_id("organisation", "stockholms-stad")
SOLNA_STAD = stable_id("organisation", "solna-stad")
NO_LOCAL_ADMIN = stable_id("organisation", "vc-exempelgatan-ab")
REGION = stable_id("principal", "region-stockholm")


def hsa(prefix: str = "T") -> str:
    return f"SE2321000016-{prefix}{uuid.uuid4().hex[:10].upper()}"


def fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def conflict(response: httpx.Response, code: str, field: str) -> None:
    """A 409 problem with its specific code and the field it is about."""
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert fields(response) == [field]


async def test_an_organisation_connects_only_with_a_care_agreement(client: Client, auth: Auth) -> None:
    body = {"principal_id": REGION, "name": "Vårdbolaget Exempel AB", "kind": "care_provider"}
    refused = await client.post(f"{ADMIN}/organisations", json={**body, "care_agreement": False},
                                headers=auth("central.admin"))
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["care_agreement"]
    assert refused.headers["content-type"].startswith("application/problem+json")

    not_central = await client.post(f"{ADMIN}/organisations", json={**body, "care_agreement": True},
                                    headers=auth("hospital.admin"))
    assert not_central.status_code == 403

    connected = await client.post(f"{ADMIN}/organisations", json={**body, "care_agreement": True},
                                  headers=auth("central.admin"))
    assert connected.status_code == 201, connected.text
    org = connected.json()
    assert org["care_agreement"] is True
    assert org["has_local_administration"] is False
    listed = await client.get(f"{ADMIN}/organisations", headers=auth("central.admin"))
    assert org["id"] in [o["id"] for o in listed.json()]
    own_only = await client.get(f"{ADMIN}/organisations", headers=auth("hospital.admin"))
    assert [o["id"] for o in own_only.json()] == [KAROLINSKA]

    changed = await client.patch(f"{ADMIN}/organisations/{org['id']}", json={"has_local_administration": True},
                                 headers=auth("central.admin"))
    assert changed.json()["has_local_administration"] is True


async def test_the_unit_tree_with_routing_rules(client: Client, auth: Auth) -> None:
    central = auth("central.admin")
    district = f"Provdistrikt {uuid.uuid4().hex[:6]}"
    intake = await client.post(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central, json={
        "name": f"Mottagning {district}", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180",
        "district": district, "routing_role": "intake", "parent_unit_id": STOCKHOLM_INTAKE})
    assert intake.status_code == 201, intake.text
    unit = intake.json()
    assert (unit["parent_unit_id"], unit["routing_role"], unit["active"]) == (STOCKHOLM_INTAKE, "intake", True)

    # Routing: a patient registered in Stockholm with that district goes to the new intake unit.
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity(), municipality_code="0180",
                                                                      listed_unit_id=None, district=district))
    assert unit["id"] in [p["unit_id"] for p in case["participants"]]

    # A unit taking part in an open case cannot close: it would get no new notices.
    busy = await client.post(f"{ADMIN}/units/{unit['id']}/deactivation", headers=central)
    assert busy.status_code == 409, busy.text
    assert fields(busy) == ["unit_id"]

    # Rules of the tree and of routing.
    bad_routing = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/units", headers=central, json={
        "name": "Fel", "kind": "somatic_ward", "hsa_id": hsa(), "routing_role": "intake"})
    assert bad_routing.status_code == 422
    assert fields(bad_routing) == ["routing_role"]
    district_without_intake = await client.patch(f"{ADMIN}/units/{unit['id']}", headers=central,
                                                 json={"routing_role": None})
    assert district_without_intake.status_code == 422
    assert fields(district_without_intake) == ["district"]
    duplicate = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/units", headers=central, json={
        "name": "Dubblett", "kind": "somatic_ward", "hsa_id": unit["hsa_id"]})
    assert duplicate.status_code == 409
    assert fields(duplicate) == ["hsa_id"]
    cycle = await client.patch(f"{ADMIN}/units/{STOCKHOLM_INTAKE}", headers=central,
                               json={"parent_unit_id": unit["id"]})
    assert cycle.status_code == 422
    assert fields(cycle) == ["parent_unit_id"]
    renamed = await client.patch(f"{ADMIN}/units/{unit['id']}", headers=central, json={"name": "Nytt namn"})
    assert renamed.json()["name"] == "Nytt namn"
    assert renamed.json()["district"] == district  # fields left out stay


async def test_a_deactivated_unit_keeps_its_history_and_gets_no_new_notices(client: Client, auth: Auth) -> None:
    central = auth("central.admin")
    district = f"Stängt {uuid.uuid4().hex[:6]}"
    created = await client.post(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central, json={
        "name": "Stängs", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180", "district": district,
        "routing_role": "intake"})
    unit = created.json()
    closed = await client.post(f"{ADMIN}/units/{unit['id']}/deactivation", headers=central)
    assert closed.status_code == 200, closed.text
    assert closed.json()["active"] is False
    assert closed.json()["deactivated_at"] is not None

    # Still there for history (cases and logs refer to it) ...
    assert (await client.get(f"/api/v1/units/{unit['id']}", headers=auth("ward.nurse"))).status_code == 200
    tree = await client.get(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central)
    assert {"id": unit["id"], "active": False}.items() <= next(u for u in tree.json() if u["id"] == unit["id"]).items()
    # ... but no longer offered, routed to or added.
    offered = await client.get("/api/v1/units?municipality_code=0180&limit=500", headers=auth("ward.nurse"))
    assert unit["id"] not in [u["id"] for u in offered.json()["items"]]
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity(), municipality_code="0180",
                                                                      listed_unit_id=None, district=district))
    assert unit["id"] not in [p["unit_id"] for p in case["participants"]]
    assert STOCKHOLM_INTAKE in [p["unit_id"] for p in case["participants"]]  # the central intake instead
    added = await client.post(f"/api/v1/cases/{case['id']}/participants", headers=auth("ward.nurse"),
                              json={"expected_version": case["version"], "unit_id": unit["id"]})
    assert added.status_code == 422
    assignment = await client.post(f"{ADMIN}/users/{stable_id('user', 'stockholm.assessor')}/assignments",
                                   headers=central, json={"unit_id": unit["id"], "role": "user"})
    assert assignment.status_code == 422


def _token(signing_key: DevSigningKey, user: dict[str, Any]) -> dict[str, str]:
    token = signing_key.issue(subject=user["id"], issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user["hsa_id"]},
                              lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def test_a_local_access_administrator_manages_users_of_their_own_organisation(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    admin = auth("hospital.admin")
    name = f"ny.{uuid.uuid4().hex[:8]}"
    created = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin, json={
        "username": name, "hsa_id": hsa("U"), "display_name": "Ny Användare", "title": "Undersköterska"})
    assert created.status_code == 201, created.text
    user = created.json()
    headers = _token(signing_key, user)
    assert (await client.get(f"/api/v1/cases?unit_id={WARD}", headers=headers)).status_code == 403  # no role yet

    granted = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                                json={"unit_id": WARD, "role": "user"})
    assert granted.status_code == 201, granted.text
    assert [(a["unit_id"], a["role"]) for a in granted.json()["assignments"]] == [(WARD, "user")]
    assert (await client.get(f"/api/v1/cases?unit_id={WARD}", headers=headers)).status_code == 200

    other_org_unit = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                                       json={"unit_id": SOLNA_INTAKE, "role": "user"})
    assert other_org_unit.status_code == 403
    assert fields(other_org_unit) == ["unit_id"]
    central_role = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                                     json={"unit_id": WARD, "role": "central_administrator"})
    assert central_role.status_code == 403
    assert fields(central_role) == ["role"]
    duplicate = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                                  json={"unit_id": WARD, "role": "user"})
    assert duplicate.status_code == 409

    # Another organisation's administrator cannot see or touch the user.
    assert (await client.get(f"{ADMIN}/users/{user['id']}", headers=auth("municipal.admin"))).status_code == 403
    assert (await client.patch(f"{ADMIN}/users/{user['id']}", headers=auth("municipal.admin"),
                               json={"active": False})).status_code == 403

    assignment_id = granted.json()["assignments"][0]["id"]
    removed = await client.delete(f"{ADMIN}/users/{user['id']}/assignments/{assignment_id}", headers=admin)
    assert removed.status_code == 200, removed.text
    assert removed.json()["assignments"] == []
    assert (await client.get(f"/api/v1/cases?unit_id={WARD}", headers=headers)).status_code == 403

    deactivated = await client.patch(f"{ADMIN}/users/{user['id']}", headers=admin, json={"active": False})
    assert deactivated.json()["active"] is False
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    myself = await client.patch(f"{ADMIN}/users/{stable_id('user', 'hospital.admin')}", headers=admin,
                                json={"active": False})
    assert myself.status_code == 422


async def test_central_administration_serves_organisations_without_local_administration(
        client: Client, auth: Auth) -> None:
    body = {"username": f"vc.{uuid.uuid4().hex[:8]}", "hsa_id": hsa("V"), "display_name": "Läkare Exempel"}
    created = await client.post(f"{ADMIN}/organisations/{NO_LOCAL_ADMIN}/users", headers=auth("central.admin"),
                                json=body)
    assert created.status_code == 201, created.text
    listed = await client.get(f"{ADMIN}/organisations/{NO_LOCAL_ADMIN}/users", headers=auth("central.admin"))
    assert created.json()["id"] in [u["id"] for u in listed.json()]
    refused = await client.get(f"{ADMIN}/organisations/{NO_LOCAL_ADMIN}/users", headers=auth("hospital.admin"))
    assert refused.status_code == 403


async def test_admin_changes_reach_the_case_flow(client: Client, auth: Auth) -> None:
    """A unit added by an administrator receives cases like any seeded one (its feed exists)."""
    central = auth("central.admin")
    created = await client.post(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central, json={
        "name": "Hemtjänst Prov", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180"})
    unit_id = created.json()["id"]
    case = await register(client, auth("ward.nurse"), receiving_unit_ids=[unit_id],
                          admitted_at=iso(now_utc() - timedelta(hours=1)))
    assert [p["unit_id"] for p in case["participants"] if p["unit_id"] == unit_id] == [unit_id]


async def test_every_change_is_recorded_with_who_made_it(client: Client, auth: Auth) -> None:
    """Behörighetstilldelning is documented: grants and revocations, by whom and when, append-only."""
    admin = auth("hospital.admin")
    created = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin, json={
        "username": f"spår.{uuid.uuid4().hex[:6]}".replace("å", "a"), "hsa_id": hsa("L"), "display_name": "Spårad"})
    user_id = created.json()["id"]
    granted = await client.post(f"{ADMIN}/users/{user_id}/assignments", headers=admin,
                                json={"unit_id": WARD, "role": "user"})
    await client.delete(f"{ADMIN}/users/{user_id}/assignments/{granted.json()['assignments'][0]['id']}",
                        headers=admin)
    changes = await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/changes", headers=admin)
    assert changes.status_code == 200, changes.text
    mine = [c for c in changes.json()["items"] if c["target_id"] == user_id]
    assert [c["action"] for c in mine] == ["revoke_assignment", "grant_assignment", "create_user"]
    assert {c["actor_user_id"] for c in mine} == {stable_id("user", "hospital.admin")}
    assert mine[1]["detail"] == {"unit_id": WARD, "role": "user", "protected_identity_access": False}
    assert (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/changes",
                             headers=auth("municipal.admin"))).status_code == 403


async def _new_user(client: Client, headers: dict[str, str], organisation_id: str = KAROLINSKA,
                    prefix: str = "ny") -> dict[str, Any]:
    created = await client.post(f"{ADMIN}/organisations/{organisation_id}/users", headers=headers, json={
        "username": f"{prefix}.{uuid.uuid4().hex[:8]}", "hsa_id": hsa("P"), "display_name": "Ny Användare"})
    assert created.status_code == 201, created.text
    user: dict[str, Any] = created.json()
    return user


async def test_protected_identity_access_is_given_by_the_users_own_administrators(client: Client,
                                                                                 auth: Auth) -> None:
    """Behörighet att se skyddade personuppgifter: a flag on one assignment, set by those who may grant it."""
    admin = auth("hospital.admin")
    user = await _new_user(client, admin)
    granted = await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                                json={"unit_id": WARD, "role": "user", "protected_identity_access": True})
    assert granted.status_code == 201, granted.text
    [assignment] = granted.json()["assignments"]
    assert (assignment["unit_id"], assignment["protected_identity_access"]) == (WARD, True)
    path = f"{ADMIN}/users/{user['id']}/assignments/{assignment['id']}"

    taken_away = await client.patch(path, headers=admin, json={"protected_identity_access": False})
    assert taken_away.status_code == 200, taken_away.text
    assert taken_away.json()["assignments"][0]["protected_identity_access"] is False
    by_central = await client.patch(path, headers=auth("central.admin"), json={"protected_identity_access": True})
    assert by_central.status_code == 200, by_central.text
    assert by_central.json()["assignments"][0]["protected_identity_access"] is True
    read = await client.get(f"{ADMIN}/users/{user['id']}", headers=admin)
    assert read.json()["assignments"][0]["protected_identity_access"] is True

    # A local administrator of another organisation neither sees nor changes it; nor do other roles.
    for who in ("municipal.admin", "ward.nurse", "auditor"):
        refused = await client.patch(path, headers=auth(who), json={"protected_identity_access": False})
        assert refused.status_code == 403, (who, refused.text)
    # An assignment of another user, or none: 404. A bad body: 400.
    other = await _new_user(client, admin)
    elsewhere = await client.patch(f"{ADMIN}/users/{other['id']}/assignments/{assignment['id']}", headers=admin,
                                   json={"protected_identity_access": False})
    assert elsewhere.status_code == 404
    assert (await client.patch(path, headers=admin, json={})).status_code == 400
    assert (await client.patch(path, headers=admin, json={"protected_identity_access": "ja"})).status_code == 400

    # Only an assignment that works with patients carries it.
    auditor_role = await client.post(f"{ADMIN}/users/{other['id']}/assignments", headers=admin,
                                     json={"unit_id": WARD, "role": "auditor", "protected_identity_access": True})
    assert auditor_role.status_code == 422
    assert fields(auditor_role) == ["protected_identity_access"]

    # Every change is documented in the organisation's record of changes.
    changes = (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/changes", headers=admin)).json()["items"]
    mine = [c for c in changes if c["target_id"] == user["id"]]
    assert [(c["action"], c["actor_user_id"], c["detail"].get("protected_identity_access")) for c in mine] == [
        ("change_assignment", stable_id("user", "central.admin"), True),
        ("change_assignment", stable_id("user", "hospital.admin"), False),
        ("grant_assignment", stable_id("user", "hospital.admin"), True),
        ("create_user", stable_id("user", "hospital.admin"), None)]
    assert mine[0]["detail"]["assignment_id"] == assignment["id"]
    assert mine[0]["detail"]["unit_id"] == WARD


async def test_a_local_administrator_sets_it_only_in_their_own_organisation(client: Client, auth: Auth) -> None:
    solna_user = await _new_user(client, auth("municipal.admin"), SOLNA_STAD)
    granted = await client.post(f"{ADMIN}/users/{solna_user['id']}/assignments", headers=auth("municipal.admin"),
                                json={"unit_id": SOLNA_INTAKE, "role": "user"})
    assert granted.status_code == 201, granted.text
    path = f"{ADMIN}/users/{solna_user['id']}/assignments/{granted.json()['assignments'][0]['id']}"
    refused = await client.patch(path, headers=auth("hospital.admin"), json={"protected_identity_access": True})
    assert refused.status_code == 403
    given = await client.patch(path, headers=auth("municipal.admin"), json={"protected_identity_access": True})
    assert given.status_code == 200, given.text
    # Granting with the flag at once follows the same rule.
    other_org = await client.post(f"{ADMIN}/users/{solna_user['id']}/assignments", headers=auth("hospital.admin"),
                                  json={"unit_id": SOLNA_INTAKE, "role": "super_user",
                                        "protected_identity_access": True})
    assert other_org.status_code == 403


async def test_an_administrator_corrects_a_users_hsa_id(client: Client, auth: Auth,
                                                        signing_key: DevSigningKey) -> None:
    admin = auth("hospital.admin")
    user = await _new_user(client, admin)
    old_token = _token(signing_key, user)
    assert (await client.get("/api/v1/me", headers=old_token)).status_code == 200
    new_hsa = hsa("N")
    changed = await client.patch(f"{ADMIN}/users/{user['id']}", headers=admin, json={"hsa_id": new_hsa})
    assert changed.status_code == 200, changed.text
    assert changed.json()["hsa_id"] == new_hsa
    # The user signs in by the HSA-id: the new one works, tokens for the old one no longer do.
    assert (await client.get("/api/v1/me", headers=_token(signing_key, changed.json()))).status_code == 200
    assert (await client.get("/api/v1/me", headers=old_token)).status_code == 401
    # The same again changes nothing; another user's is taken; a malformed one is refused.
    again = await client.patch(f"{ADMIN}/users/{user['id']}", headers=admin, json={"hsa_id": new_hsa})
    assert again.status_code == 200
    nurse_hsa = (await client.get(f"{ADMIN}/users/{stable_id('user', 'ward.nurse')}", headers=admin)).json()["hsa_id"]
    conflict(await client.patch(f"{ADMIN}/users/{user['id']}", headers=admin, json={"hsa_id": nurse_hsa}),
             "hsa_id_taken", "hsa_id")
    malformed = await client.patch(f"{ADMIN}/users/{user['id']}", headers=admin, json={"hsa_id": "ABC 123"})
    assert malformed.status_code == 400
    assert fields(malformed) == ["hsa_id"]
    refused = await client.patch(f"{ADMIN}/users/{user['id']}", headers=auth("municipal.admin"),
                                 json={"hsa_id": hsa("X")})
    assert refused.status_code == 403
    changes = (await client.get(f"{ADMIN}/organisations/{KAROLINSKA}/changes", headers=admin)).json()["items"]
    hsa_changes = [c["detail"] for c in changes if c["target_id"] == user["id"] and c["action"] == "change_user"
                   and c["detail"].get("previous_hsa_id")]
    assert [(d["hsa_id"], d["previous_hsa_id"]) for d in hsa_changes] == [(new_hsa, user["hsa_id"])]


async def test_admin_conflicts_carry_specific_codes(client: Client, auth: Auth) -> None:
    central, admin = auth("central.admin"), auth("hospital.admin")
    nurse = (await client.get(f"{ADMIN}/users/{stable_id('user', 'ward.nurse')}", headers=admin)).json()
    body = {"username": f"kod.{uuid.uuid4().hex[:8]}", "hsa_id": hsa("K"), "display_name": "Kod"}
    conflict(await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin,
                               json={**body, "username": nurse["username"]}), "username_taken", "username")
    conflict(await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin,
                               json={**body, "hsa_id": nurse["hsa_id"]}), "hsa_id_taken", "hsa_id")
    user = await _new_user(client, admin)
    assert (await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                              json={"unit_id": WARD, "role": "user"})).status_code == 201
    conflict(await client.post(f"{ADMIN}/users/{user['id']}/assignments", headers=admin,
                               json={"unit_id": WARD, "role": "user"}), "assignment_exists", "role")

    ward_hsa = (await client.get(f"/api/v1/units/{WARD}", headers=central)).json()["hsa_id"]
    conflict(await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/units", headers=central, json={
        "name": "Dubblett", "kind": "somatic_ward", "hsa_id": ward_hsa}), "hsa_id_taken", "hsa_id")
    # A unit still in use: it takes part in an open case, or it has active sub-units.
    await register(client, auth("ward.nurse"))
    conflict(await client.post(f"{ADMIN}/units/{WARD}/deactivation", headers=central), "unit_in_use", "unit_id")
    parent = await client.post(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central, json={
        "name": "Överordnad", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180"})
    child = await client.post(f"{ADMIN}/organisations/{STOCKHOLMS_STAD}/units", headers=central, json={
        "name": "Underenhet", "kind": "municipal", "hsa_id": hsa(), "municipality_code": "0180",
        "parent_unit_id": parent.json()["id"]})
    assert child.status_code == 201, child.text
    conflict(await client.post(f"{ADMIN}/units/{parent.json()['id']}/deactivation", headers=central),
             "unit_has_active_sub_units", "unit_id")


async def test_users_are_found_by_part_of_their_name_username_title_or_hsa_id(client: httpx.AsyncClient,
                                                                             auth: Callable[[str], dict[str, str]]
                                                                             ) -> None:
    admin = auth("hospital.admin")
    url = f"{ADMIN}/organisations/{KAROLINSKA}/users"

    async def names(**params: Any) -> list[str]:
        response = await client.get(url, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [u["display_name"] for u in response.json()]

    everyone = await names()
    assert everyone == sorted(everyone)  # by name
    assert await names(q="sjöb") == ["Sara Sjöberg"]  # part of the name, any case
    assert await names(q="WARD.NURSE") == ["Sara Sjöberg"]  # the username
    assert await names(q="DEMOWARDNURSE") == ["Sara Sjöberg"]  # the HSA-id
    assert "Sara Sjöberg" in await names(q="sjuksköterska")  # the title
    assert await names(q="100%_") == []  # wildcards are text
    assert len(await names(limit=2)) == 2
    assert (await client.get(url, params={"q": "x" * 101}, headers=admin)).status_code == 400
