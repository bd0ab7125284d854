"""What the parts of the SIP meeting room share: the room as its parts see it (`Room`), the modal form
(`FormDialog`) whose submit button follows the plan's state live, what the acting unit may do (`may`, from the
plan's `allowed_actions`: the API's own rule) and why not (`why_not`), Swedish messages for the API's refusals of
a SIP command by their problem code (`sip_message`), and dates and times typed in Stockholm time.
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

# The API's refusals of SIP commands, by their problem code (docs/api.md, "SIP refusals"; the domain's codes are
# `domain.sip.Refusal`). Never by the API's English `detail`, which is for developers.
CODE_MESSAGES = {
    # the acting unit's part
    "not_plan_participant": "Din enhet deltar inte i planen.",
    "not_responsible_for_plan": "Bara planens ägare eller huvudmannen med huvudansvaret kan göra detta.",
    "not_plan_owner": "Bara planens ägare kan lämna över planen.",
    "answers_for_own_unit_only": "En enhet svarar bara för sig själv.",
    "not_your_unit": "Du arbetar inte på den enheten.",
    "not_case_participant": "Din enhet deltar inte i ärendet.",
    "acting_unit_not_allowed": "Du kan inte arbeta för den enheten i planen.",
    "forbidden": "Du har inte behörighet att göra detta.",
    # the plan's state
    "plan_closed": "Planen är avslutad och kan inte ändras.",
    "sharing_ended": "Samtycket är återkallat: planen kan inte ändras förrän nytt samtycke registreras.",
    "consent_required": "Personens samtycke behöver registreras först.",
    "no_consent_to_withdraw": "Det finns inget gällande samtycke att återkalla.",
    "no_agreed_version": "Planen kan följas upp först när en version är fastställd.",
    "already_agreed": "Det som står nu är redan fastställt.",
    "already_approved": "Din huvudman har redan justerat det som står nu.",
    "missing_contents": "Planen är inte komplett än och kan inte justeras.",
    "next_of_kin_objected": "Personen vill inte att närstående deltar.",
    "meeting_cancelled": "Mötet är inställt.",
    "meeting_over": "Mötet har redan varit.",
    "no_unit_to_hand_over_to": "Ingen annan enhet omfattas av samtycket: planen kan inte lämnas över än.",
    "case_cancelled": "Ärendet är makulerat och kan inte ha en SIP.",
    "acting_unit_required": "Välj vilken enhet du arbetar för.",
    "case_or_person_required": "Ange ärendet eller personen planen gäller.",
    "unknown_unit": "Enheten finns inte eller är inte längre aktiv.",
    "unit_without_principal": "Enheten hör inte till en region eller kommun.",
    "invalid_identity": "Personnumret är inte giltigt.",
    "not_a_field_of_list": "Uppgiften hör inte till den här delen av planen.",
    # a value
    "text_required": "Fyll i texten.",
    "text_too_long": "Texten är för lång.",
    "not_text": "Uppgiften måste vara text.",
    "wrong_item_type": "Uppgiften hör inte till den här delen av planen.",
    "person_required": "Ange personen planen gäller.",
    "plan_not_for_case": "Planen hör inte till det här ärendet.",
    "id_taken": "Det finns redan en sådan uppgift. Försök igen.",
    "unit_already_participates": "Enheten deltar redan i planen.",
    "owner_cannot_leave": "Planens ägare kan inte tas bort. Lämna över planen först.",
    "responsibility_not_participating": "Huvudansvaret kan bara ges till en huvudman som deltar i planen.",
    "follow_up_not_a_date": "Ange ett datum för uppföljningen.",
    "follow_up_date_passed": "Datumet för uppföljningen har redan passerat.",
    "principal_mismatch": "Den ansvariga enheten hör till en annan huvudman.",
    "principal_not_participating": "Huvudmannen deltar inte i planen.",
    "unknown_participant": "Deltagaren finns inte längre i planen.",
    "consent_in_future": "Samtycket kan inte vara givet senare än nu.",
    "withdrawal_time_invalid": "Återkallelsen måste ligga mellan samtycket och nu.",
    "invitee_not_visible": "Bara enheter som omfattas av samtycket kan bjudas in.",
    "nobody_invited": "Bjud in minst en deltagare.",
    "meeting_in_past": "Mötet kan inte börja i det förflutna.",
    "meeting_ends_before_start": "Mötet måste sluta efter att det har börjat.",
    "place_or_video_link_required": "Ange en plats eller en videolänk.",
    "video_link_not_https": "Videolänken måste vara en https-länk (börja med https://).",
    "answer_required": "Svara kommer eller kommer inte.",
    "invitee_required": "Välj vem som svarar.",
    "follow_up_time_invalid": "Uppföljningen måste ligga mellan att versionen fastställdes och nu.",
    "hand_over_target_invalid": "Planen kan bara lämnas över till en enhet som deltar och omfattas av samtycket.",
    "already_owner": "Enheten är redan planens ägare.",
    # something named that does not exist
    "not_found": "Planen finns inte, eller så är den inte längre synlig för din enhet.",
    "version_not_found": "Versionen finns inte.",
    "meeting_not_found": "Mötet finns inte längre.",
    "item_not_found": "Någon annan har tagit bort detta under tiden.",
    "participant_not_found": "Deltagaren finns inte längre i planen.",
    "invitation_not_found": "Det finns ingen sådan inbjudan till mötet.",
    "case_not_found": "Ärendet finns inte, eller så är det inte synligt för din enhet.",
    # stale writes
    "version_conflict": "Någon annan har ändrat planen under tiden. Här är det nya läget – det du skrev finns kvar; "
                        "kontrollera och försök igen.",
    "field_conflict": "Någon annan har ändrat samma uppgift medan du skrev. Din text finns kvar.",
    "content_changed": "Planen har ändrats sedan du läste den. Läs igenom det nya läget och justera igen.",
    "plan_exists": "Planen finns redan.",
    "conflict": "Planen ändrades samtidigt av någon annan. Försök igen.",
    "validation_failed": "Uppgifterna är inte fullständiga eller har fel format.",
}
# Refusals for the acting unit's part in the plan: the room hides such an action rather than offering it disabled.
PART_REFUSALS = frozenset({"not_plan_participant", "not_responsible_for_plan", "not_plan_owner"})


def sip_message(exc: ApiError) -> str:
    """A Swedish sentence for a refused SIP command, by the problem's code (a malformed request: the client's
    message naming the fields)."""
    if exc.code == "validation_failed":
        return exc.message
    return CODE_MESSAGES.get(exc.code, exc.message)


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
    return ui.input(label, value=str(value)).props("type=date stack-label outlined").classes(
        "min-w-[12rem]").mark(marker)


def time_input(label: str, value: str, marker: str) -> ui.input:
    return ui.input(label, value=value).props("type=time stack-label outlined").classes("min-w-[9rem]").mark(marker)
