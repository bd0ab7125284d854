"""What the parts of the SIP meeting room share: the room as its parts see it (`Room`), the modal form
(`FormDialog`) whose submit button follows the plan's state live, Swedish messages for the API's refusals of a
SIP command (`sip_message`), and dates and times typed in Stockholm time.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.frame import Frame

Allowed = Callable[[Json], bool]

# The API's refusals of SIP commands, by the field it names (InvalidValue) ...
FIELD_MESSAGES = {
    "starts_at": "Mötet kan inte börja i det förflutna.",
    "ends_at": "Mötet måste sluta efter att det har börjat.",
    "place": "Ange en plats eller en videolänk.",
    "video_link": "Videolänken måste vara en https-länk (börja med https://).",
    "invite_unit_ids": "Bjud in minst en deltagare.",
    "invite_participant_ids": "En av de inbjudna deltar inte längre i planen.",
    "given_at": "Samtycket kan inte vara givet senare än nu.",
    "scope_unit_ids": "Välj vilka enheter samtycket gäller.",
    "withdrawn_at": "Återkallelsen måste ligga mellan samtycket och nu.",
    "held_at": "Uppföljningen måste ligga mellan att versionen fastställdes och nu.",
    "notes": "Anteckningen är för lång.",
    "invitee_ref": "Det finns ingen sådan inbjudan till mötet.",
    "meeting_id": "Mötet finns inte längre.",
}
# ... and by words of the API's (English) detail, for refusals of the plan's state or of the acting unit.
DETAIL_MESSAGES = (
    ("sharing has ended", "Samtycket är återkallat: planen kan inte ändras förrän nytt samtycke registreras."),
    ("consent is recorded", "Personens samtycke behöver registreras först."),
    ("no consent in force", "Det finns inget gällande samtycke att återkalla."),
    ("meeting is cancelled", "Mötet är inställt."),
    ("meeting is over", "Mötet har redan varit."),
    ("cannot follow up", "Planen kan följas upp först när en version är fastställd."),
    ("is closed", "Planen är avslutad och kan inte ändras."),
    ("overall responsibility may", "Bara planens ägare eller huvudmannen med huvudansvaret kan göra detta."),
    ("answers only for itself", "En enhet svarar bara för sig själv."),
)
CODE_MESSAGES = {
    "version_conflict": "Någon annan har ändrat planen under tiden. Här är det nya läget – det du skrev finns kvar; "
                        "kontrollera och försök igen.",
    "not_allowed_for_part": "Din enhet kan inte göra detta i planen.",
    "invalid_transition": "Det går inte i planens nuvarande läge.",
    "not_found": "Planen finns inte, eller så är den inte längre synlig för din enhet.",
    "validation_failed": "Uppgifterna är inte fullständiga eller har fel format.",
}


def sip_message(exc: ApiError) -> str:
    """A Swedish sentence for a refused SIP command (the API's detail is English and for developers)."""
    for field in exc.fields:
        if exc.code == "invalid_value" and field in FIELD_MESSAGES:
            return FIELD_MESSAGES[field]
    if exc.code == "not_found" and "meeting_id" in exc.fields:
        return FIELD_MESSAGES["meeting_id"]
    detail = exc.detail.lower()
    for words, message in DETAIL_MESSAGES:
        if words in detail:
            return message
    return CODE_MESSAGES.get(exc.code, exc.message)


class Room(Protocol):
    """The meeting room (`ui/pages/sip_room.py`) as its parts use it."""

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
                ui.button("Avbryt", on_click=self.dialog.close).props("flat no-caps size=lg")
                self.submit_button = ui.button(submit_text, on_click=self._submit).props(
                    "no-caps color=primary size=lg").mark(marker)
        self._on_submit: Callable[[], Awaitable[bool]] | None = None
        self._busy = False
        self.dialog.on("hide", self._closed)

    def open(self, on_submit: Callable[[], Awaitable[bool]]) -> None:
        """Show the form; `on_submit` returns True when the dialog may close."""
        self._on_submit = on_submit
        self.room.track(self)
        self.follow(self.room.plan)
        self.dialog.open()

    def _closed(self) -> None:
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
                self.dialog.close()
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
    return ui.input(label, value=str(value)).props("type=date stack-label outlined").classes(
        "min-w-[12rem]").mark(marker)


def time_input(label: str, value: str, marker: str) -> ui.input:
    return ui.input(label, value=value).props("type=time stack-label outlined").classes("min-w-[9rem]").mark(marker)
