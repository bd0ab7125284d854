"""Keyboard behaviour the ARIA patterns we declare promise: a `role="menu"` moves between its `menuitem`s with the
arrow keys, Home and End (WAI-ARIA menu pattern), wrapping at the ends and skipping disabled items. Quasar's menu
moves the focus no further than itself (or leaves it on the button that opened it), so this one handler, in every
page's head, does it for every menu of the UI (the user menu, a row's "Åtgärder", the case view's actions)."""

from __future__ import annotations

from nicegui import ui

MENU_KEYS = r"""
<script>
document.addEventListener('keydown', (event) => {
  if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(event.key) || !event.target.closest) return;
  let menu = event.target.closest('[role="menu"]');
  if (!menu && (event.target === document.body || event.target.closest('[aria-haspopup="menu"]'))) {
    // the focus is still on the button that opened the menu, or nowhere yet: the open menu (Quasar puts it at the
    // end of <body>, fixed in place)
    const open = [...document.querySelectorAll('[role="menu"]')].filter((m) => m.getClientRects().length > 0);
    menu = open[open.length - 1];
  }
  if (!menu) return;
  const items = [...menu.querySelectorAll('[role="menuitem"]')].filter(
    (item) => item.getAttribute('aria-disabled') !== 'true' && !item.classList.contains('disabled'));
  if (!items.length) return;
  const at = items.indexOf(event.target.closest('[role="menuitem"]'));
  const next = {
    ArrowDown: items[(at + 1) % items.length],
    ArrowUp: items[at < 0 ? items.length - 1 : (at - 1 + items.length) % items.length],
    Home: items[0],
    End: items[items.length - 1],
  }[event.key];
  event.preventDefault();
  next.focus();
});
</script>
"""


def install() -> None:
    ui.add_head_html(MENU_KEYS, shared=True)
