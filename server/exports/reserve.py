"""The reserve routine's printouts in Swedish (*reservrutin*, docs/reservrutin.md): a unit's open cases as a PDF
table and as a CSV (semicolon-separated UTF-8 with a byte-order mark, as Swedish spreadsheet programs read it),
and one case on a page of its own (deadlines, parties and receipts, notices, planning, discharge, timeline).

Each row names the next unmet deadline and who owns it, the counterpart units and the named care contact: what a
coordinator needs to phone the others when the screen is gone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from domain.case_terms import DEADLINE_STATES, DEADLINES, DESTINATIONS, NEEDS, NOTICES, PARTS, STATES, TIMELINE
from server.exports.pdf import Document, local
from server.schemas.cases import DeadlineOut
from server.views.reserve import ReserveList, Sheet

CSV_COLUMNS = ("Patient", "Personnummer", "Status", "Inskriven", "Beräknad utskrivning", "Utskrivningsklar",
               "Nästa tidsfrist", "Senast", "Läge", "Ansvarig för tidsfristen", "Fast vårdkontakt",
               "Övriga enheter i ärendet")
PDF_COLUMNS = ("Patient", "Status", "Inskriven / ber. utskr.", "Nästa tidsfrist (ansvarig)", "Fast vårdkontakt",
               "Övriga enheter")
PDF_WIDTHS = (48, 28, 36, 62, 36, 51)  # mm, landscape A4 less margins: 261
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _when(moment: datetime | None) -> str:
    return local(moment) if moment else "–"


def next_deadline(sheet: Sheet) -> DeadlineOut | None:
    """The earliest unmet deadline (the one to act on first)."""
    unmet = [d for d in sheet.case.deadlines if d.met_at is None]
    return min(unmet, key=lambda d: d.due_at) if unmet else None


def _owners(sheet: Sheet, deadline: DeadlineOut) -> str:
    units = [p.unit_name for p in sheet.case.participants
             if p.part == deadline.responsible_part and p.status == "active"]
    return ", ".join(units) or PARTS.get(str(deadline.responsible_part), "–")


def _deadline_text(sheet: Sheet, *, with_owner: bool) -> tuple[str, str, str, str]:
    deadline = next_deadline(sheet)
    if deadline is None:
        return "–", "–", "–", "–"
    return (DEADLINES.get(deadline.kind, deadline.kind), _when(deadline.due_at),
            DEADLINE_STATES.get(deadline.state, deadline.state), _owners(sheet, deadline) if with_owner else "")


def _counterparts(sheet: Sheet, unit_id: str) -> list[str]:
    """The other active units of the case: name, part and phone number (where the unit has one)."""
    return [f"{p.unit_name} ({PARTS.get(str(p.part), str(p.part))})"
            + (f" tel. {sheet.unit_phones[p.unit_id]}" if p.unit_id in sheet.unit_phones else "")
            for p in sheet.case.participants if p.unit_id != unit_id and p.status == "active"]


def _contact(sheet: Sheet) -> str:
    return sheet.person(sheet.case.named_care_contact_user_id) if sheet.case.named_care_contact_user_id else \
        "Inte utsedd"


def _cell(value: str) -> str:
    """A cell a spreadsheet never runs as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(reserve: ReserveList) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for sheet in reserve.sheets:
        case = sheet.case
        kind, due, state, owner = _deadline_text(sheet, with_owner=True)
        writer.writerow([_cell(x) for x in (
            case.patient.name, case.patient.identity, STATES.get(case.state, case.state), _when(case.admitted_at),
            _when(case.estimated_discharge_at), _when(case.ready_for_discharge_at), kind, due, state, owner,
            _contact(sheet), ", ".join(_counterparts(sheet, reserve.unit_id)))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _footer(doc: Document, at: datetime) -> None:
    doc.pdf.ln(3)
    doc.line(f"Utskriven {local(at)} ur Samplan (reservrutin). Gäller när Samplan inte är tillgängligt: det som "
             "görs på papper registreras i efterhand med den tid det hände.")


def render_list_pdf(reserve: ReserveList) -> bytes:
    doc = Document("landscape")
    pdf = doc.pdf
    pdf.set_title(f"Reservlista – {reserve.unit_name}")
    pdf.set_creator("Samplan")
    pdf.set_creation_date(reserve.generated_at)
    doc.heading(f"Reservlista – {reserve.unit_name}", 16)
    count = len(reserve.sheets)
    doc.line(f"{count} {'öppet ärende' if count == 1 else 'öppna ärenden'}, utskriven {local(reserve.generated_at)}.")
    pdf.ln(2)
    pdf.set_font_size(8.5)
    with pdf.table(col_widths=PDF_WIDTHS, text_align="LEFT", line_height=4.2, first_row_as_headings=True) as table:
        table.row(PDF_COLUMNS)
        for sheet in reserve.sheets:
            case = sheet.case
            kind, due, state, owner = _deadline_text(sheet, with_owner=True)
            table.row((
                f"{case.patient.name}\n{case.patient.identity}",
                STATES.get(case.state, case.state),
                f"{_when(case.admitted_at)}\nber. {_when(case.estimated_discharge_at)}",
                "–" if kind == "–" else f"{kind} {due} ({state})\n{owner}",
                _contact(sheet),
                "\n".join(_counterparts(sheet, reserve.unit_id)) or "–",
            ))
    _footer(doc, reserve.generated_at)
    return bytes(pdf.output())


def _bullets(doc: Document, lines: Iterable[str], empty: str = "(inget)") -> None:
    doc.bullets(list(lines), empty)


def render_sheet_pdf(sheet: Sheet) -> bytes:
    """One case on (about) one page."""
    case, generated_at = sheet.case, sheet.generated_at
    doc = Document()
    pdf = doc.pdf
    pdf.set_title("Ärende – reservrutin")
    pdf.set_creator("Samplan")
    pdf.set_creation_date(generated_at)
    doc.heading(f"{case.patient.name}, {case.patient.identity}", 15)
    doc.line(f"Status: {STATES.get(case.state, case.state)}. Avdelning: {sheet.unit_name(case.ward_unit_id)}. "
             f"Inskriven {_when(case.admitted_at)}, beräknad utskrivning {_when(case.estimated_discharge_at)}, "
             f"utskrivningsklar {_when(case.ready_for_discharge_at)}, utskriven {_when(case.discharged_at)}.")
    doc.line(f"Fast vårdkontakt: {_contact(sheet)}. SIP: {'ja' if case.sip_applies else 'nej'}.")
    doc.heading("Tidsfrister")
    _bullets(doc, (f"{DEADLINES.get(d.kind, d.kind)} {_when(d.due_at)}: "
                   + (f"klart {_when(d.met_at)}" if d.met_at else
                      f"{DEADLINE_STATES.get(d.state, d.state)}, ansvarig {_owners(sheet, d)}")
                   for d in case.deadlines))
    doc.heading("Enheter och kvittenser")
    unread = {a.unit_id: a.unacknowledged for a in case.acknowledgement_status}
    _bullets(doc, (f"{p.unit_name} ({PARTS.get(str(p.part), str(p.part))})"
                   + (f": {unread[p.unit_id]} okvitterade meddelanden" if unread.get(p.unit_id) else "")
                   for p in case.participants if p.status == "active"))
    doc.heading("Meddelanden")
    _bullets(doc, (f"{NOTICES.get(n.kind, n.kind)} {_when(n.sent_at)} från {sheet.unit_name(n.sent_by_unit_id)}"
                   for n in case.notices if not n.cancelled))
    doc.heading("Planering")
    _bullets(doc, ("; ".join(x for x in (
        sheet.unit_name(p.unit_id),
        ", ".join(NEEDS.get(n, n) for n in p.expected_needs),
        f"insatser i dag: {p.current_services}" if p.current_services else "",
        f"hjälpmedel: {p.aids}" if p.aids else "",
        f"läkemedel: {p.medication_handover}" if p.medication_handover else "",
        f"ADL: {p.adl}" if p.adl else "",
        p.notes) if x) for p in case.planning))
    if case.discharge_information is not None:
        info = case.discharge_information
        doc.heading("Utskrivning")
        doc.line(f"Vart: {DESTINATIONS.get(info.destination, info.destination)}"
                 + (f" ({info.destination_detail})" if info.destination_detail else "") + ".")
        _bullets(doc, (f"Kontakt: {c.name} {c.phone}".strip() for c in info.contacts))
        if info.handover:
            doc.line(f"Överrapportering: {info.handover}")
    doc.heading("Händelser (senaste först)")
    _bullets(doc, (f"{_when(t.at)} {TIMELINE.get(t.action, t.action)} ({sheet.person(t.user_id)}, "
                   f"{sheet.unit_name(t.unit_id)})" for t in reversed(case.timeline[-25:])))
    _footer(doc, generated_at)
    return bytes(pdf.output())
