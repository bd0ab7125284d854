"""API latency: list one ward's 60 cases, and one command POST, against a real `samplan api` process.

For SQLite and PostgreSQL each: a fresh database, migrated and seeded with the demo world (60 cases on the
main ward), one uvicorn process, one client on loopback issuing requests one after the other. Prints one JSON
line per (backend, operation) with p50/p99/max in milliseconds and the setup.

    .venv/bin/python bench/api.py [--requests 300] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo.seed import DEMO_USERS, MAIN_WARD, seed, stable_id  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.settings import normalise_database_url  # noqa: E402

POSTGRES = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ISSUER, AUDIENCE = "http://127.0.0.1/bench-idp", "samplan"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def prepare(url: str) -> None:
    engine = create_engine(url)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, now=datetime.now(UTC), cases_on_main_ward=60)
    await engine.dispose()


async def pg_database(action: str, name: str) -> str:
    admin = normalise_database_url(POSTGRES.rsplit("/", 1)[0] + "/postgres")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        sql = f'CREATE DATABASE "{name}"' if action == "create" else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        await conn.exec_driver_sql(sql)
    await engine.dispose()
    return normalise_database_url(POSTGRES.rsplit("/", 1)[0] + f"/{name}")


async def measure(base: str, token: str, n: int) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    ward = stable_id("unit", MAIN_WARD)
    results: dict[str, list[float]] = {"list_ward_cases": [], "command_post": []}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        page = (await client.get("/api/v1/cases", params={"unit_id": ward, "limit": 100})).json()
        assert page["total"] >= 60, page["total"]
        case = next(c for c in page["items"] if c["state"] == "planning")
        version = case["version"]
        for _ in range(10):  # warm-up
            await client.get("/api/v1/cases", params={"unit_id": ward, "limit": 100})
        for _ in range(n):
            start = time.perf_counter()
            response = await client.get("/api/v1/cases", params={"unit_id": ward, "limit": 100})
            results["list_ward_cases"].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        for i in range(n):
            body = {"expected_version": version, "notes": f"Bench {i}", "expected_needs": ["home_help"]}
            start = time.perf_counter()
            response = await client.post(f"/api/v1/cases/{case['id']}/planning", json=body)
            results["command_post"].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
            version = response.json()["version"]
    return results


def run_backend(name: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_name = f"samplan_bench_{uuid.uuid4().hex[:8]}"
        url = (f"sqlite+aiosqlite:///{tmp}/bench.db" if name == "sqlite"
               else asyncio.run(pg_database("create", db_name)))
        try:
            upgrade(url)
            asyncio.run(prepare(url))
            port = free_port()
            env = {**os.environ, "DATABASE_URL": url, "SAMPLAN_DATA_DIR": tmp, "SAMPLAN_DEV_MODE": "1",
                   "OIDC_ISSUER": ISSUER, "OIDC_AUDIENCE": AUDIENCE, "SAMPLAN_API_PORT": str(port),
                   "OIDC_JWKS_URL": "", "PYTHONPATH": str(ROOT)}
            key = DevSigningKey.load_or_create(Path(tmp) / "dev-signing-key.json")
            nurse = next(u for u in DEMO_USERS if u.username == "ward.nurse")
            token = key.issue(subject=nurse.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": nurse.hsa_id})
            proc = subprocess.Popen([sys.executable, "-m", "server.cli", "api"], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    try:
                        if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                results = asyncio.run(measure(base, token, n))
            finally:
                proc.terminate()
                proc.wait(timeout=15)
            for operation, samples in results.items():
                print(json.dumps({
                    "bench": "api", "backend": name, "operation": operation, "requests": len(samples),
                    "p50_ms": round(statistics.median(samples), 2), "p99_ms": round(percentile(samples, 0.99), 2),
                    "max_ms": round(max(samples), 2),
                    "setup": {"cases_on_ward": 60, "clients": 1, "sequential": True, "api_processes": 1,
                              "cpus": os.cpu_count(), "python": platform.python_version()},
                }), flush=True)
        finally:
            if name == "postgresql":
                asyncio.run(pg_database("drop", db_name))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run_backend(backend, args.requests)


if __name__ == "__main__":
    main()
