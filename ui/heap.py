"""Garbage-collector pacing for a process that holds many pages.

With hundreds of open tabs the UI process holds millions of objects (NiceGUI elements and their props), and a
full collection of CPython's cyclic garbage collector then stops the event loop for a second or more, which every
open tab feels as a late update. So each built page is frozen (`gc.freeze()`: moved to the permanent
generation, which automatic collections skip), and the whole heap is collected on a fixed schedule instead, when a
pause is expected (`FULL_COLLECT_SECONDS`). Objects of closed pages are freed by reference counting at once; only
cyclic garbage of closed pages waits for the scheduled collection.
"""

from __future__ import annotations

import gc
import logging
import time

from nicegui import app

FULL_COLLECT_SECONDS = 900.0
log = logging.getLogger("samplan.ui.heap")


def page_built() -> None:
    """A page is built: its objects will live as long as the tab, so keep them out of automatic collections."""
    gc.freeze()


def collect() -> None:
    started = time.perf_counter()
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    log.info("scheduled full collection: %d objects freed in %.0f ms", freed, (time.perf_counter() - started) * 1000)


def start() -> None:
    app.timer(FULL_COLLECT_SECONDS, collect)
