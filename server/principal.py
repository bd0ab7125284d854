"""The authenticated user as the server sees them: identity plus assignments (unit, role)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.organisation import Assignment, Role


@dataclass(frozen=True)
class CurrentUser:
    id: str
    username: str
    hsa_id: str
    display_name: str
    organisation_id: str
    assignments: tuple[Assignment, ...]

    def case_units(self) -> frozenset[str]:
        """Units through which the user works with patient cases."""
        return frozenset(a.unit_id for a in self.assignments if a.role.works_with_cases)

    def has_role(self, role: Role) -> bool:
        return any(a.role is role for a in self.assignments)
