"""Agreement (*justering*) and follow-up: approvals per principal, agreed versions, follow-ups.

An approval is one principal's "yes" to one content revision. A version is agreed when every principal taking
part has approved the same content revision; the contents are then kept as an `AgreedVersion`, numbered from
1, never changed again. Any content edit after an approval invalidates the pending approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import InvalidTransition
from domain.sip.contents import PlanContents


@dataclass(frozen=True)
class Approval:
    principal_id: str
    content_revision: int
    user_id: str
    unit_id: str
    at: datetime


@dataclass(frozen=True)
class AgreedVersion:
    number: int
    content_revision: int
    agreed_at: datetime
    contents: PlanContents
    approvals: tuple[Approval, ...]


@dataclass(frozen=True)
class FollowUp:
    """A follow-up of the agreed version in force (*uppföljning*). `notes` is content, never in events."""

    id: str
    version_number: int
    held_at: datetime
    recorded_at: datetime
    recorded_by_user_id: str
    recorded_by_unit_id: str
    notes: str = ""


class Requirement(StrEnum):
    """What a version needs before it can be agreed (`SipPlan.missing_for_agreement`)."""

    CONSENT = "consent"  # consent in force
    REGION_AND_MUNICIPALITY = "region_and_municipality"  # both kinds of principal take part
    NEEDS = "needs"  # at least one need
    SERVICES = "services"  # at least one service
    SERVICES_COMPLETE = "services_complete"  # every service names its principal and its responsible unit
    OVERALL_RESPONSIBILITY = "overall_responsibility"  # a participating principal has the overall responsibility
    NEXT_FOLLOW_UP = "next_follow_up"  # the date of the next follow-up is set


class MissingContents(InvalidTransition):
    """The working contents cannot be agreed yet; `missing` lists what they lack."""

    code = "missing_contents"

    def __init__(self, missing: tuple[Requirement, ...]) -> None:
        super().__init__("the plan cannot be agreed yet, it lacks: " + ", ".join(missing), field="content")
        self.missing = missing
