"""Each red or amber deadline mark explains itself (issue 13): its tooltip and accessible label name the deadline,
its time and the responsible unit by name; a deadline due at the estimated discharge is shown as an estimate
("beräknad") and never as late while the patient is still in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from nicegui.testing import User

from tests.server.conftest import SOLNA_INTAKE, register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_pages import Auth, act, row_html
from ui.components.countdown import _rendered

NOW = datetime(2026, 3, 9, 10, tzinfo=UTC)


def test_a_passed_estimate_is_at_risk_and_says_so_never_late() -> None:
    estimate = {"kind": "named_care_contact", "due_at": (NOW - timedelta(days=2)).isoformat(), "met_at": None,
                "estimated": True, "responsible_part": "primary_care_unit", "responsible_unit_ids": []}
    content, states, _ = _rendered((estimate,), False, NOW)
    assert states == {"named_care_contact": "at_risk"}
    assert "beräknad" in content
    assert "passerad" in content
    assert "sedan" not in content
    assert "Försenad" not in content
    assert "uppdatera beräknad utskrivning" in content  # what to do about it, in the tooltip and label
    assert "Ansvarig: Primärvård" in content  # the part while the unit's name is not known


def test_the_same_deadline_after_the_discharge_is_late() -> None:
    missed = {"kind": "named_care_contact", "due_at": (NOW - timedelta(days=2)).isoformat(), "met_at": None,
              "estimated": False, "responsible_part": "primary_care_unit", "responsible_unit_ids": []}
    content, states, _ = _rendered((missed,), False, NOW)
    assert states == {"named_care_contact": "overdue"}
    assert "Fast vårdkontakt ska utses före utskrivningen" in content
    assert "försenad" in content


async def test_board_marks_name_the_deadline_and_the_responsible_unit(user: User, http: httpx.AsyncClient,
                                                                      auth: Auth) -> None:
    nurse = auth("ward.nurse")
    late = await register(http, nurse, admitted_at=(datetime.now(UTC) - timedelta(hours=30)).isoformat())
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: "Inskr.medd." in row_html(user, late["id"]), "the late draft on the board")
    shown = row_html(user, late["id"])
    assert "Inskrivningsmeddelandet ska skickas senast" in shown
    assert "försenad" in shown
    assert "Ansvarig: Avd 12 Geriatrik" in shown  # the ward, by name

    # The receiving municipal unit's inbox names the ward for the ward's deadline, by name too.
    case = await act(http, nurse, late, "admission-notice")
    await act(http, nurse, case, "ready-for-discharge")
    await signed_in(user, "needs.assessor", "/inkorg")
    await eventually(lambda: "Betalningsansvar" in row_html(user, late["id"]), "the payment mark in the inbox")
    assert "Kommunens betalningsansvar börjar" in row_html(user, late["id"])
    intake = (await http.get(f"/api/v1/units/{SOLNA_INTAKE}", headers=nurse)).json()["name"]
    assert f"Ansvarig: {intake}." in row_html(user, late["id"])  # the municipal unit, by name
