"""The discharge notice as information transfer: the actual time, and the content the receivers need (issue 13)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain import events as ev
from domain.case_refusals import ARGUMENT_REFUSALS, CaseRefusal
from domain.discharge_case import CaseState
from domain.discharge_notice import (
    MAX_CONTACTS,
    MAX_TEXT,
    AfterDischargeContact,
    Destination,
    DischargeInformation,
    MedicationList,
)
from domain.errors import InvalidTransition, InvalidValue, OutOfRange
from tests.domain.builders import DISCHARGED_AT, HOME_INFO, WARD_USER, build_case, snapshot

CONTACT = AfterDischargeContact("Hemsjukvården Solna", "08-555 123 45")
DECEASED = DischargeInformation(destination=Destination.DECEASED, handover="Avled lugnt under natten.")


def info(**changes: object) -> DischargeInformation:
    return dataclasses.replace(HOME_INFO, **changes)  # type: ignore[arg-type]


REFUSED = [
    (info(destination=Destination.OTHER_UNIT), "destination_detail", CaseRefusal.DESTINATION_DETAIL_REQUIRED),
    (info(destination=Destination.OTHER, destination_detail="   "), "destination_detail",
     CaseRefusal.DESTINATION_DETAIL_REQUIRED),
    (info(contacts=()), "contacts", CaseRefusal.CONTACT_REQUIRED),
    (info(medication_list=None), "medication_list", CaseRefusal.MEDICATION_LIST_REQUIRED),
    (info(medication_list=MedicationList.ATTACHED, medication_list_text=" \n"), "medication_list_text",
     CaseRefusal.MEDICATION_LIST_TEXT_REQUIRED),
    (info(medication_list_text="Alvedon 500 mg 1x3"), "medication_list_text", CaseRefusal.MEDICATION_LIST_IN_RECORD),
    (dataclasses.replace(DECEASED, medication_list=MedicationList.SENT_IN_RECORD), "medication_list",
     CaseRefusal.NOT_APPLICABLE_WHEN_DECEASED),
    (dataclasses.replace(DECEASED, contacts=(CONTACT,)), "contacts", CaseRefusal.NOT_APPLICABLE_WHEN_DECEASED),
    (info(contacts=(AfterDischargeContact("  ", "08-1"),)), "contacts[0].name", None),
    (info(contacts=(CONTACT,) * (MAX_CONTACTS + 1)), "contacts", None),
    (info(handover="x" * (MAX_TEXT + 1)), "handover", None),
]


@pytest.mark.parametrize(("content", "field", "reason"), REFUSED,
                         ids=["other-unit-unnamed", "other-blank", "no-contact", "no-medication-list",
                              "attached-empty", "in-record-with-text", "deceased-medication", "deceased-contacts",
                              "contact-without-name", "too-many-contacts", "handover-too-long"])
def test_invalid_content_is_refused_with_its_field_and_reason(content: DischargeInformation, field: str,
                                                               reason: CaseRefusal | None) -> None:
    case = build_case(CaseState.READY)
    before = snapshot(case)
    with pytest.raises(InvalidValue) as caught:
        case.send_discharge_notice(WARD_USER, DISCHARGED_AT, DISCHARGED_AT, information=content)
    assert not isinstance(caught.value, OutOfRange)  # a rule of the content (422), not a malformed time
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert snapshot(case) == before


@pytest.mark.parametrize("content", [
    DECEASED,
    info(destination=Destination.OTHER_UNIT, destination_detail="  Geriatriken, avd 4, Danderyds sjukhus "),
    info(destination=Destination.SHORT_TERM_STAY, medication_list=MedicationList.ATTACHED,
         medication_list_text="Alvedon 500 mg 1x3\nWaran enligt ordination"),
    info(destination=Destination.SPECIAL_HOUSING, handover=""),
], ids=["deceased", "other-unit", "short-term-attached", "special-housing-no-handover"])
def test_valid_content_is_kept_on_the_case(content: DischargeInformation) -> None:
    case = build_case(CaseState.READY)
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, DISCHARGED_AT, information=content)
    assert case.state is CaseState.DISCHARGED
    assert case.discharge_information == content.checked()
    assert case.discharge_information is not None
    assert case.discharge_information.destination_detail == content.destination_detail.strip()


def test_the_case_is_discharged_as_of_the_actual_time() -> None:
    """Sent later the same day: the case, the ready period (the payment clock) and the timeline carry the time the
    patient left; the notice's own time is when it was sent."""
    case = build_case(CaseState.READY)
    sent = DISCHARGED_AT + timedelta(hours=4)
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, sent, information=HOME_INFO)
    assert (case.discharged_at, case.discharge_notice_sent_at) == (DISCHARGED_AT, sent)
    assert case.ready_periods[-1].ended_at == DISCHARGED_AT
    entry = case.timeline[-1]
    assert (entry.action, entry.at, entry.detail) == ("discharge_notice_sent", sent, DISCHARGED_AT.isoformat())


def test_the_event_carries_the_destination_code_and_no_text() -> None:
    case = build_case(CaseState.READY)
    content = info(destination=Destination.OTHER_UNIT, destination_detail="Avd 4 Danderyd",
                   medication_list=MedicationList.ATTACHED, medication_list_text="Alvedon")
    case.send_discharge_notice(WARD_USER, DISCHARGED_AT, DISCHARGED_AT, information=content)
    event = case.pending_events[-1]
    assert isinstance(event, ev.DischargeNoticeSent)
    assert event.destination == "other_unit"
    texts = {content.handover, content.destination_detail, content.medication_list_text, CONTACT.name,
             *(c.name for c in content.contacts), *(c.phone for c in content.contacts)}
    assert not texts & {str(v) for v in dataclasses.asdict(event).values()}


def test_closing_waits_for_a_stored_discharge_time_still_ahead() -> None:
    """A case discharged before the notice refused future times may hold a time ahead: closing it is refused
    until that time has passed (closing needs a discharge that happened)."""
    case = build_case(CaseState.DISCHARGED)
    case.discharged_at = DISCHARGED_AT + timedelta(days=2)  # as stored by the old notice
    before = snapshot(case)
    with pytest.raises(InvalidTransition) as caught:
        case.close(WARD_USER, DISCHARGED_AT + timedelta(days=1))
    assert caught.value.reason == CaseRefusal.NOT_YET_DISCHARGED
    assert snapshot(case) == before
    case.close(WARD_USER, DISCHARGED_AT + timedelta(days=2))
    assert case.state is CaseState.CLOSED


def test_every_argument_refusal_is_raised_here() -> None:
    """Each reason a command gives from its arguments is met by a test of this module."""
    raised = {reason for _, _, reason in REFUSED if reason is not None}
    raised |= {CaseRefusal.DISCHARGE_TIME_IN_FUTURE, CaseRefusal.NOT_YET_DISCHARGED}  # the two tests above
    assert raised == ARGUMENT_REFUSALS
