"""A live update's batch read (`POST /cases/{id}/views`): the UI reads a changed case once for every user whose open
view shows it, with each viewer's own token. Each viewer is authenticated and authorised on their own, gets the
masked or the unmasked case (at most two are built), and has one `live_update` row in the access log; a viewer
whose token is forged, expired or revoked, or who no longer sees the case through the unit, gets nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from tests.conftest import Backend
from tests.server.conftest import SOLNA_HOME_CARE, SOLNA_INTAKE, WARD, new_identity, patient, register
from tests.server.sip_support import Auth, Client, Json, access_rows
from tests.server.test_protected_identity import ADDRESS, MASK, headers, protected_case, secret_name

KAROLINSKA = stable_id("organisation", "karolinska")
SOLNA_STAD = stable_id("organisation", "solna-stad")


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def views(client: Client, caller: dict[str, str], case_id: str, unit_id: str, tokens: list[str]) -> Json:
    response = await client.post(f"/api/v1/cases/{case_id}/views", headers=caller,
                                 json={"unit_id": unit_id, "viewers": [{"token": t} for t in tokens]})
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def new_user(client: Client, admin: dict[str, str], organisation: str, unit_id: str,
                   signing_key: DevSigningKey) -> tuple[Json, dict[str, str]]:
    """A user with role `user` at `unit_id`, added by the organisation's administrator, and a token of theirs."""
    created = await client.post(f"/api/v1/admin/organisations/{organisation}/users", headers=admin, json={
        "username": f"viewer.{uuid.uuid4().hex[:8]}", "hsa_id": f"SE2321000016-V{uuid.uuid4().hex[:10].upper()}",
        "display_name": "Tittande Användare"})
    assert created.status_code == 201, created.text
    user: Json = created.json()
    granted = await client.post(f"/api/v1/admin/users/{user['id']}/assignments", headers=admin,
                                json={"unit_id": unit_id, "role": "user"})
    assert granted.status_code == 201, granted.text
    return granted.json(), headers(signing_key, user)


def live_rows(rows: list[tuple[str, str | None, str]]) -> list[tuple[str | None, str]]:
    return sorted((unit, user) for action, unit, user in rows if action == "live_update")


async def test_one_read_serves_every_viewer_and_logs_one_row_per_viewer(
        client: Client, auth: Auth, backend: Backend, signing_key: DevSigningKey) -> None:
    case = await register(client, auth("ward.nurse"))
    colleague, colleague_headers = await new_user(client, auth("hospital.admin"), KAROLINSKA, WARD, signing_key)
    answer = await views(client, auth("ward.nurse"), case["id"], WARD,
                         [bearer(auth("ward.nurse")), bearer(colleague_headers)])

    assert [v["variant"] for v in answer["viewers"]] == [0, 0]
    assert len(answer["variants"]) == 1
    shown = answer["variants"][0]
    assert (shown["id"], shown["version"], shown["patient"]["name"]) == (case["id"], case["version"],
                                                                         case["patient"]["name"])
    me = (await client.get("/api/v1/me", headers=auth("ward.nurse"))).json()
    assert live_rows(await access_rows(backend, case["patient"]["id"])) == sorted(
        [(WARD, me["id"]), (WARD, colleague["id"])])


async def test_a_forged_expired_or_revoked_token_gets_nothing_and_the_others_still_do(
        client: Client, auth: Auth, backend: Backend, signing_key: DevSigningKey) -> None:
    case = await register(client, auth("ward.nurse"))
    _, signed_out = await new_user(client, auth("hospital.admin"), KAROLINSKA, WARD, signing_key)
    assert (await client.post("/api/v1/logout", headers=signed_out)).status_code == 204
    me = (await client.get("/api/v1/me", headers=auth("ward.coordinator"))).json()
    good = bearer(auth("ward.coordinator"))
    forged = good[:-8] + ("A" * 8 if not good.endswith("A" * 8) else "B" * 8)  # the signature no longer matches
    expired_token = signing_key.issue(subject=me["id"], issuer="http://samplan.test/dev-idp", audience="samplan",
                                      claims={"hsa_id": me["hsa_id"]}, lifetime=timedelta(minutes=5),
                                      now=datetime.now(UTC) - timedelta(hours=2))

    answer = await views(client, auth("ward.nurse"), case["id"], WARD,
                         [forged, good, expired_token, bearer(signed_out), "not-a-token"])

    assert [(v["variant"], v["status"]) for v in answer["viewers"]] == [
        (None, 401), (0, 200), (None, 401), (None, 401), (None, 401)]
    assert live_rows(await access_rows(backend, case["patient"]["id"])) == [(WARD, me["id"])]


async def test_a_viewer_whose_access_was_taken_away_gets_nothing(
        client: Client, auth: Auth, backend: Backend, signing_key: DevSigningKey) -> None:
    case = await register(client, auth("ward.nurse"))
    admin = auth("hospital.admin")
    user, viewer = await new_user(client, admin, KAROLINSKA, WARD, signing_key)
    before = await views(client, auth("ward.nurse"), case["id"], WARD, [bearer(viewer)])
    assert [v["variant"] for v in before["viewers"]] == [0]

    assignment = next(a["id"] for a in user["assignments"] if a["unit_id"] == WARD)
    removed = await client.delete(f"/api/v1/admin/users/{user['id']}/assignments/{assignment}", headers=admin)
    assert removed.status_code == 200, removed.text
    after = await views(client, auth("ward.nurse"), case["id"], WARD, [bearer(viewer), bearer(auth("ward.nurse"))])

    assert [(v["variant"], v["status"]) for v in after["viewers"]] == [(None, 403), (0, 200)]
    rows = live_rows(await access_rows(backend, case["patient"]["id"]))
    assert rows.count((WARD, user["id"])) == 1  # the read before the assignment was taken away, no other


async def test_a_viewer_of_another_unit_gets_nothing(client: Client, auth: Auth, backend: Backend) -> None:
    case = await register(client, auth("ward.nurse"), receiving_unit_ids=[SOLNA_INTAKE])
    sent = await client.post(f"/api/v1/cases/{case['id']}/admission-notice", headers=auth("ward.nurse"),
                             json={"expected_version": case["version"]})
    assert sent.status_code == 200, sent.text
    # the home-care nurse does not take part in this case; the assessor does, but through her own unit only
    answer = await views(client, auth("ward.nurse"), case["id"], WARD,
                         [bearer(auth("municipal.nurse")), bearer(auth("needs.assessor"))])

    assert [(v["variant"], v["status"], v["code"]) for v in answer["viewers"]] == [
        (None, 404, "not_found"), (None, 403, "acting_unit_not_allowed")]
    assert answer["variants"] == []
    assert live_rows(await access_rows(backend, case["patient"]["id"])) == []


async def test_masked_and_unmasked_variants_each_viewer_gets_their_own(
        client: Client, auth: Auth, backend: Backend, signing_key: DevSigningKey) -> None:
    name = secret_name()
    case = await protected_case(client, auth, name)
    _, colleague = await new_user(client, auth("municipal.admin"), SOLNA_STAD, SOLNA_HOME_CARE, signing_key)
    tokens = [bearer(colleague), bearer(auth("municipal.nurse")), bearer(colleague)]
    answer = await views(client, auth("municipal.nurse"), case["id"], SOLNA_HOME_CARE, tokens)

    assert len(answer["variants"]) == 2
    people: list[Any] = [answer["variants"][v["variant"]]["patient"] for v in answer["viewers"]]
    assert [p["name"] for p in people] == [MASK, name, MASK]
    assert people[1]["address"] == ADDRESS
    assert ADDRESS not in str(people[0])
    assert len(live_rows(await access_rows(backend, case["patient"]["id"]))) == 3


async def test_bad_input_is_refused_with_the_field(client: Client, auth: Auth) -> None:
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity()))
    for body in ({"unit_id": WARD, "viewers": []}, {"unit_id": WARD}, {"viewers": [{"token": "x"}]},
                 {"unit_id": WARD, "viewers": [{"token": "x"}] * 501}):
        response = await client.post(f"/api/v1/cases/{case['id']}/views", headers=auth("ward.nurse"), json=body)
        assert response.status_code == 400, (body, response.text)
    unknown = await views(client, auth("ward.nurse"), str(uuid.uuid4()), WARD, [bearer(auth("ward.nurse"))])
    assert [(v["variant"], v["status"]) for v in unknown["viewers"]] == [(None, 404)]
