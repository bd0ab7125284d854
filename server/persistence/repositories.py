"""Repositories: load and store aggregates and reference data. SQLAlchemy stays behind these."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.discharge_case import CaseState, DischargeCase
from domain.payment import STOCKHOLM_2020, PaymentPolicy
from server.persistence import read_models
from server.persistence.documents import from_document, to_document
from server.persistence.models import (
    AssignmentRow,
    CaseParticipantRow,
    CaseRow,
    OrganisationRow,
    PatientRow,
    PaymentAmountRow,
    Person,
    PersonDetails,
    PrincipalRow,
    UnitRow,
    UserRow,
)
from server.persistence.sip_models import SipPlanUnitRow

GET_MANY_CHUNK = 1000  # ids per `IN (...)`: asyncpg refuses a statement with more than 32 767 parameters


class ConcurrencyConflict(Exception):
    """The aggregate changed since it was read."""


class CaseRepository:
    """`policy` decides the payment liability's start, one of the deadline thresholds the case list reads."""

    def __init__(self, session: AsyncSession, policy: PaymentPolicy = STOCKHOLM_2020) -> None:
        self.session = session
        self.policy = policy
        self._names: dict[str, str] = {}  # case id -> the person's name as the case records it (its search key)

    async def get(self, case_id: str, *, for_update: bool = False) -> DischargeCase | None:
        query = select(CaseRow).where(CaseRow.id == case_id)
        if for_update and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = await self.session.scalar(query)
        if row is None:
            return None
        self._names[row.id] = row.person_name
        return from_document(row.document, row.version, DischargeCase)

    async def add(self, case: DischargeCase, patient_id: str, person: PersonDetails, now: datetime) -> int:
        """Store a new case with its own copy of the person's details (`person`, as its ward registered them)."""
        case.version = 1
        await self.session.execute(insert(CaseRow).values(
            id=case.id, patient_id=patient_id, ward_unit_id=case.ward_unit_id, state=str(case.state),
            care_type=str(case.care_type), admitted_at=case.admitted_at.astimezone(UTC), updated_at=now, version=1,
            document=to_document(case), **person.columns()))
        self._names[case.id] = person.name
        await read_models.write_case(self.session, case, person.name, self.policy, fresh=True)
        return 1

    async def save(self, case: DischargeCase, now: datetime) -> int:
        """Store the changed case if nobody changed it since it was read; returns the new version."""
        result = await self.session.execute(
            update(CaseRow).where(CaseRow.id == case.id, CaseRow.version == case.version)
            .values(state=str(case.state), updated_at=now, version=case.version + 1, document=to_document(case)))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(case.id)
        case.version += 1
        name = self._names.get(case.id)
        if name is None:
            name = await self.session.scalar(select(CaseRow.person_name).where(CaseRow.id == case.id)) or ""
        await read_models.write_case(self.session, case, name, self.policy)
        return case.version

    async def ids_for_units(self, unit_ids: Iterable[str], states: Sequence[CaseState] | None = None) -> list[str]:
        query = (select(CaseRow.id).join(CaseParticipantRow, CaseParticipantRow.case_id == CaseRow.id)
                 .where(CaseParticipantRow.unit_id.in_(list(unit_ids))).distinct())
        if states:
            query = query.where(CaseRow.state.in_([str(s) for s in states]))
        return list(await self.session.scalars(query))

    async def get_many(self, case_ids: Sequence[str]) -> list[tuple[DischargeCase, Person]]:
        """Cases with their person (as each case records them), oldest admission first. At most `GET_MANY_CHUNK`
        ids per statement (asyncpg refuses more than 32 767 parameters)."""
        ids = list(dict.fromkeys(case_ids))
        found: list[tuple[CaseRow, PatientRow]] = []
        for start in range(0, len(ids), GET_MANY_CHUNK):
            found.extend((await self.session.execute(
                select(CaseRow, PatientRow).join(PatientRow, PatientRow.id == CaseRow.patient_id)
                .where(CaseRow.id.in_(ids[start:start + GET_MANY_CHUNK])))).tuples())
        found.sort(key=lambda rp: (rp[0].admitted_at, rp[0].id))
        return [(from_document(r.document, r.version, DischargeCase), Person.of(p, PersonDetails.of(r)))
                for r, p in found]

    async def person_of(self, case_id: str) -> Person | None:
        """The case's person: the shared identity with the case's own details."""
        row = (await self.session.execute(
            select(CaseRow, PatientRow).join(PatientRow, PatientRow.id == CaseRow.patient_id)
            .where(CaseRow.id == case_id))).tuples().first()
        return Person.of(row[1], PersonDetails.of(row[0])) if row else None

    async def open_case_at_ward(self, patient_id: str, ward_unit_id: str) -> str | None:
        open_states = [str(s) for s in CaseState if s.is_open]
        return await self.session.scalar(select(CaseRow.id).where(
            CaseRow.patient_id == patient_id, CaseRow.ward_unit_id == ward_unit_id, CaseRow.state.in_(open_states)))


class PatientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, patient_id: str) -> PatientRow | None:
        return await self.session.get(PatientRow, patient_id)

    async def by_identity(self, value: str) -> PatientRow | None:
        return await self.session.scalar(select(PatientRow).where(PatientRow.identity_value == value))

    def add(self, row: PatientRow) -> None:
        self.session.add(row)


@dataclass(frozen=True)
class DirectoryNames:
    """Names of the units, organisations, municipalities and staff a page of cases mentions, read in one batch
    (`DirectoryRepository.names_for_cases`): receivers see who is who by name, never by code."""

    units: Mapping[str, UnitRow] = field(default_factory=dict)
    organisations: Mapping[str, str] = field(default_factory=dict)  # organisation id -> name
    municipalities: Mapping[str, str] = field(default_factory=dict)  # municipality code -> name
    people: Mapping[str, UserRow] = field(default_factory=dict)


class DirectoryRepository:
    """Organisations, units, users and assignments (read side; administration comes with its own issue)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def unit(self, unit_id: str) -> UnitRow | None:
        return await self.session.get(UnitRow, unit_id)

    async def units(self, unit_ids: Iterable[str]) -> dict[str, UnitRow]:
        rows = await self.session.scalars(select(UnitRow).where(UnitRow.id.in_(list(set(unit_ids)))))
        return {r.id: r for r in rows}

    async def names_for_cases(self, cases: Iterable[DischargeCase], persons: Iterable[Person]) -> DirectoryNames:
        """The names a page of cases needs (its wards with their organisations, its participating units, the
        patients' municipalities, the named care contacts): at most three queries, however long the page."""
        cases = list(cases)
        unit_ids = {c.ward_unit_id for c in cases} | {p.unit_id for c in cases for p in c.participants}
        codes = {p.municipality_code for p in persons if p.municipality_code}
        user_ids = {c.named_care_contact.user_id for c in cases if c.named_care_contact}
        units: dict[str, UnitRow] = {}
        organisations: dict[str, str] = {}
        if unit_ids:
            for unit, organisation in await self.session.execute(
                    select(UnitRow, OrganisationRow.name)
                    .join(OrganisationRow, OrganisationRow.id == UnitRow.organisation_id)
                    .where(UnitRow.id.in_(sorted(unit_ids)))):
                units[unit.id] = unit
                organisations[unit.organisation_id] = organisation
        municipalities: dict[str, str] = {}
        if codes:
            rows = await self.session.execute(select(PrincipalRow.municipality_code, PrincipalRow.name)
                                              .where(PrincipalRow.municipality_code.in_(sorted(codes))))
            municipalities = {str(code): name for code, name in rows}
        people: dict[str, UserRow] = {}
        if user_ids:
            people = {u.id: u for u in await self.session.scalars(select(UserRow).where(UserRow.id.in_(
                sorted(user_ids))))}
        return DirectoryNames(units, organisations, municipalities, people)

    async def list_units(self, *, kind: str | None = None, municipality_code: str | None = None,
                         organisation_id: str | None = None, kinds: Collection[str] | None = None,
                         exclude_id: str | None = None, limit: int = 100, offset: int = 0) -> list[UnitRow]:
        query = select(UnitRow).where(UnitRow.active.is_(True)).order_by(UnitRow.name, UnitRow.id)
        if exclude_id:
            query = query.where(UnitRow.id != exclude_id)
        if kind:
            query = query.where(UnitRow.kind == kind)
        if kinds is not None:
            query = query.where(UnitRow.kind.in_(list(kinds)))
        if municipality_code:
            query = query.where(UnitRow.municipality_code == municipality_code)
        if organisation_id:
            query = query.where(UnitRow.organisation_id == organisation_id)
        return list(await self.session.scalars(query.limit(limit).offset(offset)))

    async def organisation(self, organisation_id: str) -> OrganisationRow | None:
        return await self.session.get(OrganisationRow, organisation_id)

    async def municipal_intake_unit(self, municipality_code: str, district: str | None) -> UnitRow | None:
        """Routing: the municipality's intake unit for the district, else its central intake unit.

        Only units of that municipality's own organisations, or with a cross-municipal agreement recorded by a
        central administrator, take its patients (the administration refuses others; this holds for rows
        written before that rule too)."""
        intake = list(await self.session.scalars(
            select(UnitRow)
            .join(OrganisationRow, OrganisationRow.id == UnitRow.organisation_id)
            .join(PrincipalRow, PrincipalRow.id == OrganisationRow.principal_id)
            .where(UnitRow.kind == "municipal", UnitRow.municipality_code == municipality_code,
                   UnitRow.active.is_(True), UnitRow.routing_role == "intake",
                   or_(PrincipalRow.municipality_code == municipality_code,
                       UnitRow.cross_municipal_agreement.is_not(None)))
            .order_by(UnitRow.id)))
        if district:
            match = [r for r in intake if r.district and r.district.lower() == district.lower()]
            if match:
                return match[0]
        central = [r for r in intake if r.district is None]
        return central[0] if central else None

    async def user_by_claim(self, claim: str, value: str) -> UserRow | None:
        column = UserRow.hsa_id if claim == "hsa_id" else UserRow.username
        return await self.session.scalar(select(UserRow).where(column == value, UserRow.active.is_(True)))

    async def users_by_claim(self, claim: str, values: Iterable[str]) -> list[UserRow]:
        """The active users `user_by_claim` finds for each of `values`, in one query."""
        column = UserRow.hsa_id if claim == "hsa_id" else UserRow.username
        wanted = sorted(set(values))
        if not wanted:
            return []
        return list(await self.session.scalars(select(UserRow).where(column.in_(wanted), UserRow.active.is_(True))))

    async def user(self, user_id: str) -> UserRow | None:
        return await self.session.get(UserRow, user_id)

    async def people_visible_to(self, user_ids: Sequence[str], organisation_id: str,
                                case_units: Iterable[str]) -> list[UserRow]:
        """Of `user_ids`, the staff whose names a user may read (`GET /people`): everyone of the user's own
        organisation, and whoever holds an assignment at a unit that shares a case or a SIP plan with one of the
        user's case units (`case_units`: the units they work with patients at). One query; each EXISTS stops at
        the first shared case, through the participant tables' unit indexes, so it does not grow with history."""
        units = sorted(case_units)
        visible = [UserRow.organisation_id == organisation_id]
        if units:
            mine, theirs = aliased(CaseParticipantRow), aliased(CaseParticipantRow)
            plan_mine, plan_theirs = aliased(SipPlanUnitRow), aliased(SipPlanUnitRow)
            shares_case = (select(mine.case_id).join(theirs, theirs.case_id == mine.case_id)
                           .where(mine.unit_id.in_(units), theirs.unit_id == AssignmentRow.unit_id).exists())
            shares_plan = (select(plan_mine.plan_id).join(plan_theirs, plan_theirs.plan_id == plan_mine.plan_id)
                           .where(plan_mine.unit_id.in_(units), plan_theirs.unit_id == AssignmentRow.unit_id).exists())
            visible.append(select(AssignmentRow.id).where(
                AssignmentRow.user_id == UserRow.id,
                or_(AssignmentRow.unit_id.in_(units), shares_case, shares_plan)).exists())
        query = select(UserRow).where(UserRow.id.in_(list(user_ids)), or_(*visible)).order_by(UserRow.id)
        return list(await self.session.scalars(query))

    async def assignments(self, user_id: str) -> list[AssignmentRow]:
        return list(await self.session.scalars(select(AssignmentRow).where(AssignmentRow.user_id == user_id)))

    async def assignments_of(self, user_ids: Sequence[str]) -> dict[str, list[AssignmentRow]]:
        """The assignments of each of `user_ids`, in one query."""
        found: dict[str, list[AssignmentRow]] = {u: [] for u in user_ids}
        if found:
            rows = await self.session.scalars(select(AssignmentRow).where(AssignmentRow.user_id.in_(sorted(found))))
            for row in rows:
                found[row.user_id].append(row)
        return found

    async def active_users_with_assignments(self) -> list[tuple[UserRow, AssignmentRow | None, str | None]]:
        """Every active user by username, once per assignment (with its unit's name), or once with None: one query
        (the development login page's cards)."""
        rows = await self.session.execute(
            select(UserRow, AssignmentRow, UnitRow.name).where(UserRow.active.is_(True))
            .outerjoin(AssignmentRow, AssignmentRow.user_id == UserRow.id)
            .outerjoin(UnitRow, UnitRow.id == AssignmentRow.unit_id)
            .order_by(UserRow.username, AssignmentRow.id))
        return [(u, a, n) for u, a, n in rows.tuples()]

    async def users(self) -> list[UserRow]:
        return list(await self.session.scalars(select(UserRow).order_by(UserRow.username)))

    async def payment_amounts(self) -> dict[int, int]:
        rows = await self.session.scalars(select(PaymentAmountRow))
        return {r.year: r.amount_sek for r in rows}
