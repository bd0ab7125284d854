"""The access log's vocabulary in Swedish: every action, purpose and review finding an auditor reads.

One table, shared by the log review page (`ui/pages/log_review.py`), the review's CSV export and the API
documentation (docs/api.md, "Access-log actions and purposes", checked against this module by
`tests/test_docs.py`). The codes are the access log's own (`server/access_log.py`): a command's action is its class
name in snake case (`SendDischargeNotice` -> `send_discharge_notice`); `tests/domain/test_audit_terms.py` fails on
a command, or an action the server writes, that has no Swedish text here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

CASE_ACTIONS = {
    "register_case": "Registrerade inskrivning",
    "read_case": "Läste ärendet",
    "live_update": "Såg ärendet uppdateras i en öppen vy",
    "list_cases": "Listade ärenden (utskrivningstavlan)",
    "list_inbox": "Listade inkorgen",
    "search_patients": "Sökte patient (personnummer eller namn)",
    "replay_response": "Fick ett tidigare svar igen (upprepad begäran)",
    "send_admission_notice": "Skickade inskrivningsmeddelande",
    "record_needs_identified": "Registrerade att behov av insatser identifierats",
    "acknowledge": "Kvitterade meddelanden",
    "forward": "Vidarebefordrade ärendet",
    "reject": "Avvisade ärendet (inte vår patient)",
    "add_participant": "Lade till en enhet i ärendet",
    "remove_participant": "Tog bort en enhet från ärendet",
    "appoint_named_care_contact": "Utsåg fast vårdkontakt",
    "change_estimated_discharge": "Ändrade beräknad utskrivning",
    "change_planning": "Ändrade planeringsunderlaget",
    "update_planning": "Sparade planeringsunderlaget",
    "mark_ready_for_discharge": "Anmälde utskrivningsklar",
    "withdraw_ready_for_discharge": "Återtog utskrivningsklar",
    "set_sip_applies": "Ändrade bedömningen om SIP",
    "send_sip_invitation": "Skickade kallelse till SIP",
    "set_liability_facts": "Ändrade uppgifter om betalningsansvar",
    "update_home_readiness": "Uppdaterade hemgångsklar-listan",
    "start_leave": "Registrerade permission",
    "end_leave": "Avslutade permission",
    "send_discharge_notice": "Skickade utskrivningsmeddelande",
    "interrupt": "Avbröt ärendet",
    "cancel": "Makulerade ett felsänt ärende",
    "close": "Avslutade ärendet",
    "export_reserve_list": "Skrev ut reservlistan (reservrutin)",
    "export_case_sheet": "Skrev ut ärendet (reservrutin)",
}
SIP_ACTIONS = {
    "create_sip_plan": "Startade en SIP",
    "read_sip_plan": "Läste SIP:en",
    "list_sip_plans": "Listade SIP:ar",
    "read_sip_versions": "Läste SIP:ens versioner",
    "diff_sip_versions": "Jämförde versioner av SIP:en",
    "export_sip_pdf": "Exporterade SIP:en som PDF",
    "export_sip_fhir": "Exporterade SIP:en (FHIR)",
    "change_sip_field": "Ändrade i SIP:en",
    "add_sip_item": "Lade till en rad i SIP:en",
    "change_sip_item": "Ändrade en rad i SIP:en",
    "remove_sip_item": "Tog bort en rad i SIP:en",
    "approve_sip_version": "Justerade SIP:en",
    "give_sip_consent": "Registrerade samtycke till SIP",
    "withdraw_sip_consent": "Återkallade samtycke till SIP",
    "schedule_sip_meeting": "Kallade till SIP-möte",
    "reschedule_sip_meeting": "Flyttade ett SIP-möte",
    "cancel_sip_meeting": "Ställde in ett SIP-möte",
    "answer_sip_invitation": "Svarade på kallelse till SIP-möte",
    "add_sip_unit": "Lade till en enhet i SIP:en",
    "add_sip_named_participant": "Lade till en deltagare i SIP:en",
    "remove_sip_participant": "Tog bort en deltagare från SIP:en",
    "record_sip_follow_up": "Registrerade uppföljning av SIP:en",
    "hand_over_sip_plan": "Lämnade över SIP:en",
    "close_sip_plan": "Avslutade SIP:en",
}
ADMINISTRATION_ACTIONS = {
    "clear_protected_identity": "Tog bort skyddad identitet",
    "merge_patient_identity": "Förde över reservnummer till personens riktiga identitet",
    "read_access_log": "Läste åtkomstloggen",
    "export_access_log": "Exporterade åtkomstloggen",
}
ACTIONS = CASE_ACTIONS | SIP_ACTIONS | ADMINISTRATION_ACTIONS
PURPOSES = {
    "care_coordination": "Samordning av vård och omsorg",
    "log_review": "Loggkontroll",
    "administration": "Administration",
}
FINDINGS = {
    "no_remark": "Utan anmärkning",
    "justified": "Befogad åtkomst",
    "unjustified": "Obefogad åtkomst",
    "needs_follow_up": "Behöver följas upp",
}


def action_text(code: str) -> str:
    """The action in Swedish; a code this table does not know yet says so (and names the code, which an auditor
    can look up), rather than passing for a Swedish word."""
    return ACTIONS.get(code, f"Okänd händelse (kod {code})")


def purpose_text(code: str) -> str:
    return PURPOSES.get(code, f"Okänt syfte (kod {code})")


def period_days(start: datetime, end: datetime) -> tuple[date, date]:
    """A period of the log as its reader entered it: [start, end) is stored (end: the start of the day after the
    last), and read as the first and the last day in Swedish time, both included (1–7 Dec is through 7 Dec
    23:59:59, never shown as 1–8 Dec)."""
    return start.astimezone(STOCKHOLM).date(), (end - timedelta(microseconds=1)).astimezone(STOCKHOLM).date()
