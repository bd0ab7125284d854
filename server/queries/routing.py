"""Routing a new case: which units receive the admission notice (the municipality of the registered address, its
district's intake unit or else its central one, and the primary care unit the person is listed at).

One rule, used twice: by the registration (`CaseService.register`, when the ward does not choose the receivers by
hand) and by the registration dialog's preview (`GET /routing`), so the UI names the units the notice will reach
without a copy of the rule."""

from __future__ import annotations

from domain.discharge_case import RECEIVING_PART_OF_KIND, Part
from domain.organisation import UnitKind
from server.errors import Invalid
from server.persistence.models import UnitRow
from server.persistence.repositories import DirectoryRepository


async def routed_receivers(directory: DirectoryRepository, municipality_code: str, district: str | None,
                           listed_unit_id: str | None, *, prefix: str = "") -> list[tuple[UnitRow, Part]]:
    """The receivers of a new case by the routing rule; a field error (named with `prefix`) when the
    municipality has no intake unit or the listing is not a primary care unit."""
    intake = await directory.municipal_intake_unit(municipality_code, district)
    if intake is None:
        raise Invalid("no municipal unit receives notices for this municipality",
                      field=f"{prefix}municipality_code")
    receivers = [(intake, Part.MUNICIPAL)]
    if listed_unit_id:
        listed = await directory.unit(listed_unit_id)
        if listed is None or RECEIVING_PART_OF_KIND.get(UnitKind(listed.kind)) is not Part.PRIMARY_CARE:
            raise Invalid("the listing unit is not a primary care unit", field=f"{prefix}listed_unit_id")
        receivers.append((listed, Part.PRIMARY_CARE))
    return receivers
