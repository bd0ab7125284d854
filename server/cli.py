"""The `samplan` command: run the processes, migrate, seed, and (in development) hand out demo tokens."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from server.settings import Settings, get_settings

if TYPE_CHECKING:
    from server.access_log import Keyring

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samplan", description="Samplan: coordinated discharge and SIP.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="API and UI on embedded defaults with demo data (development mode)")
    sub.add_parser("api", help="run the API (Litestar under uvicorn)")
    sub.add_parser("ui", help="run the UI (NiceGUI)")
    sub.add_parser("migrate", help="migrate the database to the newest schema")
    seed_parser = sub.add_parser("seed", help="migrate, then create the demo world if the database is empty")
    seed_parser.add_argument("--volume", choices=["stockholm"], default=None,
                             help="instead: a region-sized case history (docs/demo-data.md)")
    seed_parser.add_argument("--years", type=int, default=5, help="years of history (--volume)")
    seed_parser.add_argument("--scale", type=float, default=1.0, help="1: about 60 000 cases a year (--volume)")
    seed_parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same data set")
    seed_parser.add_argument("--now", default=None, help="ISO time the history ends at (default: now)")
    seed_parser.add_argument("--workers", type=int, default=None, help="generating processes (default: CPUs)")
    token = sub.add_parser("token", help="print a bearer token for a demo user (development mode only)")
    token.add_argument("username")
    sub.add_parser("users", help="list the demo users with their units and roles")
    sub.add_parser("verify-access-log", help="check the access log's hash chain with the key and against the "
                                              "checkpoint file; exit 1 if it is broken, 3 on a warning")
    sub.add_parser("seal-access-log", help="chain the access-log rows not yet sealed (the API does this itself)")
    sub.add_parser("checkpoint-access-log",
                   help="append the access log's chain head, signed, to SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE")
    purge = sub.add_parser("purge-access-log",
                           help="remove access-log rows older than the retention (at least 5 years)")
    purge.add_argument("--retention-days", type=int, default=None,
                       help="override SAMPLAN_ACCESS_LOG_RETENTION_DAYS (never below 5 years)")
    reserve = sub.add_parser("reserve-export",
                             help="write each unit's reserve list (PDF, CSV) and a page per open case to a directory "
                                  "only its owner can read; schedule it (docs/reservrutin.md)")
    reserve.add_argument("--to", required=True, help="the directory to write to (created 0700)")
    reserve.add_argument("--unit", action="append", default=None,
                         help="a unit id (repeat for several; default: every active unit)")
    rebuild = sub.add_parser("rebuild-read-models",
                             help="write every list's query rows again from the stored cases and SIP plans")
    rebuild.add_argument("--batch", type=int, default=1000, help="aggregates per round trip (default 1000)")
    sub.add_parser("mail-dispatcher", help="send the e-mail outbox through SMTP_URL and run the deadline "
                                           "escalation scan, until SIGTERM (the API runs one itself unless "
                                           "SAMPLAN_MAIL_DISPATCHER=0)")
    args = parser.parse_args(argv)
    if args.command == "dev" and not os.environ.get("SAMPLAN_DEV_MODE"):
        # `samplan dev` is how development mode is asked for (besides SAMPLAN_DEV_MODE=1); an explicit 0 wins.
        os.environ["SAMPLAN_DEV_MODE"] = "1"
        get_settings.cache_clear()
    settings = get_settings()
    handlers: dict[str, Callable[[], int]] = {
        "dev": lambda: dev(settings), "api": lambda: api(settings), "ui": ui, "migrate": lambda: migrate(settings),
        "seed": lambda: seed_volume(settings, args) if getattr(args, "volume", None) else seed(settings),
        "token": lambda: print_token(settings, args.username),
        "users": lambda: list_users(settings), "verify-access-log": lambda: verify_access_log(settings),
        "seal-access-log": lambda: seal_access_log(settings),
        "checkpoint-access-log": lambda: checkpoint_access_log(settings),
        "purge-access-log": lambda: purge_access_log(settings, getattr(args, "retention_days", None)),
        "reserve-export": lambda: reserve_export(settings, args.to, args.unit),
        "rebuild-read-models": lambda: rebuild_read_models(settings, getattr(args, "batch", 1000)),
        "mail-dispatcher": lambda: mail_dispatcher(settings)}
    return handlers[args.command]()


def mail_dispatcher(settings: Settings) -> int:
    """The mail dispatcher on its own (for an operator who runs API instances with SAMPLAN_MAIL_DISPATCHER=0).
    SIGTERM/SIGINT: finish the message in hand, give the other claimed rows back, exit 0."""
    from server.persistence.database import create_engine, session_factory
    from server.persistence.unit_of_work import UnitOfWork
    from server.runtime import mail_dispatcher as build
    from server.runtime import payment_policy

    if not settings.smtp_url:
        print("SMTP_URL is not set: nothing can be sent", file=sys.stderr)
        return 2

    async def run() -> None:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        policy = payment_policy(settings.payment_policy)
        dispatcher = build(settings, sessions, lambda: UnitOfWork(sessions, None, policy), policy)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        dispatcher.start()
        print("mail dispatcher running", flush=True)
        try:
            await stopping.wait()
        finally:
            await dispatcher.stop()
            await engine.dispose()

    asyncio.run(run())
    return 0


def migrate(settings: Settings) -> int:
    from server.persistence.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    return 0


def seed(settings: Settings) -> int:
    migrate(settings)
    created = asyncio.run(_seed(settings))
    print("demo world created" if created else "the database already has data; nothing seeded")
    return 0


def rebuild_read_models(settings: Settings, batch: int) -> int:
    """`samplan rebuild-read-models`: the query rows from the documents (server/persistence/read_models.py), in one
    transaction, `batch` aggregates at a time; prints the counts and the time it took as one JSON line."""
    import json
    import time

    from server.persistence.database import create_engine
    from server.persistence.read_models import rebuild_read_models as rebuild
    from server.runtime import payment_policy

    async def run() -> dict[str, Any]:
        engine = create_engine(settings.database_url)
        try:
            started = time.perf_counter()
            done = await rebuild(engine, policy=payment_policy(settings.payment_policy), batch=max(1, batch))
            return {**done.__dict__, "seconds": round(time.perf_counter() - started, 2)}
        finally:
            await engine.dispose()

    print(json.dumps(asyncio.run(run())))
    return 0


async def _seed(settings: Settings) -> bool:
    from server.demo.seed import seed as seed_world
    from server.persistence.database import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await seed_world(session, now=datetime.now(UTC))
    finally:
        await engine.dispose()


# An idle HTTP connection stays open this long. Longer than our clients keep idle connections (httpx: 5 s, the
# UI's API client and scripts), so a client never sends a request on a connection the server is just closing: with
# uvicorn's default (also 5 s) that race answered a POST with a dropped connection (httpx.ReadError) under load.
KEEP_ALIVE_SECONDS = 30


def seed_volume(settings: Settings, args: argparse.Namespace) -> int:
    """`samplan seed --volume stockholm`: migrate, then load a generated case history (server/demo/bulk.py)."""
    from server.demo import bulk, volume
    from server.persistence.database import create_engine
    from server.runtime import payment_policy

    keys = _keyring(settings)
    if keys is None:
        return 2
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC).replace(microsecond=0)
    if now.tzinfo is None:
        print("--now needs a time zone (e.g. 2026-12-01T12:00:00+00:00)", file=sys.stderr)
        return 2
    if args.years < 1 or not 0 < args.scale <= 5:
        print("--years must be at least 1 and --scale in (0, 5]", file=sys.stderr)
        return 2
    migrate(settings)
    plan = volume.Plan(years=args.years, scale=args.scale, seed=args.seed, now=now.astimezone(UTC),
                       policy=payment_policy(settings.payment_policy))

    async def run() -> bulk.Summary:
        engine = create_engine(settings.database_url)
        try:
            return await bulk.load(engine, plan, keys, workers=args.workers,
                                   progress=lambda line: print(line, file=sys.stderr, flush=True))
        finally:
            await engine.dispose()

    try:
        summary = asyncio.run(run())
    except bulk.NotEmpty as exc:
        print(f"samplan seed --volume: {exc}; nothing loaded", file=sys.stderr)
        return 1
    print(json.dumps({"volume": args.volume, "years": args.years, "scale": args.scale, "seed": args.seed,
                      "now": plan.now.isoformat(), **dataclasses.asdict(summary)}))
    return 0


def api(settings: Settings) -> int:
    if problem := settings.identity_provider_problem():  # fail closed: no passwordless login by accident
        print(f"samplan api: refusing to start: {problem}", file=sys.stderr)
        return 2
    import uvicorn

    from server.logs import log_config

    # The stream answers a frame over SAMPLAN_STREAM_MAX_FRAME_BYTES with an error frame and close 1009; a far
    # larger one uvicorn refuses itself (also 1009) before it is buffered whole (its default allows 16 MiB).
    frame_limit = settings.stream_max_frame_bytes
    ws_max_size = max(2 * frame_limit, 65536) if frame_limit else 16 * 2**20
    uvicorn.run("server.api.app:create_app", factory=True, host=settings.api_host, port=settings.api_port,
                timeout_graceful_shutdown=5, log_config=log_config(), access_log=False, ws_max_size=ws_max_size,
                timeout_keep_alive=KEEP_ALIVE_SECONDS, ws_ping_interval=settings.stream_ping_seconds,
                ws_ping_timeout=settings.stream_ping_seconds)
    return 0


UI_COMMAND = [sys.executable, "-m", "ui"]  # the UI is its own process (ui/__main__.py); `server` never imports it


def ui() -> int:
    """Becomes the UI process (exec): signals reach NiceGUI directly, as when it is started on its own."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, UI_COMMAND)  # noqa: S606 - our own command, no shell
    return 0  # not reached


class _Stop(Exception):
    """SIGTERM (or SIGHUP) to `samplan dev`: stop both children as on Ctrl-C."""


def dev(settings: Settings) -> int:
    """Both processes on embedded defaults. Ctrl-C, SIGTERM or SIGHUP stops both (and waits for them)."""
    if not settings.dev_mode:
        print("samplan dev runs only in development mode, but SAMPLAN_DEV_MODE is 0", file=sys.stderr)
        return 2
    seed(settings)
    env = {**os.environ, "SAMPLAN_DEV_MODE": "1"}
    # Both processes must agree on where the API (and its development identity provider) is, also on other ports.
    api_host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host  # noqa: S104
    env["SAMPLAN_API_URL"] = env.get("SAMPLAN_API_URL") or f"http://{api_host}:{settings.api_port}"
    env["OIDC_ISSUER"] = env.get("OIDC_ISSUER") or f"{env['SAMPLAN_API_URL']}/dev-idp"
    # The UI keeps signed-in sessions (tokens) in files: in the data folder, not in the working directory.
    env["NICEGUI_STORAGE_PATH"] = env.get("NICEGUI_STORAGE_PATH") or str((settings.data_dir / "ui").resolve())
    commands = {"api": [sys.executable, "-m", "server.cli", "api"], "ui": UI_COMMAND}
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:  # once: a second signal must not cut the children's shutdown short
            stopping = True
            raise _Stop

    handlers = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        procs.extend(subprocess.Popen(command, env=env) for command in commands.values())  # noqa: S603 - ours
        print(f"Samplan API: http://{settings.api_host}:{settings.api_port}/schema  "
              f"UI: http://{settings.ui_host}:{settings.ui_port}  (Ctrl-C stops)")
        print("Demo users: samplan users; a token: samplan token ward.nurse")
        while all(p.poll() is None for p in procs):
            try:
                procs[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return max((p.returncode or 0) for p in procs) if procs else 0


def print_token(settings: Settings, username: str) -> int:
    if not settings.dev_mode:
        print("tokens are issued only in development mode (SAMPLAN_DEV_MODE=1)", file=sys.stderr)
        return 2
    user = asyncio.run(_user(settings, username))
    if user is None:
        print(f"no such user: {username} (see: samplan users)", file=sys.stderr)
        return 1
    from server.auth.tokens import DevSigningKey

    key = DevSigningKey.load_or_create(settings.dev_key_path)
    print(key.issue(subject=user[0], issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                    claims={"hsa_id": user[1], "preferred_username": username}))
    return 0


async def _user(settings: Settings, username: str) -> tuple[str, str] | None:
    from sqlalchemy import select

    from server.persistence.database import create_engine, session_factory
    from server.persistence.models import UserRow

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(UserRow.id, UserRow.hsa_id).where(UserRow.username == username)
            row = (await session.execute(query)).first()
            return (row[0], row[1]) if row else None
    finally:
        await engine.dispose()


def list_users(settings: Settings) -> int:
    for line in asyncio.run(_users(settings)):
        print(line)
    return 0


async def _users(settings: Settings) -> list[str]:
    from server.persistence.database import create_engine, session_factory
    from server.persistence.repositories import DirectoryRepository

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            directory = DirectoryRepository(session)
            lines = []
            for user in await directory.users():
                assignments = await directory.assignments(user.id)
                units = await directory.units(a.unit_id for a in assignments)
                roles = ", ".join(f"{units[a.unit_id].name} ({a.role}"
                                  + (", protected identity" if a.protected_identity_access else "") + ")"
                                  for a in assignments)
                lines.append(f"{user.username:20} {user.display_name:18} {user.title:40} {roles}")
            return lines
    finally:
        await engine.dispose()


UNSEALED_TOO_LONG = 3  # exit status of verify-access-log: the chain is intact, with a warning (e.g. no sealer runs)


def _keyring(settings: Settings) -> Keyring | None:
    """The access log's keyring, or None after telling why there is none (no key outside development mode)."""
    from server.access_log_keys import keyring

    try:
        return keyring(settings)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return None


def verify_access_log(settings: Settings) -> int:
    """Exit 0: intact and sealed up to the grace period; 1: the chain is broken (tampering, or a lost row), with
    the key and against the checkpoint file; 2: no key; 3: intact, with a warning (rows have waited longer than
    SAMPLAN_ACCESS_LOG_UNSEALED_WARNING_SECONDS to be sealed, or no checkpoint file outside development mode)."""
    from datetime import timedelta

    from sqlalchemy.ext.asyncio import AsyncSession

    from server import access_log, access_log_checkpoint_file

    grace = timedelta(seconds=settings.access_log_unsealed_warning_seconds)
    keys = _keyring(settings)
    if keys is None:
        return 2

    async def run(session: AsyncSession) -> access_log.Verification:
        return await access_log_checkpoint_file.verify(
            session, keys, settings.access_log_checkpoint_file, warn_without=not settings.dev_mode,
            now=datetime.now(UTC), unsealed_grace=grace)

    result = asyncio.run(_in_session(settings, run))
    for seq, problem in result.problems:
        print(f"row {seq}: {problem}" if seq is not None else problem)
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"access log {'intact' if result.ok else 'BROKEN'}: {result.rows_checked} rows checked"
          + (f" (from checkpoint at {result.checkpoint_seq})" if result.checkpoint_seq else "")
          + f", {result.unsealed} not yet sealed"
          + (f", {result.external_checked} external checkpoints matched"
             if settings.access_log_checkpoint_file is not None else ""))
    if not result.ok:
        return 1
    return UNSEALED_TOO_LONG if result.warnings else 0


def seal_access_log(settings: Settings) -> int:
    """What every API instance's sealer does each interval, once: for a database no API serves right now."""
    from server import access_log
    from server.persistence.database import create_engine, session_factory

    keys = _keyring(settings)
    if keys is None:
        return 2

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await access_log.seal_pending(session_factory(engine), keys)
        finally:
            await engine.dispose()

    print(f"sealed {asyncio.run(run())} access-log rows")
    return 0


def checkpoint_access_log(settings: Settings, event: str = "checkpoint") -> int:
    """Append the chain's head, signed, to the checkpoint file (run it every few minutes from cron): rows removed
    from the end afterwards, or a log rolled back, no longer pass verification. Exit 1 if the head does not
    match its row (nothing written), 2 without a key or a checkpoint file."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from server import access_log, access_log_checkpoint_file

    path = settings.access_log_checkpoint_file
    if path is None:
        print("SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE is not set", file=sys.stderr)
        return 2
    keys = _keyring(settings)
    if keys is None:
        return 2

    async def run(session: AsyncSession) -> dict[str, Any]:
        return await access_log.external_checkpoint(session, keys, now=datetime.now(UTC), event=event)

    try:
        line = asyncio.run(_in_session(settings, run))
    except access_log.ChainBroken as exc:
        print(f"{exc}; nothing written (see: samplan verify-access-log)", file=sys.stderr)
        return 1
    access_log_checkpoint_file.append(path, line)
    print(f"access-log checkpoint written: head {line['seq']}, start {line['first_seq']}")
    return 0


def purge_access_log(settings: Settings, retention_days: int | None) -> int:
    """Purge only an intact log: sealed rows are removed behind a signed checkpoint, so verification goes on
    working. Rows still unsealed stay (they are purged by a later run, once sealed). With a checkpoint file, the
    new start is appended to it after the purge commits."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from domain.administration import check_retention
    from domain.errors import InvalidValue
    from server import access_log, access_log_checkpoint_file

    days = retention_days if retention_days is not None else settings.access_log_retention_days
    try:
        check_retention(days)
    except InvalidValue as exc:
        print(exc.message, file=sys.stderr)
        return 2
    keys = _keyring(settings)
    if keys is None:
        return 2

    async def run(session: AsyncSession) -> access_log.Purge | None:
        verified = await access_log_checkpoint_file.verify(session, keys, settings.access_log_checkpoint_file,
                                                           warn_without=False)
        if not verified.ok:
            return None
        return await access_log.purge(session, keys, now=datetime.now(UTC), retention_days=days)

    result = asyncio.run(_in_session(settings, run, write=True))
    if result is None:
        print("the access log does not verify; nothing purged (see: samplan verify-access-log)", file=sys.stderr)
        return 1
    print(f"purged {result.rows_purged} access-log rows older than {result.cutoff.isoformat()}")
    if result.rows_purged and settings.access_log_checkpoint_file is not None:
        return checkpoint_access_log(settings, event="purge")
    return 0


def reserve_export(settings: Settings, to: str, units: list[str] | None) -> int:
    """Exit 0: every list written; 1: a unit was not found or failed (the others are written, its old list kept)."""
    from pathlib import Path

    from server.exports.reserve_files import write_index, write_unit
    from server.persistence.database import create_engine, session_factory
    from server.persistence.unit_of_work import UnitOfWork
    from server.queries.reserve import ReserveQuery
    from server.runtime import payment_policy
    from server.views.reserve import ReserveList

    async def run() -> int:
        engine = create_engine(settings.database_url)
        policy = payment_policy(settings.payment_policy)
        sessions = session_factory(engine)
        query = ReserveQuery(lambda: UnitOfWork(sessions, None, policy), policy, lambda: datetime.now(UTC))
        target, failed, written = Path(to), 0, []
        try:
            for unit_id in units or await query.active_unit_ids():
                try:
                    reserve: ReserveList = await query.operator_list(unit_id)
                    folder = await asyncio.to_thread(write_unit, target, reserve)
                except Exception as exc:  # one unit's failure must not stop the others' lists
                    failed += 1
                    print(f"unit {unit_id}: not written ({type(exc).__name__}: {exc})", file=sys.stderr)
                    continue
                written.append(reserve)
                print(f"unit {unit_id}: {len(reserve.sheets)} open cases -> {folder}")
            if written:
                write_index(target, written)
        finally:
            await engine.dispose()
        return 1 if failed else 0

    return asyncio.run(run())


async def _in_session(settings: Settings, work: Callable[[Any], Awaitable[T]], write: bool = False) -> T:
    from server.persistence.database import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            result = await work(session)
            if write:
                await session.commit()
            return result
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
