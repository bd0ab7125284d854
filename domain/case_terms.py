"""The case's vocabulary in Swedish: states, care types, notices, deadlines, parts, destinations and timeline
entries. One table for every place that words a code for people: the UI (`ui/fmt.py` re-exports these) and the
server's printouts (the reserve lists and case sheets of `server/exports/reserve.py`)."""

from __future__ import annotations

STATES = {
    "admitted": "Inskriven (utkast)",
    "planning": "Planering",
    "ready_for_discharge": "Utskrivningsklar",
    "discharged": "Utskriven",
    "closed": "Avslutad",
    "interrupted": "Avbruten",
    "cancelled": "Felsänd",
}
CARE_TYPES = {"somatic": "Somatik", "psychiatric": "Psykiatri"}
NOTICES = {
    "admission_notice": "Inskrivningsmeddelande",
    "estimated_discharge_changed": "Ändrad beräknad utskrivning",
    "ready_for_discharge": "Utskrivningsklar",
    "ready_for_discharge_withdrawn": "Inte längre utskrivningsklar",
    "sip_invitation": "Kallelse till SIP",
    "discharge_notice": "Utskrivningsmeddelande",
}
DEADLINES = {
    "admission_notice": "Inskrivningsmeddelande senast",
    "named_care_contact": "Fast vårdkontakt senast",
    "sip_invitation": "Kallelse till SIP senast",
    "discharge_information": "Informationsöverföring senast",
    "payment_liability": "Betalningsansvar",  # its countdown says "från 11 dec" itself
}
DEADLINE_STATES = {"ok": "I tid", "at_risk": "Snart", "overdue": "Försenad"}
PARTS = {"inpatient_unit": "Slutenvård", "primary_care_unit": "Primärvård", "municipal_unit": "Kommun"}
DESTINATIONS = {  # where the patient goes (the discharge notice)
    "home": "Hemmet",
    "short_term_stay": "Korttidsboende",
    "special_housing": "Särskilt boende",
    "other_unit": "Annan avdelning eller enhet",
    "deceased": "Avliden",
    "other": "Annat",
}
MEDICATION_LISTS = {"attached": "Bifogad i meddelandet", "sent_in_record": "Skickad via journalen"}
TIMELINE = {
    "registered": "Inskrivning registrerad",
    "case_registered": "Inskrivning registrerad",
    "admission_notice_sent": "Inskrivningsmeddelande skickat",
    "needs_identified": "Behov av insatser identifierade",
    "acknowledged": "Kvitterat",
    "forwarded": "Vidarebefordrat",
    "rejected": "Avvisat – inte vår patient",
    "participant_added": "Deltagare tillagd",
    "participant_removed": "Deltagare borttagen",
    "named_care_contact_appointed": "Fast vårdkontakt utsedd",
    "estimated_discharge_changed": "Beräknad utskrivning ändrad",
    "planning_updated": "Planeringsunderlag sparat",
    "ready_for_discharge": "Utskrivningsklar",
    "ready_for_discharge_withdrawn": "Inte längre utskrivningsklar",
    "sip_applies": "SIP behövs",
    "sip_not_applies": "SIP behövs inte",
    "sip_invitation_sent": "Kallelse till SIP skickad",
    "liability_facts_changed": "Uppgifter om betalningsansvar ändrade",
    "home_readiness_updated": "Hemgångsklar-listan uppdaterad",
    "leave_started": "Permission påbörjad",
    "leave_ended": "Permission avslutad",
    "discharge_notice_sent": "Utskrivningsmeddelande skickat",
    "interrupted": "Avbrott",
    "cancelled": "Felsänt – makulerat",
    "closed": "Ärendet avslutat",
    "patient_identity_merged": "Reservnumret fört över till personens riktiga identitet",
}
NEEDS = {
    "home_help": "Hemtjänst",
    "home_health_care": "Hemsjukvård",
    "short_term_stay": "Korttidsvistelse",
    "special_housing": "Särskilt boende",
    "home_rehabilitation": "Hemrehabilitering",
    "aids": "Hjälpmedel",
    "safety_alarm": "Trygghetslarm",
    "meal_service": "Matdistribution",
    "medication_support": "Läkemedelshantering",
}
