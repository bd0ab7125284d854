"""The organisation tree: principal → organisation → unit, and users' assignments."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.care import CareType


class PrincipalKind(StrEnum):
    REGION = "region"
    MUNICIPALITY = "municipality"


class UnitKind(StrEnum):
    """What a unit is; it decides which part the unit can take in a discharge case."""

    SOMATIC_WARD = "somatic_ward"
    PSYCHIATRIC_WARD = "psychiatric_ward"
    PRIMARY_CARE = "primary_care"
    PSYCHIATRIC_OUTPATIENT = "psychiatric_outpatient"
    MUNICIPAL = "municipal"

    @property
    def is_inpatient(self) -> bool:
        return self in (UnitKind.SOMATIC_WARD, UnitKind.PSYCHIATRIC_WARD)

    @property
    def care_type(self) -> CareType:
        psychiatric = (UnitKind.PSYCHIATRIC_WARD, UnitKind.PSYCHIATRIC_OUTPATIENT)
        return CareType.PSYCHIATRIC if self in psychiatric else CareType.SOMATIC


class Role(StrEnum):
    """Roles a user holds at a unit (an assignment). Only USER and SUPER_USER work with patient cases."""

    USER = "user"
    SUPER_USER = "super_user"
    LOCAL_ACCESS_ADMINISTRATOR = "local_access_administrator"
    LOCAL_OBJECT_SPECIALIST = "local_object_specialist"
    CENTRAL_ADMINISTRATOR = "central_administrator"
    AUDITOR = "auditor"
    STATISTICS_READER = "statistics_reader"

    @property
    def works_with_cases(self) -> bool:
        return self in (Role.USER, Role.SUPER_USER)


@dataclass(frozen=True)
class Unit:
    id: str
    organisation_id: str
    name: str
    kind: UnitKind
    hsa_id: str
    municipality_code: str | None = None
    district: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Assignment:
    """A role at a unit. `protected_identity_access`: the explicit need, decided by the user's administrator, to
    see the name and address of a person with protected identity (*skyddad identitet*) when acting for this unit.
    Without it they are masked."""

    unit_id: str
    role: Role
    protected_identity_access: bool = False
