"""Swedish texts and formats of the UI: states, notices, deadlines, roles, unit kinds, counted words (`plural`),
dates and times in Europe/Stockholm. The one place for the UI's labels: a page shows a code through a table here
(`label`), never the code itself. The access log's actions and purposes are the shared table of
`domain/audit_terms.py` (also in docs/api.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain import case_terms
from domain.audit_terms import period_days

STOCKHOLM = ZoneInfo("Europe/Stockholm")

# The case's words are one table with the server's printouts (`domain/case_terms.py`).
CARE_TYPES = case_terms.CARE_TYPES
DEADLINE_STATES = case_terms.DEADLINE_STATES
DEADLINES = case_terms.DEADLINES
DESTINATIONS = case_terms.DESTINATIONS
MEDICATION_LISTS = case_terms.MEDICATION_LISTS
NEEDS = case_terms.NEEDS
NOTICES = case_terms.NOTICES
PARTS = case_terms.PARTS
STATES = case_terms.STATES
TIMELINE = case_terms.TIMELINE

STATE_COLOURS = {
    "admitted": "grey-8", "planning": "blue-9", "ready_for_discharge": "green-9", "discharged": "teal-9",
    "closed": "grey-9", "interrupted": "orange-10", "cancelled": "red-10",
}
DEADLINE_EXPLAINED = {  # a deadline named in a sentence (tooltips, accessible labels)
    "admission_notice": "Inskrivningsmeddelandet ska skickas senast",
    "named_care_contact": "Fast vårdkontakt ska utses före utskrivningen",
    "sip_invitation": "Kallelse till SIP ska skickas senast",
    "discharge_information": "Informationen ska överföras senast utskrivningsdagen",
}
DEADLINE_SHORT = {
    "admission_notice": "Inskr.medd.",
    "named_care_contact": "FVK",
    "sip_invitation": "SIP-kallelse",
    "discharge_information": "Info.överföring",
    "payment_liability": "Betalningsansvar",
}
# The case's SIP assessment: whether a SIP applies, the person's consent (`sip_consent`: true, false, null)
SIP_CONSENT = {"true": "Ja", "false": "Nej, personen avböjer SIP", "none": "Inte tillfrågad än"}
SIP_APPLIES_CHOICES = {"yes": "Ja, personen behöver insatser från både region och kommun", "no": "Nej"}
SIP_CONSENT_CHOICES = {"true": "Ja, personen samtycker", "false": "Nej, personen avböjer", "none": "Inte tillfrågad än"}
PARTICIPANT_STATUS = {"active": "Aktiv", "forwarded": "Vidarebefordrad", "rejected": "Avvisad", "removed": "Borttagen"}
REJECTION_REASONS = {
    "wrong_municipality": "Fel kommun (folkbokförd i annan kommun)",
    "not_listed_here": "Inte listad hos oss",
    "unknown_patient": "Okänd patient",
    "other": "Annan orsak",
}
INTERRUPTION_REASONS = {
    "died": "Patienten har avlidit",
    "moved_to_other_hospital": "Flyttad till annat sjukhus",
    "compulsory_outpatient_care": "Öppen tvångsvård (ÖPT/ÖRV)",
    "no_needs": "Inga behov av insatser",
    "other": "Annan orsak",
}
HOME_READINESS = {
    "medicines_secured": "Läkemedel säkrade tills apoteket tar över",
    "aids_in_place": "Hjälpmedel på plats",
    "patient_informed": "Patienten informerad",
    "next_provider_informed": "Nästa vårdgivare informerad",
}
# What a toast says when an action of the case succeeded (by the action's code), never "<label>: klart".
DONE = {
    "send_admission_notice": "Inskrivningsmeddelandet är skickat",
    "record_needs_identified": "Behoven är registrerade",
    "acknowledge": "Kvitterat",
    "forward": "Ärendet är vidarebefordrat",
    "reject": "Ärendet är avvisat",
    "add_participant": "Enheten är tillagd",
    "remove_participant": "Enheten är borttagen",
    "appoint_named_care_contact": "Fast vårdkontakt är utsedd",
    "change_estimated_discharge": "Beräknad utskrivning är ändrad",
    "mark_ready_for_discharge": "Patienten är anmäld som utskrivningsklar",
    "withdraw_ready_for_discharge": "Utskrivningsklar är återtagen",
    "send_sip_invitation": "Kallelsen till SIP är skickad",
    "set_sip_applies": "Bedömningen av SIP är sparad",
    "set_liability_facts": "Uppgifterna om betalningsansvar är sparade",
    "update_home_readiness": "Hemgångsklar-listan är sparad",
    "start_leave": "Permissionen är registrerad",
    "end_leave": "Patienten är åter från permission",
    "send_discharge_notice": "Utskrivningsmeddelandet är skickat",
    "interrupt": "Ärendet är avbrutet",
    "cancel": "Ärendet är makulerat",
    "close": "Ärendet är avslutat",
}
# Events that bring a receiving unit a notice (toast + badge), with the toast's text.
NOTICE_EVENTS = {
    "AdmissionNoticeSent": "Nytt inskrivningsmeddelande",
    "ReadyForDischargeSent": "Patient utskrivningsklar",
    "ReadyForDischargeWithdrawn": "Inte längre utskrivningsklar",
    "EstimatedDischargeChanged": "Ändrad beräknad utskrivning",
    "SipInvitationSent": "Kallelse till SIP",
    "DischargeNoticeSent": "Utskrivningsmeddelande",
    "ParticipantAdded": "Nytt ärende till er enhet",
    "CaseForwarded": "Vidarebefordrat ärende",
    "CaseCancelled": "Felsänt ärende makulerat",
}
ROLES = {
    "user": "Användare",
    "super_user": "Superanvändare",
    "local_access_administrator": "Lokal behörighetsadministratör",
    "local_object_specialist": "Lokal objektspecialist",
    "central_administrator": "Central administratör",
    "auditor": "Logggranskare",
    "statistics_reader": "Statistikläsare",
}
UNIT_KINDS = {
    "somatic_ward": "Vårdavdelning somatik",
    "psychiatric_ward": "Vårdavdelning psykiatri",
    "primary_care": "Primärvård",
    "psychiatric_outpatient": "Öppen psykiatri",
    "municipal": "Kommun",
}
IDENTITY_KINDS = {"personnummer": "Personnummer", "samordningsnummer": "Samordningsnummer",
                  "reservnummer": "Reservnummer"}
IDENTITY_KINDS_DEFINITE = {"personnummer": "personnumret", "samordningsnummer": "samordningsnumret",
                           "reservnummer": "reservnumret"}
UNKNOWN = "Okänd uppgift"
MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def local(value: str | datetime | None) -> datetime | None:
    moment = parse_time(value)
    return moment.astimezone(STOCKHOLM) if moment is not None else None


def date_time(value: str | datetime | None) -> str:
    """`2026-11-26 14:05`: the Swedish standard form, in Stockholm time."""
    moment = local(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "–"


def short_date_time(value: str | datetime | None, now: datetime | None = None) -> str:
    """`26 nov 14:05` (the year only when it is not this year)."""
    moment = local(value)
    if moment is None:
        return "–"
    this_year = (now or datetime.now(UTC)).astimezone(STOCKHOLM).year
    year = "" if moment.year == this_year else f" {moment.year}"
    return f"{moment.day} {MONTHS[moment.month - 1]}{year} {moment:%H:%M}"


def day(value: str | datetime | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str) and len(value) == 10:
        return value
    moment = local(value)
    return moment.strftime("%Y-%m-%d") if moment else "–"


def duration(seconds: float) -> str:
    """`2 d 3 h`, `3 h 12 min`, `14 min`, `under 1 min`."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under 1 min"


def money(amount: int | None) -> str:
    return "–" if amount is None else f"{amount:,}".replace(",", "\u00a0") + " kr"


NOT_LIABLE = {
    "admission_notice_late": "inskrivningsmeddelandet skickades inte i tid",
    "ready_notice_missing": "ingen utskrivningsklar-anmälan",
    "patient_refused_services": "patienten har tackat nej till insatser",
    "sip_invitation_missing": "kallelse till SIP saknas",
    "outpatient_services_missing": "regionens öppenvårdsinsatser saknas",
}


NOT_LIABLE_PENDING = {  # a condition still to be met in time: "… om patienten är kvar då och <this>"
    "sip_invitation_missing": "kallelse till SIP skickas i tid",
    "admission_notice_late": "inskrivningsmeddelandet skickas i tid",
}


def label(table: dict[str, str], code: object, unknown: str = UNKNOWN) -> str:
    """The Swedish label of a code in one of the tables above; a code the table does not know (a newer server) is
    never shown as it is (English, internal) but as `unknown`."""
    return table.get(str(code), unknown)


def plural(count: int, one: str, many: str) -> str:
    """`1 patient`, `2 patienter`, `0 patienter`: the number with the word in the form Swedish takes for it."""
    return f"{count} {one if count == 1 else many}"


def thousands(count: int) -> str:
    """`1 000`, `12 345`: digits grouped by a (non-breaking) space, as Swedish writes them."""
    return f"{count:,}".replace(",", "\u00a0")


def period(start: str | datetime, end: str | datetime) -> str:
    """A period stored as [start, end) shown as its reader entered it, both days included: `2026-12-01 – 2026-12-07`
    (never the day after the last)."""
    first, last = period_days(parse_time(start) or datetime.now(UTC), parse_time(end) or datetime.now(UTC))
    return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
