"""The shared cell HTML cache (`cells.board_cells`): a unit name learnt after a case version's cells were cached is
shown the next time the cells are drawn (the key carries the hub's `units_version`), and a protected name revealed
to one user is never served from the cache to a user from whom the API masked it."""

from __future__ import annotations

from ui.api_client import ApiClient
from ui.components.cells import board_cells
from ui.live import LiveHub

UNIT = "00000000-0000-4000-8000-0000000000aa"


def case() -> dict[str, object]:
    return {"id": "00000000-0000-4000-8000-0000000000c1", "version": 3, "state": "planning",
            "patient": {"name": "Testa Testsson", "identity": "19121212-1212"},
            "acknowledgement_status": [{"unit_id": UNIT, "unacknowledged": 1}]}


def test_a_unit_remembered_later_is_named_in_cached_cells() -> None:
    hub = LiveHub(ApiClient("http://127.0.0.1:9"), "http://127.0.0.1:9")
    assert "Okänd enhet" in board_cells(case(), hub)[2]

    hub.remember_units([{"id": UNIT, "name": "Biståndsenheten Provby", "kind": "municipal_intake"}])

    assert "Biståndsenheten Provby" in board_cells(case(), hub)[2]


def test_a_name_revealed_to_one_user_is_not_served_to_another_from_the_cache() -> None:
    hub = LiveHub(ApiClient("http://127.0.0.1:9"), "http://127.0.0.1:9")
    revealed = case()
    revealed["patient"] = {"name": "Testa Skyddsson", "identity": "19121212-1212", "protected_identity": True}
    masked = case()
    masked["patient"] = {"name": "Skyddad identitet", "identity": "19121212-1212", "protected_identity": True}

    assert "Testa Skyddsson" in board_cells(revealed, hub)[0]  # one user, with the explicit need
    shown = board_cells(masked, hub)[0]  # another, without: the same case version, masked by the API
    assert "Testa Skyddsson" not in shown
    assert "Skyddad identitet" in shown
