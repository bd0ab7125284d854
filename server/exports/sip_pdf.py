"""The agreed SIP as a PDF in Swedish (fpdf2): the person's copy, and the printout kept as the fallback
routine (*reservrutin*) for when the system is unavailable.

Text needs a Unicode TrueType font (å, ä, ö and more). `font_paths()` looks, in order, at SAMPLAN_PDF_FONT
(a regular .ttf; a bold one beside it named *-Bold.ttf is used if present), DejaVu Sans from Debian's
`fonts-dejavu-core`, and DejaVu Sans shipped in matplotlib's package data. If none is found, rendering fails
with `FontMissing` naming what to install: never a silent fallback to a Latin-1 core font.
"""

from __future__ import annotations

import importlib.util
import os
from datetime import datetime
from functools import cache
from pathlib import Path

from fpdf import FPDF

from domain.deadlines import STOCKHOLM
from domain.identity import parse_patient_identity
from server.exports.context import ExportContext
from server.views.cases import PROTECTED_NAME

SYSTEM_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FAMILY = "SamplanSans"
CONSENT_GIVERS = {"person": "personen själv", "legal_representative": "legal företrädare", "guardian": "vårdnadshavare"}
CONSENT_FORMS = {"verbal": "muntligt", "written": "skriftligt"}
KIND_TEXT = {"next_of_kin": "närstående", "legal_representative": "legal företrädare", "other_actor": "annan aktör"}


class FontMissing(RuntimeError):
    pass


def _with_bold(regular: Path) -> tuple[Path, Path | None]:
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    return regular, bold if bold.is_file() else None


@cache
def font_paths() -> tuple[Path, Path | None]:
    """The regular (and bold, if any) Unicode font to render with."""
    configured = os.environ.get("SAMPLAN_PDF_FONT")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontMissing(f"SAMPLAN_PDF_FONT={configured} is not a file")
        return _with_bold(path)
    if (SYSTEM_DEJAVU / "DejaVuSans.ttf").is_file():
        return _with_bold(SYSTEM_DEJAVU / "DejaVuSans.ttf")
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if bundled.is_file():
            return _with_bold(bundled)
    raise FontMissing("no Unicode TrueType font for the PDF export: install Debian's fonts-dejavu-core or set "
                      "SAMPLAN_PDF_FONT to a .ttf file")


def _local(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


class _Document:
    def __init__(self) -> None:
        regular, bold = font_paths()
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(18, 18, 18)
        self.pdf.set_auto_page_break(True, margin=18)
        self.pdf.add_font(FAMILY, "", str(regular))
        self.bold = "B" if bold is not None else ""
        if bold is not None:
            self.pdf.add_font(FAMILY, "B", str(bold))
        self.pdf.add_page()

    def heading(self, text: str, size: int = 13) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(FAMILY, self.bold, size)
        self.pdf.multi_cell(0, size * 0.55, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FAMILY, "", 10.5)

    def line(self, text: str) -> None:
        self.pdf.set_font(FAMILY, "", 10.5)
        self.pdf.multi_cell(0, 5.6, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def bullets(self, lines: list[str], empty: str = "(inget angivet)") -> None:
        for text in lines or [empty]:
            self.line(f"• {text}" if lines else text)


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
