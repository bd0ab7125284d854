"""The reserve routine's printouts as data (`server/queries/reserve.py` fills them, `server/exports/reserve.py`
renders them): a case as the acting unit sees it, with the names of the units and people it mentions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from server.schemas.cases import CaseDetail


@dataclass(frozen=True)
class Sheet:
    """One case as a printout shows it: the detail, and the names of the units and people it mentions."""

    case: CaseDetail
    generated_at: datetime
    unit_names: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)
    unit_phones: Mapping[str, str] = field(default_factory=dict)  # units with a phone number (migration 0011)

    def unit_name(self, unit_id: str | None) -> str:
        return self.unit_names.get(unit_id or "", "Okänd enhet") if unit_id else "–"

    def person(self, user_id: str | None) -> str:
        return self.people.get(user_id or "", "Okänd användare") if user_id else "–"


@dataclass(frozen=True)
class ReserveList:
    unit_id: str
    unit_name: str
    generated_at: datetime
    sheets: tuple[Sheet, ...]
