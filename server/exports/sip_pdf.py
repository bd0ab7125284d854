"""The agreed SIP as a PDF in Swedish (fpdf2): the person's copy, and the printout kept as the fallback
routine (*reservrutin*) for when the system is unavailable.

The page, its font and its text blocks are `server/exports/pdf.py`'s (shared with the reserve lists).
"""

from __future__ import annotations

from domain.identity import parse_patient_identity
from server.exports.context import ExportContext
from server.exports.pdf import Document as _Document
from server.exports.pdf import local as _local
from server.views.cases import PROTECTED_NAME

CONSENT_GIVERS = {"person": "personen själv", "legal_representative": "legal företrädare", "guardian": "vårdnadshavare"}
CONSENT_FORMS = {"verbal": "muntligt", "written": "skriftligt"}
KIND_TEXT = {"next_of_kin": "närstående", "legal_representative": "legal företrädare", "other_actor": "annan aktör"}


def render_pdf(context: ExportContext) -> bytes:
    plan, version, patient = context.plan, context.version, context.patient
    contents = version.contents
    doc = _Document()
    pdf = doc.pdf
    pdf.set_title(f"Samordnad individuell plan, version {version.number}")
    pdf.set_creator("Samplan")
    pdf.set_creation_date(context.now)

    doc.heading("Samordnad individuell plan (SIP)", 17)
    doc.line(f"Version {version.number}, överenskommen {_local(version.agreed_at)}")
    identity = parse_patient_identity(patient.identity_value).formatted
    name = PROTECTED_NAME if context.masked else patient.name
    doc.line(f"Person: {name}, {identity}")
    if plan.current_version is not None and plan.current_version.number != version.number:
        doc.line(f"Obs: en senare version ({plan.current_version.number}) gäller nu.")

    doc.heading("Vad är viktigt för dig")
    doc.bullets([g.content.description for g in contents.goals])
    doc.heading("1. Behov")
    doc.bullets([n.content.description for n in contents.needs])
    doc.heading("2. Insatser och vilken huvudman som ansvarar")
    doc.bullets([
        "; ".join(x for x in (s.content.description, f"huvudman: {context.principal_name(s.content.principal_id)}",
                              f"ansvarig enhet: {context.unit_name(s.content.responsible_unit_id)}",
                              f"kontaktperson: {s.content.contact_person}" if s.content.contact_person else "",
                              f"när: {s.content.when}" if s.content.when else "") if x)
        for s in contents.services])
    doc.heading("3. Insatser av andra än regionen och kommunen")
    doc.bullets(["; ".join(x for x in (m.content.description, f"av: {m.content.by_whom}",
                                       f"när: {m.content.when}" if m.content.when else "") if x)
                 for m in contents.measures])
    doc.heading("4. Huvudman med övergripande ansvar för planen")
    doc.line(context.principal_name(contents.overall_responsibility.value) or "(inte angivet)")
    doc.heading("Egen insats")
    doc.line(contents.own_contribution.value or "(inget angivet)")
    doc.heading("Nästa uppföljning")
    follow_up = contents.next_follow_up_on.value
    doc.line(follow_up.isoformat() if follow_up else "(inte angiven)")

    doc.heading("Deltagare")
    lines = [f"{context.unit_name(u.unit_id)} ({context.principal_name(u.principal_id)})"
             for u in plan.units if u.active]
    for p in plan.named_participants:
        if p.active:
            shown = PROTECTED_NAME if context.masked and p.kind == "next_of_kin" else p.name
            lines.append(", ".join(x for x in (shown, KIND_TEXT.get(str(p.kind), str(p.kind)), p.organisation,
                                               p.role) if x))
    doc.bullets(lines)
    doc.heading("Samtycke")
    consent = next((c for c in reversed(plan.consents) if c.recorded_at <= version.agreed_at), None)
    if consent is None:
        doc.line("(inget samtycke registrerat)")
    else:
        doc.line(f"Givet {_local(consent.given_at)} av {CONSENT_GIVERS.get(str(consent.given_by), '')}, "
                 f"{CONSENT_FORMS.get(str(consent.form), '')}. Närstående får delta: "
                 f"{'ja' if consent.scope.next_of_kin_may_take_part else 'nej'}.")
    doc.heading("Godkänd (justerad) av")
    doc.bullets([f"{context.principal_name(a.principal_id)}: {context.unit_name(a.unit_id)}, {_local(a.at)}"
                 for a in version.approvals])

    pdf.ln(4)
    doc.line(f"Utskriven {_local(context.now)} ur Samplan. Utskriften är reservrutin när systemet inte är "
             "tillgängligt: den gäller tills en senare version överenskommits.")
    return bytes(pdf.output())
