"""Property-based conformance: Schemathesis drives every operation of the OpenAPI document, in-process.

Each operation gets generated requests (valid ones and, separately, invalid ones), sent as `ward.nurse`
through Schemathesis' ASGI transport, and every answer must be no 5xx, a documented status code and content
type, and a body (and headers) matching the documented schema. Operations with a case or unit in their path
also run once more against a real case and the nurse's own ward, so that they get past the 404. (Invalid
requests include ones Schemathesis sends without the bearer token: the documented 401 must answer them.)

The app builds its runtime on startup, inside the event loop Schemathesis runs the app in (the session's
`app` fixture cannot be shared: its engine belongs to the test loop). Hypothesis is derandomised and bounded.
The operations are split into `SHARDS` tests per backend (every operation in exactly one), so that parallel test
workers share the work; each shard gets the same examples per operation as one test over all of them would.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from litestar import Litestar
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.api.app import create_app
from tests.conftest import Backend
from tests.server.conftest import DISCHARGE_CONTENT, WARD, iso, new_identity, now_utc, patient
from tests.server.conftest import test_settings as settings_for  # aliased: pytest would collect `test_*`

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
MAX_EXAMPLES = 20
HYPOTHESIS = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
READS = {"health", "ready", "getMe", "listCases", "getCase", "listUnits", "getUnit", "listUnitEvents",
         "getPaymentPolicy"}
# Only the API's own operations: the document also lists nothing else today, but the schema's docs routes
# (`/schema`, Swagger UI) must never be fuzzed should they ever appear in it.
API_PATHS = r"^/(api/v1/.*|health|ready)$"
SHARDS = 2


def _run(operation: Any, mode: GenerationMode, session: asgi.ASGIClient, headers: dict[str, str],
         path_parameters: dict[str, str] | None, seen: Counter[tuple[str, int]]) -> None:
    @HYPOTHESIS
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(session=session, headers=headers, checks=CHECKS)
        seen[operation.definition.raw["operationId"], response.status_code] += 1

    check()


def _exercise(app: Litestar, headers: dict[str, str], shard: int) -> tuple[list[str], Counter[tuple[str, int]],
                                                                         set[str]]:
    """Every operation of the shard, valid and invalid input, random ids and known ones: the failures, the statuses
    seen and the shard's operation ids."""
    failures: list[str] = []
    seen: Counter[tuple[str, int]] = Counter()
    try:
        # Signing out would revoke the one token every other operation is driven with (its own tests:
        # tests/server/test_auth_hardening.py).
        schema = (schemathesis.openapi.from_asgi("/schema/openapi.json", app).include(path_regex=API_PATHS)
                  .exclude(operation_id="logout"))
        schema.validate()
        with asgi.get_client(app) as session:
            registered = session.post("/api/v1/cases", headers=headers, json={
                "ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())})
            assert registered.status_code == 201, registered.text
            known = {"case_id": registered.json()["id"], "unit_id": WARD}

            operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda o: o.label)
            assert len(operations) > 30
            mine = operations[shard::SHARDS]
            for operation in mine:
                names = {parameter.name for parameter in operation.path_parameters} & known.keys()
                runs: list[dict[str, str] | None] = [None]
                if names:
                    runs.append({name: known[name] for name in names})
                # Invalid requests need something to make invalid: /health, /ready and /me take no input.
                modes = [GenerationMode.POSITIVE]
                if any(True for _ in operation.iter_parameters()) or operation.body:
                    modes.append(GenerationMode.NEGATIVE)
                for path_parameters in runs:
                    for mode in modes:
                        try:
                            _run(operation, mode, session, headers, path_parameters, seen)
                        except (Exception, BaseExceptionGroup) as exc:
                            failures.append(f"{operation.label} [{mode}, path {path_parameters}]:\n{exc}")
            if shard == 0:  # once per backend
                failures.extend(_bounded_input(schema, session, headers))
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown closes its engine, in the loop that opened it
    return failures, seen, {operation.definition.raw["operationId"] for operation in mine}


def _bounded_input(schema: Any, session: asgi.ASGIClient, headers: dict[str, str]) -> list[str]:
    """Extreme times and a body nested 100 000 deep: a documented 400 problem, never a 500 (docs/security.md)."""
    failures: list[str] = []
    registered = session.post("/api/v1/cases", headers=headers, json={
        "ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())}).json()
    noticed = session.post(f"/api/v1/cases/{registered['id']}/admission-notice", headers=headers,
                           json={"expected_version": registered["version"]}).json()
    explicit = [
        ("/api/v1/cases", None, {"ward_unit_id": WARD, "patient": patient(new_identity()),
                                 "admitted_at": "0001-01-01T00:00:00+14:00"}),
        ("/api/v1/cases", None, {"ward_unit_id": WARD, "patient": patient(new_identity()),
                                 "admitted_at": iso(now_utc()), "estimated_discharge_at": "9999-12-31T23:59:59-14:00"}),
        ("/api/v1/cases/{case_id}/discharge-notice", {"case_id": noticed["id"]},
         {"expected_version": noticed["version"], "discharged_at": "9999-12-30T00:00:00+00:00",
          **DISCHARGE_CONTENT}),
    ]
    for path, path_parameters, body in explicit:
        case = schema[path]["POST"].Case(path_parameters=path_parameters, body=body, media_type="application/json")
        try:
            response = case.call_and_validate(session=session, headers=headers, checks=CHECKS)
            assert response.status_code == 400, response.text
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"POST {path} with {body}:\n{exc}")
    deep = session.post("/api/v1/cases", data=b"[" * 100_000 + b"]" * 100_000,
                        headers={**headers, "Content-Type": "application/json"})
    if deep.status_code != 400 or not deep.headers["content-type"].startswith("application/problem+json"):
        failures.append(f"a body nested 100 000 deep: {deep.status_code} {deep.text[:200]}")
    return failures


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_every_operation_conforms_to_the_openapi_document(backend: Backend, clean_cases: None,
                                                                token: Callable[..., str], shard: int) -> None:
    # Schemathesis blocks while the app answers in its own loop. It runs in a thread so that this (session)
    # loop keeps running meanwhile: a runtime started in it (the `app` fixture's relay) must not sit suspended
    # holding SQLite's write lock, or every write here waits out the busy timeout.
    app = create_app(settings_for(backend))
    failures, seen, operation_ids = await asyncio.to_thread(
        _exercise, app, {"Authorization": f"Bearer {token('ward.nurse')}"}, shard)
    if failures:
        pytest.fail(f"{len(failures)} operation run(s) failed:\n\n" + "\n\n".join(failures), pytrace=False)
    # Guard against a vacuous pass (e.g. every request refused with a documented 401): the reads got through.
    answered = {operation_id for operation_id, status in seen if status == 200}
    assert not (READS & operation_ids) - answered, f"never answered 200: {sorted((READS & operation_ids) - answered)}"
