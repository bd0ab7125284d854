"""Bounded time and input: implausible times are refused with the field (400), never a 500 or a stalled read.

Before: a discharge notice "9999-12-30" was accepted and every read of the case then took seconds on the event
loop; an admission in year 1 gave a 500 (OverflowError), a JSON body nested 100 000 deep a 500 (RecursionError).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.settings import Settings
from tests.server.conftest import DISCHARGE_CONTENT, WARD, iso, new_identity, now_utc, patient, register
from tests.server.sip_support import act, create_plan, give_consent

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
CASES = "/api/v1/cases"


def refused(response: httpx.Response, status: int, code: str, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert [e["field"] for e in body["errors"]] == [field], body
    return body


async def ready_case(client: Client, nurse: dict[str, str]) -> dict[str, Any]:
    case = await register(client, nurse)
    for action in ("admission-notice", "ready-for-discharge"):
        response = await client.post(f"{CASES}/{case['id']}/{action}", headers=nurse,
                                     json={"expected_version": case["version"]})
        assert response.status_code == 200, response.text
        case = response.json()
    return case


async def test_a_discharge_in_year_9999_is_refused_with_the_field(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await ready_case(client, nurse)
    for discharged_at in ("9999-12-30T00:00:00+00:00", iso(now_utc() + timedelta(hours=1))):
        body = refused(await client.post(f"{CASES}/{case['id']}/discharge-notice", headers=nurse, json={
            "expected_version": case["version"], "discharged_at": discharged_at, **DISCHARGE_CONTENT}), 400,
            "time_out_of_range",
            "discharged_at")
        assert body["detail"].startswith("the discharge time is in the future")  # the domain's refusal comes first
        assert body["reason"] == "discharge_time_in_future"
    unchanged = (await client.get(f"{CASES}/{case['id']}", headers=nurse)).json()
    assert (unchanged["version"], unchanged["state"], unchanged["discharged_at"]) == (
        case["version"], "ready_for_discharge", None)
    # The domain's own, more specific refusal still comes first: before the admission is 422 invalid_value.
    refused(await client.post(f"{CASES}/{case['id']}/discharge-notice", headers=nurse, json={
        "expected_version": case["version"], "discharged_at": iso(now_utc() - timedelta(days=2)),
        **DISCHARGE_CONTENT}), 422,
        "invalid_value", "discharged_at")


async def test_an_admission_in_year_1_is_refused_not_a_500(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    for field, value in (("admitted_at", "0001-01-01T00:00:00+01:00"), ("admitted_at", "0001-01-01T00:00:00+14:00"),
                         ("admitted_at", iso(now_utc() - timedelta(days=400))),
                         ("estimated_discharge_at", "9999-12-31T23:59:59-14:00"),
                         ("needs_identified_at", "0001-01-01T00:00:00+14:00")):
        body = {"ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc()), field: value}
        if field == "needs_identified_at":  # before the admission would be the domain's own refusal
            body["admitted_at"] = "0001-01-01T00:00:00+14:00"
            field = "admitted_at"
        refused(await client.post(CASES, headers=nurse, json=body), 400, "time_out_of_range", field)
    listed = (await client.get(CASES, headers=nurse, params={"unit_id": WARD})).json()
    assert listed["total"] == 0  # nothing was written


async def test_a_json_body_nested_100_000_deep_is_a_400(client: Client, auth: Auth) -> None:
    headers = {**auth("ward.nurse"), "content-type": "application/json"}
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"patient": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                 b'{"a": ' * 33 + b"1" + b"}" * 33):
        problem = refused(await client.post(CASES, headers=headers, content=body), 400, "validation_failed", "body")
        assert problem["detail"] == "the JSON body nests deeper than 32 levels"
    # Brackets inside strings are text, not nesting: this body fails on its content, not its depth.
    text = b'{"ward_unit_id": "' + b"[{" * 30 + b'"}'
    refused(await client.post(CASES, headers=headers, content=text), 400, "validation_failed", "patient")


async def test_a_body_over_the_size_limit_is_a_413(client: Client, auth: Auth) -> None:
    limit = Settings().max_body_bytes
    body = b'{"notes": "' + b"x" * limit + b'"}'
    response = await client.post(CASES, headers={**auth("ward.nurse"), "content-type": "application/json"},
                                 content=body)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_case_stored_with_an_extreme_discharge_is_read_in_well_under_a_second(
        client: Client, auth: Auth, app: Litestar) -> None:
    """Data stored before the windows existed cannot stall a read: payment days are counted per year."""
    nurse = auth("ward.nurse")
    case = await ready_case(client, nurse)
    extreme = datetime(9999, 12, 30, tzinfo=UTC)
    async with app.state.runtime.uow() as uow:  # straight into the repository, past the API's windows
        stored = await uow.cases.get(case["id"], for_update=True)
        stored.discharged_at = extreme
        stored.ready_periods[-1] = type(stored.ready_periods[-1])(
            stored.ready_periods[-1].ready_at, ended_at=extreme, ended_by_discharge=True)
        stored.state = type(stored.state)("discharged")
        await uow.cases.save(stored, now_utc())
        await uow.commit()

    started = time.perf_counter()
    response = await client.get(f"{CASES}/{case['id']}", headers=nurse)
    board = await client.get(CASES, headers=nurse, params={"unit_id": WARD})
    health = await client.get("/health")
    elapsed = time.perf_counter() - started
    assert (response.status_code, board.status_code, health.status_code) == (200, 200, 200), response.text
    assert elapsed < 1.0, f"reading took {elapsed:.2f} s"  # before: seconds per read (2.9 million dates built)
    payment = response.json()["payment"]
    starts = date.fromisoformat(payment["liability_starts_on"])
    last = date(9989, 12, 31)  # the discharge lies beyond the domain's calendar (ends 9990-01-01): its last day
    assert payment["liable_days"] == (last - starts).days + 1
    assert payment["amount_sek"] is None
    assert payment["missing_amount_years"][-1] == 9989


async def test_sip_times_are_bounded(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    far = now_utc() + timedelta(days=800)
    refused_meeting = await act(client, auth, plan, "meetings", {
        "starts_at": iso(far), "ends_at": iso(far + timedelta(hours=1)), "place": "Vårdcentralen"}, status=400)
    assert refused_meeting["code"] == "time_out_of_range"
    assert [e["field"] for e in refused_meeting["errors"]] == ["starts_at"]
    refused_date = await act(client, auth, plan, "fields/next_follow_up_on",
                             {"value": "9999-01-01", "expected_revision": 0}, status=400)
    assert [e["field"] for e in refused_date["errors"]] == ["next_follow_up_on"]
    refused_consent = await act(client, auth, plan, "consent", {
        "expected_version": plan["version"], "given_by": "person", "form": "verbal", "scope_unit_ids": [],
        "given_at": "0001-01-01T00:00:00+14:00"}, status=400)
    assert [e["field"] for e in refused_consent["errors"]] == ["given_at"]


async def test_access_log_periods_are_bounded(client: Client, auth: Auth) -> None:
    auditor = auth("auditor")
    refused(await client.get("/api/v1/audit/access-log", headers=auditor,
                             params={"from": "0001-01-01T00:00:00+14:00"}), 400, "time_out_of_range", "from")
    refused(await client.post("/api/v1/audit/access-log/search", headers=auditor,
                              json={"period_to": "9999-12-31T23:59:59-14:00"}), 400, "time_out_of_range", "period_to")
    response = await client.get("/api/v1/audit/access-log", headers=auditor,
                                params={"from": iso(now_utc() - timedelta(days=30)), "to": iso(now_utc())})
    assert response.status_code == 200, response.text


def test_the_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("SAMPLAN_MAX_PAST_DAYS", "30"), ("SAMPLAN_CLOCK_SKEW_SECONDS", "60"),
                        ("SAMPLAN_ESTIMATE_HORIZON_DAYS", "90"), ("SAMPLAN_SIP_HORIZON_DAYS", "120"),
                        ("SAMPLAN_AUDIT_PAST_DAYS", "2000"), ("SAMPLAN_MAX_BODY_BYTES", "65536"),
                        ("SAMPLAN_MAX_JSON_DEPTH", "16")):
        monkeypatch.setenv(name, value)
    settings = Settings()
    limits = settings.time_limits
    assert (limits.max_past, limits.clock_skew, limits.estimate_horizon, limits.sip_horizon, limits.audit_past) == (
        timedelta(days=30), timedelta(seconds=60), timedelta(days=90), timedelta(days=120), timedelta(days=2000))
    assert (settings.max_body_bytes, settings.max_json_depth) == (65536, 16)
    monkeypatch.setenv("SAMPLAN_MAX_PAST_DAYS", "-1")
    with pytest.raises(ValueError, match="max_past"):
        Settings()
