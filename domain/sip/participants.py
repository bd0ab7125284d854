"""Who takes part in a SIP: units (each acting for its principal) and named participants without accounts.

The person the plan is about always takes part (`SipPlan.person_id`); they are not a participant row.
Named participants (next of kin, a legal representative, Försäkringskassan, the school...) have a name and a
role as plan content: that text never leaves the plan in an event, only the participant's id and kind do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.organisation import PrincipalKind


@dataclass(frozen=True)
class UnitRef:
    """A unit and the principal it acts for, as the application resolves them from the organisation tree."""

    unit_id: str
    principal_id: str
    principal_kind: PrincipalKind


@dataclass(frozen=True)
class UnitParticipant:
    unit_id: str
    principal_id: str
    principal_kind: PrincipalKind
    added_at: datetime
    added_by_user_id: str
    active: bool = True
    removed_at: datetime | None = None


class NamedParticipantKind(StrEnum):
    NEXT_OF_KIN = "next_of_kin"  # närstående: only if the person does not object
    LEGAL_REPRESENTATIVE = "legal_representative"  # god man, förvaltare, vårdnadshavare
    OTHER_ACTOR = "other_actor"  # Försäkringskassan, school, Arbetsförmedlingen, a private provider...


@dataclass(frozen=True)
class NamedParticipant:
    """A participant without an account. `name`, `organisation` and `role` are content, never in events."""

    id: str
    kind: NamedParticipantKind
    name: str
    organisation: str
    role: str
    added_at: datetime
    added_by_user_id: str
    added_by_unit_id: str
    active: bool = True
    removed_at: datetime | None = None
