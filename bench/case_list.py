"""Case list latency as history grows: the first page of one ward's cases, at e.g. 500 and 5 000 cases.

For SQLite and PostgreSQL each and each size: a fresh database, migrated and seeded with the demo tree (no demo
cases), then `size` cases at the main ward inserted in bulk through the repository (85 % closed, admitted over
the last year; 15 % open, admitted in the last two weeks: a ward's history). The app runs in process (httpx's
ASGI transport, no network), one client issuing requests one after the other. Prints one JSON line per
(backend, size, operation) with p50/p99/max in milliseconds and the setup. Operations: `first_page` (GET /cases
?unit_id=…&limit=100, the default order) and `open_page` (the same with the open states, what the board asks).

    .venv/bin/python bench/case_list.py [--sizes 500,5000] [--requests 50] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import percentile, pg_database  # noqa: E402 - pg_database also for bench/rebuild.py
from domain.discharge_case import CaseState  # noqa: E402
from domain.identity import generate_test_personnummer  # noqa: E402
from server.api.app import create_app  # noqa: E402
from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo.seed import DEMO_USERS, MAIN_WARD, _build_case, seed, stable_id  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.persistence.models import PatientRow, PersonDetails  # noqa: E402
from server.runtime import build_runtime  # noqa: E402
from server.settings import Settings  # noqa: E402

POSTGRES = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ISSUER, AUDIENCE = "http://127.0.0.1/bench-idp", "samplan"
OPEN = ("admitted", "planning", "ready_for_discharge")
PERSON = PersonDetails(name="Bench Bänksson", address="Provgatan 1", municipality_code="0184",
                       listed_unit_id=stable_id("unit", "aleris-vc-ronnviken"))


async def insert_cases(settings: Settings, size: int) -> None:
    """`size` cases at the main ward through the repository, in one transaction (one patient per 50 cases)."""
    now = datetime.now(UTC)
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, now=now, with_cases=False)
    await engine.dispose()
    runtime = build_runtime(settings)
    rng = random.Random(20261208)
    async with runtime.uow() as uow:
        patient: PatientRow | None = None
        for i in range(size):
            if i % 50 == 0:
                identity = generate_test_personnummer(date(1930, 1, 1) + timedelta(days=i // 50), 990)
                patient = PatientRow(id=str(uuid.uuid4()), identity_kind=str(identity.kind),
                                     identity_value=identity.value, protected_identity=False, created_at=now)
                uow.patients.add(patient)
                await uow.session.flush()
            assert patient is not None
            closed = rng.random() < 0.85
            built = now - timedelta(days=rng.uniform(15, 365)) if closed else now - timedelta(hours=rng.uniform(1, 300))
            target = CaseState.CLOSED if closed else rng.choice((CaseState.ADMITTED, CaseState.PLANNING,
                                                                 CaseState.READY))
            case = _build_case(rng, built, MAIN_WARD, patient, PERSON, target)
            case.id = str(uuid.uuid4())
            case.pending_events.clear()
            await uow.cases.add(case, patient.id, PERSON, built)
        await uow.commit()
    await runtime.engine.dispose()


async def measure(settings: Settings, token: str, n: int) -> dict[str, list[float]]:
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    app.state.runtime = runtime
    ward = stable_id("unit", MAIN_WARD)
    operations = {"first_page": {"unit_id": ward, "limit": 100},
                  "open_page": {"unit_id": ward, "limit": 100, "state": list(OPEN)}}
    results: dict[str, list[float]] = {k: [] for k in operations}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            for operation, params in operations.items():
                for i in range(n + 3):  # 3 warm-up requests
                    start = time.perf_counter()
                    response = await client.get("/api/v1/cases", params=params)
                    elapsed = (time.perf_counter() - start) * 1000
                    assert response.status_code == 200, response.text
                    if i >= 3:
                        results[operation].append(elapsed)
    finally:
        await runtime.engine.dispose()
    return results


@contextmanager
def bench_database(backend: str) -> Iterator[Settings]:
    """A fresh database at the newest schema (SQLite in a temporary folder, or a new PostgreSQL database dropped
    afterwards) and the API's settings for it, with the bench's development identity provider."""
    with tempfile.TemporaryDirectory() as tmp:
        db_name = f"samplan_bench_{uuid.uuid4().hex[:8]}"
        url = (f"sqlite+aiosqlite:///{tmp}/bench.db" if backend == "sqlite"
               else asyncio.run(pg_database("create", db_name)))
        try:
            upgrade(url)
            yield Settings(data_dir=Path(tmp), database_url=url, dev_mode=True, oidc_issuer=ISSUER,
                           oidc_audience=AUDIENCE, oidc_jwks_url="", oidc_algorithms=("RS256",),
                           user_claim="hsa_id", payment_policy="stockholm_2020")
        finally:
            if backend == "postgresql":
                asyncio.run(pg_database("drop", db_name))


def run(backend: str, size: int, n: int) -> None:
    with bench_database(backend) as settings:
        asyncio.run(insert_cases(settings, size))
        key = DevSigningKey.load_or_create(settings.dev_key_path)
        nurse = next(u for u in DEMO_USERS if u.username == "ward.nurse")
        token = key.issue(subject=nurse.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": nurse.hsa_id})
        results = asyncio.run(measure(settings, token, n))
        for operation, samples in results.items():
            print(json.dumps({
                "bench": "case_list", "backend": backend, "cases_on_ward": size, "operation": operation,
                "requests": len(samples), "p50_ms": round(statistics.median(samples), 2),
                "p99_ms": round(percentile(samples, 0.99), 2), "max_ms": round(max(samples), 2),
                "setup": {"closed_share": 0.85, "page_limit": 100, "clients": 1, "sequential": True,
                          "in_process": True, "cpus": os.cpu_count(), "python": platform.python_version()},
            }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            run(backend, size, args.requests)


if __name__ == "__main__":
    main()
