"""E-mail notices end to end: commit -> the SMTP server accepting the message, across an API restart.

Setup: a fresh PostgreSQL database, migrated and seeded with the demo tree; `--users` users (default 200) at the
Solna intake unit with e-mail on; a real SMTP server (aiosmtpd) in this process on a free port; the API as its
own processes (`samplan api`, `--instances`, default 2 as in production; development mode, SMTP_URL pointing
here), whose mail dispatchers share the outbox. This process
then commits `--notices` notices (default 1 000) in separate transactions at `--rate` per second, each one mail
row for one of the users (`server.persistence.mail_outbox.enqueue`, what a command's transaction writes), and in
the middle restarts the first API (SIGTERM, as a rolling deploy does; `--kill` for SIGKILL, a crash). It waits
until every row is sent, then prints one JSON line: p50/p99/max from commit to SMTP acceptance (ms), lost (rows never
received), duplicated (a row received more than once), the restart's kind and the load.

    .venv/bin/python bench/notify.py [--notices 1000] [--users 200] [--rate 100] [--kill]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.demo.seed import seed, stable_id  # noqa: E402
from server.persistence import mail_outbox  # noqa: E402
from server.persistence.database import create_engine, session_factory  # noqa: E402
from server.persistence.mail_models import MailOutboxRow, NotificationSettingsRow  # noqa: E402
from server.persistence.migrate import upgrade  # noqa: E402
from server.persistence.models import AssignmentRow, UnitRow, UserRow  # noqa: E402
from server.settings import normalise_database_url  # noqa: E402

POSTGRES = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
INTAKE = stable_id("unit", "solna-stad-intake")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def pg_database(action: str, name: str) -> str:
    admin = normalise_database_url(POSTGRES.rsplit("/", 1)[0] + "/postgres")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'{action} DATABASE "{name}"' + (" WITH (FORCE)" if action == "DROP" else ""))
    await engine.dispose()
    return normalise_database_url(POSTGRES.rsplit("/", 1)[0] + f"/{name}")


class Accepting:
    """The SMTP server's handler: when each outbox row's message was accepted (by its X-Samplan-Outbox-Id)."""

    def __init__(self) -> None:
        self.accepted: dict[int, float] = {}
        self.copies: Counter[int] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        row = int(str(message["X-Samplan-Outbox-Id"]))
        self.copies[row] += 1
        self.accepted.setdefault(row, time.time())
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = Path(env["SAMPLAN_DATA_DIR"]) / "api.log"
    with log.open("ab") as out:
        return subprocess.Popen([str(ROOT / ".venv/bin/samplan"), "api"], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError("the API did not start")


async def run(args: argparse.Namespace) -> dict[str, object]:
    name = f"samplan_bench_notify_{uuid.uuid4().hex[:10]}"
    url = await pg_database("CREATE", name)
    apis: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            await seed(session, now=now, with_cases=False)
            organisation = await session.scalar(select(UnitRow.organisation_id).where(UnitRow.id == INTAKE))
            users = [str(uuid.uuid4()) for _ in range(args.users)]
            await session.execute(insert(UserRow), [
                {"id": u, "username": f"bench{i}", "hsa_id": f"SE2321000016-BENCH{i:05d}", "display_name": "Bench",
                 "title": "", "organisation_id": organisation, "active": True} for i, u in enumerate(users)])
            await session.execute(insert(AssignmentRow), [
                {"user_id": u, "unit_id": INTAKE, "role": "user"} for u in users])
            await session.execute(insert(NotificationSettingsRow), [
                {"user_id": u, "email": f"bench{i}@bench.test", "email_enabled": True, "notices": True,
                 "deadlines": True, "sip_meetings": True, "delivery": "immediate", "digest_at": "07:00",
                 "updated_at": now} for i, u in enumerate(users)])
        settings_of = {s.user_id: s for s in await _settings(sessions)}

        handler = Accepting()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(handler, hostname="bench.smtp"), "127.0.0.1", 0)
        smtp_port = server.sockets[0].getsockname()[1]
        env = {**os.environ, "DATABASE_URL": url, "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
               "SAMPLAN_DEV_MODE": "1",
               "SAMPLAN_MAIL_POLL_SECONDS": "0.2", "REDIS_URL": ""}
        ports = [free_port() for _ in range(args.instances)]
        envs = [{**env, "SAMPLAN_API_PORT": str(p), "SAMPLAN_DATA_DIR": tempfile.mkdtemp(prefix="samplan-bench-api-")}
                for p in ports]
        apis = [start_api(e) for e in envs]
        for p in ports:
            await wait_ready(p, within=120)
        restarted = 0.0

        async def restart() -> None:  # the first API goes down mid-way and comes back; notices keep coming
            nonlocal restarted
            started = time.monotonic()
            apis[0].send_signal(signal.SIGKILL if args.kill else signal.SIGTERM)
            await asyncio.to_thread(apis[0].wait, 30)
            apis[0] = start_api(envs[0])
            await wait_ready(ports[0], within=120)
            restarted = time.monotonic() - started

        committed: dict[int, float] = {}
        interval = 1 / args.rate
        restart_at = args.notices // 2
        restarting: asyncio.Task[None] | None = None
        for n in range(args.notices):
            user = users[n % len(users)]
            async with sessions() as session, session.begin():
                await mail_outbox.enqueue(session, [mail_outbox.Notice(
                    f"bench:{n}", settings_of[user], INTAKE, "notice", "AdmissionNoticeSent", "discharge_case",
                    str(uuid.uuid4()))], datetime.now(UTC))
                row_id = await session.scalar(select(MailOutboxRow.id).where(MailOutboxRow.dedupe_key == f"bench:{n}"))
            committed[int(row_id or 0)] = time.time()
            if n == restart_at and not args.no_restart:
                restarting = asyncio.create_task(restart())
            await asyncio.sleep(interval)

        if restarting is not None:
            await restarting
        deadline = time.monotonic() + 120
        while len(handler.accepted) < len(committed) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # the server's thread of acceptances is the handler's dict: poll it
        async with sessions() as session:
            queued = await session.scalar(select(func.count()).select_from(MailOutboxRow)
                                          .where(MailOutboxRow.status != "sent"))
        latencies = [(handler.accepted[r] - t) * 1000 for r, t in committed.items() if r in handler.accepted]
        server.close()
        await engine.dispose()
        return {
            "bench": "notify", "notices": args.notices, "users": args.users, "rate_per_s": args.rate,
            "instances": args.instances,
            "restart": "none" if args.no_restart else "SIGKILL" if args.kill else "SIGTERM",
            "restart_seconds": round(restarted, 2),
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1), "lost": len(committed) - len(handler.accepted),
            "duplicated": sum(c - 1 for c in handler.copies.values() if c > 1), "not_marked_sent": queued,
            "backend": "postgresql", "python": platform.python_version(), "load": os.getloadavg(),
            "cpus": os.cpu_count()}
    finally:
        for api in apis:
            if api.poll() is None:
                api.terminate()
                await asyncio.to_thread(api.wait, 30)
        await pg_database("DROP", name)


async def _settings(sessions: object) -> list[NotificationSettingsRow]:
    async with sessions() as session:  # type: ignore[operator]
        return list(await session.scalars(select(NotificationSettingsRow)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="notices committed per second")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the API mid-way instead of SIGTERM")
    parser.add_argument("--instances", type=int, default=2,
                        help="API instances sharing the outbox (a rolling restart restarts one; 1: all mail waits)")
    parser.add_argument("--no-restart", action="store_true", help="no restart (the steady-state latency)")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
