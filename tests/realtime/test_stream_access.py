"""An open event stream follows access as it changes, across two API processes (one PostgreSQL, one Redis).

An administrator's change through instance A (deactivation, an HSA-id change, a removed assignment) reaches the
user's streams on instance B within seconds; a case rejected by a unit or a SIP plan whose consent is withdrawn
ends presence through that unit. Nothing sleeps: every wait is for a frame or a close, with a deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from realtime.feeds import unit_feed
from server.demo.seed import stable_id
from tests.realtime.cluster import AUDIENCE, ISSUER, ApiProcess, Cluster, Stream, running_cluster
from tests.server.conftest import (
    ORTHO,
    RONNVIKEN,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
)

pytestmark = pytest.mark.postgres

WARD_FEED, ORTHO_FEED, INTAKE_FEED = unit_feed(WARD), unit_feed(ORTHO), unit_feed(SOLNA_INTAKE)
KAROLINSKA = stable_id("organisation", "karolinska")
ADMIN = "/api/v1/admin"
CLOSE_WITHIN = 5.0  # seconds: "within seconds"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("stream-access")) as c:
        yield c


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=cluster.a.http, timeout=30) as a, \
            httpx.AsyncClient(base_url=cluster.b.http, timeout=30) as b:
        yield {"a": a, "b": b}


@pytest.fixture
async def streams() -> AsyncIterator[Callable[..., Awaitable[Stream]]]:
    opened: list[Stream] = []

    async def open_stream(api: ApiProcess, token: str, label: str = "") -> Stream:
        stream = await Stream.open(api.ws, token, label or api.name)
        opened.append(stream)
        return stream

    yield open_stream
    await asyncio.gather(*(s.close() for s in opened))


class NewUser:
    """A Karolinska user made for one test (the demo users stay as they are for the other tests)."""

    def __init__(self, cluster: Cluster, data: Json) -> None:
        self.cluster = cluster
        self.id: str = data["id"]
        self.hsa_id: str = data["hsa_id"]
        self.assignments: dict[str, int] = {a["unit_id"]: a["id"] for a in data["assignments"]}

    def token(self) -> str:
        return self.cluster.key.issue(subject=self.id, issuer=ISSUER, audience=AUDIENCE,
                                      claims={"hsa_id": self.hsa_id}, lifetime=timedelta(hours=1))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


async def new_user(cluster: Cluster, client: httpx.AsyncClient, *units: str) -> NewUser:
    admin = cluster.headers("hospital.admin")
    created = await client.post(f"{ADMIN}/organisations/{KAROLINSKA}/users", headers=admin, json={
        "username": f"stream.{uuid.uuid4().hex[:8]}", "hsa_id": f"SE2321000016-S{uuid.uuid4().hex[:10].upper()}",
        "display_name": "Ström Testare", "title": "Sjuksköterska"})
    assert created.status_code == 201, created.text
    data = created.json()
    for unit_id in units:
        granted = await client.post(f"{ADMIN}/users/{data['id']}/assignments", headers=admin,
                                    json={"unit_id": unit_id, "role": "user"})
        assert granted.status_code == 201, granted.text
        data = granted.json()
    return NewUser(cluster, data)


async def closed_with(stream: Stream, code: int, error: str, within: float = CLOSE_WITHIN) -> None:
    """The server sent the error frame and closed the connection with `code`."""
    await stream.until(lambda: stream.closed, within, f"close {code}")
    errors = [f["code"] for f in stream.frames if f["op"] == "error"]
    assert error in errors, f"{stream.label}: error frames {errors}"
    assert stream.ws.close_code == code, f"{stream.label}: closed with {stream.ws.close_code}, not {code}"


async def register(client: httpx.AsyncClient, headers: dict[str, str], ward: str = WARD, **body: Any) -> Json:
    response = await client.post("/api/v1/cases", headers=headers, json={
        "ward_unit_id": ward, "patient": patient(new_identity()), "admitted_at": iso(now_utc() - timedelta(hours=2)),
        **body})
    assert response.status_code == 201, response.text
    result: Json = response.json()
    return result


async def act(client: httpx.AsyncClient, headers: dict[str, str], case: Json, action: str, **body: Any) -> Json:
    response = await client.post(f"/api/v1/cases/{case['id']}/{action}", headers=headers,
                                 json={"expected_version": case["version"], **body})
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


def presence_of(stream: Stream, case_id: str) -> list[Json]:
    return [f for f in stream.frames if f["op"] == "presence" and f["case_id"] == case_id]


# ----- the user changes ------------------------------------------------------------------------------------


async def test_deactivating_a_user_closes_their_open_streams_on_every_instance(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    user = await new_user(cluster, http["a"], WARD)
    on_a, on_b = await streams(cluster.a, user.token(), "user@a"), await streams(cluster.b, user.token(), "user@b")
    for stream in (on_a, on_b):
        await stream.subscribe({WARD_FEED: None})

    changed = await http["a"].patch(f"{ADMIN}/users/{user.id}", headers=cluster.headers("hospital.admin"),
                                    json={"active": False})
    assert changed.status_code == 200, changed.text
    assert (await http["b"].get("/api/v1/me", headers=user.headers())).status_code == 401
    for stream in (on_a, on_b):
        await closed_with(stream, 4401, "access_revoked")


async def test_a_changed_hsa_id_closes_the_streams_opened_with_the_old_one(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    user = await new_user(cluster, http["a"], WARD)
    stream = await streams(cluster.b, user.token(), "user@b")
    await stream.subscribe({WARD_FEED: None})

    changed = await http["a"].patch(f"{ADMIN}/users/{user.id}", headers=cluster.headers("hospital.admin"),
                                    json={"hsa_id": f"SE2321000016-N{uuid.uuid4().hex[:10].upper()}"})
    assert changed.status_code == 200, changed.text
    assert (await http["b"].get("/api/v1/me", headers=user.headers())).status_code == 401
    await closed_with(stream, 4401, "access_revoked")


async def test_a_removed_assignment_ends_that_units_feed_and_its_replay(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    user = await new_user(cluster, http["a"], WARD, ORTHO)
    nurse = cluster.headers("ward.nurse")
    stream = await streams(cluster.b, user.token(), "user@b")
    heads = await stream.subscribe({WARD_FEED: None, ORTHO_FEED: None})
    await register(http["a"], nurse)
    await stream.wait_position(WARD_FEED, heads[WARD_FEED] + 1)

    removed = await http["a"].delete(f"{ADMIN}/users/{user.id}/assignments/{user.assignments[WARD]}",
                                     headers=cluster.headers("hospital.admin"))
    assert removed.status_code == 200, removed.text
    await stream.wait_for(lambda f: f["op"] == "error" and f["code"] == "feed_revoked", within=CLOSE_WITHIN)
    update = await stream.wait_for(lambda f: f["op"] == "authenticated" and WARD_FEED not in f["feeds"])
    assert update["feeds"] == [ORTHO_FEED]
    assert (await http["b"].get(f"/api/v1/units/{WARD}/events", headers=user.headers())).status_code == 403

    # The ward's feed goes on without this stream: a ward case, then a fence on the feed it still follows.
    await register(http["a"], nurse)
    await register(http["a"], user.headers(), ward=ORTHO)
    await stream.wait_position(ORTHO_FEED, heads[ORTHO_FEED] + 1)
    await stream.ping()
    assert stream.positions(WARD_FEED) == [heads[WARD_FEED] + 1], "events of a unit no longer the user's"

    # Following it again, from the start, is refused; the other feed still replays.
    again = await stream.subscribe({WARD_FEED: 0, ORTHO_FEED: 0})
    assert list(again) == [ORTHO_FEED]
    await stream.ping()
    refused = [f for f in stream.frames if f["op"] == "error" and f["code"] == "forbidden_feed"]
    assert len(refused) == 1
    assert WARD_FEED in refused[0]["detail"]
    assert stream.positions(WARD_FEED) == [heads[WARD_FEED] + 1], "a unit's feed replayed after access ended"
    assert not stream.closed


# ----- presence when a unit loses sight of a case or plan ---------------------------------------------------


async def test_presence_ends_when_the_unit_rejects_the_case(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    nurse, assessor_headers = cluster.headers("ward.nurse"), cluster.headers("needs.assessor")
    case = await act(http["a"], nurse, await register(http["a"], nurse), "admission-notice")
    ward = await streams(cluster.a, cluster.token("ward.nurse"), "nurse@a")
    assessor = await streams(cluster.b, cluster.token("needs.assessor"), "assessor@b")
    witness = await streams(cluster.b, cluster.token("needs.assessor"), "intake-witness@b")  # follows intake only
    await ward.subscribe({WARD_FEED: None})
    for stream in (assessor, witness):
        await stream.subscribe({INTAKE_FEED: None})
    await assessor.send({"op": "presence", "case_id": case["id"], "state": "editing", "field": "adl"})
    await ward.until(lambda: any(v["unit_id"] == SOLNA_INTAKE for f in presence_of(ward, case["id"])
                                 for v in f["viewers"]), 10, "the assessor's presence")

    await act(http["b"], assessor_headers, case, "rejection", reason="wrong_municipality")
    # The assessor's entry goes (the ward is told) and the assessor is told.
    await ward.until(lambda: presence_of(ward, case["id"])[-1]["viewers"] == [], CLOSE_WITHIN,
                     "the assessor's presence to end")
    await assessor.wait_for(lambda f: f["op"] == "error" and f["code"] == "not_found", within=CLOSE_WITHIN)

    # Presence after the rejection is refused, and the intake unit hears no presence of the case any more.
    before = len(presence_of(witness, case["id"]))
    await assessor.send({"op": "presence", "case_id": case["id"], "state": "viewing"})
    await assessor.until(lambda: sum(1 for f in assessor.frames if f["op"] == "error"
                                     and f["code"] == "not_found") == 2, 10, "the refusal")
    await ward.send({"op": "presence", "case_id": case["id"], "state": "editing", "field": "notes"})
    await ward.until(lambda: any(v["field"] == "notes" for v in presence_of(ward, case["id"])[-1]["viewers"]),
                     10, "the nurse's presence")
    await ward.send({"op": "presence", "case_id": case["id"], "state": "left"})
    await ward.until(lambda: presence_of(ward, case["id"])[-1]["viewers"] == [], 10, "the nurse's leaving")
    await witness.ping()  # the routed presence frames reached instance B before this round trip
    assert len(presence_of(witness, case["id"])) == before, "presence went to a unit that rejected the case"
    assert all(v["unit_id"] != SOLNA_INTAKE for f in presence_of(ward, case["id"])[-2:] for v in f["viewers"])


async def test_presence_on_a_plan_ends_when_consent_is_withdrawn(
        cluster: Cluster, http: dict[str, httpx.AsyncClient], streams: Callable[..., Awaitable[Stream]]) -> None:
    owner = cluster.headers("care.contact")
    created = await http["a"].post("/api/v1/sip-plans", headers=owner, json={
        "owner_unit_id": RONNVIKEN, "unit_ids": [SOLNA_INTAKE, SOLNA_HOME_CARE], "person": patient(new_identity())})
    assert created.status_code == 201, created.text
    plan = created.json()
    consent = await http["a"].post(f"/api/v1/sip-plans/{plan['id']}/consent", headers=owner, json={
        "expected_version": plan["version"], "given_by": "person", "form": "verbal",
        "scope_unit_ids": [SOLNA_INTAKE, SOLNA_HOME_CARE], "given_at": iso(now_utc() - timedelta(minutes=1))})
    assert consent.status_code == 200, consent.text
    owner_stream = await streams(cluster.a, cluster.token("care.contact"), "owner@a")
    assessor = await streams(cluster.b, cluster.token("needs.assessor"), "assessor@b")
    await owner_stream.subscribe({unit_feed(RONNVIKEN): None})
    await assessor.subscribe({INTAKE_FEED: None})
    await assessor.send({"op": "presence", "case_id": plan["id"], "state": "viewing"})
    await owner_stream.until(lambda: any(f["viewers"] for f in presence_of(owner_stream, plan["id"])), 10,
                             "the assessor's presence")

    withdrawn = await http["b"].post(f"/api/v1/sip-plans/{plan['id']}/consent-withdrawal",
                                     headers=cluster.headers("municipal.nurse"), json={})
    assert withdrawn.status_code == 200, withdrawn.text
    await owner_stream.until(lambda: presence_of(owner_stream, plan["id"])[-1]["viewers"] == [], CLOSE_WITHIN,
                             "the assessor's presence to end")
    await assessor.wait_for(lambda f: f["op"] == "error" and f["code"] == "not_found", within=CLOSE_WITHIN)
