"""`samplan rebuild-read-models` speed: every query row written again from N stored case documents.

Setup: a fresh database (SQLite file or PostgreSQL), migrated, the demo tree seeded (no demo cases); 400 cases built
through the domain (every state, at the main ward) are written N/400 times each under new ids in bulk (executemany,
5 000 rows a statement), then `rebuild_read_models` runs over all of them (batches of `--batch`). Prints one JSON
line per (backend, cases): seconds, cases per second, the extrapolated time for 300 000 cases, and the load.

    .venv/bin/python bench/rebuild.py [--cases 20000] [--backends sqlite,postgresql] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.case_list import PERSON, pg_database  # noqa: E402
from domain.discharge_case import CaseState  # noqa: E402
from domain.identity import generate_test_personnummer  # noqa: E402
from server.demo.seed import MAIN_WARD, _build_case, seed  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.documents import to_document  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.persistence.models import CaseRow, PatientRow  # noqa: E402
from server.persistence.read_models import rebuild_read_models  # noqa: E402


async def fill(url: str, count: int) -> None:
    now = datetime.now(UTC)
    engine = create_engine(url)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, now=now, with_cases=False)
    identity = generate_test_personnummer(date(1940, 1, 1), 991)
    patient = {"id": str(uuid.uuid4()), "identity_kind": str(identity.kind), "identity_value": identity.value,
               "protected_identity": False, "created_at": now}
    rng = random.Random(1)
    row = PatientRow(id=patient["id"])
    templates = []
    for i in range(400):
        built = now - timedelta(days=rng.uniform(0, 700))
        case = _build_case(rng, built, MAIN_WARD, row, PERSON, list(CaseState)[i % len(CaseState)])
        templates.append((case, to_document(case)))
    async with engine.begin() as connection:
        await connection.execute(insert(PatientRow).values(**patient))
        rows: list[dict[str, Any]] = []
        for i in range(count):
            case, document = templates[i % len(templates)]
            case_id = str(uuid.uuid4())
            rows.append({"id": case_id, "patient_id": patient["id"], "ward_unit_id": case.ward_unit_id,
                         "state": str(case.state), "care_type": str(case.care_type), "admitted_at": case.admitted_at,
                         "updated_at": now, "version": 1, "document": {**document, "id": case_id},
                         **PERSON.columns()})
            if len(rows) == 5000:
                await connection.execute(insert(CaseRow), rows)
                rows = []
        if rows:
            await connection.execute(insert(CaseRow), rows)
    await engine.dispose()


async def rebuild(url: str, batch: int) -> tuple[float, Any]:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        done = await rebuild_read_models(engine, batch=batch)
        return time.perf_counter() - started, done
    finally:
        await engine.dispose()


def run(backend: str, count: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        name = f"samplan_bench_{uuid.uuid4().hex[:8]}"
        url = f"sqlite+aiosqlite:///{tmp}/bench.db" if backend == "sqlite" else asyncio.run(pg_database("create", name))
        try:
            upgrade(url)
            asyncio.run(fill(url, count))
            seconds, done = asyncio.run(rebuild(url, batch))
            print(json.dumps({"bench": "rebuild_read_models", "backend": backend, "cases": done.cases,
                              "case_rows": done.case_rows, "seconds": round(seconds, 2),
                              "cases_per_second": round(done.cases / seconds),
                              "extrapolated_300k_seconds": round(300_000 * seconds / done.cases),
                              "setup": {"batch": batch, "cpus": os.cpu_count(),
                                        "loadavg_1m": round(os.getloadavg()[0], 2)}}), flush=True)
        finally:
            if backend == "postgresql":
                asyncio.run(pg_database("drop", name))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend, args.cases, args.batch)


if __name__ == "__main__":
    main()
