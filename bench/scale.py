"""Reads and commands on a region-sized history: the volume data set (`samplan seed --volume stockholm`).

Seeds a fresh database (SQLite file or PostgreSQL) with `--years` of history at `--scale` (or uses
`--database-url`, already seeded), then, with the app in process (httpx's ASGI transport, no network), for the
largest ward and the largest municipal unit: the board's call (open states, limit 500), the case list's first page,
the overdue filter, the inbox, the SIP list, patient search (`POST /patients/search`; "absent" where the route does
not exist), a month of log review (the demo auditor, who reviews the main ward's organisation), and case detail.
Then a command (registering an admission) on the full database and on an empty one (the same tree and users, no
cases), the process's RSS after 1 000 reads against its start (the app runs in this process), and the command with
8 concurrent list readers. One JSON line per measurement: p50/p95/p99/max in ms, the setup and the load average.

    .venv/bin/python bench/scale.py --backend sqlite --scale 0.1 --years 5
    .venv/bin/python bench/scale.py --backend postgresql --scale 1 --years 5 [--workers 2]
    .venv/bin/python bench/scale.py --backend postgresql --database-url postgresql://…/samplan  (already seeded)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.identity import generate_test_personnummer  # noqa: E402
from server.access_log_keys import keyring  # noqa: E402
from server.api.app import create_app  # noqa: E402
from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo import bulk, region, volume  # noqa: E402
from server.demo.seed import DEMO_USERS  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.persistence.models import CaseParticipantRow, CaseRow  # noqa: E402
from server.runtime import build_runtime, payment_policy  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

POSTGRES = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ISSUER, AUDIENCE = "http://127.0.0.1/bench-idp", "samplan"
OPEN = ["admitted", "planning", "ready_for_discharge"]
READERS = 8


def emit(**line: Any) -> None:
    print(json.dumps({**line, "load": os.getloadavg()[0], "cpus": os.cpu_count(), "python": platform.python_version()}),
          flush=True)


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))], 1)

    return {"n": len(ordered), "p50_ms": q(0.5), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": q(1.0)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def new_database(backend: str, data_dir: Path, label: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{data_dir / f'{label}.db'}"
    name = f"samplan_scale_{label}_{uuid.uuid4().hex[:8]}"
    engine = create_async_engine(normalise_database_url(POSTGRES.rsplit("/", 1)[0] + "/postgres"),
                                 isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await engine.dispose()
    return normalise_database_url(POSTGRES.rsplit("/", 1)[0] + f"/{name}")


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, dev_mode=True, oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                    oidc_jwks_url="", oidc_algorithms=("RS256",), user_claim="hsa_id", payment_policy="stockholm_2020",
                    rate_limit="1000000/minute")


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = DevSigningKey.load_or_create(settings.dev_key_path)
        self.serial = 0

    def headers(self, user_id: str, hsa_id: str) -> dict[str, str]:
        bearer = self.key.issue(subject=user_id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": hsa_id},
                                lifetime=timedelta(hours=4), now=None)
        return {"Authorization": f"Bearer {bearer}"}

    async def timed(self, n: int, call: Callable[[], Awaitable[httpx.Response]]) -> tuple[list[float], int]:
        samples, status = [], 0
        for _ in range(n):
            started = time.perf_counter()
            response = await call()
            samples.append((time.perf_counter() - started) * 1000)
            status = response.status_code
        return samples, status

    def registration(self, ward_id: str) -> dict[str, Any]:
        """An admission of a fresh invented patient (serials 800-899: never the data set's 900-999)."""
        self.serial += 1
        birth = date(1940, 1, 1) + timedelta(days=(self.serial * 37) % 12000)
        identity = generate_test_personnummer(birth, 800 + self.serial % 100).formatted
        return {"ward_unit_id": ward_id, "admitted_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                "patient": {"identity": identity, "name": "Bänk Bänksson", "address": "Provgatan 1",
                            "municipality_code": "0180", "listed_unit_id": None}}


async def largest(url: str) -> tuple[str, str, str]:
    """The ward with the most cases, the municipal unit that takes part in the most, and a case of the ward."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            ward = await session.scalar(select(CaseRow.ward_unit_id).group_by(CaseRow.ward_unit_id)
                                        .order_by(func.count().desc()).limit(1))
            municipal = await session.scalar(
                select(CaseParticipantRow.unit_id).where(CaseParticipantRow.part == "municipal_unit")
                .group_by(CaseParticipantRow.unit_id).order_by(func.count().desc()).limit(1))
            case_id = await session.scalar(select(CaseRow.id).where(CaseRow.ward_unit_id == ward)
                                           .order_by(CaseRow.admitted_at.desc()).limit(1))
    finally:
        await engine.dispose()
    if not (ward and municipal and case_id):
        raise SystemExit("the database has no volume data set")
    return ward, municipal, case_id


async def measure(url: str, data_dir: Path, requests: int, setup: dict[str, Any], empty_url: str) -> None:
    ward_id, municipal_id, case_id = await largest(url)
    by_id = {u.id: u for u in region.units()}
    ward, municipal = by_id[ward_id], by_id[municipal_id]
    settings = settings_for(url, data_dir)
    bench = Bench(settings)
    nurse, assessor = region.staff_of(ward.key)[0], region.staff_of(municipal.key)[0]
    auditor = next(u for u in DEMO_USERS if u.username == "auditor")
    as_nurse = bench.headers(nurse.id, nurse.hsa_id)
    as_assessor = bench.headers(assessor.id, assessor.hsa_id)
    as_auditor = bench.headers(auditor.id, auditor.hsa_id)
    now = datetime.now(UTC)
    month = {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat(), "limit": 100}
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    app.state.runtime = runtime
    await runtime.start()
    base = {**setup, "ward": ward.key, "municipal_unit": municipal.key}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.local/api/v1",
                                     timeout=120) as c:
            reads: list[tuple[str, str, Callable[[], Awaitable[httpx.Response]]]] = [
                ("board", ward.key, lambda: c.get("/cases", params={"unit_id": ward_id, "state": OPEN, "limit": 500},
                                                  headers=as_nurse)),
                ("case_list", ward.key, lambda: c.get("/cases", params={"unit_id": ward_id}, headers=as_nurse)),
                ("overdue", ward.key, lambda: c.get("/cases", params={"unit_id": ward_id, "deadline_state": "overdue"},
                                                    headers=as_nurse)),
                ("case_list", municipal.key, lambda: c.get("/cases", params={"unit_id": municipal_id},
                                                           headers=as_assessor)),
                ("overdue", municipal.key, lambda: c.get(
                    "/cases", params={"unit_id": municipal_id, "deadline_state": "overdue"}, headers=as_assessor)),
                ("inbox", municipal.key, lambda: c.get(f"/units/{municipal_id}/inbox", headers=as_assessor)),
                ("sip_list", ward.key, lambda: c.get("/sip-plans", params={"unit_id": ward_id}, headers=as_nurse)),
                ("sip_list", municipal.key, lambda: c.get("/sip-plans", params={"unit_id": municipal_id},
                                                          headers=as_assessor)),
                ("log_review_month", "auditor's organisation", lambda: c.get("/audit/access-log", params=month,
                                                                             headers=as_auditor)),
                ("case_detail", ward.key, lambda: c.get(f"/cases/{case_id}", headers=as_nurse)),
            ]
            for name, unit, call in reads:
                samples, status = await bench.timed(requests, call)
                emit(bench="scale", op=name, unit=unit, status=status, **stats(samples), **base)
            search = await c.post("/patients/search", json={"query": "1950"}, headers=as_nurse)
            if search.status_code in (404, 405):
                emit(bench="scale", op="patient_search", status="absent", **base)
            else:
                samples, status = await bench.timed(requests, lambda: c.post(
                    "/patients/search", json={"query": "1950"}, headers=as_nurse))
                emit(bench="scale", op="patient_search", unit=ward.key, status=status, **stats(samples), **base)
            register = lambda: c.post("/cases", json=bench.registration(ward_id), headers=as_nurse)  # noqa: E731
            samples, status = await bench.timed(requests, register)
            emit(bench="scale", op="command_register", db="full", status=status, **stats(samples), **base)
            start_rss = rss_mb()
            for i in range(1000):
                await reads[i % 6][2]()
            emit(bench="scale", op="rss_after_1000_reads", start_mb=round(start_rss, 1), end_mb=round(rss_mb(), 1),
                 growth_mb=round(rss_mb() - start_rss, 1), **base)
            stop = asyncio.Event()

            async def reader(n: int) -> int:
                done = 0
                while not stop.is_set():
                    await reads[n % 3][2]()
                    done += 1
                return done

            tasks = [asyncio.create_task(reader(n)) for n in range(READERS)]
            await asyncio.sleep(0)
            samples, status = await bench.timed(requests, register)
            stop.set()
            served = sum(await asyncio.gather(*tasks))
            emit(bench="scale", op="command_register_with_readers", readers=READERS, reads_served=served,
                 status=status, **stats(samples), **base)
    finally:
        await runtime.close()
    await measure_empty(empty_url, data_dir, requests, base, ward_id)


async def measure_empty(url: str, data_dir: Path, requests: int, base: dict[str, Any], ward_id: str) -> None:
    """The same command on a database with the same tree and users but no cases."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await bulk.prepare(session, datetime.now(UTC))
    finally:
        await engine.dispose()
    settings = settings_for(url, data_dir)
    bench = Bench(settings)
    nurse = region.staff_of(next(u.key for u in region.units() if u.id == ward_id))[0]
    headers = bench.headers(nurse.id, nurse.hsa_id)
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    app.state.runtime = runtime
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.local/api/v1",
                                     timeout=120) as c:
            samples, status = await bench.timed(requests, lambda: c.post("/cases", json=bench.registration(ward_id),
                                                                         headers=headers))
            emit(bench="scale", op="command_register", db="empty", status=status, **stats(samples), **base)
    finally:
        await runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default=None, help="an already seeded database (skips seeding)")
    parser.add_argument("--data-dir", default=None, help="key files and SQLite databases (default: a temp dir)")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="samplan-scale-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args, data_dir))


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    setup = {"backend": args.backend, "scale": args.scale, "years": args.years, "seed": args.seed,
             "requests": args.requests}
    url = args.database_url
    if url is None:
        url = await new_database(args.backend, data_dir, "full")
        await asyncio.to_thread(upgrade, url)
        settings = settings_for(url, data_dir)
        plan = volume.Plan(years=args.years, scale=args.scale, seed=args.seed,
                           now=datetime.now(UTC).replace(microsecond=0), policy=payment_policy("stockholm_2020"))
        engine = create_engine(url)
        try:
            summary = await bulk.load(engine, plan, keyring(settings), workers=args.workers)
        finally:
            await engine.dispose()
        emit(bench="scale", op="seed", **setup, **dataclasses.asdict(summary))
    empty_url = await new_database(args.backend, data_dir, "empty")
    await asyncio.to_thread(upgrade, empty_url)
    await measure(url, data_dir, args.requests, setup, empty_url)


if __name__ == "__main__":
    main()
