"""Sections of a page that change only when their content does (the case view's read-only parts).

The board sets a cell's HTML only when it differs (`cells.board_cells`); these do the same for larger pieces:

- `HtmlSection`: read-only content rendered to an HTML string (escaped, no handlers). A change renders it again
  and sends it to the browser only if the string differs: an event that touches another part of the case costs a
  string comparison here, not a redraw.
- `KeyedSection`: content with controls (buttons, a table with row actions). It is rebuilt only when its key (the
  data it shows, as a tuple) changes, so a control the user is about to click is not replaced under them by a
  change elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nicegui import ui

from ui.components.cells import escape


class HtmlSection:
    def __init__(self, render: Callable[[], str]) -> None:
        self.render = render
        self.element = ui.html(render(), sanitize=False)
        self.updates = 0  # how often the browser got new content (tests and benches read it)

    def update(self) -> bool:
        """Render again; send only a different result. True when it changed."""
        content = self.render()
        if content == self.element.content:
            return False
        self.element.set_content(content)
        self.updates += 1
        return True


class KeyedSection:
    def __init__(self, key: Callable[[], object], build: Callable[[], None]) -> None:
        self.key_of = key
        self.build = build
        self.container = ui.element("div").classes("w-full")
        self.key = key()
        self.builds = 1
        with self.container:
            build()

    def update(self) -> bool:
        """Rebuild when the key changed. True when it did."""
        key = self.key_of()
        if key == self.key:
            return False
        self.key = key
        self.container.clear()
        with self.container:
            self.build()
        self.builds += 1
        return True


def facts_html(facts: Iterable[tuple[str, str]], *, extra_class: str = "") -> str:
    """Label/value pairs as a description list (`<dl>`), values escaped."""
    items = "".join(f'<div><dt class="text-xs sp-muted">{escape(label)}</dt><dd class="m-0">{escape(value)}</dd></div>'
                    for label, value in facts)
    return f'<dl class="flex flex-wrap gap-x-6 gap-y-2 m-0 {extra_class}">{items}</dl>'
