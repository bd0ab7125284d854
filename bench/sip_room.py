"""SIP meeting room: P participants editing different items of one plan at once, each following the plan live.

Setup: one or two fresh `samplan api` processes (`--instances`, default 2) on one PostgreSQL database (created,
migrated and seeded for the run) and a private Redis (`tests/realtime/cluster.py`). The owner (Vårdcentral
Rönnviken) starts a plan with Solna's intake unit and Solna's home care, records the person's consent for both,
and each participant adds its own need item. Participant i is a demo user of one of the three units (in turn)
with its own stream connection (following its unit's feed from now) and its own writer, both on instance
i mod instances. For `--seconds`, every writer changes its own item as fast as the API answers (one request
at a time, each from the revision its last answer gave): different items never conflict.

Measured, per successful edit and per *other* participant: receipt of the edit's `SipItemChanged` on that
participant's stream minus
- `publish`: when the event frame came out of Redis, timestamped by a tap subscriber in this process (the API
  publishes right after its commit): commit → receipt less the publish round trip, as in `bench/fanout.py`;
- `occurred` (the conservative headline): the event's `occurred_at`, stamped by the server when the command
  starts, before its database work and commit (same machine, same clock): an upper bound of commit → receipt;
- `response`: when the writer had the API's answer, which comes after the commit and the publish (so other
  participants may have the event earlier: a lower bound, can be negative).
Lost = (edit, other participant) pairs whose event never arrived (within `--drain` seconds after the run).
Conflicts = 409 answers (expected 0). Prints one JSON line.

    .venv/bin/python bench/sip_room.py [--seconds 30] [--participants 10] [--instances 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio as aioredis
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import percentile  # noqa: E402
from tests.realtime.cluster import Cluster, running_cluster  # noqa: E402
from tests.server.conftest import RONNVIKEN, SOLNA_HOME_CARE, SOLNA_INTAKE, new_identity, patient  # noqa: E402

UNITS = ((RONNVIKEN, "care.contact"), (SOLNA_INTAKE, "needs.assessor"), (SOLNA_HOME_CARE, "municipal.nurse"))


@dataclass
class Participant:
    index: int
    unit: str
    user: str
    base: str  # http base of its instance
    ws: str
    item_id: str
    revision: int = 1
    edits: dict[tuple[str, int], float] = field(default_factory=dict)  # (item, revision) -> response time
    received: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)  # -> (receipt, occurred)
    conflicts: int = 0
    errors: int = 0
    request_ms: list[float] = field(default_factory=list)


async def follow(cluster: Cluster, p: Participant, plan_id: str, ready: asyncio.Event, stop: asyncio.Event) -> None:
    async with websockets.connect(p.ws, max_queue=None) as socket:
        await socket.send(json.dumps({"op": "auth", "token": cluster.token(p.user)}))
        await socket.send(json.dumps({"op": "subscribe", "feeds": {f"unit:{p.unit}": None}}))
        decoder = msgspec.json.Decoder()
        while True:
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            now = time.time()
            frame: dict[str, Any] = decoder.decode(raw)
            if frame["op"] == "subscribed":
                ready.set()
            elif frame["op"] == "event":
                event = frame["event"]
                if event["aggregate_id"] == plan_id and event["type"] == "SipItemChanged":
                    occurred = datetime.fromisoformat(event["occurred_at"]).timestamp()
                    p.received[(event["data"]["item_id"], event["data"]["revision"])] = (now, occurred)
            elif frame["op"] in ("resync", "error"):
                raise RuntimeError(f"participant {p.index}: {frame}")


async def tap(redis_url: str, plan_id: str, published: dict[tuple[str, int], float], ready: asyncio.Event,
              stop: asyncio.Event) -> None:
    """When each edit's event frame came out of Redis (the API publishes right after its commit)."""
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe("samplan:events")  # realtime.broker.CHANNEL
    ready.set()
    decoder = msgspec.json.Decoder()
    try:
        while not stop.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is None:
                continue
            now = time.time()
            frame: dict[str, Any] = decoder.decode(message["data"])
            event = frame.get("event") or {}
            if event.get("aggregate_id") == plan_id and event.get("type") == "SipItemChanged":
                published.setdefault((event["data"]["item_id"], event["data"]["revision"]), now)
    finally:
        await pubsub.aclose()
        await client.aclose()


async def write(cluster: Cluster, p: Participant, plan_id: str, until: float) -> None:
    headers = {**cluster.headers(p.user), "X-Acting-Unit": p.unit}
    async with httpx.AsyncClient(base_url=p.base, timeout=30) as client:
        n = 0
        while time.time() < until:
            n += 1
            started = time.perf_counter()
            response = await client.post(f"/api/v1/sip-plans/{plan_id}/items/needs/{p.item_id}", headers=headers,
                                         json={"content": {"description": f"Behov {p.index}, ändring {n}"},
                                               "expected_revision": p.revision})
            done = time.time()
            p.request_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code == 200:
                p.revision += 1
                p.edits[(p.item_id, p.revision)] = done
            elif response.status_code == 409:
                p.conflicts += 1
                p.revision = int(response.json()["current_revision"])
            else:
                p.errors += 1


async def setup_plan(cluster: Cluster, participants: list[Participant]) -> str:
    owner = cluster.headers("care.contact")
    async with httpx.AsyncClient(base_url=cluster.a.http, timeout=30) as client:
        created = await client.post("/api/v1/sip-plans", headers=owner, json={
            "owner_unit_id": RONNVIKEN, "unit_ids": [SOLNA_INTAKE, SOLNA_HOME_CARE],
            "person": patient(new_identity())})
        assert created.status_code == 201, created.text
        plan = created.json()
        consent = await client.post(f"/api/v1/sip-plans/{plan['id']}/consent", headers=owner, json={
            "expected_version": plan["version"], "given_by": "person", "form": "verbal",
            "scope_unit_ids": [SOLNA_INTAKE, SOLNA_HOME_CARE],
            "given_at": (datetime.now().astimezone() - timedelta(minutes=1)).isoformat()})
        assert consent.status_code == 200, consent.text
        for p in participants:
            added = await client.post(f"/api/v1/sip-plans/{plan['id']}/items/needs",
                                      headers={**cluster.headers(p.user), "X-Acting-Unit": p.unit},
                                      json={"content": {"description": f"Behov {p.index}"}, "item_id": p.item_id})
            assert added.status_code == 200, added.text
        return str(plan["id"])


async def run(cluster: Cluster, args: argparse.Namespace) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine shares its CPUs with this run
    participants = []
    for i in range(args.participants):
        unit, user = UNITS[i % len(UNITS)]
        api = cluster.instances[i % len(cluster.instances)]
        participants.append(Participant(i, unit, user, api.http, api.ws, f"need-{i}"))
    plan_id = await setup_plan(cluster, participants)
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in participants]
    readers = [asyncio.create_task(follow(cluster, p, plan_id, r, stop)) for p, r in zip(participants, readies,
                                                                                        strict=True)]
    published: dict[tuple[str, int], float] = {}
    readies.append(asyncio.Event())
    readers.append(asyncio.create_task(tap(cluster.redis.url, plan_id, published, readies[-1], stop)))
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    started = time.time()
    until = started + args.seconds
    await asyncio.gather(*(write(cluster, p, plan_id, until) for p in participants))
    elapsed = time.time() - started

    expected = {(p.index, key) for w in participants for key in w.edits for p in participants if p is not w}
    for _ in range(max(1, int(args.drain / 0.05))):  # poll what the readers collected, bounded by --drain
        if all(key in participants[i].received for i, key in expected):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*readers)

    from_occurred, from_response, from_publish = [], [], []
    lost = 0
    for w in participants:
        for key, responded in w.edits.items():
            for p in participants:
                if p is w:
                    continue
                got = p.received.get(key)
                if got is None:
                    lost += 1
                    continue
                from_occurred.append((got[0] - got[1]) * 1000)
                if key in published:
                    from_publish.append((got[0] - published[key]) * 1000)
                from_response.append((got[0] - responded) * 1000)
    edits = sum(len(p.edits) for p in participants)
    requests = [ms for p in participants for ms in p.request_ms]

    def stats(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p99": None, "max": None}
        return {"p50": round(percentile(values, 0.5), 1), "p99": round(percentile(values, 0.99), 1),
                "max": round(max(values), 1)}

    return {
        "bench": "sip_room", "edits": edits, "edits_per_s": round(edits / elapsed, 1),
        "deliveries": len(from_occurred), "lost": lost, "conflicts": sum(p.conflicts for p in participants),
        "errors": sum(p.errors for p in participants),
        "latency_ms_from_publish": stats(from_publish), "latency_ms_from_occurred": stats(from_occurred),
        "latency_ms_from_response": stats(from_response),
        "request_ms": stats(requests), "target_p99_ms": 150,
        "setup": {"participants": args.participants, "instances": len(cluster.instances), "seconds": args.seconds,
                  "database": "postgresql", "broker": "redis (private)", "units": len(UNITS),
                  "edit": "POST items/needs/{own item} with its revision, one request at a time per writer",
                  "cpus": os.cpu_count(), "loadavg_1m_before": load_before,
                  "python": platform.python_version(), "machine": platform.machine()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the participants edit")
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--instances", type=int, choices=(1, 2), default=2, help="API processes")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for the last events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="samplan-sip-room-") as tmp, \
            running_cluster(Path(tmp), instances=args.instances) as cluster:
        result = asyncio.run(run(cluster, args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
