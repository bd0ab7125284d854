"""Browser tests: the real API and UI processes, driven by Chromium through Playwright (async API).

Nothing is mocked between our processes: `stack` runs `python -m server.cli api` and `python -m server.cli ui`
exactly as `samplan dev` does (development mode, so the login is the built-in development identity provider),
on free loopback ports, against a SQLite database in a temp dir seeded with `python -m server.cli seed`
(the full demo world, cases included). Browsers are Debian's Chromium (`apt-get install chromium`).

Fixtures
    stack    (session)  `Stack`: `api_url`, `ui_url`, `issuer`, `data_dir`, `env` (the processes' environment)
                        and `logs()` (both processes' output, for assertion messages). Shared by all browser tests
                        of the run; tests must not depend on each other's data.
    browser  (session)  a Playwright `Browser` (Chromium, headless).
    context  (function) a fresh `BrowserContext` (own cookies, so signed out) with `base_url=stack.ui_url`, so
                        `page.goto("/")` opens the UI; Swedish locale.
    page     (function) a `Page` in that context.

Helpers (import them: `from tests.e2e.conftest import login, logout`)
    await login(page, "ward.nurse", next="/")   signs in through the development identity provider's page as the
                                                demo user (see `samplan users`); returns when the browser is back
                                                on the UI, at `next` or where that page forwards to.
    await logout(page)                          signs out (the logout page's button posts the form with its
                                                anti-forgery token); returns on the UI's "Du är utloggad" page.

All waits are Playwright's own (navigation and locator events) or the readiness check of the processes at start
(the HTTP port answering, with a deadline); none is a fixed sleep.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
# Not passed on to the processes: our settings (set below), and pytest's marker, which makes NiceGUI run as a test.
_INHERITED_PREFIXES = ("SAMPLAN_", "OIDC_", "NICEGUI_", "PYTEST_")
_INHERITED_NAMES = ("DATABASE_URL", "REDIS_URL", "AUTHLIB_INSECURE_TRANSPORT")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    api_url: str
    ui_url: str
    data_dir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"{self.api_url}/dev-idp"

    def log_path(self, name: str) -> Path:
        return self.data_dir / f"{name}.log"

    def logs(self) -> str:
        parts = []
        for name in ("seed", "api", "ui"):
            path = self.log_path(name)
            if path.exists():
                parts.append(f"----- {name} -----\n{path.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    def start(self, name: str, *args: str) -> None:
        log = self.log_path(name).open("wb")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=self.env, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()  # the child has its own handle

    def wait_until_serving(self, name: str, url: str) -> None:
        """Until `url` answers at all (any HTTP status), the process exits (fail) or the deadline passes."""
        process = self.processes[name]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(timeout=2) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"{name} exited with {process.returncode} while starting\n{self.logs()}")
                try:
                    client.get(url)
                    return
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"{name} did not answer at {url} within {START_TIMEOUT_SECONDS} s\n{self.logs()}")
                    process_wait(process, 0.05)  # returns early if the process dies

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def process_wait(process: subprocess.Popen[bytes], seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=seconds)


def stack_env(data_dir: Path, api_port: int, ui_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES}
    api_url, ui_url = f"http://{HOST}:{api_port}", f"http://{HOST}:{ui_port}"
    client_secret = secrets.token_urlsafe(24)
    env.update({
        "SAMPLAN_DEV_MODE": "1",
        "SAMPLAN_DATA_DIR": str(data_dir),
        "SAMPLAN_API_HOST": HOST, "SAMPLAN_API_PORT": str(api_port), "SAMPLAN_API_URL": api_url,
        "SAMPLAN_UI_HOST": HOST, "SAMPLAN_UI_PORT": str(ui_port), "SAMPLAN_UI_BASE_URL": ui_url,
        "SAMPLAN_UI_STORAGE_SECRET": secrets.token_urlsafe(32),
        "OIDC_ISSUER": f"{api_url}/dev-idp",
        "SAMPLAN_DEV_OIDC_CLIENT_SECRET": client_secret, "OIDC_CLIENT_SECRET": client_secret,
        "NICEGUI_STORAGE_PATH": str(data_dir / "nicegui"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """API and UI processes, once for all browser tests (they run on one xdist worker: tests/conftest.py).

    The modules sign the same demo users in and out; what one browser leaves behind must not reach another's
    page (each live view acts as its own browser: ui/live.py), and every test makes its own cases."""
    data_dir = tmp_path_factory.mktemp("e2e-stack")
    api_port, ui_port = free_port(), free_port()
    env = stack_env(data_dir, api_port, ui_port)
    running = Stack(api_url=env["SAMPLAN_API_URL"], ui_url=env["SAMPLAN_UI_BASE_URL"], data_dir=data_dir, env=env)
    try:
        running.start("ui", "ui")  # the UI uses no database (and calls the API only for requests): starts meanwhile
        with running.log_path("seed").open("wb") as log:
            seeded = subprocess.run([sys.executable, "-m", "server.cli", "seed"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, timeout=300, check=False)
        if seeded.returncode != 0:
            pytest.fail(f"seeding the demo world failed\n{running.logs()}")
        running.start("api", "api")
        running.wait_until_serving("api", f"{running.api_url}/health")
        running.wait_until_serving("ui", f"{running.ui_url}/login")
        yield running
    finally:
        running.stop()


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Browser, stack: Stack) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=stack.ui_url, locale="sv-SE", timezone_id="Europe/Stockholm")
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


def _back_on(origin: str) -> Callable[[str], bool]:
    def done(url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == origin and parts.path not in ("/login", "/auth/callback")

    return done


async def login(page: Page, username: str, next: str = "/") -> None:
    """Sign in as the demo user `username` through the development identity provider's page.

    Starts at the UI's `/login?next=...` (relative to the context's base_url), presses the user's button on the
    provider's page, and returns when the browser is back on the UI past the callback: at `next`, or wherever
    that page sends a signed-in user (the start page, for example, forwards to the user's board). The page must
    be signed out (a fresh `context` is; else `logout` first).
    """
    await page.goto(f"/login?next={quote(next, safe='/')}")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)
    callback = urlsplit(parse_qs(urlsplit(page.url).query)["redirect_uri"][0])
    await page.locator(f'button[name="user"][value="{username}"]').click()
    await page.wait_for_url(_back_on(f"{callback.scheme}://{callback.netloc}"))


async def logout(page: Page) -> None:
    """Sign out (UI session and identity provider); returns on the UI's logged-out page.

    `GET /logout` only shows a page whose button posts the logout (with the browser's anti-forgery token)."""
    await page.goto("/logout")
    await page.get_by_role("button", name="Logga ut").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/logged-out")
    await page.get_by_role("heading", name="Du är utloggad").wait_for()
