"""The cell broadcast's server side (ui/components/cellcast.py): a quiet set changes what the server holds for
the cell (what any later render or repair sends) without queueing NiceGUI's per-tab update; a tab whose page
script has not said it listens gets the ordinary update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from nicegui import core, ui
from nicegui.testing import User

from tests.server.conftest import register
from tests.ui.conftest import eventually, signed_in
from ui.components.cellcast import CELLCAST, quiet_set

Auth = Callable[[str], dict[str, str]]


def state_cells(user: User) -> list[ui.html]:
    with user:
        return [e for e in ui.context.client.elements.values()
                if isinstance(e, ui.html) and e.props.get("data-cell") == "state"]


async def test_quiet_set_changes_the_content_without_an_update(user: User, http: httpx.AsyncClient,
                                                               auth: Auth) -> None:
    await register(http, auth("ward.nurse"))
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: state_cells(user), "the board's rows")
    cell = state_cells(user)[0]
    outbox = cell.client.outbox
    outbox.updates.clear()

    quiet_set(cell, "<b>Ny status</b>")

    assert cell.content == "<b>Ny status</b>"
    assert cell._to_dict()["props"]["innerHTML"] == "<b>Ny status</b>"  # what a later render sends
    assert cell.id not in outbox.updates


async def test_a_tab_that_does_not_listen_gets_the_ordinary_update(user: User, http: httpx.AsyncClient,
                                                                   auth: Auth) -> None:
    await register(http, auth("ward.nurse"))
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: state_cells(user), "the board's rows")
    cell = state_cells(user)[0]
    assert not CELLCAST.is_ready(cell.client)  # no browser script in the simulation
    outbox = cell.client.outbox
    outbox.updates.clear()

    CELLCAST.set(cell, "row", "state", "<b>Vanlig uppdatering</b>")

    assert cell.content == "<b>Vanlig uppdatering</b>"
    assert cell.id in outbox.updates


async def test_a_listening_tab_gets_the_broadcast_and_a_queued_repair_when_it_reconnects(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    await register(http, auth("ward.nurse"))
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: state_cells(user), "the board's rows")
    cell = state_cells(user)[0]
    client = cell.client
    CELLCAST._ready.add(client)  # what the page's script says in a browser (the e2e tests cover that part)
    try:
        assert CELLCAST.is_ready(client)
        client.outbox.updates.clear()
        sent = CELLCAST.messages
        CELLCAST.set(cell, "row", "state", "<b>Sänt till alla</b>")
        assert cell.id not in client.outbox.updates  # no per-tab update: the broadcast carries it
        await eventually(lambda: CELLCAST.messages == sent + 1, "the broadcast")

        # The socket reconnects. NiceGUI queues what the tab missed for replay first (an older message here),
        # then runs the connect handlers: the repair must be queued after the replay, as a message.
        client.outbox.updates.clear()
        client.outbox.messages.clear()
        client.outbox.messages.append((client.id, "update", {"replayed": "older"}))
        for handler in client.connect_handlers:
            client.safe_invoke(handler)
        assert cell.id not in client.outbox.updates  # not as an update (those are sent before messages)
        target, event, payload = client.outbox.messages[-1]
        assert (target, event) == (client.id, "sp_cells")
        row = str(cell.parent_slot.parent.props["data-row"]) if cell.parent_slot else ""
        assert payload[row]["state"] == "<b>Sänt till alla</b>"
    finally:
        CELLCAST._ready.discard(client)
        client.outbox.messages.clear()


async def test_tabs_with_the_same_change_share_one_message(user: User, http: httpx.AsyncClient, auth: Auth,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    await register(http, auth("ward.nurse"))
    await signed_in(user, "ward.nurse", "/tavla")
    await eventually(lambda: state_cells(user), "the board's rows")
    first = state_cells(user)[0]
    await user.open("/tavla")  # a second tab of the same user (the first one's client stays)
    await eventually(lambda: state_cells(user) and state_cells(user)[0].client is not first.client, "the 2nd tab")
    second = state_cells(user)[0]
    assert not first.client.is_deleted
    emitted: list[tuple[str, Any, Any]] = []

    async def capture(event: str, data: Any, to: Any = None, **_: Any) -> None:  # the socket.io server's emit
        emitted.append((event, data, to))

    monkeypatch.setattr(core.sio, "emit", capture)
    tabs = {first.client, second.client}
    CELLCAST._ready.update(tabs)
    try:
        same = "<b>Samma ändring</b>"
        CELLCAST.set(first, "row-1", "state", same)
        CELLCAST.set(second, "row-1", "state", same)
        await eventually(lambda: len(emitted) == 1, "one message for both tabs")
        event, data, to = emitted[0]
        assert event == "sp_cells"
        assert data == {"row-1": {"state": same}}
        assert sorted(to) == sorted(c.id for c in tabs)

        CELLCAST.set(first, "row-1", "state", "<b>Den ena</b>")
        CELLCAST.set(second, "row-1", "state", "<b>Den andra</b>")
        await eventually(lambda: len(emitted) == 3, "one message per distinct change")
        assert sorted(str(e[1]["row-1"]["state"]) for e in emitted[1:]) == ["<b>Den andra</b>", "<b>Den ena</b>"]
        assert [e[2] for e in emitted[1:]] in ([[first.client.id], [second.client.id]],
                                               [[second.client.id], [first.client.id]])
    finally:
        CELLCAST._ready.difference_update(tabs)
