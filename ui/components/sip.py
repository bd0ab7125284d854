"""Swedish texts and small helpers for the SIP pages (`ui/pages/sip_list.py`, the room in `ui/pages/sip_room/`)."""

from __future__ import annotations

from typing import Any

from ui import fmt
from ui.api_client import Json

STATES = {"draft": "Utkast", "active": "Fastställd", "followed_up": "Uppföljd", "closed": "Avslutad"}
STATE_ORDER = ("draft", "active", "followed_up", "closed")
PRINCIPAL_KINDS = {"region": "Region", "municipality": "Kommun"}
MISSING = {
    "consent": "samtycke",
    "region_and_municipality": "både region och kommun deltar",
    "needs": "minst ett behov",
    "services": "minst en insats",
    "services_complete": "varje insats har huvudman och ansvarig enhet",
    "overall_responsibility": "huvudansvar",
    "next_follow_up": "datum för uppföljning",
}
LISTS = {
    "needs": "Behov",
    "services": "Insatser",
    "measures": "Insatser av andra",
    "goals": "Vad är viktigt för dig",
}
NAMED_KINDS = {
    "next_of_kin": "Närstående",
    "legal_representative": "Legal företrädare (god man, förvaltare, vårdnadshavare)",
    "other_actor": "Annan aktör (t.ex. Försäkringskassan, skolan)",
}
SINGULAR = {"needs": "behov", "services": "insats", "measures": "insats av andra", "goals": "mål"}
EMPTY = {  # what an empty list says (not "Inga <rubrik> än": "Inga vad är viktigt för dig än")
    "needs": "Inga behov än.",
    "services": "Inga insatser än.",
    "measures": "Inga insatser av andra än.",
    "goals": "Inget skrivet än om vad som är viktigt för personen.",
}
FIELDS = {
    "own_contribution": "Egen insats",
    "overall_responsibility": "Huvudansvar",
    "next_follow_up_on": "Nästa uppföljning",
}
# The parts of an item's content each list edits (label per part); the rest of the content is kept as it is.
ITEM_PARTS: dict[str, dict[str, str]] = {
    "needs": {"description": "Behov"},
    "goals": {"description": "Vad är viktigt för dig"},
    "services": {"description": "Insats", "principal_id": "Huvudman", "responsible_unit_id": "Ansvarig enhet",
                 "contact_person": "Kontaktperson", "when": "När"},
    "measures": {"description": "Insats", "by_whom": "Av vem", "when": "När"},
}


def principal_names(plan: Json) -> dict[str, str]:
    """A name per principal taking part: its kind and the plan's units acting for it."""
    names: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for unit in plan.get("units", []):
        if unit["active"]:
            names.setdefault(unit["principal_id"], []).append(unit["unit_name"])
            kinds[unit["principal_id"]] = unit["principal_kind"]
    return {p: f"{fmt.label(PRINCIPAL_KINDS, kinds[p])} ({', '.join(units)})" for p, units in names.items()}


def responsible_text(plan: Json) -> str:
    """The principal with the overall responsibility as the API names it (per the version in force, else the
    working contents)."""
    responsible = plan.get("responsible_principal")
    if not responsible:
        return "Inte angivet än"
    number = responsible.get("version_number")
    return f"{responsible['name']} " + (f"(enligt version {number})" if number else "(inte fastställt än)")


def unit_names(plan: Json) -> dict[str, str]:
    return {u["unit_id"]: u["unit_name"] for u in plan.get("units", []) if u["active"]}


def principal_of_unit(plan: Json, unit_id: str | None) -> str | None:
    return next((u["principal_id"] for u in plan.get("units", []) if u["unit_id"] == unit_id and u["active"]), None)


def shown(value: Any, part: str, plan: Json) -> str:
    """A stored value as the user reads it (ids become names)."""
    if value in (None, ""):
        return "(tomt)"
    if part in ("principal_id", "overall_responsibility"):
        return principal_names(plan).get(str(value), "Huvudman som inte längre deltar")
    if part == "responsible_unit_id":
        return unit_names(plan).get(str(value), "Enhet som inte längre deltar")
    return str(value)

CONTENT_KEYS = frozenset({"description", "principal_id", "responsible_unit_id", "contact_person", "when", "by_whom",
                          "participant_id"})
