"""SIP meetings: time, place or video link, the invitations (*kallelse*) and their answers.

Scheduling a meeting sends its invitations at once; the first invitation of a plan that belongs to a
discharge case is the case's SIP invitation (see `domain.sip.case_link`). Rescheduling sets every answer back
to pending; a cancelled meeting takes no answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

PERSON_REF = "person"  # the invitee ref of the person the plan is about


class InviteeKind(StrEnum):
    UNIT = "unit"  # ref: the unit id; a unit answers for itself
    PERSON = "person"  # ref: PERSON_REF; a unit records the person's answer
    NAMED = "named_participant"  # ref: the participant id; a unit records their answer


class Answer(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@dataclass(frozen=True)
class Invitation:
    kind: InviteeKind
    ref: str
    answer: Answer = Answer.PENDING
    answered_at: datetime | None = None
    answered_by_user_id: str | None = None
    answered_by_unit_id: str | None = None


@dataclass(frozen=True)
class Meeting:
    id: str
    starts_at: datetime
    ends_at: datetime
    place: str  # free text (an address, "hemma hos personen"): content, never in events
    video_link: str  # https link, or empty
    invitations: tuple[Invitation, ...]
    scheduled_at: datetime  # the invitations were sent then
    scheduled_by_user_id: str
    scheduled_by_unit_id: str
    rescheduled_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    def invitation(self, kind: InviteeKind, ref: str) -> Invitation | None:
        return next((i for i in self.invitations if i.kind is kind and i.ref == ref), None)
