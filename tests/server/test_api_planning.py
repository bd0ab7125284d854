"""Planning forms over the API, guarded per field: `POST /cases/{id}/planning/fields` (and `/fields/{field}`).

Two people editing different planning fields (of one form, or of different units' forms) never conflict, and no
other action on the case makes a planning edit stale; two editing the same field: the second gets 409
`field_conflict` (RFC 9457) with the field, its current value and revision, and nothing is written. The old
whole-form write (`POST /planning` with `expected_version`) still works and moves the revisions it changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from domain.discharge_case import DischargeCase
from server.demo.seed import stable_id
from server.persistence.documents import from_document, to_document
from server.persistence.models import CaseRow, EventRow
from tests.conftest import Backend
from tests.domain.builders import build_case
from tests.server.conftest import RONNVIKEN, SOLNA_INTAKE, WARD, register
from tests.server.sip_support import access_rows

Auth = Callable[[str], dict[str, str]]
Json = dict[str, Any]
FIELDS = ("current_services", "expected_needs", "aids", "medication_handover", "adl", "notes")


async def planning_case(client: httpx.AsyncClient, auth: Auth) -> Json:
    case = await register(client, auth("ward.nurse"))
    response = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                                 json={"expected_version": case["version"]}, headers=auth("ward.nurse"))
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def edit(client: httpx.AsyncClient, headers: dict[str, str], case_id: str, status: int = 200,
               **fields: tuple[Any, int]) -> Json:
    body = {"fields": {name: {"value": value, "expected_revision": revision}
                       for name, (value, revision) in fields.items()}}
    response = await client.post(f"/api/v1/cases/{case_id}/planning/fields", json=body, headers=headers)
    assert response.status_code == status, response.text
    result: Json = response.json()
    return result


def form_of(case: Json, unit_id: str) -> Json:
    return next(p for p in case["planning"] if p["unit_id"] == unit_id)


async def stored(app: Litestar, case_id: str) -> tuple[int, list[tuple[str, int, Any]]]:
    """The case's version in the database, and its events: (type, version, changed planning fields)."""
    async with app.state.runtime.sessions() as session:
        version = await session.scalar(select(CaseRow.version).where(CaseRow.id == case_id))
        rows = await session.scalars(select(EventRow).where(EventRow.aggregate_id == case_id).order_by(EventRow.id))
        return int(version or 0), [(e.type, e.aggregate_version, e.payload["data"].get("fields")) for e in rows]


async def test_different_fields_and_different_forms_never_conflict(client: httpx.AsyncClient, auth: Auth) -> None:
    nurse, assessor, contact = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    case = await planning_case(client, auth)
    # Everyone read the case at this version, every field at revision 0. The first saves one field ...
    first = await edit(client, assessor, case["id"], aids=("Rollator", 0))
    assert first["version"] == case["version"] + 1
    # ... the ward marks the patient ready meanwhile (the case's version moves on) ...
    ready = await client.post(f"/api/v1/cases/{case['id']}/ready-for-discharge",
                              json={"expected_version": first["version"]}, headers=nurse)
    assert ready.status_code == 200, ready.text
    # ... and a colleague at the same unit, who read the old version, saves another field: no conflict.
    second = await edit(client, assessor, case["id"], adl=("Går med stöd", 0), expected_needs=(["home_help"], 0))
    # Other units edit their own forms, from what they read before all of this: no conflict either.
    third = await edit(client, contact, case["id"], aids=("Rullstol beställd", 0))
    fourth = await edit(client, nurse, case["id"], notes=("Dosett från apoteket", 0))
    assert fourth["version"] == third["version"] + 1 == second["version"] + 2 == ready.json()["version"] + 3
    ours = form_of(fourth, SOLNA_INTAKE)
    assert (ours["aids"], ours["adl"], ours["expected_needs"]) == ("Rollator", "Går med stöd", ["home_help"])
    assert ours["revisions"] == {**dict.fromkeys(FIELDS, 0), "aids": 1, "adl": 1, "expected_needs": 1}
    assert form_of(fourth, RONNVIKEN)["aids"] == "Rullstol beställd"
    assert form_of(fourth, WARD)["notes"] == "Dosett från apoteket"
    assert form_of(fourth, WARD)["updated_by_user_id"] == stable_id("user", "ward.nurse")
    assert [e["action"] for e in fourth["timeline"]].count("planning_updated") == 4


async def test_the_same_field_gives_a_field_conflict_and_writes_nothing(client: httpx.AsyncClient, auth: Auth,
                                                                        backend: Backend) -> None:
    assessor = auth("needs.assessor")
    case = await planning_case(client, auth)
    won = await edit(client, assessor, case["id"], current_services=("Trygghetslarm", 0))
    # The other editor read revision 0 too, and changes the same field (and another one) in one save.
    response = await client.post(f"/api/v1/cases/{case['id']}/planning/fields", headers=assessor, json={
        "fields": {"current_services": {"value": "Hemtjänst 3 ggr/dag", "expected_revision": 0},
                   "notes": {"value": "Vill hem", "expected_revision": 0}}})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["status"], problem["code"], problem["field"], problem["item_id"]) == (
        409, "field_conflict", "current_services", None)
    assert (problem["current_value"], problem["current_revision"]) == ("Trygghetslarm", 1)
    assert problem["conflicts"] == [{"field": "current_services", "current_value": "Trygghetslarm",
                                     "current_revision": 1}]
    assert problem["errors"][0]["field"] == "current_services"
    assert "current" not in problem  # not a version conflict: the case is not sent
    # Nothing was written: neither field, no new version, no event.
    now = (await client.get(f"/api/v1/cases/{case['id']}", headers=assessor)).json()
    assert now["version"] == won["version"]
    assert (form_of(now, SOLNA_INTAKE)["current_services"], form_of(now, SOLNA_INTAKE)["notes"]) == (
        "Trygghetslarm", "")
    # The problem showed patient data (the current text): logged as a read by the loser's unit.
    rows = await access_rows(backend, case["patient"]["id"])
    assert rows[-2] == ("read_case", SOLNA_INTAKE, stable_id("user", "needs.assessor"))  # the conflict, then GET
    # Re-sent from the current revision, it overwrites knowingly.
    resolved = await edit(client, assessor, case["id"], current_services=("Hemtjänst 3 ggr/dag", 1))
    assert form_of(resolved, SOLNA_INTAKE)["current_services"] == "Hemtjänst 3 ggr/dag"
    assert form_of(resolved, SOLNA_INTAKE)["revisions"]["current_services"] == 2
    # The value already there, from a stale revision: no conflict, no change, same version.
    same = await edit(client, assessor, case["id"], current_services=("Hemtjänst 3 ggr/dag", 0))
    assert same["version"] == resolved["version"]


async def test_simultaneous_saves_of_different_fields_both_land(client: httpx.AsyncClient, auth: Auth,
                                                                  app: Litestar) -> None:
    """Two editors of one form save different fields at the same moment, from the same read: both land, one after
    the other (SQLite queues the writers, PostgreSQL locks the case row), each with its own event and version."""
    assessor = auth("needs.assessor")
    case = await planning_case(client, auth)
    path = f"/api/v1/cases/{case['id']}/planning/fields"
    answers = await asyncio.gather(
        client.post(path, headers=assessor, json={"fields": {"aids": {"value": "Rollator", "expected_revision": 0}}}),
        client.post(path, headers=assessor, json={"fields": {"adl": {"value": "Går själv", "expected_revision": 0},
                                                             "notes": {"value": "Vill hem", "expected_revision": 0}}}))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    versions = sorted(a.json()["version"] for a in answers)
    assert versions == [case["version"] + 1, case["version"] + 2]
    now = (await client.get(f"/api/v1/cases/{case['id']}", headers=assessor)).json()
    ours = form_of(now, SOLNA_INTAKE)
    assert (ours["aids"], ours["adl"], ours["notes"]) == ("Rollator", "Går själv", "Vill hem")
    assert ours["revisions"] == {**dict.fromkeys(FIELDS, 0), "aids": 1, "adl": 1, "notes": 1}
    # The later answer is the case with both saves in it; each save left one event, at its own version, naming
    # exactly its fields.
    assert form_of(max((a.json() for a in answers), key=lambda c: c["version"]), SOLNA_INTAKE) == ours
    version, events = await stored(app, case["id"])
    assert version == now["version"] == versions[-1]
    assert sorted((v, fields) for t, v, fields in events if t == "PlanningUpdated") == sorted([
        (answers[0].json()["version"], ["aids"]), (answers[1].json()["version"], ["adl", "notes"])])


async def test_simultaneous_saves_of_the_same_field_one_wins(client: httpx.AsyncClient, auth: Auth,
                                                             app: Litestar) -> None:
    """Two editors save the same field at the same moment from the same revision: exactly one lands; the other
    gets 409 `field_conflict` with the winner's value, and the winner's value is what is stored."""
    assessor = auth("needs.assessor")
    case = await planning_case(client, auth)
    path = f"/api/v1/cases/{case['id']}/planning/fields/current_services"
    texts = ("Hemtjänst 3 ggr/dag", "Trygghetslarm")
    answers = await asyncio.gather(*(client.post(path, headers=assessor, json={"value": text, "expected_revision": 0})
                                     for text in texts))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    won = next(i for i, a in enumerate(answers) if a.status_code == 200)
    winner, loser = answers[won].json(), answers[1 - won].json()
    assert winner["version"] == case["version"] + 1
    assert form_of(winner, SOLNA_INTAKE)["current_services"] == texts[won]
    assert (loser["code"], loser["field"], loser["current_value"], loser["current_revision"]) == (
        "field_conflict", "current_services", texts[won], 1)
    now = (await client.get(f"/api/v1/cases/{case['id']}", headers=assessor)).json()
    assert form_of(now, SOLNA_INTAKE)["current_services"] == texts[won]
    assert form_of(now, SOLNA_INTAKE)["revisions"]["current_services"] == 1
    version, events = await stored(app, case["id"])
    assert version == now["version"] == winner["version"]
    assert [(v, fields) for t, v, fields in events if t == "PlanningUpdated"] == [
        (winner["version"], ["current_services"])]


async def test_one_field_route_and_need_flags(client: httpx.AsyncClient, auth: Auth) -> None:
    contact = auth("care.contact")
    case = await planning_case(client, auth)
    path = f"/api/v1/cases/{case['id']}/planning/fields/expected_needs"
    response = await client.post(path, headers=contact,
                                 json={"value": ["safety_alarm", "home_help", "home_help"], "expected_revision": 0})
    assert response.status_code == 200, response.text
    form = form_of(response.json(), RONNVIKEN)
    assert (form["expected_needs"], form["revisions"]["expected_needs"]) == (["home_help", "safety_alarm"], 1)
    stale = await client.post(path, headers=contact, json={"value": ["aids"], "expected_revision": 0})
    assert stale.status_code == 409
    assert (stale.json()["current_value"], stale.json()["current_revision"]) == (["home_help", "safety_alarm"], 1)


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    # A value of the wrong type for its field is a malformed body (400), like any other, naming the value.
    ("fields/expected_needs", {"value": "home_help", "expected_revision": 0}, 400, "value"),
    ("fields/aids", {"value": ["aids"], "expected_revision": 0}, 400, "value"),
    ("fields", {"fields": {"notes": {"value": "x", "expected_revision": 0},
                           "adl": {"value": ["aids"], "expected_revision": 0}}}, 400, "fields.adl.value"),
    ("fields", {"fields": {"expected_needs": {"value": "aids", "expected_revision": 0}}}, 400,
     "fields.expected_needs.value"),
    ("fields/aids", {"value": "x", "expected_revision": -1}, 400, "expected_revision"),
    ("fields/aids", {"value": "x" * 4001, "expected_revision": 0}, 400, "value"),
    ("fields/expected_needs", {"value": ["teleportation"], "expected_revision": 0}, 400, "value"),
    ("fields/aids", {"value": "x", "expected_revision": 0, "expected_version": 2}, 400, "expected_version"),
    ("fields", {"fields": {}}, 400, "fields"),
    ("fields", {"fields": {"weather": {"value": "x", "expected_revision": 0}}}, 400, "fields"),
])
async def test_bad_planning_edits_are_refused_clearly(client: httpx.AsyncClient, auth: Auth, path: str,
                                                      body: Json, status: int, field: str) -> None:
    case = await planning_case(client, auth)
    response = await client.post(f"/api/v1/cases/{case['id']}/planning/{path}", json=body,
                                 headers=auth("needs.assessor"))
    assert response.status_code == status, response.text
    assert any(field in e["field"] for e in response.json()["errors"]), response.text
    if status == 400:
        assert response.json()["code"] == "validation_failed"
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=auth("needs.assessor"))).json()[
        "version"] == case["version"]


async def test_an_unknown_field_in_the_path_is_refused(client: httpx.AsyncClient, auth: Auth) -> None:
    case = await planning_case(client, auth)
    response = await client.post(f"/api/v1/cases/{case['id']}/planning/fields/weather",
                                 json={"value": "x", "expected_revision": 0}, headers=auth("needs.assessor"))
    assert response.status_code == 400, response.text


async def test_the_whole_form_write_keeps_its_version_guard_and_moves_revisions(client: httpx.AsyncClient,
                                                                               auth: Auth) -> None:
    assessor = auth("needs.assessor")
    case = await planning_case(client, auth)
    stale = await client.post(f"/api/v1/cases/{case['id']}/planning", headers=assessor,
                              json={"expected_version": case["version"] - 1, "aids": "Rollator"})
    assert (stale.status_code, stale.json()["code"]) == (409, "version_conflict")
    whole = await client.post(f"/api/v1/cases/{case['id']}/planning", headers=assessor,
                              json={"expected_version": case["version"], "aids": "Rollator", "adl": "Själv"})
    assert whole.status_code == 200, whole.text
    assert form_of(whole.json(), SOLNA_INTAKE)["revisions"] == {**dict.fromkeys(FIELDS, 0), "aids": 1, "adl": 1}
    # An editor who read ADL before the whole-form write sees the conflict instead of overwriting it.
    conflict = await edit(client, assessor, case["id"], status=409, adl=("Med stöd", 0))
    assert (conflict["field"], conflict["current_value"]) == ("adl", "Själv")


async def test_a_whole_form_write_that_changes_nothing_is_no_change(client: httpx.AsyncClient, auth: Auth,
                                                                     app: Litestar) -> None:
    """Saving the form as it is answers 200 with the case unchanged: same version, no event, no timeline entry, so
    nobody else's versioned action becomes stale."""
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await planning_case(client, auth)
    body = {"aids": "Rollator", "expected_needs": ["home_help", "aids"]}
    first = await client.post(f"/api/v1/cases/{case['id']}/planning", headers=assessor,
                              json={"expected_version": case["version"], **body})
    assert first.status_code == 200, first.text
    written = first.json()
    before = await stored(app, case["id"])
    again = await client.post(f"/api/v1/cases/{case['id']}/planning", headers=assessor,
                              json={"expected_version": written["version"], **body,
                                    "expected_needs": ["aids", "home_help", "aids"]})  # the same flags
    assert again.status_code == 200, again.text
    unchanged = again.json()
    assert unchanged["version"] == written["version"]
    assert form_of(unchanged, SOLNA_INTAKE) == form_of(written, SOLNA_INTAKE)
    assert unchanged["timeline"] == written["timeline"]
    assert await stored(app, case["id"]) == before
    # The ward, who read the case at that version, is not refused for a change that did not happen.
    ready = await client.post(f"/api/v1/cases/{case['id']}/ready-for-discharge", headers=nurse,
                              json={"expected_version": written["version"]})
    assert ready.status_code == 200, ready.text


async def test_a_planning_edit_is_idempotent_with_a_key(client: httpx.AsyncClient, auth: Auth) -> None:
    headers = {**auth("needs.assessor"), "Idempotency-Key": "planning-edit-1"}
    case = await planning_case(client, auth)
    body = {"fields": {"notes": {"value": "Vill hem", "expected_revision": 0}}}
    first = await client.post(f"/api/v1/cases/{case['id']}/planning/fields", json=body, headers=headers)
    again = await client.post(f"/api/v1/cases/{case['id']}/planning/fields", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["version"] == first.json()["version"]  # the stored answer, not a conflict


def test_a_form_stored_before_revisions_loads_at_revision_zero() -> None:
    case = build_case()
    document = to_document(case)
    document["planning"] = {"unit-x": {"current_services": "Hemtjänst", "expected_needs": ["home_help"], "aids": "",
                                       "medication_handover": "", "adl": "", "notes": "", "updated_at": None,
                                       "updated_by_user_id": None}}
    loaded = from_document(document, 3, DischargeCase)
    form = loaded.planning["unit-x"]
    assert form.current_services == "Hemtjänst"
    assert form.revisions == {}
    assert to_document(loaded)["planning"]["unit-x"]["revisions"] == {}
