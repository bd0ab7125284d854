"""UI fan-out: one UI process, V simulated browser tabs on the same ward board, W changes through the API.

Starts `samplan api` and `samplan ui` on embedded defaults (SQLite, in-memory broker, the development identity
provider, the demo world with 60 cases on the main ward), signs in once as `ward.nurse` through the real OIDC
login (so all tabs share one browser session: one user, one stream in the UI process), then opens V tabs: each
loads `/tavla` over HTTP and connects NiceGUI's socket.io (Engine.IO v4 over a websocket, spoken here directly,
as a browser would). Then W times: an action on a case through the API (leave / back from leave, which changes
the row's state cell), and for every tab the time from sending the command until that tab received the update
of that case's state cell (a NiceGUI `update` or the board's cell broadcast `sp_cells`). Prints JSON lines:
latencies (p50, p95, p99, max over all tabs and changes), the UI process's resident memory per tab and its CPU
time per change, the first tab's latency per change (the fixed part: command, event, the UI's read of the case)
and the command's own round trip.

    .venv/bin/python bench/ui_fanout.py --tabs 300 --changes 30
    .venv/bin/python bench/ui_fanout.py --tabs 300 --users 50 --changes 40 --postgres

`--users K` spreads the tabs over K distinct nurses of the same ward (`ward.nurse` and K-1 more, added through the
admin API by the ward's local access administrator), each signed in through the real login in a browser session of
its own, tabs dealt out in turn. `--postgres` runs on a fresh PostgreSQL database (127.0.0.1:5432, user postgres)
instead of SQLite. The API runs under `bench/_counting_api.py` (the API with a count of its HTTP requests), so the
changes' JSON line also says how many API requests the UI made per change (`api_requests_per_change`: the command
itself included, by route kind in `api_requests`), the API's CPU per change, and the access-log rows per change.

Target (issue 5): V = 300, p99 <= 150 ms, <= 2 MB per tab. The latency is measured from *before* the POST is
sent (`p50_ms`, `p99_ms`: an upper bound of "from the API commit") and from the command's answer, which the API
sends right after its commit (`from_answer_*`: a lower bound).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Stack:
    data_dir: Path
    database_url: str | None = None
    api_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def ui(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    def env(self) -> dict[str, str]:
        secret = secrets.token_urlsafe(16)
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("SAMPLAN_", "OIDC_", "NICEGUI_")) and k not in ("DATABASE_URL", "REDIS_URL")}
        return {**keep, "SAMPLAN_DEV_MODE": "1", "SAMPLAN_DATA_DIR": str(self.data_dir),
                "SAMPLAN_API_HOST": HOST, "SAMPLAN_API_PORT": str(self.api_port), "SAMPLAN_API_URL": self.api,
                "SAMPLAN_UI_HOST": HOST, "SAMPLAN_UI_PORT": str(self.ui_port), "SAMPLAN_UI_BASE_URL": self.ui,
                "OIDC_ISSUER": f"{self.api}/dev-idp", "OIDC_CLIENT_SECRET": secret,
                "SAMPLAN_DEV_OIDC_CLIENT_SECRET": secret, "NICEGUI_STORAGE_PATH": str(self.data_dir / "nicegui"),
                "PYTHONUNBUFFERED": "1", **({"DATABASE_URL": self.database_url} if self.database_url else {})}

    def start(self) -> None:
        env = self.env()
        subprocess.run([sys.executable, "-m", "server.cli", "seed"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        for name in ("api", "ui"):
            log = (self.data_dir / f"{name}.log").open("wb")
            profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] \
                if name == "ui" and os.environ.get("BENCH_PROFILE") else []
            command = [str(ROOT / "bench" / "_counting_api.py")] if name == "api" else ["-m", "server.cli", name]
            self.procs[name] = subprocess.Popen([sys.executable, *profile, *command], cwd=ROOT,
                                                env=env, stdout=log, stderr=subprocess.STDOUT)
        for url in (f"{self.api}/ready", f"{self.ui}/health"):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not come up; see {self.data_dir}")
                time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def create_nurses(stack: Stack, count: int) -> list[str]:
    """`ward.nurse` and `count - 1` more users with the same assignment (role user at her ward), added by the
    ward's local access administrator through the admin API."""
    admin = {"Authorization": f"Bearer {api_token(stack, 'hospital.admin')}"}
    nurse = {"Authorization": f"Bearer {api_token(stack, 'ward.nurse')}"}
    with httpx.Client(base_url=f"{stack.api}/api/v1", timeout=30) as http:
        me = http.get("/me", headers=nurse).json()
        ward = next(a["unit_id"] for a in me["assignments"] if a["role"] == "user")
        names = ["ward.nurse"]
        for i in range(1, count):
            username = f"bench.nurse{i:03d}"
            made = http.post(f"/admin/organisations/{me['organisation_id']}/users", headers=admin,
                             json={"username": username, "hsa_id": f"SE2321000016-BENCH{i:04d}",
                                   "display_name": f"Testsjuksköterska {i}"})
            made.raise_for_status()
            given = http.post(f"/admin/users/{made.json()['id']}/assignments", headers=admin,
                              json={"unit_id": ward, "role": "user"})
            given.raise_for_status()
            names.append(username)
        return names


def api_requests(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{stack.api}/_bench/requests", timeout=10).json()
    return counts


def access_log_rows(stack: Stack) -> int:
    """Rows in the access log so far (one per patient read or changed, per user)."""
    if stack.database_url:
        out = subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-tAc", "SELECT count(*) FROM access_log",
                              stack.database_url.rsplit("/", 1)[1]], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())
    out = subprocess.run(["sqlite3", str(stack.data_dir / "samplan.db"), "SELECT count(*) FROM access_log"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def sign_in(stack: Stack, username: str) -> httpx.Cookies:
    """The real login: UI /login -> the development identity provider's page -> pick the user -> back to the UI."""
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        page = client.get(f"{stack.ui}/login?next=/tavla")
        done = client.post(str(page.url), data={"user": username})
        if not str(done.url).endswith("/tavla"):
            raise SystemExit(f"login failed: ended at {done.url}")
        return client.cookies


class Tab:
    """One simulated browser tab: the page's HTML over HTTP, then NiceGUI's socket.io over a websocket."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.state_cells: dict[str, str] = {}  # element id of each case's state cell -> case id
        self.waiting: dict[str, float] = {}  # case id -> t0 of the change awaited
        self.latencies: list[float] = []
        self.got: dict[str, asyncio.Event] = {}
        self.casts = 0  # cell broadcasts received
        self.retried = 0  # page loads that got a 500 and were tried again
        self._task: asyncio.Task[None] | None = None

    async def open(self, http: httpx.AsyncClient, ui: str) -> None:
        for attempt in range(3):  # on a loaded machine a page may miss NiceGUI's response timeout (a 500)
            page = await http.get(f"{ui}/tavla")
            if page.status_code != 500 or attempt == 2:
                break
            self.retried += 1
        page.raise_for_status()
        elements = json.loads(re.search(r"parseElements\(String\.raw`(.*?)`\)", page.text, re.S).group(1))  # type: ignore[union-attr]
        for element in elements.values():
            case_id = element.get("props", {}).get("data-case")
            if case_id and element.get("children"):
                self.state_cells[str(element["children"][1])] = case_id
        query = ast.literal_eval(re.search(r"query: (\{.*?\}),\n", page.text).group(1))  # type: ignore[union-attr]
        params = {"EIO": "4", "transport": "websocket", "client_id": query["client_id"],
                  "next_message_id": str(query["next_message_id"]), "implicit_handshake": "true",
                  "tab_id": str(uuid.uuid4()), "document_id": str(uuid.uuid4())}
        url = ui.replace("http", "ws", 1) + "/_nicegui_ws/socket.io/?" + str(httpx.QueryParams(params))
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        ws = await websockets.connect(url, additional_headers={"Cookie": cookie}, max_size=2**24,
                                      ping_interval=None)
        opened = await ws.recv()
        assert str(opened).startswith("0"), opened
        await ws.send("40")
        while not str(await ws.recv()).startswith("40"):  # the connect's answer (after NiceGUI's handshake)
            pass
        # what the page's script says once it listens for the cell broadcast (ui/components/cellcast.py)
        await ws.send("42" + json.dumps(["sp_cells_ready", {"client_id": query["client_id"]}]))
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            now = time.perf_counter()
            text = raw if isinstance(raw, str) else raw.decode()
            if text == "2":
                await ws.send("3")
            elif text.startswith("42"):
                event, data = json.loads(text[2:])[:2]
                if event == "update":
                    for element in data.values():  # rows that arrive after the page (an async page streams them)
                        if isinstance(element, dict) and element.get("props", {}).get("data-case") and \
                                element.get("children"):
                            self.state_cells[str(element["children"][1])] = element["props"]["data-case"]
                    for element_id in data:
                        case_id = self.state_cells.get(element_id)
                        if case_id is not None and case_id in self.waiting:
                            self.latencies.append(now - self.waiting.pop(case_id))
                            self.got[case_id].set()
                elif event == "sp_cells":  # the cell broadcast (ui/components/cellcast.py): row -> cell -> HTML
                    self.casts += 1
                    for case_id, cells in data.items():
                        if "state" in cells and case_id in self.waiting:
                            self.latencies.append(now - self.waiting.pop(case_id))
                            self.got[case_id].set()

    def expect(self, case_id: str, t0: float) -> asyncio.Event:
        self.waiting[case_id] = t0
        self.got[case_id] = asyncio.Event()
        return self.got[case_id]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def api_token(stack: Stack, username: str) -> str:
    return subprocess.run([sys.executable, "-m", "server.cli", "token", username], cwd=ROOT, env=stack.env(),
                          capture_output=True, text=True, check=True).stdout.strip()


async def run(stack: Stack, tabs: int, changes: int, users: int) -> None:
    names = await asyncio.to_thread(create_nurses, stack, users)
    browsers = [httpx.AsyncClient(cookies=await asyncio.to_thread(sign_in, stack, name), timeout=60,
                                  limits=httpx.Limits(max_connections=4)) for name in names]
    ui_pid = stack.procs["ui"].pid
    api_pid = stack.procs["api"].pid
    key = await asyncio.to_thread(api_token, stack, "ward.nurse")
    api = httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        await measure(stack, api, browsers, tabs, changes, ui_pid, api_pid)
    finally:
        for browser in browsers:
            await browser.aclose()
        await api.aclose()


async def measure(stack: Stack, api: httpx.AsyncClient, browsers: list[httpx.AsyncClient], tabs: int, changes: int,
                  ui_pid: int, api_pid: int) -> None:
    users = len(browsers)
    warm = Tab(-1)  # the first user's stream and the shared caches exist before we measure memory (every other
    await warm.open(browsers[0], stack.ui)  # user's state is counted in the tabs' memory)
    await asyncio.sleep(1.0)  # let the first page settle (not a synchronisation: memory baseline only)
    before = rss_kib(ui_pid)
    opened: list[Tab] = []
    started = time.perf_counter()
    for start in range(0, tabs, 5):
        batch = [Tab(i) for i in range(start, min(tabs, start + 5))]
        await asyncio.gather(*(t.open(browsers[t.index % users], stack.ui) for t in batch))
        opened += batch
    open_seconds = time.perf_counter() - started
    after = rss_kib(ui_pid)
    print(json.dumps({"bench": "ui_fanout", "phase": "open", "tabs": tabs, "users": users,
                      "seconds": round(open_seconds, 1),
                      "ui_rss_mib_before": round(before / 1024, 1), "ui_rss_mib_after": round(after / 1024, 1),
                      "mib_per_tab": round((after - before) / 1024 / tabs, 3),
                      "page_loads_retried": sum(t.retried for t in opened), "load": os.getloadavg()[0]}), flush=True)

    deadline = time.monotonic() + 120
    while any(len(t.state_cells) < 40 for t in opened):  # every tab has its 40 open cases' rows
        if time.monotonic() > deadline:
            short = sum(1 for t in opened if len(t.state_cells) < 40)
            raise SystemExit(f"{short} of {tabs} tabs did not get their rows; see the UI log")
        await asyncio.sleep(0.05)
    planning = (await api.get("/api/v1/cases", params={"state": "planning", "limit": 500})).json()["items"]
    versions = {c["id"]: (c["version"], c["on_leave"]) for c in planning}
    targets = [c["id"] for c in planning if c["id"] in opened[0].state_cells.values()]
    if not targets:
        raise SystemExit(f"no planning case on the board ({len(planning)} planning cases)")
    latencies: list[float] = []
    cpu_before = cpu_seconds(ui_pid)
    api_cpu_before = cpu_seconds(api_pid)
    requests_before = await asyncio.to_thread(api_requests, stack)
    rows_before = await asyncio.to_thread(access_log_rows, stack)
    posts: list[float] = []  # the command's round trip
    after_answer: list[float] = []
    firsts: list[float] = []  # per change, the first tab's latency: the fixed part (API, fetch, stream)
    misses = 0
    for i in range(changes):
        case_id = targets[i % len(targets)]
        version, on_leave = versions[case_id]
        t0 = time.perf_counter()
        events = [t.expect(case_id, t0) for t in opened]
        response = await api.post(f"/api/v1/cases/{case_id}/{'leave-end' if on_leave else 'leave'}",
                                  json={"expected_version": version})
        response.raise_for_status()
        posts.append(time.perf_counter() - t0)
        body = response.json()
        versions[case_id] = (body["version"], body["on_leave"])
        try:
            async with asyncio.timeout(10):
                await asyncio.gather(*(e.wait() for e in events))
        except TimeoutError:
            misses += sum(1 for e in events if not e.is_set())
            for tab in opened:
                tab.waiting.pop(case_id, None)
        firsts.append(min(t.latencies[-1] for t in opened if t.latencies))
        # the same updates measured from the command's answer (sent right after its commit): a lower bound
        after_answer += [t.latencies[-1] - posts[-1] for t in opened if t.latencies]
    await asyncio.sleep(1.0)  # reads still on their way for a tab that missed (counted, not waited for)
    ui_cpu_ms = (cpu_seconds(ui_pid) - cpu_before) * 1000 / changes
    api_cpu_ms = (cpu_seconds(api_pid) - api_cpu_before) * 1000 / changes
    requests_after = await asyncio.to_thread(api_requests, stack)
    made = {k: v - requests_before.get(k, 0) for k, v in requests_after.items() if v > requests_before.get(k, 0)}
    rows = await asyncio.to_thread(access_log_rows, stack) - rows_before
    for tab in opened:
        latencies += tab.latencies
    print(json.dumps({"bench": "ui_fanout", "phase": "changes", "tabs": tabs, "users": users,
                      "database": "postgresql" if stack.database_url else "sqlite", "changes": changes,
                      "updates": len(latencies), "missed": misses,
                      "p50_ms": round(pct(latencies, 50), 1), "p95_ms": round(pct(latencies, 95), 1),
                      "p99_ms": round(pct(latencies, 99), 1), "max_ms": round(max(latencies) * 1000, 1),
                      "from_answer_p50_ms": round(pct(after_answer, 50), 1),
                      "from_answer_p99_ms": round(pct(after_answer, 99), 1),
                      "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
                      "first_tab_p50_ms": round(pct(firsts, 50), 1), "command_p50_ms": round(pct(posts, 50), 1),
                      "ui_cpu_ms_per_change": round(ui_cpu_ms, 1),
                      "api_cpu_ms_per_change": round(api_cpu_ms, 1),
                      "api_requests_per_change": round(sum(made.values()) / changes, 2), "api_requests": made,
                      "access_log_rows_per_change": round(rows / changes, 2),
                      "load": os.getloadavg()[0],
                      "broadcasts_per_tab": round(statistics.fmean(t.casts for t in opened), 1),
                      "ui_rss_mib": round(rss_kib(ui_pid) / 1024, 1)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tabs", type=int, default=300)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--users", type=int, default=1, help="distinct users the tabs are spread over")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    database = f"samplan_bench_{secrets.token_hex(4)}" if args.postgres else None
    if database:
        subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
    with tempfile.TemporaryDirectory(prefix="samplan-ui-fanout-") as tmp:
        stack = Stack(Path(tmp), f"postgresql+asyncpg://postgres@{HOST}:5432/{database}" if database else None)
        stack.start()
        try:
            asyncio.run(run(stack, args.tabs, args.changes, args.users))
        finally:
            stack.stop()
            if database:
                subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {database}"],
                               check=False)
            if os.environ.get("BENCH_LOG_DIR"):  # keep the processes' logs
                for name in ("api", "ui"):
                    shutil.copy(Path(tmp) / f"{name}.log", Path(os.environ["BENCH_LOG_DIR"]) / f"{name}.log")


if __name__ == "__main__":
    main()
