"""Access-log rows as a reviewer reads them: users and units by name, the patient and the case recognisable.

The log row itself holds ids (and the HSA-id the user had then); the names are looked up when the rows are shown,
a fixed number of queries per page (users, units, cases, patients, and the names of patients whose row names no
case), never one per row. The patient's full identity number and name are for auditors only
(`authorization.reveals_logged_patients`); every reader's reading is itself access-logged by the caller
(`AuditService._log_reading`). A protected person's name stays masked for everyone, as everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.identity import InvalidIdentity, parse_patient_identity
from server.persistence.event_log import as_utc
from server.persistence.models import AccessLogRow, CaseRow, PatientRow, UnitRow, UserRow
from server.persistence.sip_models import SipPlanRow
from server.schemas.admin import AccessLogEntryOut, LoggedCaseOut, LoggedPatientOut
from server.views.cases import PROTECTED_NAME


def entry_out(row: AccessLogRow) -> AccessLogEntryOut:
    """The row as it is stored (ids only): what a purged or not yet looked-up row shows."""
    return AccessLogEntryOut(seq=row.seq, at=as_utc(row.at), action=row.action, purpose=row.purpose,
                             user_id=row.user_id, user_hsa_id=row.user_hsa_id, unit_id=row.unit_id,
                             patient_id=row.patient_id, case_id=row.case_id)


async def readable_entries(session: AsyncSession, rows: Sequence[AccessLogRow], *,
                           reveal_patients: bool) -> list[AccessLogEntryOut]:
    """The rows with names; `reveal_patients`: the full identity number and the name (an auditor)."""
    if not rows:
        return []
    users = {u.id: u for u in await session.scalars(select(UserRow).where(
        UserRow.id.in_({r.user_id for r in rows})))}
    cases = {c.id: c for c in await session.scalars(select(CaseRow).where(
        CaseRow.id.in_({r.case_id for r in rows if r.case_id})))}
    unit_ids = {r.unit_id for r in rows if r.unit_id} | {c.ward_unit_id for c in cases.values()}
    units = {u.id: u.name for u in await session.scalars(select(UnitRow).where(UnitRow.id.in_(unit_ids)))}
    patients = {p.id: p for p in await session.scalars(select(PatientRow).where(
        PatientRow.id.in_({r.patient_id for r in rows})))}
    names = await _latest_names(session, {r.patient_id for r in rows if r.case_id not in cases})\
        if reveal_patients else {}
    out = []
    for row in rows:
        entry = entry_out(row)
        user, case = users.get(row.user_id), cases.get(row.case_id or "")
        entry.user_name = user.display_name if user else None
        entry.user_title = user.title if user else None
        entry.unit_name = units.get(row.unit_id or "")
        if case is not None:
            entry.case = LoggedCaseOut(id=case.id, ward_unit_id=case.ward_unit_id,
                                       ward_name=units.get(case.ward_unit_id, ""), care_type=case.care_type,
                                       admitted_at=as_utc(case.admitted_at))
        if (patient := patients.get(row.patient_id)) is not None:
            name = case.person_name if case is not None else names.get(patient.id)
            entry.patient = _patient(patient, name, reveal=reveal_patients)
        out.append(entry)
    return out


def _patient(row: PatientRow, name: str | None, *, reveal: bool) -> LoggedPatientOut:
    try:
        identity = parse_patient_identity(row.identity_value)
        shown = identity.formatted if reveal else identity.masked
    except InvalidIdentity:  # a number stored before today's rules (a '+' number): never shown unmasked
        shown = row.identity_value[:8] + "-****"
    if not reveal:
        name = None
    elif row.protected_identity:
        name = PROTECTED_NAME
    return LoggedPatientOut(identity=shown, identity_kind=row.identity_kind, name=name,
                            protected_identity=row.protected_identity)


async def _latest_names(session: AsyncSession, patient_ids: set[str]) -> dict[str, str]:
    """The name of each patient as their latest case (else their latest SIP plan) records it: for rows that name
    no case (a plan outside a discharge, a reading of the log)."""
    if not patient_ids:
        return {}
    names: dict[str, str] = {}
    for table, when in ((SipPlanRow, SipPlanRow.created_at), (CaseRow, CaseRow.admitted_at)):
        rows = await session.execute(select(table.patient_id, table.person_name)
                                     .where(table.patient_id.in_(patient_ids)).order_by(when))
        names |= dict(rows.tuples().all())  # the latest wins; a case's name over a plan's
    return names
