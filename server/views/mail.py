"""The text of e-mail notices (Swedish): the unit, the kind and a link to the case or plan by id. Never a patient's
name, personal identity number, address or any free text of a case: a template can only use the fields of
`MailItem`, and `tests/server/test_mail_notices.py` renders every template for a case whose patient has a
distinctive name and number and checks that neither appears (docs/security.md, "E-mail notices")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from string import Template

KIND_NAMES = {
    "AdmissionNoticeSent": "Inskrivningsmeddelande",
    "EstimatedDischargeChanged": "Ändrad beräknad utskrivningstidpunkt",
    "ReadyForDischargeSent": "Utskrivningsklar",
    "ReadyForDischargeWithdrawn": "Inte längre utskrivningsklar",
    "DischargeNoticeSent": "Utskrivningsmeddelande",
    "CaseForwarded": "Ärende vidarebefordrat till er",
    "CaseCancelled": "Felsänt meddelande (ska bortses från)",
    "SipMeetingScheduled": "Kallelse till SIP-möte",
    "SipMeetingRescheduled": "SIP-mötet har flyttats",
    "deadline_at_risk": "En tidsfrist går snart ut",
    "deadline_overdue": "En tidsfrist har passerats utan att vara uppfylld",
    "escalation": "Eskalerad: en tidsfrist är fortfarande inte uppfylld",
}

# One template per kind of mail; `$unit`, `$what`, `$link` are the only fields.
TEMPLATES: dict[str, tuple[Template, Template]] = {
    "notice": (Template("Samplan: $what – $unit"), Template(
        "Hej!\n\n$unit har fått ett nytt meddelande i Samplan: $what.\n\nÖppna ärendet: $link\n\n"
        "Logga in i Samplan för att se vem det gäller. Det här mejlet innehåller inga patientuppgifter.\n")),
    "sip_meeting": (Template("Samplan: $what – $unit"), Template(
        "Hej!\n\n$what för $unit.\n\nÖppna planen: $link\n\n"
        "Logga in i Samplan för att se tid, plats och vem det gäller. Det här mejlet innehåller inga "
        "patientuppgifter.\n")),
    "deadline_at_risk": (Template("Samplan: $what – $unit"), Template(
        "Hej!\n\n$what för ett ärende där $unit ska agera.\n\nÖppna ärendet: $link\n\n"
        "Det här mejlet innehåller inga patientuppgifter.\n")),
    "deadline_overdue": (Template("Samplan: $what – $unit"), Template(
        "Hej!\n\n$what för ett ärende där $unit ska agera.\n\nÖppna ärendet: $link\n\n"
        "Det här mejlet innehåller inga patientuppgifter.\n")),
    "escalation": (Template("Samplan: $what – $unit"), Template(
        "Hej!\n\nDu får det här som samordnare eller lokal administratör för $unit. $what, trots att enheten "
        "har påmints.\n\nÖppna ärendet: $link\n\nDet här mejlet innehåller inga patientuppgifter.\n")),
}
DIGEST = (Template("Samplan: $count nya händelser"), Template(
    "Hej!\n\nSammanfattning av nya händelser i Samplan sedan förra utskicket:\n\n$lines\n\n"
    "Logga in i Samplan för att se vem de gäller. Det här mejlet innehåller inga patientuppgifter.\n"))
DIGEST_LINE = Template("- $unit: $what – $link")


@dataclass(frozen=True)
class MailItem:
    """What a mail may say about one outbox row: ids, codes and the unit's name."""

    kind: str  # a key of TEMPLATES
    event_type: str | None
    unit_name: str
    aggregate_type: str  # discharge_case / sip_plan
    aggregate_id: str

    def fields(self, base_url: str) -> dict[str, str]:
        page = "sip" if self.aggregate_type == "sip_plan" else "arende"
        what = KIND_NAMES.get(self.event_type or self.kind, KIND_NAMES.get(self.kind, "Ny händelse"))
        return {"unit": self.unit_name, "what": what, "link": f"{base_url.rstrip('/')}/{page}/{self.aggregate_id}"}


def render(item: MailItem, base_url: str) -> tuple[str, str]:
    """(subject, body) of one immediate notice."""
    subject, body = TEMPLATES[item.kind]
    fields = item.fields(base_url)
    return subject.substitute(fields), body.substitute(fields)


def render_digest(items: Sequence[MailItem], base_url: str) -> tuple[str, str]:
    lines = "\n".join(DIGEST_LINE.substitute(i.fields(base_url)) for i in items)
    subject, body = DIGEST
    return subject.substitute(count=len(items)), body.substitute(lines=lines)


def message(*, sender: str, to: str, subject: str, body: str, outbox_id: int, domain: str,
            sent_at: object) -> EmailMessage:
    """The e-mail. Its Message-ID comes from the outbox row, so a resend after a crash is recognisable."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<samplan-mail-{outbox_id}@{domain}>" if outbox_id else make_msgid(domain=domain)
    mail["X-Samplan-Outbox-Id"] = str(outbox_id)
    if sent_at is not None:
        mail["Date"] = format_datetime(sent_at)  # type: ignore[arg-type]
    mail.set_content(body)
    return mail
