"""SMTP_URL: the forms operators write (docs/operations.md, "E-mail notices (SMTP)") and the refusals."""

from __future__ import annotations

import pytest

from server.cli import main
from server.mail_dispatcher import SmtpTarget


def test_plain_smtp_with_credentials_and_starttls_required() -> None:
    target = SmtpTarget.parse("smtp://samplan:s%40cret@smtp.region.se:587?starttls=require")
    assert (target.hostname, target.port, target.username, target.password) == ("smtp.region.se", 587, "samplan",
                                                                                 "s@cret")
    assert target.use_tls is False
    assert target.start_tls is True


def test_smtps_defaults_to_port_465_and_plain_smtp_to_25_with_opportunistic_starttls() -> None:
    assert (SmtpTarget.parse("smtps://mail.region.se").port, SmtpTarget.parse("smtps://mail.region.se").use_tls) == (
        465, True)
    relay = SmtpTarget.parse("smtp://relay.internal")
    assert (relay.port, relay.start_tls, relay.username) == (25, None, None)
    assert SmtpTarget.parse("smtp://relay.internal?starttls=off").start_tls is False


@pytest.mark.parametrize("url", ["http://mail.region.se", "smtp://", "mail.region.se:25"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpTarget.parse(url)


def test_the_standalone_dispatcher_refuses_to_run_without_smtp(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from server.settings import get_settings

    monkeypatch.delenv("SMTP_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["mail-dispatcher"]) == 2
    finally:
        get_settings.cache_clear()
    assert "SMTP_URL is not set" in capsys.readouterr().err
