"""New notices noticed outside the visible tab: the unread count in the tab's title, an optional sound, and an
optional desktop notification (the browser's Notification API) while Samplan is in the background.

- **The title**: "(3) Inkorg – Samplan" while the acting unit has unacknowledged notices (the inbox's unread count,
  which the header's badge shows too: `show_count`, called by the frame whenever the count changes); set on the
  server (`ui.page_title`), so it is in the page's first response and follows every change.
- **Sound and desktop notification** are each the user's choice, on the settings page (`/installningar`, the user
  menu's "Inställningar"), and both are off until chosen. The choice is kept in the browser's `localStorage`, per
  user (keyed by the user's internal id, not their name): the desktop notification's permission is the browser's
  own (per browser profile and site), and whether a sound suits depends on the device (a shared ward workstation,
  a headset), so a choice made on one computer should not switch on sound or notices on another. Nothing of it is
  sent to the server, and nothing needs a migration.
- **Permission** is asked once, and only on the user's own click ("Tillåt skrivbordsnotiser" on the settings page:
  the browser's prompt needs a user gesture). A refused permission is the browser's to change; the page says how.
- **No personal data** in a desktop notification: the kind of notice and the sending unit ("Nytt
  inskrivningsmeddelande från Avd 12 Geriatrik"), never the patient's name or identity number (a notification
  stays on a screen others may see).
- **One per notice per browser**: every open tab of the user gets the notice; the first tab to claim its event id
  (in `localStorage`) plays the sound or shows the notification, a visible tab before a hidden one (a hidden tab
  waits a moment; a visible tab needs no desktop notification: its toast shows). A notification's `tag` is the
  event id, so the browser replaces rather than stacks a repeat.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from nicegui import background_tasks, ui

from realtime.envelope import Envelope

if TYPE_CHECKING:
    from ui.frame import Frame

SCRIPT = r"""
<script>
window.spAttention = window.spAttention || (() => {
  const SEEN = 'samplan.attention.seen';
  const key = (user) => 'samplan.attention.' + user;
  const supported = () => 'Notification' in window;
  let audio = null;
  function settings(user) {
    try {
      return Object.assign({sound: false, desktop: false}, JSON.parse(localStorage.getItem(key(user)) || '{}'));
    } catch (e) { return {sound: false, desktop: false}; }
  }
  function save(user, value) { localStorage.setItem(key(user), JSON.stringify(value)); return settings(user); }
  function permission() { return supported() ? Notification.permission : 'unsupported'; }
  async function ask() {
    if (!supported()) return 'unsupported';
    if (Notification.permission !== 'default') return Notification.permission;
    return await Notification.requestPermission();
  }
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.08;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no audio on this device */ }
  }
  function claim(id) {
    let seen = [];
    try { seen = JSON.parse(localStorage.getItem(SEEN) || '[]'); } catch (e) { seen = []; }
    if (seen.includes(id)) return false;
    seen.push(id);
    localStorage.setItem(SEEN, JSON.stringify(seen.slice(-50)));
    return true;
  }
  function hidden() { return document.visibilityState !== 'visible'; }
  function notice(user, id, text) {
    const chosen = settings(user);
    if (!chosen.sound && !chosen.desktop) return;
    const run = () => {
      if (!claim(id)) return;
      if (chosen.sound) beep();
      if (chosen.desktop && hidden() && permission() === 'granted') {
        const shown = new Notification('Samplan', {body: text, tag: 'samplan-' + id, lang: 'sv'});
        shown.onclick = () => { window.focus(); shown.close(); };
      }
    };
    if (hidden()) setTimeout(run, 400); else run();
  }
  return {settings, save, permission, ask, beep, notice};
})();
</script>
"""


def install() -> None:
    """The browser side, in every page's head (`ui/app.py` calls this once)."""
    ui.add_head_html(SCRIPT, shared=True)


def show_count(frame: Frame, count: int) -> None:
    """The unread count in the tab's title, "(3) Inkorg – Samplan"; the plain title at 0."""
    title = f"({count}) {frame.title}" if count > 0 else frame.title
    if frame.client.title != title:
        with frame.client:
            ui.page_title(title)


def notice_text(frame: Frame, envelope: Envelope, text: str) -> str:
    """What the desktop notification says: the kind of notice and the sending unit, never the patient."""
    sender = envelope.data.get("actor_unit_id")
    if isinstance(sender, str) and frame.hub.knows_unit(sender):
        return f"{text} från {frame.hub.unit_name(sender)}"
    return text


def notice(frame: Frame, envelope: Envelope, text: str) -> None:
    """A new notice for the acting unit: the browser plays the sound or shows the notification if the user chose
    so (and, for the notification, Samplan is in the background). The sending unit's name is fetched first if this
    process does not know it yet."""
    def send() -> None:
        args = ", ".join(map(json.dumps, (frame.user_id, envelope.event_id, notice_text(frame, envelope, text))))
        frame.client.run_javascript(f"window.spAttention && window.spAttention.notice({args})")

    sender = envelope.data.get("actor_unit_id")
    if not isinstance(sender, str) or frame.hub.knows_unit(sender):
        send()
        return

    async def name_then_send() -> None:
        await frame.hub.load_units(frame.token, [sender])  # an unknown unit stays unnamed: the kind alone
        send()

    background_tasks.create(name_then_send(), name="notice-sender-name")
