"""What the dialogs that create something through one POST share ("Ny inskrivning", "Ny SIP"): one `Idempotency-Key`
per body (`RequestKey`), the save button busy while the request runs, and the API's refusals shown next to the
fields they name (`inputs`: the API's field name -> the input), else in the form's alert."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ui.api_client import ApiError, Json, RequestKey
from ui.frame import Frame

FIX_FIELDS = "Rätta de markerade fälten."
IDENTITY_INVALID = "Personnumret eller samordningsnumret är inte giltigt."


class CreateForm:
    frame: Frame
    alert: ui.label
    save_button: ui.button
    inputs: dict[str, Any]

    def __init__(self) -> None:
        self.request = RequestKey()

    def show_alert(self, message: str) -> None:
        self.alert.set_text(message)
        self.alert.set_visibility(bool(message))

    async def send(self, body: Json, post: Callable[[str, str], Awaitable[Json]]) -> Json | None:
        """`post(token, key)` with the body's key; the answer, or None after a refusal (shown)."""
        key = self.request.for_body(body)
        self.save_button.props("loading")
        try:
            token = await self.frame.fresh_token()
            answer = await post(token, key)
        except ApiError as exc:
            self.refused(exc)
            return None
        finally:
            self.save_button.props(remove="loading")
        self.request.answered()
        return answer

    def refused(self, exc: ApiError) -> None:
        """Show the API's answer next to the fields it names; after a definite refusal the next save is a new
        request (a new key), after no answer at all (503) the same one (a replay)."""
        self.request.answered(exc)
        shown = False
        for error in (e for e in exc.problem.get("errors", []) if isinstance(e, dict)):
            field = str(error.get("field", ""))
            element = self.inputs.get(field)
            if element is not None:
                element.error = IDENTITY_INVALID if exc.code == "invalid_identity" else self.field_message(field, exc)
                shown = True
        self.show_alert(FIX_FIELDS if shown else self.refusal_message(exc))

    def field_message(self, field: str, exc: ApiError) -> str:
        return "Uppgiften godtogs inte."

    def refusal_message(self, exc: ApiError) -> str:
        return exc.message
