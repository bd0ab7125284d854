"""Swedish texts and small helpers for the SIP pages (`ui/pages/sip_list.py`, the room in `ui/pages/sip_room/`, the
case view's SIP link in `ui/pages/case/sip_link.py`), among them the API's refusals of a SIP command in Swedish
(`sip_message`, by the problem's code)."""

from __future__ import annotations

from typing import Any

from ui import fmt
from ui.api_client import ApiError, Json

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


def case_sip_facts(case: Json) -> list[tuple[str, str]]:
    """What the case says of its SIP, for the case view and the plan's room alike: whether a SIP applies, the
    person's consent, and the SIP invitation's deadline (process.md step 5: within 3 days of the ready notice, when
    a SIP applies and the person consents) as the API computed it."""
    if not case.get("sip_applies"):
        return [("SIP behövs", "Nej (inte bedömt eller inte aktuellt)")]
    consent = case.get("sip_consent")
    facts = [("SIP behövs", "Ja"), ("Samtycke till SIP", fmt.label(fmt.SIP_CONSENT, str(consent).lower()))]
    deadline = next((d for d in case.get("deadlines", ()) if d["kind"] == "sip_invitation"), None)
    if consent is False:
        facts.append(("Kallelse till SIP", "Behövs inte: personen avböjer SIP"))
    elif deadline is None and case.get("sip_invitation_sent_at"):
        facts.append(("Kallelse till SIP", f"Skickad {fmt.date_time(case['sip_invitation_sent_at'])}"))
    elif deadline is None:
        facts.append(("Kallelse till SIP senast", "3 dagar efter att patienten blivit utskrivningsklar"))
    elif deadline.get("met_at"):
        facts.append(("Kallelse till SIP", f"Skickad {fmt.date_time(deadline['met_at'])} "
                                           f"(senast {fmt.date_time(deadline['due_at'])})"))
    else:
        state = fmt.label(fmt.DEADLINE_STATES, deadline["state"])
        facts.append(("Kallelse till SIP senast", f"{fmt.date_time(deadline['due_at'])} ({state.lower()})"))
    return facts


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


def sip_message(exc: ApiError) -> str:
    """A Swedish sentence for a refused SIP command, by the problem's code (a malformed request: the client's
    message naming the fields)."""
    if exc.code == "validation_failed":
        return exc.message
    return CODE_MESSAGES.get(exc.code, exc.message)
