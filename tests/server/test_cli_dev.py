"""`samplan dev` starts the API and the UI as two child processes (the server never imports `ui`) and stops both
when it is told to stop: on SIGTERM (a service manager, `kill`, a container runtime) as on Ctrl-C, so neither child
outlives it holding its port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 180  # migrating and seeding the demo world on a loaded 2-core machine
STOP_TIMEOUT_SECONDS = 30
_INHERITED_PREFIXES = ("SAMPLAN_", "OIDC_", "NICEGUI_", "PYTEST_")
_INHERITED_NAMES = ("DATABASE_URL", "REDIS_URL", "AUTHLIB_INSECURE_TRANSPORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


@pytest.fixture
def dev_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, int, Path]]:
    api_port, ui_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_INHERITED_PREFIXES) and k not in _INHERITED_NAMES}
    env.update({"SAMPLAN_DATA_DIR": str(tmp_path / "data"), "SAMPLAN_API_PORT": str(api_port),
                "SAMPLAN_UI_PORT": str(ui_port), "SAMPLAN_UI_STORAGE_SECRET": "test-only-secret"})
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        # A session of its own: the SIGTERM below reaches `samplan dev` only (not its children, as a terminal's
        # Ctrl-C would), and whatever is left of the group can be cleaned up after a failure.
        process = subprocess.Popen([sys.executable, "-m", "server.cli", "dev"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, api_port, ui_port, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group we started: children left behind by a failure
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(timeout=2) as client:
        while True:
            if process.poll() is not None:
                pytest.fail(f"samplan dev exited with {process.returncode}\n{log_path.read_text(errors='replace')}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer within {START_TIMEOUT_SECONDS} s\n"
                            f"{log_path.read_text(errors='replace')[-6000:]}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)  # returns early if it dies


def test_samplan_dev_serves_both_and_sigterm_stops_both(
        dev_process: tuple[subprocess.Popen[bytes], int, int, Path]) -> None:
    process, api_port, ui_port, log_path = dev_process
    _wait_until_serving(process, f"http://{HOST}:{api_port}/health", log_path)
    _wait_until_serving(process, f"http://{HOST}:{ui_port}/health", log_path)

    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"samplan dev did not stop on SIGTERM\n{log_path.read_text(errors='replace')[-6000:]}")
    assert process.returncode != -signal.SIGTERM  # it handled the signal: stopped its children, then itself

    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while open_ports := [p for p in (api_port, ui_port) if _listening(p)]:
        assert time.monotonic() < deadline, f"still listening after samplan dev stopped: {open_ports}"
        time.sleep(0.1)  # polling a condition with a deadline, not a fixed wait
