"""Log review (loggkontroll): search the access log, draw reproducible samples, document outcomes, export CSV.

Reading the log is itself logged (purpose `log_review`).
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import select

from domain import audit_terms
from domain.audit_terms import STOCKHOLM
from domain.discharge_case import CaseState
from server.auth.tokens import DevSigningKey
from server.demo import seed
from server.demo.seed import stable_id
from server.persistence.models import AccessLogRow
from tests.server.conftest import AUDIENCE, ISSUER, SOLNA_INTAKE, WARD, iso, new_identity, now_utc, patient, register

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
LOG = "/api/v1/audit/access-log"
REVIEWS = "/api/v1/audit/reviews"
AUDITOR = stable_id("user", "auditor")
NURSE = stable_id("user", "ward.nurse")


def period(**extra: Any) -> dict[str, Any]:
    return {"period_from": iso(now_utc() - timedelta(hours=1)), "period_to": iso(now_utc() + timedelta(hours=1)),
            **extra}


async def logged_reads(app: Litestar, patient_id: str) -> list[tuple[str, str, str]]:
    async with app.state.runtime.sessions() as session:
        rows = await session.execute(select(AccessLogRow.action, AccessLogRow.purpose, AccessLogRow.user_id)
                                     .where(AccessLogRow.patient_id == patient_id).order_by(AccessLogRow.seq))
        return [(r[0], r[1], r[2]) for r in rows]


async def test_search_by_patient_user_unit_and_period_is_paged_and_logged(client: Client, auth: Auth,
                                                                            app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    for _ in range(3):
        await client.get(f"/api/v1/cases/{case['id']}", headers=nurse)
    patient_id = case["patient"]["id"]
    auditor = auth("auditor")

    found = await client.get(LOG, params={"patient_id": patient_id}, headers=auditor)
    assert found.status_code == 200, found.text
    page = found.json()
    assert page["total"] == 4
    assert [e["action"] for e in page["items"]] == ["read_case"] * 3 + ["register_case"]  # newest first
    assert {(e["user_id"], e["unit_id"], e["patient_id"]) for e in page["items"]} == {(NURSE, WARD, patient_id)}

    # (The search itself is now in the log, as the auditor's: page over the nurse's entries.)
    first = await client.get(LOG, params={"patient_id": patient_id, "user_id": NURSE, "limit": 2}, headers=auditor)
    assert first.json()["next_cursor"]
    second = await client.get(LOG, params={"patient_id": patient_id, "user_id": NURSE, "limit": 2,
                                           "cursor": first.json()["next_cursor"]}, headers=auditor)
    assert second.json()["next_cursor"] is None
    # Compared by time and action: `seq` is null until the sealer chains a row, which may happen between the reads.
    assert [(e["at"], e["action"]) for e in second.json()["items"]] == [(e["at"], e["action"])
                                                                         for e in page["items"][2:]]
    by_user_and_unit = await client.get(LOG, params={"patient_id": patient_id, "user_id": NURSE, "unit_id": WARD},
                                        headers=auditor)
    assert by_user_and_unit.json()["total"] == 4
    before = await client.get(LOG, params={"patient_id": patient_id, "to": iso(now_utc() - timedelta(days=1))},
                              headers=auditor)
    assert before.json()["total"] == 0
    backwards = await client.get(LOG, params={"from": iso(now_utc()), "to": iso(now_utc() - timedelta(days=1))},
                                 headers=auditor)
    assert backwards.status_code == 422

    # By identity number, in a body (never in a URL).
    by_identity = await client.post(f"{LOG}/search", headers=auditor,
                                    json={"patient_identity": case["patient"]["identity"], "user_id": NURSE})
    assert by_identity.status_code == 200, by_identity.text
    assert by_identity.json()["total"] == 4
    bad_identity = await client.post(f"{LOG}/search", headers=auditor, json={"patient_identity": "19121212-1213"})
    assert bad_identity.status_code == 422
    assert bad_identity.json()["errors"][0]["field"] == "patient_identity"

    # The auditor's reading is in the log too, under the purpose of log review.
    reads = [r for r in await logged_reads(app, patient_id) if r[2] == AUDITOR]
    assert reads
    assert {r[:2] for r in reads} == {("read_access_log", "log_review")}

    # A local access administrator of another organisation sees nothing of it.
    other = await client.get(LOG, params={"unit_id": WARD}, headers=auth("municipal.admin"))
    assert other.status_code == 403
    mine_only = await client.get(LOG, params={"user_id": NURSE}, headers=auth("municipal.admin"))
    assert mine_only.json()["total"] == 0
    # Only an auditor searches by patient (a local access administrator would learn whose records were read).
    by_patient = await client.get(LOG, params={"patient_id": patient_id}, headers=auth("municipal.admin"))
    assert by_patient.status_code == 403
    assert by_patient.json()["errors"][0]["field"] == "patient_id"


async def test_search_by_the_users_hsa_id_in_the_body(client: Client, auth: Auth,
                                                      signing_key: DevSigningKey) -> None:
    """Auditors know a user by the HSA-id: it travels in the body, never in a URL. Rows name the HSA-id the user had
    then; after an administrator corrects it, the new one finds the user's earlier rows too."""
    admin = auth("hospital.admin")
    old_hsa = f"SE2321000016-L{uuid.uuid4().hex[:10].upper()}"
    created = await client.post("/api/v1/admin/organisations/" + stable_id("organisation", "karolinska") + "/users",
                                headers=admin, json={"username": f"logg.{uuid.uuid4().hex[:8]}", "hsa_id": old_hsa,
                                                     "display_name": "Loggad"})
    user = created.json()
    await client.post(f"/api/v1/admin/users/{user['id']}/assignments", headers=admin,
                      json={"unit_id": WARD, "role": "user"})

    def as_user(hsa_id: str) -> dict[str, str]:
        token = signing_key.issue(subject=user["id"], issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": hsa_id},
                                  lifetime=timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    case = await register(client, as_user(old_hsa))
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=as_user(old_hsa))).status_code == 200
    auditor = auth("auditor")

    async def search(**body: Any) -> httpx.Response:
        return await client.post(f"{LOG}/search", headers=auditor, json={"patient_id": case["patient"]["id"], **body})

    found = await search(user_hsa_id=old_hsa)
    assert found.status_code == 200, found.text
    assert [(e["action"], e["user_id"], e["user_hsa_id"]) for e in found.json()["items"]] == [
        ("read_case", user["id"], old_hsa), ("register_case", user["id"], old_hsa)]
    stranger = f"SE2321000016-NOBODY{uuid.uuid4().hex[:6].upper()}"
    assert (await search(user_hsa_id=stranger)).json()["total"] == 0  # well-formed, but nobody's

    new_hsa = f"SE2321000016-L{uuid.uuid4().hex[:10].upper()}"
    changed = await client.patch(f"/api/v1/admin/users/{user['id']}", headers=admin, json={"hsa_id": new_hsa})
    assert changed.status_code == 200, changed.text
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=as_user(new_hsa))).status_code == 200
    assert [e["user_hsa_id"] for e in (await search(user_hsa_id=new_hsa)).json()["items"]] == [
        new_hsa, old_hsa, old_hsa]
    assert (await search(user_hsa_id=old_hsa)).json()["total"] == 2  # the rows logged under the old one
    assert (await search(user_hsa_id=new_hsa, user_id=NURSE)).json()["total"] == 0  # filters combine

    malformed = await search(user_hsa_id="not an hsa-id")
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "user_hsa_id"
    assert (await client.post(f"{LOG}/search", headers=auth("ward.nurse"), json={"user_hsa_id": new_hsa})
            ).status_code == 403


async def test_a_sample_is_random_but_reproducible_with_its_seed(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    for _ in range(4):
        await register(client, nurse)
    auditor = auth("auditor")
    closed = {**period(unit_id=WARD, sample_size=3, seed=4711), "period_to": iso(now_utc())}  # a period that ended
    first = await client.post(REVIEWS, json=closed, headers=auditor)
    await register(client, nurse)  # later entries do not change the sample of the period
    again = await client.post(REVIEWS, json=closed, headers=auditor)
    assert first.status_code == again.status_code == 201, first.text
    a, b = first.json(), again.json()
    assert a["seed"] == b["seed"] == 4711
    assert a["population"] >= 4
    assert [e["seq"] for e in a["entries"]] == [e["seq"] for e in b["entries"]]
    assert len(a["entries"]) == 3
    assert all(e["entry"]["unit_id"] == WARD for e in a["entries"])
    unseeded = await client.post(REVIEWS, json=period(unit_id=WARD, sample_size=3), headers=auditor)
    assert isinstance(unseeded.json()["seed"], int)  # drawn, and stored so the sample can be redrawn

    empty = await client.post(REVIEWS, json={"unit_id": WARD, "period_from": iso(now_utc() - timedelta(days=9)),
                                             "period_to": iso(now_utc() - timedelta(days=8))}, headers=auditor)
    assert empty.status_code == 422
    foreign = await client.post(REVIEWS, json=period(unit_id=SOLNA_INTAKE), headers=auditor)
    assert foreign.status_code == 403


async def test_outcomes_are_documented_per_entry_and_for_the_review(client: Client, auth: Auth) -> None:
    await register(client, auth("ward.nurse"))
    auditor = auth("auditor")
    review = (await client.post(REVIEWS, json=period(unit_id=WARD, sample_size=2), headers=auditor)).json()
    seq = review["entries"][0]["seq"]
    assert review["summary"]["unreviewed"] == len(review["entries"])

    entry = await client.put(f"{REVIEWS}/{review['id']}/entries/{seq}", headers=auditor,
                             json={"finding": "justified", "comment": "Vårdrelation finns"})
    assert entry.status_code == 200, entry.text
    documented = next(e for e in entry.json()["entries"] if e["seq"] == seq)
    assert (documented["finding"], documented["comment"], documented["reviewed_by_user_id"]) == (
        "justified", "Vårdrelation finns", AUDITOR)
    assert documented["reviewed_at"] is not None
    assert entry.json()["summary"]["justified"] == 1

    not_sampled = await client.put(f"{REVIEWS}/{review['id']}/entries/999999999", headers=auditor,
                                   json={"finding": "justified"})
    assert not_sampled.status_code == 404
    bad = await client.put(f"{REVIEWS}/{review['id']}/outcome", headers=auditor, json={"finding": "fine"})
    assert bad.status_code == 400

    concluded = await client.put(f"{REVIEWS}/{review['id']}/outcome", headers=auditor,
                                 json={"finding": "no_remark", "comment": "Inga avvikelser"})
    assert concluded.status_code == 200
    assert (concluded.json()["finding"], concluded.json()["concluded_by_user_id"]) == ("no_remark", AUDITOR)
    listed = await client.get(REVIEWS, params={"unit_id": WARD}, headers=auditor)
    assert review["id"] in [r["id"] for r in listed.json()["items"]]
    # The hospital's local access administrator reviews too; another organisation's does not see it.
    assert (await client.get(f"{REVIEWS}/{review['id']}", headers=auth("hospital.admin"))).status_code == 200
    assert (await client.get(f"{REVIEWS}/{review['id']}", headers=auth("municipal.admin"))).status_code == 404


async def test_a_review_exports_as_csv_and_the_export_is_logged(client: Client, auth: Auth, app: Litestar) -> None:
    await register(client, auth("ward.nurse"))
    auditor = auth("auditor")
    review = (await client.post(REVIEWS, json=period(unit_id=WARD, sample_size=5), headers=auditor)).json()
    sampled = review["entries"][0]
    await client.put(f"{REVIEWS}/{review['id']}/entries/{sampled['seq']}", headers=auditor,
                     json={"finding": "unjustified", "comment": "=HYPERLINK(\"x\")"})
    exported = await client.get(f"{REVIEWS}/{review['id']}/export", headers=auditor)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["review_id", review["id"]]
    assert rows[0][rows[0].index("seed") + 1] == str(review["seed"])
    assert rows[1][:3] == ["seq", "at", "action"]
    assert len(rows) == 2 + len(review["entries"])
    line = next(r for r in rows[2:] if r[0] == str(sampled["seq"]))
    assert line[rows[1].index("finding")] == "unjustified"
    assert line[rows[1].index("comment")] == "'=HYPERLINK(\"x\")"  # no formula reaches a spreadsheet
    assert ("export_access_log", "log_review", AUDITOR) in await logged_reads(app, sampled["entry"]["patient_id"])


async def test_only_log_readers_search_and_only_auditors_and_central_verify(client: Client, auth: Auth) -> None:
    assert (await client.get(LOG, headers=auth("ward.nurse"))).status_code == 403
    assert (await client.get(LOG, headers=auth("statistics"))).status_code == 403
    assert (await client.get(LOG, headers=auth("central.admin"))).status_code == 403
    for username in ("auditor", "central.admin"):
        verified = await client.get(f"{LOG}/verification", headers=auth(username))
        assert verified.status_code == 200
        assert verified.json()["ok"] is True
    assert (await client.get(f"{LOG}/verification", headers=auth("hospital.admin"))).status_code == 403


async def test_entries_are_readable_and_only_the_auditor_sees_who_the_patient_is(client: Client, auth: Auth,
                                                                                 app: Litestar) -> None:
    """Users and units by name, the case by its ward and admission; the patient's personnummer and name for the
    auditor only (a local access administrator gets the masked number), and both readings are access-logged."""
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    patient_id = case["patient"]["id"]
    body = {"patient_id": patient_id, "limit": 5}

    seen = (await client.post(f"{LOG}/search", json=body, headers=auth("auditor"))).json()["items"][0]
    assert seen["action"] == "register_case"
    assert (seen["user_name"], seen["user_title"]) == ("Sara Sjöberg", "Sjuksköterska")
    assert seen["unit_name"] == "Avd 12 Geriatrik"
    assert seen["case"]["ward_name"] == "Avd 12 Geriatrik"
    assert seen["case"]["care_type"] == "somatic"
    assert seen["case"]["admitted_at"] == case["admitted_at"].replace("+00:00", "Z")
    assert seen["patient"] == {"identity": case["patient"]["identity"], "identity_kind": "personnummer",
                               "name": case["patient"]["name"], "protected_identity": False}

    admin_body = {"user_id": NURSE, "action": "register_case", "period_from": seen["at"], "limit": 500}
    admin = next(e for e in (await client.post(f"{LOG}/search", json=admin_body, headers=auth("hospital.admin")))
                 .json()["items"] if e["patient_id"] == patient_id)
    assert admin["user_name"] == "Sara Sjöberg"
    assert admin["case"] == seen["case"]
    assert admin["patient"]["name"] is None
    assert admin["patient"]["identity"] == case["patient"]["identity"][:8] + "-****"
    readers = {(a, p, u) for a, p, u in await logged_reads(app, patient_id) if p == "log_review"}
    assert readers == {("read_access_log", "log_review", AUDITOR),
                       ("read_access_log", "log_review", stable_id("user", "hospital.admin"))}


async def test_a_protected_persons_name_stays_masked_in_the_log_review(client: Client, auth: Auth) -> None:
    case = await register(client, auth("ward.nurse"), patient=patient(new_identity(), protected_identity=True))
    found = await client.post(f"{LOG}/search", json={"patient_id": case["patient"]["id"], "limit": 1},
                              headers=auth("auditor"))
    assert found.json()["items"][0]["patient"]["name"] == "Skyddad identitet"


async def test_the_csv_is_readable_in_swedish_with_the_period_as_entered(client: Client, auth: Auth) -> None:
    await register(client, auth("ward.nurse"))
    auditor = auth("auditor")
    today = now_utc().astimezone(STOCKHOLM).date()
    start = datetime.combine(today - timedelta(days=6), time(), tzinfo=STOCKHOLM)
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=STOCKHOLM)  # the day after the last
    review = (await client.post(REVIEWS, json={"unit_id": WARD, "period_from": start.isoformat(),
                                               "period_to": end.isoformat(), "sample_size": 3},
                                headers=auditor)).json()
    rows = list(csv.reader(io.StringIO((await client.get(f"{REVIEWS}/{review['id']}/export",
                                                         headers=auditor)).content.decode("utf-8-sig"))))
    head = rows[0]
    assert head[head.index("first_day") + 1] == (today - timedelta(days=6)).isoformat()
    assert head[head.index("last_day") + 1] == today.isoformat()  # as entered: not the day after
    columns = rows[1]
    line = dict(zip(columns, rows[2], strict=True))
    assert line["action_text"] == audit_terms.action_text(line["action"])
    assert line["action_text"][0].isupper()
    assert line["purpose_text"] == "Samordning av vård och omsorg"
    assert line["user_name"]
    assert line["unit_name"] == "Avd 12 Geriatrik"


def test_the_demo_worlds_access_log_speaks_the_shared_vocabulary() -> None:
    """The seed's log rows name commands, as the API's do, each with its Swedish text (they named timeline
    entries: "Okänd händelse (kod ready_for_discharge)" in the log review)."""
    rng = random.Random(7)
    now = now_utc()
    actions: set[str] = set()
    for index, state in enumerate(CaseState):
        patient_row, person = seed._patient(rng, "0184", 980 + index, index, now)
        if state in (CaseState.CANCELLED, CaseState.INTERRUPTED):
            continue
        case = seed._build_case(rng, now, seed.MAIN_WARD, patient_row, person, state)
        actions |= {str(r["action"]) for r in seed._demo_accesses(case, patient_row.id)}
    assert {"register_case", "send_admission_notice", "mark_ready_for_discharge"} <= actions
    assert actions <= audit_terms.ACTIONS.keys(), actions - audit_terms.ACTIONS.keys()
    assert set(seed.ACCESS_ACTION_OF_TIMELINE.values()) <= audit_terms.ACTIONS.keys()
