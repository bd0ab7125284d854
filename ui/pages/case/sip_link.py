"""The case view's SIP section: whether a SIP applies and the person's consent, the SIP invitation's deadline, and
the plan: "Öppna SIP" for the plan opened from the case, else "Starta SIP".

Whether a SIP applies (and the consent) is set through "Bedöm SIP och samtycke" where the API allows the acting
unit `set_sip_applies` (every part of an open case: either principal's judgement binds both); a refused consent
means no SIP invitation is due (the domain's rule; the deadline shown is the API's). The view asks for the plan
opened from this case among those the user's units see (`GET /sip-plans?case_id=`; the case's own `sip_plan_id`
when the list cannot be read). Who may start the plan is the API's to decide (`POST /sip-plans` with `case_id` and
`owner_unit_id`): a refusal comes with its code (docs/api.md, "SIP refusals") and is shown in Swedish
(`ui.components.sip.sip_message`). A started plan opens in its room (`/sip/{id}`), which links back to the case and
shows the same deadline.
"""

from __future__ import annotations

import uuid

from nicegui import background_tasks, ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import actions
from ui.components.sections import facts_html
from ui.components.sip import case_sip_facts, sip_message
from ui.frame import Frame
from ui.pages.case.parts import card, heading
from ui.single_flight import one_at_a_time

NO_SIP_STATES = ("cancelled", "closed")


class CaseSip:
    """The case's SIP section: the facts, the assessment, and the linked plan or the button that starts it."""

    def __init__(self, frame: Frame, case: Json) -> None:
        self.frame = frame
        self.case = case
        self.plan_id: str | None = None
        self.key = str(uuid.uuid4())  # one per start: a retry after a lost answer replays it (no second plan)
        with card("SIP").mark("case-sip-section") as self.card:
            heading("SIP – samordnad individuell plan")
            self.facts = ui.html("", sanitize=False).mark("case-sip-facts")
            self.row = ui.row().classes("items-center gap-3").props('role="group" aria-label="SIP"').mark("case-sip")
        self.shown: object = None

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
        a case that can no longer have a plan loses the button; the facts follow."""
        before, self.case = self.case, case
        if self.plan_id is None and case.get("sip_applies") and not before.get("sip_applies"):
            background_tasks.create(self.load(), name="case-sip")
        else:
            self.render()

    def render(self) -> None:
        facts = facts_html(case_sip_facts(self.case))
        if facts != self.facts.content:
            self.facts.set_content(facts)
        shown = (self.plan_id, self.case["state"], actions.may(self.case, actions.SIP_APPLIES))
        if shown == self.shown:
            return
        self.shown = shown
        self.row.clear()
        with self.row:
            if self.plan_id is not None:
                ui.link("Öppna SIP", f"/sip/{self.plan_id}").classes("text-blue-10 font-bold text-lg").mark(
                    "open-sip")
            elif self.case["state"] not in NO_SIP_STATES:
                ui.button("Starta SIP", icon="groups", on_click=self.start).props(
                    "no-caps outline color=primary").mark("start-sip")
            if actions.may(self.case, actions.SIP_APPLIES):
                ui.button(actions.SIP_APPLIES.label, icon=actions.SIP_APPLIES.icon, on_click=self.assess).props(
                    "no-caps flat color=primary").mark("assess-sip")

    async def assess(self) -> None:
        """Ask whether a SIP applies and whether the person consents; the API decides whether that may be saved."""
        case = self.case
        consent = case.get("sip_consent")
        with self.card, ui.dialog().props('aria-label="Bedöm SIP och samtycke"') as dialog, \
                ui.card().classes("min-w-[24rem]"):
            ui.label("Bedöm SIP och samtycke").classes("text-lg font-bold").props('role="heading" aria-level="2"')
            ui.label("Behövs en samordnad individuell plan?").classes("font-bold")
            applies = ui.radio(fmt.SIP_APPLIES_CHOICES, value="yes" if case.get("sip_applies") else "no").props(
                'aria-label="Behövs SIP"').mark("sip-applies")
            ui.label("Samtycker personen till SIP?").classes("font-bold")
            consents = ui.radio(fmt.SIP_CONSENT_CHOICES, value=str(consent).lower()).props(
                'aria-label="Samtycke till SIP"').mark("sip-consent")
            consents.set_enabled(applies.value == "yes")
            applies.on_value_change(lambda e: consents.set_enabled(e.value == "yes"))
            ui.label("Avböjer personen behövs ingen kallelse till SIP.").classes("text-sm sp-muted")
            with ui.row().classes("justify-end w-full"):
                ui.button("Avbryt", on_click=lambda: dialog.submit(None)).props("flat no-caps")
                ui.button("Spara", on_click=lambda: dialog.submit(True)).props("no-caps color=primary").mark(
                    "sip-assessment-save")
        dialog.open()
        try:
            if not await dialog:
                return
            yes = applies.value == "yes"
            body = {"applies": yes, "consent": {"true": True, "false": False}.get(consents.value) if yes else None}
            await actions.perform(self.frame, case, actions.SIP_APPLIES, body=body)
        finally:
            if not dialog.is_deleted:
                dialog.delete()

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
