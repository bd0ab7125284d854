"""The agreed SIP as an HL7 FHIR R4 `CarePlan` (JSON), with contained `CareTeam`, `Consent`, `Goal` and
`Condition` resources.

Mapping (statutory contents, HSL 16 kap. 4 §, SoL 2 kap. 7 §):

- needs (1) → contained `Condition`s in `addresses` (the need as `code.text`);
- services per principal (2) → `activity.detail` (kind ServiceRequest; performer: the responsible unit by HSA-id,
  the principal as text; contact person and "when" in the description and `scheduledString`);
- measures by others (3) → `activity.detail` with the performer named by text;
- overall responsibility (4) → `author` (the principal); the units taking part and named participants →
  `CareTeam`; the person's goals → contained `Goal`s; own contribution → `note`; next follow-up → an
  activity "Uppföljning" scheduled on that date; the consent in force when the version was agreed → `Consent`
  in `supportingInfo`.

The person is referenced by identifier (personnummer, samordningsnummer or reservnummer OID); with a protected
identity no name is given (nor names of next of kin), unless the exporting user's assignment at the acting unit
carries the explicit need to see it (`ExportContext.masked`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from domain.sip import Consent, NamedParticipantKind, PlanState
from server.exports.context import ExportContext
from server.views.cases import PROTECTED_NAME

FHIR_MEDIA_TYPE = "application/fhir+json"
IDENTITY_SYSTEMS = {  # Swedish identity numbers (Inera's OIDs)
    "personnummer": "urn:oid:1.2.752.129.2.1.3.1",
    "samordningsnummer": "urn:oid:1.2.752.129.2.1.3.3",
    "reservnummer": "urn:oid:1.2.752.97.3.1.3",  # Region Stockholm's reserve numbers
}
HSA_SYSTEM = "urn:oid:1.2.752.129.2.1.4.1"
PLAN_SYSTEM = "urn:samplan:sip-plan"


def _iso(moment: datetime | date) -> str:
    return moment.isoformat()


def _status(context: ExportContext) -> str:
    plan, version = context.plan, context.version
    if plan.state is PlanState.CLOSED:
        return "completed"
    if plan.current_version is None or plan.current_version.number != version.number:
        return "revoked"  # superseded by a later agreed version
    return "on-hold" if plan.sharing_ended else "active"


def _consent_at_agreement(context: ExportContext) -> Consent | None:
    agreed_at = context.version.agreed_at
    given = [c for c in context.plan.consents if c.recorded_at <= agreed_at]
    return given[-1] if given else None


def care_plan(context: ExportContext) -> dict[str, Any]:
    plan, version, patient = context.plan, context.version, context.patient
    contents = version.contents
    subject: dict[str, Any] = {"identifier": {"system": IDENTITY_SYSTEMS.get(patient.identity_kind,
                                                                             IDENTITY_SYSTEMS["personnummer"]),
                                              "value": patient.identity_value}}
    if not context.masked:
        subject["display"] = patient.name
    contained: list[dict[str, Any]] = []

    def unit_ref(unit_id: str | None) -> dict[str, Any]:
        unit = context.units.get(unit_id or "")
        ref: dict[str, Any] = {"display": context.unit_name(unit_id)}
        if unit is not None:
            ref["identifier"] = {"system": HSA_SYSTEM, "value": unit.hsa_id}
        return ref

    members = [{"member": unit_ref(u.unit_id),
                "role": [{"text": f"Enhet för {context.principal_name(u.principal_id)}"}]}
               for u in plan.units if u.active]
    for p in plan.named_participants:
        if p.active:
            name = PROTECTED_NAME if context.masked and p.kind is NamedParticipantKind.NEXT_OF_KIN \
                else p.name
            members.append({"member": {"display": name}, "role": [{"text": p.role or str(p.kind)}]})
    contained.append({"resourceType": "CareTeam", "id": "careteam", "status": "active", "subject": subject,
                      "name": "Deltagare i SIP", "participant": members})

    consent = _consent_at_agreement(context)
    supporting: list[dict[str, Any]] = []
    if consent is not None:
        contained.append({
            "resourceType": "Consent", "id": "consent",
            "status": "active" if consent.active else "inactive",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy", "display": "Privacy Consent"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0",
                                      "display": "Patient Consent"}], "text": "Samtycke till SIP"}],
            "patient": subject, "dateTime": _iso(consent.given_at),
            "policyRule": {"text": "HSL 16 kap. 4 §, SoL 2 kap. 7 §: samtycke till samordnad individuell plan"},
            "provision": {"type": "permit", "actor": [
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                      "code": "IRCP", "display": "information recipient"}]},
                 "reference": unit_ref(u)} for u in consent.scope.unit_ids]},
        })
        supporting.append({"reference": "#consent"})

    addresses = []
    for index, need in enumerate(contents.needs, 1):
        contained.append({"resourceType": "Condition", "id": f"need-{index}", "subject": subject,
                          "category": [{"text": "Behov (SIP)"}], "code": {"text": need.content.description}})
        addresses.append({"reference": f"#need-{index}"})
    goals = []
    for index, goal in enumerate(contents.goals, 1):
        contained.append({"resourceType": "Goal", "id": f"goal-{index}", "lifecycleStatus": "active",
                          "description": {"text": goal.content.description}, "subject": subject})
        goals.append({"reference": f"#goal-{index}"})

    activities: list[dict[str, Any]] = []
    for service in contents.services:
        s = service.content
        detail: dict[str, Any] = {
            "kind": "ServiceRequest", "status": "in-progress",
            "description": "; ".join(x for x in (s.description, f"Huvudman: {context.principal_name(s.principal_id)}",
                                                 f"Kontaktperson: {s.contact_person}" if s.contact_person else "")
                                     if x),
            "performer": [unit_ref(s.responsible_unit_id)]}
        if s.when:
            detail["scheduledString"] = s.when
        activities.append({"detail": detail})
    for measure in contents.measures:
        m = measure.content
        detail = {"status": "in-progress", "description": m.description, "performer": [{"display": m.by_whom}]}
        if m.when:
            detail["scheduledString"] = m.when
        activities.append({"detail": detail})
    follow_up = contents.next_follow_up_on.value
    if follow_up is not None:
        activities.append({"detail": {"status": "scheduled", "description": "Uppföljning av planen",
                                      "scheduledPeriod": {"start": _iso(follow_up)}}})

    resource: dict[str, Any] = {
        "resourceType": "CarePlan", "id": plan.id,
        "identifier": [{"system": PLAN_SYSTEM, "value": f"{plan.id}/{version.number}"}],
        "status": _status(context), "intent": "plan",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "734163000", "display": "Care plan"}],
                      "text": "Samordnad individuell plan (SIP)"}],
        "title": f"Samordnad individuell plan (SIP), version {version.number}",
        "subject": subject, "period": {"start": _iso(version.agreed_at)}, "created": _iso(plan.created_at),
        "contributor": [unit_ref(u.unit_id) for u in plan.units if u.active],
        "careTeam": [{"reference": "#careteam"}],
        "contained": contained,
    }
    responsible = contents.overall_responsibility.value
    if responsible is not None:
        resource["author"] = {"display": f"Huvudansvar: {context.principal_name(responsible)}"}
    if addresses:
        resource["addresses"] = addresses
    if goals:
        resource["goal"] = goals
    if supporting:
        resource["supportingInfo"] = supporting
    if activities:
        resource["activity"] = activities
    if contents.own_contribution.value:
        resource["note"] = [{"text": f"Egen insats: {contents.own_contribution.value}"}]
    return resource


def render_fhir(context: ExportContext) -> bytes:
    return msgspec.json.encode(care_plan(context))
