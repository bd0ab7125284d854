"""The shared patient row: one per identity, found or created by a registration (a case or a SIP plan).

The decision is docs/adr/0002-patient-identity.md. The row holds the identity, the id that links one person's
cases and plans, and the protection (*skyddad identitet*). A registration finds the row or creates it, and may
SET the protection (it then holds everywhere); it never clears it and never changes anything else. What the
registration says about the person (name, address, municipality, listing) is kept by the case or plan it creates
(`PersonDetails`), so a personnummer never brings back another unit's details, and no registration changes what
other units see. Clearing the protection is `clear_protected_identity`: an administrator with the explicit need,
recorded in the admin log.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from domain.deadlines import STOCKHOLM
from domain.identity import InvalidIdentity, PatientIdentity, parse_patient_identity
from server.errors import Invalid
from server.persistence.models import PatientRow, PersonDetails
from server.persistence.unit_of_work import UnitOfWork
from server.schemas.cases import PatientInput


def details_of(data: PatientInput) -> PersonDetails:
    """What a registration says about the person besides the identity: the new case's or plan's own copy."""
    return PersonDetails(name=data.name, address=data.address, municipality_code=data.municipality_code,
                         listed_unit_id=data.listed_unit_id)


async def upsert_patient(uow: UnitOfWork, data: PatientInput, now: datetime, *, field: str) -> PatientRow:
    """The patient row of the identity in `data` (created if new; `field` names the person in the request).

    The number is read against today's date in Sweden (a '+' number: 100 or older on that date), so every
    written form of one identity finds the same row. A concurrent first registration of the same identity
    waits for the other's insert instead of failing on the unique key. A reserve number whose person has been
    identified (merged, `server/services/patient_merge.py`) gives the row of the real identity."""
    identity = read_identity(data.identity, now, field=f"{field}.identity")
    row = await find_or_create(uow, identity, now, protected=data.protected_identity)
    if row.merged_into_patient_id is not None:
        merged = await uow.patients.get(row.merged_into_patient_id)
        assert merged is not None
        if data.protected_identity and not merged.protected_identity:
            merged.protected_identity = True
        return merged
    return row


def read_identity(text: str, now: datetime, *, field: str) -> PatientIdentity:
    """A personnummer, samordningsnummer or reserve number as typed: 422 `invalid_identity` on `field` if not."""
    try:
        return parse_patient_identity(text, today=now.astimezone(STOCKHOLM).date())
    except InvalidIdentity as exc:
        raise Invalid(str(exc), field=field, code="invalid_identity") from None


async def find_or_create(uow: UnitOfWork, identity: PatientIdentity, now: datetime, *, protected: bool) -> PatientRow:
    """The row of the identity, created if new; `protected` sets the protection (never clears it)."""
    values = {"id": str(uuid.uuid4()), "identity_kind": str(identity.kind), "identity_value": identity.value,
              "protected_identity": protected, "created_at": now}
    await uow.session.execute(_insert_if_new(uow, values))
    if protected:  # monotonic: any registration may protect the person, none may expose them
        await uow.session.execute(update(PatientRow).where(PatientRow.identity_value == identity.value,
                                                           PatientRow.protected_identity.is_(False))
                                  .values(protected_identity=True))
    row = await uow.session.scalar(select(PatientRow).where(PatientRow.identity_value == identity.value)
                                   .execution_options(populate_existing=True))
    assert row is not None
    return row


def _insert_if_new(uow: UnitOfWork, values: dict[str, object]) -> Insert:
    if uow.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(PatientRow).values(values).on_conflict_do_nothing(index_elements=["identity_value"])
    return sqlite.insert(PatientRow).values(values).on_conflict_do_nothing(index_elements=["identity_value"])
