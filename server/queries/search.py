"""Sök patient (`POST /patients/search`): the cases of the user's units whose patient has the personnummer asked
for (exact) or a name that begins with the text asked for.

A personnummer is looked up through the unique index on `patients.identity_value`, then that person's cases through
`discharge_cases.patient_id`; a name prefix through the query rows' index (unit_id, name_key). Either way the work is
the matches', not the units' history, and no document is decoded (the hit shows the case's own columns).

Protected identity (*skyddad identitet*): such a person is found only through a unit where the user's assignment
carries the explicit need (`authorization.reveals_protected_identity`); through every other unit they are not found,
by name or by number. Every patient found is access-logged (`search_patients`), under the unit it was found through.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select

from domain.deadlines import STOCKHOLM
from domain.identity import InvalidIdentity, parse_patient_identity
from server import access_log, authorization
from server.errors import Invalid
from server.persistence.models import CaseParticipantRow, CaseRow, PatientRow, Person, PersonDetails
from server.persistence.read_models import name_key
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.cases import PatientHitOut, PatientSearch, PatientSearchOut
from server.views.cases import patient_out

_AFTER_EVERY_PREFIX = "\U0010ffff"  # the largest code point: "abc" <= key < "abc" + this holds every "abc..."


def name_prefix(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """`column` begins with `prefix`, as an index range: LIKE on PostgreSQL (its index has text_pattern_ops),
    a BINARY range on SQLite (whose LIKE ignores case and would not use the index)."""
    if dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like: ColumnElement[bool] = column.like(f"{escaped}%", escape="\\")
        return like
    return and_(column >= prefix, column < prefix + _AFTER_EVERY_PREFIX)


def _aware(moment: datetime) -> datetime:
    """SQLite gives the stored UTC time without its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class PatientSearchQuery:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._clock = clock

    async def search(self, user: CurrentUser, data: PatientSearch) -> PatientSearchOut:
        units = authorization.listing_units(user, data.unit_id)
        revealing = sorted(u for u in units if authorization.reveals_protected_identity(user, u))
        p = CaseParticipantRow
        text = data.query.strip()
        async with self._uow() as uow:
            now = self._clock()
            where: list[ColumnElement[bool]] = [p.unit_id.in_(sorted(units))]
            if text.replace("-", "").replace("+", "").replace(" ", "").isdigit():  # a number, as people write it
                by = "identity"
                try:
                    identity = parse_patient_identity(text, today=now.astimezone(STOCKHOLM).date())
                except InvalidIdentity as exc:
                    raise Invalid(str(exc), field="query", code="invalid_identity") from None
                where.append(PatientRow.identity_value == identity.value)
            else:
                by = "name"
                key = name_key(text)
                if len(key) < 2:
                    raise Invalid("at least two letters of the name", field="query", code="too_short")
                where.append(name_prefix(p.name_key, key, uow.session.get_bind().dialect.name))
            where.append(or_(PatientRow.protected_identity.is_(False), p.unit_id.in_(revealing)))
            rows = (await uow.session.execute(
                select(p.case_id, p.unit_id, p.state, p.is_open, p.admitted_at, CaseRow, PatientRow)
                .join(CaseRow, CaseRow.id == p.case_id).join(PatientRow, PatientRow.id == CaseRow.patient_id)
                .where(*where).order_by(p.is_open.desc(), p.admitted_at.desc(), p.case_id, p.unit_id)
                .limit(data.limit * 4))).all()
            hits: dict[str, PatientHitOut] = {}
            patients: list[str] = []
            for case_id, unit_id, state, is_open, admitted_at, case_row, patient_row in rows:
                if case_id in hits:  # seen through another of the user's units already (the first in order)
                    continue
                if len(hits) == data.limit:
                    break
                person = Person.of(patient_row, PersonDetails.of(case_row))
                shown = patient_out(person, reveal=authorization.reveals_protected_identity(user, unit_id))
                hits[case_id] = PatientHitOut(case_id=case_id, unit_id=unit_id, state=state, open=is_open,
                                              admitted_at=_aware(admitted_at), patient=shown)
                patients.append(person.id)
            found = list(hits.values())
            await access_log.record(uow.session, user, unit_id=[h.unit_id for h in found], patient_ids=patients,
                                    case_ids=[h.case_id for h in found], action="search_patients", at=now)
            await uow.commit()
        return PatientSearchOut(by=by, items=found)
