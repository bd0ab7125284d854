"""The administration page's section for merging a reserve number (*reservnummer*) into the person's real identity
(`POST /admin/patient-identity-merges`, server/services/patient_merge.py): for administrators the API lets
(`GET /me` `capabilities.merge_identities`).

Both numbers are checked as they are typed by the domain's own parser (format and check digit); the API has the
last word. The step is confirmed first (it cannot be undone: the cases and plans move), and the answer says what
moved. Both numbers travel in the body, never in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from nicegui import ui

from domain.identity import IdentityKind, InvalidIdentity, parse_patient_identity
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import admin_message, heading, problem
from ui.components.confirm import confirm
from ui.frame import Frame

MESSAGES = {  # the API's refusals of a merge (docs/api.md), in Swedish
    "not_a_reserve_number": "Det är inget reservnummer (tolv siffror som börjar med 99).",
    "invalid_identity": "Personnumret eller samordningsnumret är inte giltigt.",
    "identity_already_merged": "Reservnumret är redan överfört till en riktig identitet.",
    "open_case_at_same_ward": "Personen har redan ett öppet ärende på en avdelning där reservnumret har ett. "
                              "Avsluta eller makulera det ena ärendet först.",
    "not_found": "Det finns inget reservnummer med det numret i ärenden som din organisation deltar i.",
}


def reserve_problem(text: str) -> str | None:
    """What is wrong with a typed reserve number (None: nothing, or nothing typed yet)."""
    if not text.strip():
        return None
    try:
        identity = parse_patient_identity(text, today=date.today())
    except InvalidIdentity:
        return "Skriv reservnumret med tolv siffror, till exempel 991234567890."
    return None if identity.kind is IdentityKind.RESERVNUMMER else "Det är inget reservnummer."


def identity_problem(text: str) -> str | None:
    """What is wrong with a typed personnummer or samordningsnummer (None: nothing, or nothing typed yet)."""
    if not text.strip():
        return None
    try:
        identity = parse_patient_identity(text, today=date.today())
    except InvalidIdentity:
        return "Skriv personnumret som ÅÅÅÅMMDD-NNNN; kontrollsiffran måste stämma."
    return "Ett reservnummer är ingen riktig identitet." if identity.kind is IdentityKind.RESERVNUMMER else None


class IdentityMergeSection:
    def __init__(self, frame: Frame, dialog_host: ui.element, notify: Callable[[str], None]) -> None:
        self.frame = frame
        self.dialog_host = dialog_host
        self.notify = notify
        with ui.element("section").props('aria-labelledby="sp-merge-heading"').classes("w-full mt-6"):
            heading("Reservnummer till riktig identitet", 2).props('id="sp-merge-heading"')
            ui.label("När en patient med reservnummer har identifierats förs reservnumret över till personens "
                     "personnummer eller samordningsnummer: alla ärenden och SIP:ar följer med. Historiken finns "
                     "kvar, och åtkomstloggen under reservnumret hittas också med personnumret.").classes(
                "sp-muted max-w-[60rem]")
            with ui.row().classes("items-start gap-4 flex-wrap"):
                self.reserve = ui.input("Reservnummer", placeholder="99NNNNNNNNNN", validation=reserve_problem).props(
                    'autocomplete="off" inputmode="numeric"').classes("min-w-[16rem]").mark("merge-reserve")
                self.identity = ui.input("Personnummer eller samordningsnummer", placeholder="ÅÅÅÅMMDD-NNNN",
                                         validation=identity_problem).props('autocomplete="off"').classes(
                    "min-w-[20rem]").mark("merge-identity")
                ui.button("För över till riktig identitet", icon="merge", on_click=self.merge).props(
                    "no-caps").classes("mt-2").mark("merge")
            self.result = ui.element("div").classes("w-full")

    async def merge(self) -> None:
        reserve, identity = str(self.reserve.value or "").strip(), str(self.identity.value or "").strip()
        wrong = (reserve_problem(reserve) or identity_problem(identity)
                 or ("Skriv både reservnumret och personnumret." if not reserve or not identity else None))
        if wrong:
            problem(self.result, wrong)
            return
        if not await confirm(self.dialog_host, "För över reservnummer",
                             f"Alla ärenden och SIP:ar med reservnummer {reserve} flyttas till {identity}. Det går "
                             "inte att ångra här: kontrollera numren.", "För över", marker="confirm-merge"):
            return
        try:
            moved: Json = await self.frame.api.request(
                "POST", "/admin/patient-identity-merges", await self.frame.fresh_token(),
                json={"reserve_number": reserve, "identity": identity})
        except ApiError as exc:
            problem(self.result, MESSAGES.get(exc.code, admin_message(exc)))
            return
        cases = fmt.plural(len(moved["case_ids"]), "ärende", "ärenden")
        plans = fmt.plural(len(moved["sip_plan_ids"]), "SIP", "SIP:ar")
        kind = fmt.label(fmt.IDENTITY_KINDS_DEFINITE, moved["identity_kind"], "identiteten")
        self.result.clear()
        with self.result:
            ui.label(f"Klart: {cases} och {plans} hör nu till {kind} {identity}.").props(
                'role="status"').classes("font-bold").mark("merge-result")
        self.reserve.set_value("")
        self.identity.set_value("")
        self.notify("Reservnumret är överfört")
