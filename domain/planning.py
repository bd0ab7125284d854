"""Planning form (planeringsunderlag) each unit keeps on a case, and the home-ready checklist.

Every field of a form carries its own revision (0 = never changed), so that edits are guarded per field like a
SIP's contents (`domain.sip.contents`): two people editing different fields, of the same form or of different
units' forms, never conflict; two editing the same field get a `FieldConflict` with the current value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import InvalidValue

MAX_PLANNING_TEXT = 4000  # characters in one text field of a planning form
MAX_NEEDS = 20


class Need(StrEnum):
    """Services a patient is expected to need after discharge."""

    HOME_HELP = "home_help"
    HOME_HEALTH_CARE = "home_health_care"
    SHORT_TERM_STAY = "short_term_stay"
    SPECIAL_HOUSING = "special_housing"
    HOME_REHABILITATION = "home_rehabilitation"
    AIDS = "aids"
    SAFETY_ALARM = "safety_alarm"
    MEAL_SERVICE = "meal_service"
    MEDICATION_SUPPORT = "medication_support"


class PlanningField(StrEnum):
    """The fields of a planning form; each carries its own revision."""

    CURRENT_SERVICES = "current_services"
    EXPECTED_NEEDS = "expected_needs"  # tuple[Need, ...]: the need flags
    AIDS = "aids"
    MEDICATION_HANDOVER = "medication_handover"
    ADL = "adl"
    NOTES = "notes"


PlanningValue = str | tuple[Need, ...]


@dataclass(frozen=True)
class PlanningEdit:
    """One field set from the revision the editor read it at."""

    field: PlanningField
    value: PlanningValue
    expected_revision: int


@dataclass(frozen=True)
class PlanningForm:
    """Structured planning notes of one unit. Free text lives only in these fields.

    `revisions` maps a field's name to its revision; a field not in it is at revision 0 (forms stored before
    fields had revisions load that way). `updated_at` / `updated_by_user_id` are the form's last change.
    """

    current_services: str = ""
    expected_needs: tuple[Need, ...] = ()
    aids: str = ""
    medication_handover: str = ""
    adl: str = ""
    notes: str = ""
    updated_at: datetime | None = None
    updated_by_user_id: str | None = None
    revisions: dict[str, int] = field(default_factory=dict, hash=False, compare=True)

    def value(self, name: PlanningField) -> PlanningValue:
        result: PlanningValue = getattr(self, name.value)
        return result

    def revision(self, name: PlanningField) -> int:
        return self.revisions.get(name.value, 0)

    def normalised(self) -> PlanningForm:
        """The same form with every value in its canonical shape (`clean_planning_value`)."""
        changes: dict[str, Any] = {f.value: clean_planning_value(f, self.value(f)) for f in PlanningField}
        return replace(self, **changes)

    def changed(self, values: Mapping[PlanningField, PlanningValue], at: datetime, user_id: str) -> PlanningForm:
        """A new form with `values` (clean) set; each field whose value differs moves to its next revision."""
        differing = {f: v for f, v in values.items() if v != self.value(f)}
        if not differing:
            return self
        revisions = dict(self.revisions)
        for name in differing:
            revisions[name.value] = self.revision(name) + 1
        changes: dict[str, Any] = {f.value: v for f, v in differing.items()}
        return replace(self, **changes, revisions=revisions, updated_at=at, updated_by_user_id=user_id)

    def differing_fields(self, values: Mapping[PlanningField, PlanningValue]) -> tuple[PlanningField, ...]:
        """The fields of `values` (clean) whose value differs from this form's, in form order."""
        return tuple(f for f in PlanningField if f in values and values[f] != self.value(f))


def clean_planning_value(name: PlanningField, value: object) -> PlanningValue:
    """Check that `value` fits field `name`; need flags become a tuple without repeats in `Need` order.

    Text is kept as typed (not trimmed), so what the editor sees after saving is what they typed."""
    if name is PlanningField.EXPECTED_NEEDS:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise InvalidValue("the expected needs are a list of needs", field=name.value)
        try:
            needs = {Need(v) for v in value}
        except ValueError:
            raise InvalidValue("unknown need", field=name.value) from None
        if len(needs) > MAX_NEEDS:
            raise InvalidValue(f"at most {MAX_NEEDS} needs", field=name.value)
        return tuple(n for n in Need if n in needs)
    if not isinstance(value, str):
        raise InvalidValue("the value must be text", field=name.value)
    if len(value) > MAX_PLANNING_TEXT:
        raise InvalidValue(f"the text is longer than {MAX_PLANNING_TEXT} characters", field=name.value)
    return value


@dataclass(frozen=True)
class HomeReadiness:
    """The "hemgångsklar" checklist: every item must hold before the patient goes home."""

    medicines_secured: bool = False
    aids_in_place: bool = False
    patient_informed: bool = False
    next_provider_informed: bool = False

    @property
    def complete(self) -> bool:
        return all((self.medicines_secured, self.aids_in_place, self.patient_informed,
                    self.next_provider_informed))


PLANNING_TEXT_FIELDS = ("current_services", "aids", "medication_handover", "adl", "notes")
