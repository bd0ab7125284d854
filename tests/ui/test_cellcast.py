"""The cell broadcast's server side (ui/components/cellcast.py): a quiet set changes what the server holds for
the cell (what any later render or repair sends) without queueing NiceGUI's per-tab update; a tab whose page
script has not said it listens gets the ordinary update."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from nicegui import ui
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


async def test_a_listening_tab_gets_no_update_until_its_socket_reconnects(user: User, http: httpx.AsyncClient,
                                                                         auth: Auth) -> None:
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

        for handler in client.connect_handlers:  # the socket reconnects: what it may have missed is sent again
            client.safe_invoke(handler)
        assert client.outbox.updates.get(cell.id) is cell
        assert cell._to_dict()["props"]["innerHTML"] == "<b>Sänt till alla</b>"
    finally:
        CELLCAST._ready.discard(client)
