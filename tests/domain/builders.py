"""Shared builders for the discharge-case tests: units, actors, times and a case advanced to a given state.

The standard case has a somatic ward (WARD), a primary care unit (PRIMARY) and a municipal unit (MUNICIPAL).
All times are aware (Europe/Stockholm). The default story, in March 2026 (no DST change until the 29th):

    Mon 2 March 08:00   admitted and registered
    Mon 2 March 10:00   admission notice sent
    Wed 4 March 10:00   ready for discharge
    Fri 6 March 11:00   discharged (discharge notice sent at the same time)
    Fri 6 March 15:00   closed
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain import events as ev
from domain.care import CareType
from domain.discharge_case import (
    Actor,
    CaseState,
    DischargeCase,
    InterruptionReason,
    Part,
)
from domain.discharge_notice import AfterDischargeContact, Destination, DischargeInformation, MedicationList

STHLM = ZoneInfo("Europe/Stockholm")

CASE_ID = "case-1"
PATIENT_ID = "patient-ref-0001"

WARD = "unit-ward-karolinska-b12"
PRIMARY = "unit-vc-solna"
MUNICIPAL = "unit-solna-biståndsenhet"
OTHER_PRIMARY = "unit-vc-sundbyberg"
OTHER_MUNICIPAL = "unit-sundbyberg-biståndsenhet"
STRANGER = "unit-not-on-the-case"

WARD_USER = Actor("user-ward-nurse", WARD)
PRIMARY_USER = Actor("user-vc-head", PRIMARY)
MUNICIPAL_USER = Actor("user-handlaggare", MUNICIPAL)
OTHER_PRIMARY_USER = Actor("user-vc2", OTHER_PRIMARY)
OTHER_MUNICIPAL_USER = Actor("user-handlaggare2", OTHER_MUNICIPAL)
STRANGER_USER = Actor("user-stranger", STRANGER)
RECEIVERS = (PRIMARY, MUNICIPAL)
ALL_UNITS = (WARD, PRIMARY, MUNICIPAL)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An aware Stockholm time."""
    return datetime(y, m, d, hh, mm, tzinfo=STHLM)


# A discharge notice's content: home, one contact, the medication list sent in the record (invented names).
HOME_INFO = DischargeInformation(destination=Destination.HOME,
                                 contacts=(AfterDischargeContact("Avdelning B12, sjuksköterska", "08-123 456 78"),),
                                 handover="Går med rollator. Hemtjänst morgon och kväll.",
                                 medication_list=MedicationList.SENT_IN_RECORD)

ADMITTED_AT = at(2026, 3, 2, 8)  # Monday
NOTICE_AT = at(2026, 3, 2, 10)
ESTIMATED_AT = at(2026, 3, 6, 12)
READY_AT = at(2026, 3, 4, 10)  # Wednesday, before 12:00
DISCHARGED_AT = at(2026, 3, 6, 11)  # Friday
CLOSED_AT = at(2026, 3, 6, 15)
INTERRUPTED_AT = at(2026, 3, 3, 9)
CANCELLED_AT = at(2026, 3, 2, 11)

# The order in which a case walks through its states (the open path), and how the others are reached.
OPEN_PATH = (CaseState.ADMITTED, CaseState.PLANNING, CaseState.READY, CaseState.DISCHARGED, CaseState.CLOSED)
ALL_STATES = tuple(CaseState)


class Clock:
    """A plain fake clock: `now()` returns the current time; `tick()` moves it on."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def tick(self, delta: timedelta = timedelta(minutes=1)) -> datetime:
        self.current += delta
        return self.current


def register(*, care_type: CareType = CareType.SOMATIC, admitted_at: datetime = ADMITTED_AT,
             now: datetime | None = None, receiving: Iterable[tuple[str, Part]] | None = None,
             estimated_discharge_at: datetime | None = ESTIMATED_AT,
             needs_identified_at: datetime | None = None, routing_reason: str | None = None,
             routed_by_hand: bool = False) -> DischargeCase:
    """Register a case at WARD with PRIMARY and MUNICIPAL as receivers (or the given ones)."""
    if receiving is None:
        receiving = [(PRIMARY, Part.PRIMARY_CARE), (MUNICIPAL, Part.MUNICIPAL)]
    return DischargeCase.register(
        patient_id=PATIENT_ID, care_type=care_type, admitted_at=admitted_at, actor=WARD_USER,
        receiving=list(receiving), now=now or admitted_at, estimated_discharge_at=estimated_discharge_at,
        needs_identified_at=needs_identified_at, case_id=CASE_ID, routing_reason=routing_reason,
        routed_by_hand=routed_by_hand)


def build_case(state: CaseState = CaseState.PLANNING, *, care_type: CareType = CareType.SOMATIC,
               admitted_at: datetime = ADMITTED_AT, notice_at: datetime = NOTICE_AT,
               ready_at: datetime = READY_AT, discharged_at: datetime = DISCHARGED_AT,
               closed_at: datetime = CLOSED_AT, interrupted_at: datetime = INTERRUPTED_AT,
               cancelled_at: datetime = CANCELLED_AT,
               estimated_discharge_at: datetime | None = ESTIMATED_AT,
               needs_identified_at: datetime | None = None,
               sip_applies: bool = False,
               interruption_reason: InterruptionReason = InterruptionReason.DIED,
               keep_events: bool = False) -> DischargeCase:
    """A standard case advanced to `state`.

    INTERRUPTED and CANCELLED are reached from PLANNING (after the admission notice: the receivers see the
    case); CLOSED is reached through discharge. `pending_events` are cleared unless `keep_events`.
    """
    case = register(care_type=care_type, admitted_at=admitted_at, estimated_discharge_at=estimated_discharge_at,
                    needs_identified_at=needs_identified_at)
    if sip_applies:
        case.set_sip_applies(WARD_USER, True, admitted_at)
    if state is not CaseState.ADMITTED:
        case.send_admission_notice(WARD_USER, notice_at)
    if state is CaseState.INTERRUPTED:
        case.interrupt(WARD_USER, interruption_reason, interrupted_at)
    elif state is CaseState.CANCELLED:
        case.cancel(WARD_USER, cancelled_at)
    elif state in (CaseState.READY, CaseState.DISCHARGED, CaseState.CLOSED):
        case.mark_ready_for_discharge(WARD_USER, ready_at)
        if state in (CaseState.DISCHARGED, CaseState.CLOSED):
            case.send_discharge_notice(WARD_USER, discharged_at, discharged_at, information=HOME_INFO)
        if state is CaseState.CLOSED:
            case.close(WARD_USER, closed_at)
    assert case.state is state, (case.state, state)
    if not keep_events:
        case.pending_events.clear()
    return case


def snapshot(case: DischargeCase) -> dict[str, Any]:
    """Everything observable on a case, to check that a refused action changed nothing."""
    data = dataclasses.asdict(case)
    data["pending_events"] = [dataclasses.asdict(e) for e in case.pending_events]
    return data


def event_types(case: DischargeCase) -> list[str]:
    return [e.type for e in case.pending_events]


def last_event(case: DischargeCase) -> ev.CaseEvent:
    assert case.pending_events, "no event was recorded"
    return case.pending_events[-1]


def walk_strings(value: object) -> Iterator[str]:
    """Every string inside an event's `dataclasses.asdict` (nested tuples, lists, dicts included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(k)
            yield from walk_strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from walk_strings(item)
