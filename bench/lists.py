"""Every list of the read side as history grows: inbox, case list, overdue filter, the board's call, SIP list and
patient search, at e.g. 500 and 5 000 cases, on SQLite and PostgreSQL.

Setup per backend and size (bench/case_list.py's): a fresh database, migrated and seeded with the demo tree (no
demo cases), then `size` cases at the main ward through the repository (85 % closed over the last year, 15 % open in
the last two weeks; Solna's intake and a primary care unit receive them). The app runs in process (httpx's ASGI
transport), one client, requests one after the other; 3 warm-up requests per operation. One JSON line per
(backend, size, operation): p50/p99/max in ms, the setup and the load average (`os.getloadavg`: a busy machine is
noisy). An operation the code under test does not have (main before this branch: search) prints `"absent": true`.

Before/after: run it once from this branch and once with `SAMPLAN_BENCH_ROOT` pointing at a checkout of the other
revision (`git archive main | tar -x -C /tmp/samplan-main`): the script then imports that revision's code.

    .venv/bin/python bench/lists.py [--sizes 500,5000] [--requests 30] [--backends sqlite,postgresql] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(os.environ.get("SAMPLAN_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from bench.case_list import ISSUER, AUDIENCE, bench_database, insert_cases, percentile  # noqa: E402, I001
from domain.identity import generate_test_personnummer  # noqa: E402
from server.api.app import create_app  # noqa: E402
from server.auth.tokens import DevSigningKey  # noqa: E402
from server.demo.seed import DEMO_USERS, MAIN_WARD, stable_id  # noqa: E402
from server.runtime import build_runtime  # noqa: E402
from server.settings import Settings  # noqa: E402

OPEN = ["admitted", "planning", "ready_for_discharge"]


def operations() -> dict[str, tuple[str, str, str, dict[str, Any]]]:
    """name -> (user, method, path, params or body)."""
    ward, intake = stable_id("unit", MAIN_WARD), stable_id("unit", "solna-stad-intake")
    return {
        "inbox": ("needs.assessor", "GET", f"/api/v1/units/{intake}/inbox", {"limit": 50}),
        "unread_counter": ("needs.assessor", "GET", f"/api/v1/units/{intake}/inbox/unread", {}),
        "case_list": ("ward.nurse", "GET", "/api/v1/cases", {"unit_id": ward, "limit": 100}),
        "overdue_filter": ("ward.nurse", "GET", "/api/v1/cases",
                           {"unit_id": ward, "limit": 100, "deadline_state": "overdue"}),
        # what the board asks: on main the open states, here `open=true` (main ignores it; the result is the same)
        "board_call": ("ward.nurse", "GET", "/api/v1/cases", {"unit_id": ward, "limit": 500, "state": OPEN,
                                                              "open": "true"}),
        "board_history": ("ward.nurse", "GET", "/api/v1/cases", {"unit_id": ward, "limit": 50, "open": "false"}),
        "sip_list": ("municipal.nurse", "GET", "/api/v1/sip-plans", {"limit": 100}),
        "search_name": ("ward.nurse", "POST", "/api/v1/patients/search", {"query": "Bench B"}),
        "search_identity": ("ward.nurse", "POST", "/api/v1/patients/search",
                            {"query": generate_test_personnummer(date(1930, 1, 1), 990).formatted}),
    }


async def measure(settings: Settings, tokens: dict[str, str], n: int) -> dict[str, list[float] | None]:
    runtime = build_runtime(settings)
    app = create_app(settings, runtime)
    app.state.runtime = runtime
    results: dict[str, list[float] | None] = {}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     timeout=300) as client:
            for name, (user, method, path, params) in operations().items():
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                samples: list[float] | None = []
                for i in range(n + 3):
                    start = time.perf_counter()
                    if method == "GET":
                        response = await client.get(path, params=params, headers=headers)
                    else:
                        response = await client.post(path, json=params, headers=headers)
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code in (404, 405):
                        samples = None  # the revision under test has no such route
                        break
                    assert response.status_code in (200, 422), (name, response.status_code, response.text[:300])
                    if i >= 3:
                        samples.append(elapsed)
                results[name] = samples
    finally:
        await runtime.engine.dispose()
    return results


def run(backend: str, size: int, n: int, label: str) -> None:
    with bench_database(backend) as settings:
        started = time.perf_counter()
        asyncio.run(insert_cases(settings, size))
        insert_seconds = time.perf_counter() - started
        key = DevSigningKey.load_or_create(settings.dev_key_path)
        tokens = {u.username: key.issue(subject=u.id, issuer=ISSUER, audience=AUDIENCE,
                                        claims={"hsa_id": u.hsa_id}) for u in DEMO_USERS}
        for operation, samples in asyncio.run(measure(settings, tokens, n)).items():
            line: dict[str, Any] = {"bench": "lists", "label": label, "backend": backend, "cases_on_ward": size,
                                    "operation": operation}
            if samples is None:
                line["absent"] = True
            else:
                line.update({"requests": len(samples), "p50_ms": round(statistics.median(samples), 2),
                             "p99_ms": round(percentile(samples, 0.99), 2), "max_ms": round(max(samples), 2)})
            line["setup"] = {"closed_share": 0.85, "clients": 1, "sequential": True, "in_process": True,
                             "insert_seconds": round(insert_seconds, 1), "cpus": os.cpu_count(),
                             "loadavg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
                             "code": str(ROOT)}
            print(json.dumps(line), flush=True)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="500,5000")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--label", default="after")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            run(backend, size, args.requests, args.label)


if __name__ == "__main__":
    main()
