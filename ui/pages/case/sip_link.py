"""The case view's SIP row: "Öppna SIP" for the plan opened from the case, else "Starta SIP".

The view asks for the plan opened from this case among those the user's units see (`GET /sip-plans?case_id=`;
the case's own `sip_plan_id` when the list cannot be read). Who may start the plan is the API's to decide
(`POST /sip-plans` with `case_id` and `owner_unit_id`): a refusal comes with its code (docs/api.md, "SIP refusals")
and is shown in Swedish (`ui.components.sip.sip_message`). A started plan opens in its room (`/sip/{id}`).
"""

from __future__ import annotations

import uuid

from nicegui import background_tasks, ui

from ui.api_client import ApiError, Json
from ui.components.sip import sip_message
from ui.frame import Frame
from ui.single_flight import one_at_a_time

NO_SIP_STATES = ("cancelled", "closed")


class CaseSip:
    """One row in the case view: the linked plan, or the button that starts it."""

    def __init__(self, frame: Frame, case: Json) -> None:
        self.frame = frame
        self.case = case
        self.plan_id: str | None = None
        self.key = str(uuid.uuid4())  # one per start: a retry after a lost answer replays it (no second plan)
        self.row = ui.row().classes("items-center gap-3").props('role="group" aria-label="SIP"').mark("case-sip")

    async def load(self) -> None:
        """Find the plan opened from this case among the plans the user's units see."""
        try:
            token = await self.frame.fresh_token()
            page: Json = await self.frame.api.request("GET", "/sip-plans", token,
                                                      params={"case_id": self.case["id"], "limit": 1})
        except ApiError:
            page = {"items": []}  # no list: offer to start; the API refuses a second plan's reasons itself
        self.plan_id = next((p["id"] for p in page["items"] if p.get("case_id") == self.case["id"]),
                            self.case.get("sip_plan_id"))
        self.render()

    def follow(self, case: Json) -> None:
        """A newer state of the case: a plan started elsewhere (the case then has `sip_applies`) shows as its link;
        a case that can no longer have a plan loses the button."""
        before, self.case = self.case, case
        if self.plan_id is None and case.get("sip_applies") and not before.get("sip_applies"):
            background_tasks.create(self.load(), name="case-sip")
        elif case["state"] != before["state"]:
            self.render()

    def render(self) -> None:
        self.row.clear()
        with self.row:
            if self.plan_id is not None:
                ui.link("Öppna SIP", f"/sip/{self.plan_id}").classes("text-blue-10 font-bold text-lg").mark(
                    "open-sip")
            elif self.case["state"] not in NO_SIP_STATES:
                ui.button("Starta SIP", icon="groups", on_click=self.start).props(
                    "no-caps outline color=primary").mark("start-sip")

    @one_at_a_time
    async def start(self) -> None:
        try:
            token = await self.frame.fresh_token()
            owner = self.case.get("acting_unit_id") or self.frame.acting_unit
            plan: Json = await self.frame.api.request(
                "POST", "/sip-plans", token, acting_unit=owner,
                json={"case_id": self.case["id"], "owner_unit_id": owner}, idempotency_key=self.key)
        except ApiError as exc:
            if exc.status != 503:
                self.key = str(uuid.uuid4())  # a definite refusal: the next try is a new request
            ui.notify(sip_message(exc), type="negative")
            return
        self.plan_id = str(plan["id"])
        self.render()
        ui.navigate.to(f"/sip/{self.plan_id}")
