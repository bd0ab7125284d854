"""compose.yaml, deploy/Caddyfile and the Dockerfile give the processes what they need (no Docker engine runs here:
tests/e2e/test_topology.py runs the same topology with real processes; these check what only the files say)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

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
