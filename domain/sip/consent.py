"""The person's consent to the SIP (*samtycke*): who gave it, when, how and to what.

Consent is kept as a history: giving consent again (a wider or narrower scope) supersedes the previous
record, withdrawing ends it. Exactly one record at most is in force (`active`).

What the scope means for visibility (see `SipPlan.visible_unit_ids`): the plan is shared with the owner unit
and with every participating unit named in the scope of the consent in force. Without consent in force, the
plan is the owner unit's alone: before the first consent it is a draft being prepared; after a withdrawal
sharing has ended and the plan is frozen until new consent is recorded or the owner closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConsentGiver(StrEnum):
    PERSON = "person"  # the person themselves
    LEGAL_REPRESENTATIVE = "legal_representative"  # god man / förvaltare with that mandate
    GUARDIAN = "guardian"  # vårdnadshavare, for a child


class ConsentForm(StrEnum):
    VERBAL = "verbal"
    WRITTEN = "written"


@dataclass(frozen=True)
class ConsentScope:
    """What the person agreed to.

    `unit_ids`: the units that may take part and share information in this plan (the owner is always in it).
    `next_of_kin_may_take_part`: False when the person objects to next of kin taking part.
    `patient_portal`: the person agrees that the agreed plan is published to them (1177).
    """

    unit_ids: tuple[str, ...]
    next_of_kin_may_take_part: bool = True
    patient_portal: bool = False


@dataclass(frozen=True)
class Consent:
    id: str
    given_by: ConsentGiver
    form: ConsentForm
    scope: ConsentScope
    given_at: datetime  # when the person gave it (may be before it was recorded)
    recorded_at: datetime
    recorded_by_user_id: str
    recorded_by_unit_id: str
    withdrawn_at: datetime | None = None  # when the person withdrew it
    withdrawal_recorded_by_user_id: str | None = None
    withdrawal_recorded_by_unit_id: str | None = None
    superseded_at: datetime | None = None  # replaced by a newer consent

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None and self.superseded_at is None
