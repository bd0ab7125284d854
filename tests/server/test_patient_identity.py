"""Patient identity by design (docs/adr/0002-patient-identity.md): a personnummer links one person's cases and
plans, and nothing else travels with it.

- A registration (a case, a SIP plan) never answers with details another unit registered: each case and plan
  shows the person as its own creator registered them.
- A registration never changes what other units see; protected identity can only be set by one (then it holds
  everywhere), and only an administrator with the explicit need clears it (`adminClearProtectedIdentity`).
- Every written form of one identity is one person; a '+' number nobody alive can hold is refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from domain.identity import generate_test_personnummer
from domain.organisation import Role
from server.auth.tokens import DevSigningKey
from server.demo.seed import stable_id
from server.persistence.database import create_engine, session_factory
from server.persistence.models import AdminLogRow, PatientRow
from tests.conftest import Backend
from tests.server.conftest import (
    AUDIENCE,
    ISSUER,
    PSYCH_WARD,
    SODERMALM,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    STOCKHOLM_INTAKE,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)
from tests.server.sip_support import Auth, Client, Json, create_plan

MASK = "Skyddad identitet"
SOLNA_STAD = stable_id("organisation", "solna-stad")
STOCKHOLMS_STAD = stable_id("organisation", "stockholms-stad")


def secret() -> str:
    return uuid.uuid4().hex[:10]


async def solna_case(client: Client, auth: Auth, identity: str, name: str, address: str, *,
                     protected: bool = False) -> Json:
    """A case at the main ward of a Solna resident, received by Solna's intake and home care (notice sent)."""
    case = await register(client, auth("ward.nurse"), receiving_unit_ids=[SOLNA_INTAKE, SOLNA_HOME_CARE],
                          patient=patient(identity, name=name, address=address, protected_identity=protected))
    sent = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                             json={"expected_version": case["version"]}, headers=auth("ward.nurse"))
    assert sent.status_code == 200, sent.text
    result: Json = sent.json()
    return result


async def new_user(client: Client, auth: Auth, signing_key: DevSigningKey, organisation_id: str,
                   assignments: list[tuple[str, Role, bool]]) -> dict[str, str]:
    """A user made by the central administrator, with (unit, role, explicit need) assignments; their headers."""
    admin = auth("central.admin")
    created = await client.post(f"/api/v1/admin/organisations/{organisation_id}/users", headers=admin, json={
        "username": f"id.{secret()}", "hsa_id": f"SE2321000016-I{secret().upper()}", "display_name": "Ny Användare"})
    assert created.status_code == 201, created.text
    user = created.json()
    for unit_id, role, need in assignments:
        granted = await client.post(f"/api/v1/admin/users/{user['id']}/assignments", headers=admin, json={
            "unit_id": unit_id, "role": str(role), "protected_identity_access": need})
        assert granted.status_code == 201, granted.text
    token = signing_key.issue(subject=user["id"], issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": user["hsa_id"]},
                              lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def read(client: Client, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def person_of(answer: Json) -> tuple[str, str, bool, bool]:
    person = answer.get("patient") or answer["person"]
    return person["name"], person["address"], person["protected_identity"], person["masked"]


# ----- 1: a personnummer brings back nothing another unit registered ----------------------------------------------

async def test_a_plan_started_with_a_known_personnummer_shows_only_what_its_creator_gave(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    identity, name, address = new_identity(), f"Solna {secret()}", f"Solnavägen {secret()}"
    case = await solna_case(client, auth, identity, name, address)
    stockholm = auth("stockholm.assessor")

    plan = await create_plan(client, auth, headers=stockholm, owner_unit_id=SODERMALM, units=(),
                             person=patient(identity, municipality_code="0180", name="Uppgift saknas", address=""))
    assert case["patient"]["id"] == plan["person"]["id"]  # one person: the plan and the case are linked
    assert person_of(plan) == ("Uppgift saknas", "", False, False)
    for text in ((await client.get(f"/api/v1/sip-plans/{plan['id']}", headers=stockholm)).text,
                 (await client.get(f"/api/v1/sip-plans?unit_id={SODERMALM}", headers=stockholm)).text):
        assert name not in text
        assert address not in text
    # Solna's view of its case is as registered.
    assert person_of(await read(client, f"/api/v1/cases/{case['id']}", auth("needs.assessor")))[:2] == (name, address)


async def test_the_explicit_need_never_unmasks_another_municipalitys_protected_person(
        client: Client, auth: Auth, signing_key: DevSigningKey) -> None:
    identity, name, address = new_identity(), f"Hemlig {secret()}", f"Dold gata {secret()}"
    case = await solna_case(client, auth, identity, name, address, protected=True)
    with_need = await new_user(client, auth, signing_key, STOCKHOLMS_STAD, [(SODERMALM, Role.USER, True)])

    response = await client.post("/api/v1/sip-plans", headers=with_need, json={
        "owner_unit_id": SODERMALM, "person": patient(identity, municipality_code="0180", name="Okänd", address="")})
    assert response.status_code == 201, response.text
    assert name not in response.text
    assert address not in response.text
    # Protection is the person's, everywhere: the plan is protected although its creator did not say so; its
    # creator, who has the need, sees what they registered themselves.
    assert person_of(response.json()) == ("Okänd", "", True, False)
    shown = await read(client, f"/api/v1/sip-plans/{response.json()['id']}", with_need)
    assert person_of(shown) == ("Okänd", "", True, False)
    assert person_of(await read(client, f"/api/v1/cases/{case['id']}", auth("municipal.nurse"))) == (
        name, address, True, False)


# ----- 2: registering never changes what other units see ----------------------------------------------------------

async def test_another_wards_registration_changes_nothing_other_units_see(client: Client, auth: Auth) -> None:
    identity, name, address = new_identity(), f"Hemlig {secret()}", f"Dold gata {secret()}"
    case = await solna_case(client, auth, identity, name, address, protected=True)
    home_care, assessor = auth("municipal.nurse"), auth("needs.assessor")
    before = person_of(await read(client, f"/api/v1/cases/{case['id']}", home_care))
    assert before == (name, address, True, False)

    other = await register(client, auth("psych.nurse"), ward_unit_id=PSYCH_WARD, receiving_unit_ids=[STOCKHOLM_INTAKE],
                           patient=patient(identity, municipality_code="0180", listed_unit_id=None,
                                           name="Annat Namn", address="Ny gata 2", protected_identity=False))
    assert other["patient"]["id"] == case["patient"]["id"]
    assert person_of(other) == (MASK, "", True, True)  # still protected: a registration cannot lift it

    assert person_of(await read(client, f"/api/v1/cases/{case['id']}", home_care)) == before
    for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases?unit_id={SOLNA_INTAKE}",
                 f"/api/v1/units/{SOLNA_INTAKE}/inbox"):
        response = await client.get(path, headers=assessor)
        assert response.status_code == 200, response.text
        assert "Annat Namn" not in response.text
        assert "Ny gata" not in response.text
    masked_view = await read(client, f"/api/v1/cases/{case['id']}", assessor)
    assert person_of(masked_view) == (MASK, "", True, True)
    assert masked_view["patient"]["municipality_code"] == "0184"


async def test_a_new_address_stays_with_the_case_that_registered_it(client: Client, auth: Auth) -> None:
    identity = new_identity()
    first = await solna_case(client, auth, identity, "Åke Först", "Gamla gatan 1")
    second = await register(client, auth("psych.nurse"), ward_unit_id=PSYCH_WARD,
                            patient=patient(identity, name="Åke Först", address="Nya gatan 9"))
    assert person_of(second)[:2] == ("Åke Först", "Nya gatan 9")
    assert person_of(await read(client, f"/api/v1/cases/{first['id']}", auth("ward.nurse")))[:2] == (
        "Åke Först", "Gamla gatan 1")
    # Protection, once set by any registration, holds for every case of the person.
    await register(client, auth("ward.coordinator"), ward_unit_id=stable_id("unit", "ks-solna-ward-ortoped-3"),
                   patient=patient(identity, protected_identity=True))
    assert person_of(await read(client, f"/api/v1/cases/{first['id']}", auth("ward.nurse"))) == (MASK, "", True, True)


# ----- clearing protected identity: an administrator with the explicit need ---------------------------------------

async def test_only_an_administrator_with_the_explicit_need_clears_a_protected_identity(
        client: Client, auth: Auth, signing_key: DevSigningKey, backend: Backend) -> None:
    identity, name = new_identity(), f"Hemlig {secret()}"
    case = await solna_case(client, auth, identity, name, "Dold gata 1", protected=True)
    path = f"/api/v1/admin/patients/{case['patient']['id']}/protected-identity"

    admin_with_need = await new_user(client, auth, signing_key, SOLNA_STAD, [
        (SOLNA_INTAKE, Role.LOCAL_ACCESS_ADMINISTRATOR, False), (SOLNA_HOME_CARE, Role.USER, True)])
    for refused in (auth("municipal.nurse"), auth("municipal.admin"), auth("central.admin"), auth("ward.nurse")):
        response = await client.delete(path, headers=refused)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "not_protected_identity_administrator"
    assert person_of(await read(client, f"/api/v1/cases/{case['id']}", auth("needs.assessor")))[3] is True
    missing = await client.delete("/api/v1/admin/patients/no-such-patient/protected-identity",
                                  headers=admin_with_need)
    assert missing.status_code == 404, missing.text

    cleared = await client.delete(path, headers=admin_with_need)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json() == {"patient_id": case["patient"]["id"], "protected_identity": False}
    assert person_of(await read(client, f"/api/v1/cases/{case['id']}", auth("needs.assessor"))) == (
        name, "Dold gata 1", False, False)
    again = await client.delete(path, headers=admin_with_need)  # nothing left to clear: no second record
    assert again.status_code == 200, again.text

    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            logged = list((await session.execute(
                select(AdminLogRow.action, AdminLogRow.organisation_id, AdminLogRow.detail)
                .where(AdminLogRow.target_id == case["patient"]["id"]))).tuples())
    finally:
        await engine.dispose()
    assert logged == [("clear_protected_identity", SOLNA_STAD,
                       {"protected_identity": False, "unit_id": SOLNA_HOME_CARE})]
    changes = await read(client, f"/api/v1/admin/organisations/{SOLNA_STAD}/changes", auth("municipal.admin"))
    assert changes["items"][0]["action"] == "clear_protected_identity"


# ----- 3: one person per identity, whatever form it was written in ------------------------------------------------

async def patients_born(backend: Backend, birth: str) -> int:
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            count = await session.scalar(select(func.count()).select_from(PatientRow).where(
                func.substr(PatientRow.identity_value, 5, 4) == birth[4:8],
                func.substr(PatientRow.identity_value, 9, 4) == birth[9:]))
            return int(count or 0)
    finally:
        await engine.dispose()


async def test_every_form_of_one_identity_is_one_person(client: Client, auth: Auth, backend: Backend) -> None:
    first = await register(client, auth("ward.nurse"), identity="19350207-9902")
    for headers, ward, form in ((auth("psych.nurse"), PSYCH_WARD, "350207-9902"),
                                (auth("ward.coordinator"), stable_id("unit", "ks-solna-ward-ortoped-3"),
                                 "3502079902")):
        again = await register(client, headers, identity=form, ward_unit_id=ward)
        assert again["patient"]["id"] == first["patient"]["id"]
    plan = await create_plan(client, auth, person=patient("193502079902"))
    assert plan["person"]["id"] == first["patient"]["id"]

    # 350207+9902 says "100 or older": born 1835, which nobody alive is. Refused, never a second person.
    body = {"ward_unit_id": PSYCH_WARD, "patient": patient("350207+9902"), "admitted_at": iso(now_utc())}
    response = await client.post("/api/v1/cases", json=body, headers=auth("psych.nurse"))
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["errors"][0]["field"]) == ("invalid_identity", "patient.identity")
    refused = await client.post("/api/v1/sip-plans", headers=auth("care.contact"), json={
        "owner_unit_id": stable_id("unit", "aleris-vc-ronnviken"), "person": patient("350207+9902")})
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["errors"][0]["field"]) == ("invalid_identity", "person.identity")
    assert await patients_born(backend, "19350207-9902") == 1


async def test_a_hundred_year_old_in_the_plus_form_is_the_same_person(client: Client, auth: Auth) -> None:
    """Someone who turned 100 last year, written with '+', finds their 12-digit registration."""
    today = now_utc().date()
    born = today.replace(year=today.year - 101, day=1)
    full = generate_test_personnummer(born, 991).formatted
    first = await register(client, auth("ward.nurse"), identity=full)
    plus = f"{full[2:8]}+{full[9:]}"
    again = await register(client, auth("psych.nurse"), identity=plus, ward_unit_id=PSYCH_WARD)
    assert again["patient"]["id"] == first["patient"]["id"]
    assert again["patient"]["identity"] == full
