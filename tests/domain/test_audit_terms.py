"""Every action the access log can hold has a Swedish text (domain/audit_terms.py): each command of a case or a
SIP plan (its class name in snake case, as `server.access_log.action_of` writes it) and each action the server
names as a literal; every finding of a review too."""

from __future__ import annotations

import re
from pathlib import Path

from domain import audit_terms
from domain.administration import FINDINGS
from domain.commands import CaseCommand
from domain.sip.commands import SipCommand

ROOT = Path(__file__).resolve().parents[2]
# The server names the access log's other actions as literals in these shapes (server/access_log.py's `record`,
# the command runner's reads and lists, the kinds' `read_action`).
VERBS = "read|list|search|export|diff|replay|register|create|clear|merge"
LITERAL = re.compile(rf'(?:action=|action: str = |read_action = |[(,]\s*)"((?:{VERBS})_[a-z_]+)"')
ADMIN_LOG_ONLY = {"create_unit", "create_user"}  # the admin log's actions, not the access log's


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def concrete(base: type) -> set[type]:
    found: set[type] = set()
    for sub in base.__subclasses__():
        found |= {sub} | concrete(sub)
    return {c for c in found if not c.__name__.startswith("Versioned")}


def test_every_command_has_a_swedish_action() -> None:
    commands = {snake(c.__name__) for c in concrete(CaseCommand) | concrete(SipCommand)}
    assert "send_discharge_notice" in commands
    assert "close_sip_plan" in commands
    missing = sorted(commands - audit_terms.ACTIONS.keys())
    assert not missing, f"add a Swedish text for these access-log actions to domain/audit_terms.py: {missing}"


def test_every_action_the_server_names_has_a_swedish_text() -> None:
    named = {m for path in (ROOT / "server").rglob("*.py") if "migrations" not in path.parts
             for m in LITERAL.findall(path.read_text(encoding="utf-8"))} - ADMIN_LOG_ONLY
    assert {"read_case", "list_inbox", "search_patients", "export_sip_pdf", "read_access_log"} <= named
    missing = sorted(named - audit_terms.ACTIONS.keys())
    assert not missing, f"add a Swedish text for these access-log actions to domain/audit_terms.py: {missing}"


def test_findings_and_unknown_codes() -> None:
    assert set(audit_terms.FINDINGS) == set(FINDINGS)
    assert audit_terms.action_text("send_discharge_notice") == "Skickade utskrivningsmeddelande"
    assert audit_terms.purpose_text("care_coordination") == "Samordning av vård och omsorg"
    assert audit_terms.action_text("something_new") == "Okänd händelse (kod something_new)"
