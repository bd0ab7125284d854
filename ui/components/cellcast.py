"""Cell broadcast: one socket.io message for every tab that shows the same cell content.

NiceGUI sends each tab (client) its own update: the element's dict, checked for binary data and serialised per
tab, through a per-tab outbox task. With 300 tabs of one board, that per-tab work decides how long the last
tab waits for a change. A `CellCast` instead:

- sets the content of the server's element quietly (no update is queued), so whatever NiceGUI sends that tab
  later (a moved row, a reconnect) carries the new content;
- collects, within one turn of the event loop, what every tab's rows got, groups the tabs whose changes are
  identical, and sends each group ONE `sp_cells` message (serialised once, addressed to the tabs' rooms);
- in the browser, a small script writes the content into the tab's own elements (found by `data-row` on the
  row and `data-cell` on the cell), through NiceGUI's element store, so Vue re-renders just those cells.

A tab takes part only once its script has said it listens (`sp_cells_ready`); before that, and in tests without
a browser, cells are set the ordinary way. Whenever a ready tab's socket (re)connects, all its cells are sent once
more as a queued `sp_cells` message (after anything NiceGUI replays), so a broadcast that went to a dead
connection is repaired.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from nicegui import Client, background_tasks, core, ui

EVENT = "sp_cells"
READY_EVENT = "sp_cells_ready"

SCRIPT = """<script>
(() => {
  if (window.spCellcast) return;
  window.spCellcast = true;
  window.spCellcastCount = 0;
  const apply = (message) => {
    window.spCellcastCount += 1;
    const elements = mounted_app.elements;
    for (const element of Object.values(elements)) {
      const cells = message[element.props?.["data-row"]];
      if (!cells) continue;
      for (const child of element.children || []) {
        const cell = elements[child];
        const name = cell?.props?.["data-cell"];
        if (name && name in cells) cell.props.innerHTML = cells[name];
      }
    }
  };
  const install = () => {
    if (!window.socket || typeof mounted_app === "undefined" || !mounted_app) { setTimeout(install, 20); return; }
    window.socket.on("__EVENT__", apply);
    window.socket.emit("__READY__", { client_id: window.clientId }, (ok) => { window.spCellcastReady = ok; });
  };
  install();
})();
</script>""".replace("__EVENT__", EVENT).replace("__READY__", READY_EVENT)


def quiet_set(element: ui.html, content: str) -> None:
    """Set an HTML element's content on the server without queueing an update to its tab.

    Relies on two NiceGUI internals (a bindable property keeps its value under '___' + name; the props are an
    observable dict): `tests/ui/test_cellcast.py` fails if either changes.
    """
    setattr(element, "___content", content)
    dict.__setitem__(element.props, element.CONTENT_PROP, content)  # the dict itself: no change notification


class CellCast:
    """The process's cell broadcaster (one per process: `CELLCAST`)."""

    def __init__(self) -> None:
        self._ready: weakref.WeakSet[Client] = weakref.WeakSet()
        self._cells: weakref.WeakKeyDictionary[Client, weakref.WeakKeyDictionary[ui.html, tuple[str, str]]] = \
            weakref.WeakKeyDictionary()  # per tab: each broadcast cell -> (row, cell name)
        self._batch: dict[str, dict[str, dict[str, str]]] = {}  # client id -> row key -> cell name -> content
        self._scheduled = False
        self.messages = 0  # sent `sp_cells` messages (for tests and benchmarks)

    # ----- set-up -----------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Register the socket event (once per app build)."""
        core.sio.on(READY_EVENT, self._on_ready)

    def page(self) -> None:
        """Add the browser script to the page being built."""
        ui.add_body_html(SCRIPT)

    def cell(self, element: ui.html, row: str, name: str) -> ui.html:
        """Mark an element as the cell `name` of the row `row` (the row element carries `data-row="{row}"`)."""
        if callable(element._sanitize):  # a quiet set would bypass the element's sanitizer
            raise ValueError("a broadcast cell holds HTML built by us (sanitize=False), never a sanitized input")
        element.props(f'data-cell="{name}"')
        client = element.client
        cells = self._cells.get(client)
        if cells is None:
            cells = self._cells[client] = weakref.WeakKeyDictionary()
            client.on_connect(lambda: self._repair(client))
        cells[element] = (row, name)
        return element

    async def _on_ready(self, sid: str, data: Any) -> bool:
        """The tab's script listens (the answer goes back to it as the event's acknowledgement)."""
        client = Client.instances.get(str(data.get("client_id"))) if isinstance(data, dict) else None
        if client is None or client.id not in core.sio.rooms(sid):  # only the client's own socket may say so
            return False
        self._ready.add(client)
        return True

    def _repair(self, client: Client) -> None:
        """A listening tab's socket (re)connected: send it all its cells once more.

        As a queued message, not as element updates: on a reconnect NiceGUI first queues the messages the tab
        missed for replay, and its outbox sends element updates before queued messages, so a repair sent as
        updates could be overtaken by a replayed older message. Queued after the replay, it comes last (and it is
        kept in NiceGUI's history like any message).
        """
        if client not in self._ready:
            return
        payload: dict[str, dict[str, str]] = {}
        for element, (row, name) in list(self._cells.get(client, {}).items()):
            if not element.is_deleted:
                payload.setdefault(row, {})[name] = element.content
        if payload:
            client.outbox.enqueue_message(EVENT, payload, client.id)

    def is_ready(self, client: Client) -> bool:
        return client in self._ready and client.has_socket_connection

    # ----- sending ----------------------------------------------------------------------------------------------

    def set(self, element: ui.html, row: str, name: str, content: str) -> None:
        """Give the cell `name` of row `row` new content: broadcast to a ready tab, the ordinary way otherwise."""
        client = element.client
        if not self.is_ready(client):
            element.set_content(content)
            return
        quiet_set(element, content)
        self._batch.setdefault(client.id, {}).setdefault(row, {})[name] = content
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Send what this turn collected: one message per distinct change, to all tabs that got it."""
        self._scheduled = False
        batch, self._batch = self._batch, {}
        groups: dict[tuple[Any, ...], tuple[dict[str, dict[str, str]], list[str]]] = {}
        for client_id, rows in batch.items():
            key = tuple((row, tuple(sorted(cells.items()))) for row, cells in sorted(rows.items()))
            group = groups.get(key)
            if group is None:
                groups[key] = (rows, [client_id])
            else:
                group[1].append(client_id)
        for payload, client_ids in groups.values():
            self.messages += 1
            background_tasks.create(core.sio.emit(EVENT, payload, to=client_ids), name="sp-cellcast")


CELLCAST = CellCast()
