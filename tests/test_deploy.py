"""compose.yaml, deploy/Caddyfile and the Dockerfile give the processes what they need (no Docker engine runs here:
tests/e2e/test_topology.py runs the same topology with real processes; these check what only the files say)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
CADDY = shutil.which("caddy") or "/usr/bin/caddy"

# What each UI instance needs to sign anyone in correctly, and to share sessions with the other (issue 17).
UI_NEEDS = ("SAMPLAN_UI_BASE_URL", "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "SAMPLAN_UI_STORAGE_SECRET",
            "NICEGUI_REDIS_URL", "SAMPLAN_API_URL")
SECRETS = ("SAMPLAN_UI_STORAGE_SECRET", "OIDC_CLIENT_SECRET")


@pytest.mark.parametrize("service", ["ui1", "ui2"])
def test_each_ui_gets_what_a_login_and_shared_sessions_need(service: str) -> None:
    env = SERVICES[service]["environment"]
    missing = [name for name in UI_NEEDS if not env.get(name)]
    assert not missing, f"{service} lacks {missing}"
    for name in SECRETS:  # required, never a default a reader of this file knows
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]+\}", env[name]), f"{name} must be required: {env[name]}"
    assert env["SAMPLAN_DEV_MODE"] == "0"
    assert env["NICEGUI_REDIS_URL"].startswith("redis://redis:")


@pytest.mark.parametrize("service", ["api1", "api2", "migrate"])
def test_the_servers_run_outside_development_mode_with_their_key(service: str) -> None:
    env = SERVICES[service]["environment"]
    assert env["SAMPLAN_DEV_MODE"] == "0"
    assert env["SAMPLAN_ACCESS_LOG_KEY"].startswith("${SAMPLAN_ACCESS_LOG_KEY:?")


def test_every_image_is_a_fixed_release() -> None:
    for name, service in SERVICES.items():
        image = service.get("image", "")
        if image.startswith("${SAMPLAN_IMAGE"):
            continue  # ours, built from this repository
        assert re.search(r":\d+\.\d+(\.\d+)?$", image), f"{name}: {image} floats (pin a release)"
    argument = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert argument is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", argument.group(1))


def test_the_proxy_runs_the_repositorys_caddyfile_without_the_development_provider() -> None:
    proxy = SERVICES["proxy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "SAMPLAN_PROXY_DEV_PATHS" not in proxy.get("environment", {})


def test_the_image_gives_the_unprivileged_user_a_writable_ui_store() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "NICEGUI_STORAGE_PATH=/var/lib/samplan/ui" in dockerfile
    assert "chown -R samplan:samplan /var/lib/samplan" in dockerfile
    assert "USER samplan:samplan" in dockerfile


def _api_paths(**env: str) -> list[str]:
    """The paths deploy/Caddyfile sends to the API on the browsers' listener, as Caddy reads the file."""
    result = subprocess.run([CADDY, "adapt", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
                            capture_output=True, text=True, timeout=30, check=True,
                            env={"PATH": os.environ.get("PATH", ""), **env})
    routes = json.loads(result.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]
    paths: list[str] = next(m["path"] for r in routes for m in r.get("match", []) if "path" in m)
    return paths


def test_dev_idp_reaches_the_api_in_development_mode_only() -> None:
    if not Path(CADDY).exists():
        pytest.fail("caddy is missing: apt-get install -y caddy (.ci/run does this)")
    assert "/dev-idp/*" not in _api_paths()
    assert "/dev-idp/*" in _api_paths(SAMPLAN_PROXY_DEV_PATHS="/dev-idp/*")
    assert "/api/*" in _api_paths()


class _Instance(BaseHTTPRequestHandler):
    """A stand-in API instance for the proxy: ready, and answers every write with 200."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_writes_through_the_proxy_are_not_blocked_by_a_dead_instance(tmp_path: Path) -> None:
    """Caddy before 2.11.2 (Debian's 2.6.2 here) retries a write refused by a dead instance with its body closed;
    with passive health checks that failure took the live instance out too, and every write got 503 "no upstreams
    available" for `fail_duration` (10 s). With deploy/Caddyfile a write may get a 502 (the UI sends it again) until
    the health check takes the dead instance out, about a second later, and never waits on the proxy."""
    if not Path(CADDY).exists():
        pytest.fail("caddy is missing: apt-get install -y caddy (.ci/run does this)")
    instances = [ThreadingHTTPServer(("127.0.0.1", 0), _Instance) for _ in range(2)]
    for instance in instances:
        threading.Thread(target=instance.serve_forever, daemon=True).start()
    proxy, internal = _free_port(), _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "SAMPLAN_PROXY_BIND": "127.0.0.1",
           "SAMPLAN_PROXY_HTTP": f":{proxy}", "SAMPLAN_PROXY_INTERNAL": f":{internal}",
           "SAMPLAN_PROXY_API_UPSTREAMS": " ".join(f"127.0.0.1:{i.server_address[1]}" for i in instances),
           "SAMPLAN_PROXY_UI_UPSTREAMS": f"127.0.0.1:{_free_port()}"}
    log_path = tmp_path / "caddy.log"
    with log_path.open("wb") as log:
        caddy = subprocess.Popen([CADDY, "run", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter",
                                  "caddyfile"], env=env, stdout=log, stderr=subprocess.STDOUT)
    statuses: list[tuple[float, int]] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{internal}", timeout=15) as client:
            _until_serving(client, caddy, log_path)
            started = time.monotonic()

            def write(_: int) -> tuple[float, int]:
                sent = time.monotonic() - started
                return sent, client.post("/api/v1/cases", content=b'{"x": 1}').status_code

            with ThreadPoolExecutor(8) as pool:
                statuses.extend(pool.map(write, range(16)))
                instances[0].shutdown()  # the instance dies: its port refuses from now on
                instances[0].server_close()
                killed = time.monotonic() - started
                while time.monotonic() - started < killed + 4:
                    statuses.extend(pool.map(write, range(8)))
    finally:
        caddy.kill()
        caddy.wait(timeout=10)
        instances[1].shutdown()
    assert not [s for s in statuses if s[1] == 503], f"no upstream available:\n{statuses}"
    late = [status for at, status in statuses if at > killed + 2]
    assert late, "no writes after the health check"
    assert set(late) == {200}, f"writes still fail after the health check: {statuses}"


def _until_serving(client: httpx.Client, caddy: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert caddy.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.05)
