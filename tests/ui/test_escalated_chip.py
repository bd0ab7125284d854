"""The board's state cell shows "Eskalerad" from the case summary's `escalated` (server/services/escalation.py)."""

from __future__ import annotations

from ui.components.cells import state_html


def test_an_escalated_case_has_the_chip_and_others_do_not() -> None:
    assert "Eskalerad" in state_html({"state": "admitted", "escalated": True})
    assert "Eskalerad" not in state_html({"state": "admitted", "escalated": False})
    assert "Eskalerad" not in state_html({"state": "admitted"})  # an answer from before the field existed
