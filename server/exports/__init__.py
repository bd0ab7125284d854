"""Exports of patient data: the agreed SIP as PDF (for the person, and the printed fallback routine) and as HL7
FHIR R4 `CarePlan`. Renderers are pure: the service loads the data, checks access and writes the access log."""
