"""Outside development mode the UI refuses to start with the public development secrets or without the settings a
login needs (ui/settings.py): a clear error and exit status 2, never a UI signing cookies with a known secret."""

from __future__ import annotations

import pytest

from ui import app as ui_app
from ui.settings import DEV_CLIENT_SECRET, DEV_STORAGE_SECRET, UiSettings

PRODUCTION = {"SAMPLAN_DEV_MODE": "0", "SAMPLAN_UI_STORAGE_SECRET": "s" * 40, "OIDC_CLIENT_SECRET": "client-secret",
              "OIDC_ISSUER": "https://idp.region.se/realms/samplan", "SAMPLAN_UI_BASE_URL": "https://samplan.region.se"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_complete_production_settings_pass(env: pytest.MonkeyPatch) -> None:
    assert UiSettings().problems() == []


@pytest.mark.parametrize(("name", "value", "named"), [
    ("SAMPLAN_UI_STORAGE_SECRET", "", "SAMPLAN_UI_STORAGE_SECRET"),
    ("SAMPLAN_UI_STORAGE_SECRET", DEV_STORAGE_SECRET, "SAMPLAN_UI_STORAGE_SECRET"),
    ("SAMPLAN_UI_STORAGE_SECRET", "too-short", "SAMPLAN_UI_STORAGE_SECRET"),
    ("OIDC_CLIENT_SECRET", "", "OIDC_CLIENT_SECRET"),
    ("OIDC_CLIENT_SECRET", DEV_CLIENT_SECRET, "OIDC_CLIENT_SECRET"),
    ("OIDC_ISSUER", "", "OIDC_ISSUER"),
    ("SAMPLAN_UI_BASE_URL", "", "SAMPLAN_UI_BASE_URL"),
])
def test_each_missing_or_default_setting_is_named(env: pytest.MonkeyPatch, name: str, value: str, named: str) -> None:
    env.setenv(name, value)
    [problem] = UiSettings().problems()
    assert problem.startswith(named)


def test_development_mode_accepts_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PRODUCTION:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SAMPLAN_DEV_MODE", "1")
    assert UiSettings().problems() == []


def test_the_ui_refuses_to_start_with_a_clear_error(env: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("SAMPLAN_UI_STORAGE_SECRET", DEV_STORAGE_SECRET)
    env.setattr(ui_app, "build", lambda settings: pytest.fail("the UI was built"))
    with pytest.raises(SystemExit) as stopped:
        ui_app.run()
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "samplan ui: refusing to start" in error
    assert "SAMPLAN_UI_STORAGE_SECRET" in error
