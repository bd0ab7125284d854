"""What the parts of the SIP meeting room share: the room as its parts see it (`Room`), the modal form
(`FormDialog`) whose submit button follows the plan's state live, what the acting unit may do (`may`, from the
plan's `allowed_actions`: the API's own rule) and why not (`why_not`, in the Swedish of `ui.components.sip`), and
dates and times typed in Stockholm time.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.date_field import date_field, time_field
from ui.components.sip import CODE_MESSAGES, sip_message
from ui.frame import Frame

Allowed = Callable[[Json], bool]

# Refusals for the acting unit's part in the plan: the room hides such an action rather than offering it disabled.
PART_REFUSALS = frozenset({"not_plan_participant", "not_responsible_for_plan", "not_plan_owner"})


def may(plan: Json, action: str) -> bool:
    """The API allows the acting unit this action now (`allowed_actions`, the rule every command checks)."""
    return action in (plan.get("allowed_actions") or ())


def refusal(plan: Json, action: str) -> str | None:
    """The code of the refusal the action would get now (None when allowed)."""
    if may(plan, action):
        return None
    return str((plan.get("refused_actions") or {}).get(action, "not_plan_participant"))


def why_not(plan: Json, action: str) -> str:
    """Why the action cannot be taken now, in Swedish ("" when it can)."""
    code = refusal(plan, action)
    return "" if code is None else CODE_MESSAGES.get(code, "Det går inte just nu.")


def for_my_part(plan: Json, action: str) -> bool:
    """Not refused for the acting unit's part: the action is allowed, or only not possible in the plan's state
    (then it is shown, disabled, with the reason)."""
    return refusal(plan, action) not in PART_REFUSALS


class Room(Protocol):
    """The meeting room (`SipRoom` in this package) as its parts use it."""

    frame: Frame
    plan: Json
    dialog_host: ui.element

    @property
    def plan_id(self) -> str: ...

    @property
    def editable(self) -> bool: ...

    @property
    def visible(self) -> bool: ...

    async def command(self, path: str, body: Json) -> Json: ...

    def apply_plan(self, plan: Json) -> None: ...

    async def reload(self) -> Json | None: ...

    def value_of(self, key: tuple[str, ...], plan: Json) -> tuple[dict[str, Any], int] | None: ...

    def track(self, dialog: FormDialog) -> None: ...

    def untrack(self, dialog: FormDialog) -> None: ...


class FormDialog:
    """A modal form of the room: a heading, labelled fields, a message area (`role="alert"`), "Avbryt" and the
    submit button. While it is open the room tells it every newer plan (`follow`): when the plan no longer
    allows the command (closed, consent withdrawn, no longer visible) the submit button is disabled with a note,
    and the fields keep what the user typed."""

    def __init__(self, room: Room, title: str, submit_text: str, marker: str, allowed: Allowed) -> None:
        self.room = room
        self.allowed = allowed
        self.title = title
        with room.dialog_host, ui.dialog().props(f'aria-label="{title}"') as self.dialog, \
                ui.card().classes("min-w-[30rem] max-w-[44rem] gap-3 text-lg"):
            ui.label(title).classes("text-2xl font-bold").props('role="heading" aria-level="2"')
            self.body = ui.column().classes("w-full gap-3")
            self.note = ui.label("").classes("sp-at_risk").props('role="alert"').mark(f"{marker}-note")
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Avbryt", on_click=self.close).props("flat no-caps size=lg")
                self.submit_button = ui.button(submit_text, on_click=self._submit).props(
                    "no-caps color=primary size=lg").mark(marker)
        self._on_submit: Callable[[], Awaitable[bool]] | None = None
        self._busy = False
        self._gone = False
        self.dialog.on("hide", self._closed)  # closed in the browser (Escape, a click outside)

    def open(self, on_submit: Callable[[], Awaitable[bool]]) -> None:
        """Show the form; `on_submit` returns True when the dialog may close."""
        self._on_submit = on_submit
        self.room.track(self)
        self.follow(self.room.plan)
        self.dialog.open()

    def close(self) -> None:
        """Close and remove the form at once: not waiting for the browser's "hide", which a tab that lost its
        connection never sends (the form would stay in memory, followed by the room)."""
        self.dialog.close()
        self._closed()

    def _closed(self) -> None:
        if self._gone:
            return
        self._gone = True
        self.room.untrack(self)
        self.dialog.delete()

    def follow(self, plan: Json) -> None:
        ok = self.room.visible and self.allowed(plan)
        self.submit_button.set_enabled(ok)
        if not ok:
            self.note.set_text("Planen har ändrats: det här går inte längre att göra. Det du skrev finns kvar.")
        elif self.note.text.startswith("Planen har ändrats"):
            self.note.set_text("")

    def fail(self, message: str) -> None:
        self.note.set_text(message)

    async def _submit(self) -> None:
        if self._busy or self._on_submit is None:
            return
        self._busy = True
        try:
            if await self._on_submit():
                self.close()
        finally:
            self._busy = False

    async def run(self, path: str, body: Json, done: str) -> bool:
        """Send one command; on success show the plan and say `done`. On a refusal say why in the form (a stale
        version shows the plan as it is now; what was typed stays) and keep it open."""
        try:
            result = await self.room.command(path, body)
        except ApiError as exc:
            if exc.status == 409 and exc.current is not None:
                self.room.apply_plan(exc.current)
            self.fail(sip_message(exc))
            return False
        self.room.apply_plan(result)
        ui.notify(done, type="positive", position="top")
        return True


def text(value: str, tag: str = "span") -> ui.html:
    """Plain text in an element of its own tag (`dt`, `dd`, `li`): escaped, never HTML."""
    return ui.html(html.escape(value), sanitize=False, tag=tag)


def labelled_checkbox(text: str, value: bool, marker: str) -> ui.checkbox:
    return ui.checkbox(text, value=value).classes("text-lg").mark(marker)


# ----- dates and times (typed in Stockholm time) ------------------------------------------------------------------

def now_local() -> datetime:
    moment = fmt.local(datetime.now(UTC))
    assert moment is not None
    return moment


def stockholm_iso(day: Any, time: Any) -> str | None:
    """`2026-11-26` and `14:05` typed in Stockholm time, as ISO 8601 with its offset (None if not valid)."""
    if not day or not time:
        return None
    try:
        naive = datetime.fromisoformat(f"{day}T{time}")
    except ValueError:
        return None
    return naive.replace(tzinfo=fmt.STOCKHOLM).isoformat()


def typed_time(day: Any, time: Any) -> str | None:
    """A moment typed to the minute (`stockholm_iso`); the current minute means now, to the second (a consent or
    a follow-up recorded "now" must not fall before an agreement made earlier in the same minute)."""
    typed = stockholm_iso(day, time)
    now = now_local()
    if typed is not None and typed == now.replace(second=0, microsecond=0).isoformat():
        return now.isoformat()
    return typed


def date_input(label: str, value: date | str, marker: str) -> ui.input:
    """`ÅÅÅÅ-MM-DD` typed or picked in a Swedish calendar (not the browser's date input, which follows its language)."""
    return date_field(label, str(value), classes="min-w-[12rem]").props("outlined").mark(marker)


def time_input(label: str, value: str, marker: str) -> ui.input:
    """`TT:MM`, 24 hours (not the browser's time input: AM/PM in an English browser)."""
    return time_field(label, value).props("outlined").mark(marker)
