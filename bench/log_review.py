"""Log review and the admin user list as the access log and the directory grow.

For each backend: a fresh database, migrated and seeded with the demo tree (no demo cases), then `rows` access-log
rows over five years (spread over every unit of the demo tree, a third at Karolinska's, whose auditor reads them;
PostgreSQL: COPY, SQLite: executemany; unsealed: they need not chain-verify here) and `users` extra users at
Karolinska. The app runs in process (httpx's ASGI transport), one client, sequential requests. Prints one JSON
line per (backend, operation) with p50/p95/p99 in ms, the setup and the load average.

Operations: `month_first_page` (POST /audit/access-log/search, the last 30 days, limit 50, as the auditor: what
the log review page asks first), `month_by_user` (the same for one user), `month_page_5` (the fifth page: by
cursor where the API gives one, else by offset; only the fifth request is timed), `admin_users` (GET
/admin/organisations/{karolinska}/users?limit=100 as its local access administrator).

`--code` runs the same measurement against another checkout's code and migrations (e.g. main, for "before").

    .venv/bin/python bench/log_review.py [--pg-rows 1000000] [--sqlite-rows 100000] [--users 500]
        [--requests 40] [--backends sqlite,postgresql] [--code /path/to/checkout]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
parser.add_argument("--pg-rows", type=int, default=1_000_000)
parser.add_argument("--sqlite-rows", type=int, default=100_000)
parser.add_argument("--users", type=int, default=500)
parser.add_argument("--requests", type=int, default=40)
parser.add_argument("--backends", default="sqlite,postgresql")
parser.add_argument("--code", default=str(Path(__file__).resolve().parent.parent))
ARGS = parser.parse_args()
CODE = Path(ARGS.code).resolve()
sys.path.insert(0, str(CODE))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from server.api.app import create_app  # noqa: E402
from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo.seed import DEMO_USERS, seed, stable_id  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.persistence.models import UnitRow, UserRow  # noqa: E402
from server.runtime import build_runtime  # noqa: E402
from server.settings import Settings, normalise_database_url  # noqa: E402

POSTGRES = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ISSUER, AUDIENCE = "http://127.0.0.1/bench-idp", "samplan"
KAROLINSKA = stable_id("organisation", "karolinska")
LOG_USER = stable_id("user", "ward.nurse")
PAGE = 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def pg_database(action: str, name: str) -> str:
    admin = normalise_database_url(POSTGRES.rsplit("/", 1)[0] + "/postgres")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        sql = f'CREATE DATABASE "{name}"' if action == "create" else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        await conn.exec_driver_sql(sql)
    await engine.dispose()
    return normalise_database_url(POSTGRES.rsplit("/", 1)[0] + f"/{name}")


async def fill(settings: Settings, rows: int, users: int) -> None:
    now = datetime.now(UTC)
    engine = create_engine(settings.database_url)
    rng = random.Random(20261208)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, now=now, with_cases=False)
        units = list(await session.execute(select(UnitRow.id, UnitRow.organisation_id)))
        await session.execute(insert(UserRow), [
            {"id": str(uuid.uuid4()), "username": f"bench.{i:05d}", "hsa_id": f"SE2321000016-B{i:05d}",
             "display_name": f"{rng.choice('ABCDEFGHIJKLMNOPRSTUVÅÄÖ')}nna Bänk {i}", "title": "Sjuksköterska",
             "organisation_id": KAROLINSKA, "active": True} for i in range(users)])
        user_ids = [u for u in await session.scalars(select(UserRow.id))] + [LOG_USER] * 20
    karolinska = [u for u, o in units if o == KAROLINSKA]
    others = [u for u, o in units if o != KAROLINSKA]
    span = timedelta(days=5 * 365).total_seconds()
    actions = ("read_case", "list_cases", "send_admission_notice", "acknowledge_notice", "register_case")

    def row() -> tuple[Any, ...]:
        user = rng.choice(user_ids)
        return (now - timedelta(seconds=rng.uniform(0, span)), user, f"SE2321000016-{user[:8]}",
                rng.choice(karolinska) if rng.random() < 1 / 3 else rng.choice(others), str(uuid.uuid4()), None,
                rng.choice(actions), "care_coordination")

    columns = ("at", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id", "action", "purpose")
    started = time.perf_counter()
    if settings.database_url.startswith("postgresql"):
        raw = await engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            for start in range(0, rows, 100_000):
                await driver.copy_records_to_table("access_log", columns=columns,
                                                   records=[row() for _ in range(min(100_000, rows - start))])
            await driver.execute("ANALYZE")
        finally:
            raw.close()
    else:
        async with engine.begin() as conn:
            for start in range(0, rows, 50_000):
                await conn.exec_driver_sql(
                    "INSERT INTO access_log (at, user_id, user_hsa_id, unit_id, patient_id, case_id, action, purpose) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [tuple(v.isoformat(" ").replace("+00:00", "") if isinstance(v, datetime) else v for v in row())
                     for _ in range(min(50_000, rows - start))])
            await conn.exec_driver_sql("ANALYZE")
    print(json.dumps({"bench": "log_review", "filled_rows": rows, "seconds": round(time.perf_counter() - started, 1)}),
          file=sys.stderr, flush=True)
    await engine.dispose()


async def measure(settings: Settings, tokens: dict[str, str], n: int) -> dict[str, list[float]]:
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    app.state.runtime = runtime
    now = datetime.now(UTC)
    month = {"period_from": (now - timedelta(days=30)).isoformat(), "period_to": now.isoformat(), "limit": PAGE}
    results: dict[str, list[float]] = {k: [] for k in ("month_first_page", "month_by_user", "month_page_5",
                                                       "admin_users")}

    async def timed(call: Any) -> tuple[float, httpx.Response]:
        start = time.perf_counter()
        response = await call
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.text
        return elapsed, response

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     timeout=300) as client:
            auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
            admin = {"Authorization": f"Bearer {tokens['hospital.admin']}"}
            search = "/api/v1/audit/access-log/search"
            for i in range(n + 3):  # 3 warm-up rounds
                samples = {
                    "month_first_page": (await timed(client.post(search, json=month, headers=auditor)))[0],
                    "month_by_user": (await timed(client.post(search, json=month | {"user_id": LOG_USER},
                                                              headers=auditor)))[0],
                    "admin_users": (await timed(client.get(f"/api/v1/admin/organisations/{KAROLINSKA}/users",
                                                           params={"limit": 100}, headers=admin)))[0],
                }
                body: dict[str, Any] = dict(month)
                for page in range(5):
                    elapsed, response = await timed(client.post(search, json=body, headers=auditor))
                    answer = response.json()
                    if "next_cursor" in answer:
                        body = month | {"cursor": answer["next_cursor"]}
                    else:
                        body = month | {"offset": (page + 1) * PAGE}
                samples["month_page_5"] = elapsed
                if i >= 3:
                    for k, v in samples.items():
                        results[k].append(v)
    finally:
        await runtime.engine.dispose()
    return results


def run(backend: str, rows: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_name = f"samplan_bench_{uuid.uuid4().hex[:8]}"
        url = (f"sqlite+aiosqlite:///{tmp}/bench.db" if backend == "sqlite"
               else asyncio.run(pg_database("create", db_name)))
        try:
            upgrade(url)
            settings = Settings(data_dir=Path(tmp), database_url=url, dev_mode=True, oidc_issuer=ISSUER,
                                oidc_audience=AUDIENCE, oidc_jwks_url="", oidc_algorithms=("RS256",),
                                user_claim="hsa_id", payment_policy="stockholm_2020")
            asyncio.run(fill(settings, rows, ARGS.users))
            key = DevSigningKey.load_or_create(settings.dev_key_path)
            tokens = {u.username: key.issue(subject=u.id, issuer=ISSUER, audience=AUDIENCE,
                                            claims={"hsa_id": u.hsa_id})
                      for u in DEMO_USERS if u.username in ("auditor", "hospital.admin")}
            results = asyncio.run(measure(settings, tokens, n))
            load = os.getloadavg()
            for operation, samples in results.items():
                print(json.dumps({
                    "bench": "log_review", "code": CODE.name, "backend": backend, "access_log_rows": rows,
                    "operation": operation, "requests": len(samples),
                    "p50_ms": round(statistics.median(samples), 2), "p95_ms": round(percentile(samples, 0.95), 2),
                    "p99_ms": round(percentile(samples, 0.99), 2),
                    "setup": {"users": ARGS.users + len(DEMO_USERS), "page_limit": PAGE, "period_days": 30,
                              "years_of_log": 5, "karolinska_share": "1/3", "clients": 1, "sequential": True,
                              "in_process": True, "cpus": os.cpu_count(), "python": platform.python_version()},
                    "loadavg_1m": round(load[0], 2),
                }), flush=True)
        finally:
            if backend == "postgresql":
                asyncio.run(pg_database("drop", db_name))


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for backend in ARGS.backends.split(","):
        run(backend, ARGS.pg_rows if backend == "postgresql" else ARGS.sqlite_rows, ARGS.requests)


if __name__ == "__main__":
    main()
