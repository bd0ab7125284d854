"""The production topology with real processes, attacked: API ×2, UI ×2 and Caddy (Debian's, with deploy/Caddyfile as
compose.yaml runs it) on loopback ports, PostgreSQL and a private Redis; two people signed in through the proxy in
Chromium. A UI instance and an API instance are killed with SIGKILL:

- UI killed: its browsers are moved to the other instance and reload their page there, still signed in (sessions
  are in Redis: NICEGUI_REDIS_URL), within 3 s, and see later changes live.
- API killed while writes go on (the UI's own API client through the proxy, and a click in the browser): no write
  fails, none is applied twice (the UI sends a failed command again with its Idempotency-Key), and every change
  reaches the other person's page live (the UIs' streams resume on the surviving API).

Recovery times are printed as one JSON line (`make topology-test` shows it). Runs on its own xdist worker
(tests/conftest.py, XDIST_GROUPS) and starts no shared e2e stack; every port is a free one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.auth.tokens import DevSigningKey
from server.persistence.migrate import upgrade
from tests.conftest import _create_pg_database, _drop_pg_database, _seed
from tests.e2e.cases import WARD, api_headers, invented_identity, new_case, row
from tests.e2e.conftest import HOST, ROOT, Stack, free_port, login
from tests.realtime.cluster import RedisServer, wait_until
from tests.server.conftest import RONNVIKEN
from ui.api_client import ApiClient, ApiError

pytestmark = pytest.mark.postgres

CADDY = shutil.which("caddy") or "/usr/bin/caddy"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
START_SECONDS = 60.0
BACK_WITHIN_SECONDS = 3.0  # issue 17: a killed UI instance's user is back on the same page, signed in, within 3 s
WRITE_WAIT_BOUND_SECONDS = 5.0
NURSE_BOARD = "Utskrivningstavla – Avd 12 Geriatrik"
INBOX = "Inkorg – Biståndsenheten Solna"
_INHERITED_PREFIXES = ("SAMPLAN_", "OIDC_", "NICEGUI_", "PYTEST_", "XDG_")
_INHERITED_NAMES = ("DATABASE_URL", "REDIS_URL", "AUTHLIB_INSECURE_TRANSPORT")


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    probe: str  # a URL that answers 200 once the process serves
    popen: subprocess.Popen[bytes] | None = None

    @property
    def dial(self) -> str:
        return self.probe.split("/")[2]

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT)

    def serving(self) -> bool:
        if self.popen is None or self.popen.poll() is not None:
            raise AssertionError(f"{self.name} is not running:\n{self.log_tail()}")
        try:
            return httpx.get(self.probe, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone, as when a container or a machine dies."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Topology:
    proxy_url: str  # what browsers reach
    internal_url: str  # the UIs' way to the API
    data_dir: Path
    env: dict[str, str]
    redis: RedisServer
    cookie_secret: str
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def stack(self) -> Stack:
        """The e2e helpers' view (tests/e2e/cases.py): the API and the UI both behind the proxy."""
        return Stack(api_url=self.proxy_url, ui_url=self.proxy_url, data_dir=self.data_dir, env=self.env)

    def ui_serving(self, page_cookies: list[Any]) -> Process:
        """The UI instance Caddy's sticky cookie names (its value is the HMAC-SHA256 of the upstream's address)."""
        value = next((c["value"] for c in page_cookies if c["name"] == "samplan_ui"), None)
        for process in self.processes.values():
            digest = hmac.new(self.cookie_secret.encode(), process.dial.encode(), hashlib.sha256).hexdigest()
            if process.name.startswith("ui") and digest == value:
                return process
        raise AssertionError(f"no UI instance matches the sticky cookie {value!r}")

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.log_tail()}" for p in self.processes.values())


def _base_env() -> dict[str, str]:
    """This process's environment without any setting of ours (each process gets exactly the ones given)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES}


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not Path(CADDY).exists():
        pytest.fail("caddy is missing: apt-get install -y caddy (.ci/run does this)")
    data_dir = tmp_path_factory.mktemp("topology")
    database = f"samplan_topology_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_create_pg_database(database))
    redis = RedisServer(data_dir)
    proxy_port, internal_port = free_port(), free_port()
    proxy_url, internal_url = f"http://{HOST}:{proxy_port}", f"http://{HOST}:{internal_port}"
    client_secret, cookie_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = _base_env() | {
        "SAMPLAN_DEV_MODE": "1", "SAMPLAN_DATA_DIR": str(data_dir), "DATABASE_URL": url,
        "SAMPLAN_ACCESS_LOG_KEY": secrets.token_urlsafe(32), "SAMPLAN_RELAY_INTERVAL_SECONDS": "0.2",
        "OIDC_ISSUER": f"{proxy_url}/dev-idp", "SAMPLAN_UI_BASE_URL": proxy_url, "SAMPLAN_API_URL": internal_url,
        "OIDC_CLIENT_SECRET": client_secret, "SAMPLAN_DEV_OIDC_CLIENT_SECRET": client_secret,
        "SAMPLAN_UI_STORAGE_SECRET": secrets.token_urlsafe(32), "PYTHONUNBUFFERED": "1"}
    running = Topology(proxy_url, internal_url, data_dir, env, redis, cookie_secret)
    try:
        redis.start()
        env.update(REDIS_URL=redis.url, NICEGUI_REDIS_URL=redis.url.rsplit("/", 1)[0] + "/1")
        DevSigningKey.load_or_create(data_dir / "dev-signing-key.json")  # one key for both APIs, made once
        ports = {name: free_port() for name in ("api1", "api2", "ui1", "ui2")}
        for name, port in ports.items():
            if name.startswith("api"):
                args = [sys.executable, "-m", "server.cli", "api"]
                extra = {"SAMPLAN_API_HOST": HOST, "SAMPLAN_API_PORT": str(port)}
                probe = f"http://{HOST}:{port}/ready"
            else:
                args = [sys.executable, "-m", "ui"]
                extra = {"SAMPLAN_UI_HOST": HOST, "SAMPLAN_UI_PORT": str(port),
                         "NICEGUI_STORAGE_PATH": str(data_dir / f"nicegui-{name}")}
                probe = f"http://{HOST}:{port}/health"
            running.processes[name] = Process(name, args, env | extra, data_dir / f"{name}.log", probe)
        upstreams = {kind: " ".join(f"{HOST}:{port}" for name, port in ports.items() if name.startswith(kind))
                     for kind in ("api", "ui")}
        caddy_env = _base_env() | {
            "SAMPLAN_PROXY_BIND": HOST, "SAMPLAN_PROXY_HTTP": f":{proxy_port}",
            "SAMPLAN_PROXY_INTERNAL": f":{internal_port}", "SAMPLAN_PROXY_API_UPSTREAMS": upstreams["api"],
            "SAMPLAN_PROXY_UI_UPSTREAMS": upstreams["ui"], "SAMPLAN_PROXY_DEV_PATHS": "/dev-idp/*",
            "SAMPLAN_PROXY_COOKIE_SECRET": cookie_secret, "HOME": str(data_dir),
            "XDG_DATA_HOME": str(data_dir / "caddy-data"), "XDG_CONFIG_HOME": str(data_dir / "caddy-config")}
        running.processes["caddy"] = Process(
            "caddy", [CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], caddy_env,
            data_dir / "caddy.log", f"{proxy_url}/ready")
        for name in ("ui1", "ui2", "caddy"):  # they need no database: they start while it is made
            running.processes[name].start()
        upgrade(url)
        asyncio.run(_seed(url))
        for name in ("api1", "api2"):
            running.processes[name].start()
        for process in running.processes.values():
            wait_until(process.serving, START_SECONDS, f"{process.name} to serve\n{running.logs()}", interval=0.1)
        yield running
    finally:
        for process in running.processes.values():
            process.terminate()  # all at once, then wait for each
        for process in running.processes.values():
            process.wait()
        redis.stop()
        asyncio.run(_drop_pg_database(database))


@contextlib.asynccontextmanager
async def person(browser: Browser, topology: Topology, username: str, start: str) -> AsyncIterator[Page]:
    """A browser of its own, signed in through the proxy (the development identity provider behind it)."""
    context: BrowserContext = await browser.new_context(base_url=topology.proxy_url, locale="sv-SE",
                                                        timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await login(page, username, next=start)
        yield page
    finally:
        await context.close()


async def until(condition: Any, what: str, within: float) -> float:
    """Poll `condition` (sync or async) until it holds; the seconds it took. Fails after `within`."""
    started = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Writes:
    """Commands as the UI sends them (its own API client, through the proxy's internal listener), timed."""

    client: ApiClient
    headers: dict[str, str]
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def one(self, coroutine: Any) -> dict[str, Any] | None:
        started = time.monotonic()
        try:
            result: dict[str, Any] = await coroutine
        except ApiError as error:
            self.failures.append(f"{error.status} {error.code}: {error.detail or error.message}")
            return None
        finally:
            self.seconds.append(time.monotonic() - started)
        self.cases[result["id"]] = result
        return result

    async def case(self, token: str, name: str) -> None:
        """Register a case, then send its admission notice: two writes."""
        body = {"ward_unit_id": WARD, "admitted_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "patient": {"identity": invented_identity(), "name": name, "address": "Provgatan 3",
                            "municipality_code": "0184", "listed_unit_id": RONNVIKEN}}
        case = await self.one(self.client.register_case(token, body, idempotency_key=str(uuid.uuid4())))
        if case is not None:
            await self.one(self.client.action(token, case["id"], "admission-notice",
                                              {"expected_version": case["version"]}, acting_unit=None))


async def test_killing_a_ui_and_an_api_instance_loses_no_session_write_or_change(browser: Browser,
                                                                                 topology: Topology) -> None:
    figures: dict[str, Any] = {"test": "topology_failover", "caddy": _caddy_version()}
    async with person(browser, topology, "ward.nurse", "/tavla") as nurse, \
            person(browser, topology, "needs.assessor", "/inkorg") as assessor:
        await expect(nurse.get_by_role("heading", name=NURSE_BOARD)).to_be_visible()
        await expect(assessor.get_by_role("heading", name=INBOX)).to_be_visible()
        await _sessions_are_shared_and_expire(topology)

        # ----- a UI instance dies: the nurse is moved to the other one, still signed in, on the same page ----------
        dead_ui = topology.ui_serving(await nurse.context.cookies())
        loads: list[float] = []
        nurse.on("load", lambda _: loads.append(time.monotonic()))
        killed = time.monotonic()
        dead_ui.kill()
        await until(lambda: loads, "the nurse's page to reload on the other instance", within=15)
        await expect(nurse.get_by_role("heading", name=NURSE_BOARD)).to_be_visible()
        back = time.monotonic() - killed
        assert nurse.url == f"{topology.proxy_url}/tavla", f"not back on the board: {nurse.url}"
        assert topology.ui_serving(await nurse.context.cookies()) is not dead_ui
        figures["ui_kill_to_reload_s"] = round(loads[0] - killed, 2)  # the rest: the page built on the other one
        figures["ui_kill_to_signed_in_s"] = round(back, 2)
        assert back <= BACK_WITHIN_SECONDS, f"back on the page only after {back:.1f} s\n{topology.logs()}"

        after_ui_kill = await new_case(topology.stack, "Greta Omstart")  # later changes arrive live
        await expect(row(nurse, after_ui_kill["id"])).to_contain_text("Inskriven (utkast)")

        # ----- an API instance dies while writes go on: none fails, none is doubled, all are seen live ----------
        writes = Writes(ApiClient(topology.internal_url), api_headers(topology.stack, "ward.nurse"))
        token = writes.headers["Authorization"].removeprefix("Bearer ")
        reloads_before = len(loads)
        try:
            load = asyncio.gather(*(_keep_writing(writes, token, worker) for worker in range(4)))
            await until(lambda: len(writes.cases) >= 4, "the first writes", within=20)
            topology.processes["api1"].kill()
            clicked = await _send_notice_in_the_browser(nurse, after_ui_kill)
            await load
        finally:
            await writes.client.close()
        assert not writes.failures, f"writes failed while an API instance died: {writes.failures}"
        figures.update(api_kill_writes=len(writes.seconds), api_kill_failed_writes=len(writes.failures),
                       api_kill_write_p50_s=round(statistics.median(writes.seconds), 3),
                       api_kill_write_max_s=round(max(writes.seconds), 3),
                       api_kill_client_retries=writes.client.retries, api_kill_click_to_change_s=round(clicked, 2))
        # Issue 17's goal is 1 s; the bound leaves room for a loaded machine and still fails a blocked proxy (10 s).
        assert max(writes.seconds) < WRITE_WAIT_BOUND_SECONDS, f"a write waited {max(writes.seconds):.1f} s"

        # Every case the writes made shows, in its final state, on the nurse's board and in the assessor's inbox.
        started = time.monotonic()
        for case_id in writes.cases:
            await expect(row(nurse, case_id)).to_contain_text("Planering", timeout=20_000)
            await expect(row(assessor, case_id)).to_be_visible(timeout=20_000)
        await expect(row(assessor, after_ui_kill["id"])).to_be_visible()
        figures["api_kill_last_change_seen_s"] = round(time.monotonic() - started, 2)
        figures["live_changes_seen"] = len(writes.cases) + 1
        assert len(loads) == reloads_before, "a page was reloaded to see the changes"
        await _no_case_doubled(topology, writes)
    print(json.dumps(figures))


async def _keep_writing(writes: Writes, token: str, worker: int) -> None:
    """Writes for about 3 s (the API instance is killed meanwhile)."""
    deadline = time.monotonic() + 3
    serial = 0
    while time.monotonic() < deadline:
        serial += 1
        await writes.case(token, f"Last {worker}-{serial}")


async def _send_notice_in_the_browser(nurse: Page, case: dict[str, Any]) -> float:
    """Right after the API instance died: the nurse sends the admission notice from her board. Seconds to the row."""
    nurse_row = row(nurse, case["id"])
    started = time.monotonic()
    await nurse_row.get_by_role("button", name="Åtgärder för Greta Omstart").click()
    await nurse.get_by_role("menuitem", name="Skicka inskrivningsmeddelande").click()
    await expect(nurse_row).to_contain_text("Planering")
    seconds = time.monotonic() - started
    await expect(nurse.get_by_text("Samplan-servern svarar inte")).to_have_count(0)
    return seconds


async def _sessions_are_shared_and_expire(topology: Topology) -> None:
    """The signed-in browsers' sessions are in Redis (both UI instances read them), each with an expiry."""
    keys = await asyncio.to_thread(_redis, topology, "--scan", "--pattern", "nicegui:user-*")
    signed_in = [k for k in keys.split() if "samplan_session" in await asyncio.to_thread(_redis, topology, "GET", k)]
    assert len(signed_in) >= 2, f"the sessions are not in Redis: {keys!r}"
    for key in signed_in:
        ttl = int(await asyncio.to_thread(_redis, topology, "TTL", key))
        assert 0 < ttl <= 12 * 3600, f"{key} expires in {ttl} s"
    async with httpx.AsyncClient(timeout=2) as http:
        health = await http.get(topology.processes["ui2"].probe)
    assert "set-cookie" not in health.headers, "a health check got a session"


async def _no_case_doubled(topology: Topology, writes: Writes) -> None:
    """Each registration made one case, each admission notice one change: versions and counts as sent."""
    async with httpx.AsyncClient(base_url=topology.proxy_url, timeout=10) as http:
        response = await http.get("/api/v1/cases", params={"unit_id": WARD, "limit": 500}, headers=writes.headers)
    assert response.status_code == 200, response.text
    listed = [c for c in response.json()["items"] if c["patient"]["name"].startswith("Last ")]
    assert len(listed) == len(writes.cases), "a registration was applied twice (or lost)"
    assert all(c["version"] == 2 for c in listed), [c["version"] for c in listed]


def _redis(topology: Topology, *args: str) -> str:
    result = subprocess.run(["redis-cli", "-p", str(topology.redis.port), "-n", "1", *args],
                            capture_output=True, text=True, timeout=10, check=True)
    return result.stdout.strip()


def _caddy_version() -> str:
    result = subprocess.run([CADDY, "version"], capture_output=True, text=True, timeout=10, check=False)
    return result.stdout.split()[0] if result.stdout else "?"
