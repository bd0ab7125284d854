"""Planning form (planeringsunderlag) each unit keeps on a case, and the home-ready checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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


@dataclass(frozen=True)
class PlanningForm:
    """Structured planning notes of one unit. Free text lives only in these fields."""

    current_services: str = ""
    expected_needs: tuple[Need, ...] = ()
    aids: str = ""
    medication_handover: str = ""
    adl: str = ""
    notes: str = ""
    updated_at: datetime | None = None
    updated_by_user_id: str | None = None


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
