"""The content of the discharge notice (utskrivningsmeddelande, informationsöverföring): what the receivers need.

The ward sends it when the patient has left (the actual time, never a planned one: a planned time is the estimated
discharge). Besides that time it says where the patient goes, whom the receivers contact after the discharge, a
free-text handover, and how the medication list reaches them (attached to the notice, or stated as sent through
the medical record). Invalid combinations are refused here, each with a reason (`CaseRefusal`) and the field:

* another ward or unit, or "other": the destination must be named (`destination_detail`);
* a patient who is alive: at least one contact and a medication list (attached with its text, or sent in the record);
* a deceased patient: no medication list and no contacts after discharge;
* a medication list stated as sent in the record carries no text of its own (the record holds it).

Free text lives only here, in the case's document: events and logs carry the destination's code at most.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from domain.case_refusals import CaseRefusal
from domain.errors import InvalidValue

MAX_DETAIL = 200  # characters: the named destination
MAX_TEXT = 4000  # characters: the handover, the attached medication list
MAX_CONTACTS = 10
MAX_CONTACT_NAME = 200
MAX_PHONE = 40


class Destination(StrEnum):
    """Where the patient goes from the ward."""

    HOME = "home"  # ordinary housing (with or without home care)
    SHORT_TERM_STAY = "short_term_stay"  # korttidsboende
    SPECIAL_HOUSING = "special_housing"  # särskilt boende
    OTHER_UNIT = "other_unit"  # another ward or unit (annan avdelning/enhet)
    DECEASED = "deceased"  # avliden
    OTHER = "other"

    @property
    def needs_detail(self) -> bool:
        return self in (Destination.OTHER_UNIT, Destination.OTHER)


class MedicationList(StrEnum):
    """How the medication list (läkemedelslista) reaches the receivers."""

    ATTACHED = "attached"  # in the notice itself (`medication_list_text`)
    SENT_IN_RECORD = "sent_in_record"  # sent through the medical record (journalen); not repeated here


@dataclass(frozen=True)
class AfterDischargeContact:
    """Whom the receivers contact after the discharge: a person, a function or a unit, and a phone number."""

    name: str
    phone: str = ""


@dataclass(frozen=True)
class DischargeInformation:
    """What the discharge notice carries besides the discharge time (see the module docstring)."""

    destination: Destination
    destination_detail: str = ""
    contacts: tuple[AfterDischargeContact, ...] = ()
    handover: str = ""
    medication_list: MedicationList | None = None  # None only for a deceased patient
    medication_list_text: str = ""

    def checked(self) -> DischargeInformation:
        """The same content with names and numbers trimmed, or `InvalidValue` naming the field and the reason."""
        clean = replace(self, destination_detail=self.destination_detail.strip(),
                        contacts=tuple(AfterDischargeContact(c.name.strip(), c.phone.strip()) for c in self.contacts))
        clean._check_lengths()
        clean._check_combination()
        return clean

    def _check_lengths(self) -> None:
        _bounded(self.destination_detail, MAX_DETAIL, "destination_detail")
        _bounded(self.handover, MAX_TEXT, "handover")
        _bounded(self.medication_list_text, MAX_TEXT, "medication_list_text")
        if len(self.contacts) > MAX_CONTACTS:
            raise InvalidValue(f"at most {MAX_CONTACTS} contacts", field="contacts")
        for index, contact in enumerate(self.contacts):
            if not contact.name:
                raise InvalidValue("a contact needs a name (a person, a function or a unit)",
                                   field=f"contacts[{index}].name")
            _bounded(contact.name, MAX_CONTACT_NAME, f"contacts[{index}].name")
            _bounded(contact.phone, MAX_PHONE, f"contacts[{index}].phone")

    def _check_combination(self) -> None:
        if self.destination.needs_detail and not self.destination_detail:
            raise InvalidValue("name the ward, unit or place the patient goes to", field="destination_detail",
                               reason=CaseRefusal.DESTINATION_DETAIL_REQUIRED)
        if self.destination is Destination.DECEASED:
            if self.medication_list is not None or self.medication_list_text.strip():
                raise InvalidValue("a deceased patient has no medication list", field="medication_list",
                                   reason=CaseRefusal.NOT_APPLICABLE_WHEN_DECEASED)
            if self.contacts:
                raise InvalidValue("a deceased patient has no contacts after discharge", field="contacts",
                                   reason=CaseRefusal.NOT_APPLICABLE_WHEN_DECEASED)
            return
        if not self.contacts:
            raise InvalidValue("name at least one contact after discharge", field="contacts",
                               reason=CaseRefusal.CONTACT_REQUIRED)
        if self.medication_list is None:
            raise InvalidValue("attach the medication list or state that it was sent in the record",
                               field="medication_list", reason=CaseRefusal.MEDICATION_LIST_REQUIRED)
        attached = self.medication_list is MedicationList.ATTACHED
        if attached and not self.medication_list_text.strip():
            raise InvalidValue("the attached medication list is empty", field="medication_list_text",
                               reason=CaseRefusal.MEDICATION_LIST_TEXT_REQUIRED)
        if not attached and self.medication_list_text.strip():
            raise InvalidValue("a medication list sent in the record is not repeated in the notice",
                               field="medication_list_text", reason=CaseRefusal.MEDICATION_LIST_IN_RECORD)


def _bounded(text: str, limit: int, field: str) -> None:
    if len(text) > limit:
        raise InvalidValue(f"the text is longer than {limit} characters", field=field)
