"""What an export of one agreed SIP version is rendered from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.sip import AgreedVersion, SipPlan
from server.persistence.models import Person, PrincipalRow, UnitRow


@dataclass(frozen=True)
class ExportContext:
    plan: SipPlan
    version: AgreedVersion
    patient: Person
    units: Mapping[str, UnitRow]  # every unit taking part or named in a service
    principals: Mapping[str, PrincipalRow]
    now: datetime
    # The user's assignment at the acting unit carries the explicit need to see a protected identity.
    reveal_protected: bool = False

    @property
    def masked(self) -> bool:
        """Protected identity (skyddad identitet) withheld: the person's name, and names of next of kin."""
        return self.patient.protected_identity and not self.reveal_protected

    def unit_name(self, unit_id: str | None) -> str:
        if unit_id is None:
            return ""
        unit = self.units.get(unit_id)
        return unit.name if unit else unit_id

    def principal_name(self, principal_id: str | None) -> str:
        if principal_id is None:
            return ""
        principal = self.principals.get(principal_id)
        return principal.name if principal else principal_id
