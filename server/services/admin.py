"""Use cases of administration: connect organisations, keep the unit tree, manage users and their assignments.

Who may do what is decided by `server/authorization.py` (policies in `domain/administration.py`). Conflicts
carry a specific problem code: `unit_in_use`, `unit_has_active_sub_units`, `username_taken`, `hsa_id_taken`,
`assignment_exists`, `municipality_mismatch` (a unit's municipality code is not its organisation's, and no
cross-municipal agreement is recorded); `cross_municipal_agreement_central_only` (403: only a central administrator
records such an agreement or changes the routing of a unit that has one). A change of what a user may reach
(activation, HSA-id, assignments) also records a `UserAccessChanged` event on the user's access feed, so that every
API instance re-checks the user's open event streams (docs/events.md, "Access follows changes"). A person's
protected identity is cleared here too (`clear_protected_identity`), never by a registration. Units are never
deleted: a deactivated unit keeps its id, its cases and its log rows, and receives no new notices (routing,
forwarding and adding participants only pick active units; a unit with open cases cannot close).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import msgspec
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from domain.administration import (
    Grants,
    check_connection,
    check_parent,
    check_unit,
    deactivation_refusal,
    municipality_refusal,
)
from domain.discharge_case import CaseState
from domain.organisation import Role, UnitKind
from realtime.feeds import unit_feed
from server import access_log
from server import authorization as authz
from server.errors import Conflict, Forbidden, Invalid, NotVisible
from server.persistence import event_log
from server.persistence.models import (
    AdminLogRow,
    AssignmentRow,
    CaseRow,
    OrganisationRow,
    PrincipalRow,
    UnitRow,
    UserRow,
    user_search_key,
)
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.queries.paging import keyset_page
from server.schemas.admin import (
    AdminAssignmentOut,
    AdminChangeOut,
    AdminChangePage,
    AdminUnitOut,
    AdminUserOut,
    ChangeAssignment,
    ChangeOrganisation,
    ChangeUnit,
    ChangeUser,
    ConnectOrganisation,
    IdentityMerge,
    IdentityMergeOut,
    NewAssignment,
    NewUnit,
    NewUser,
    OrganisationOut,
    ProtectedIdentityOut,
)
from server.services.patient_merge import PatientMergeService

USER_LIST_LIMIT = 1000  # a page of a user list (the search finds the others)
LIST_LIMIT = 500  # the default page of the organisation and unit lists (at most LIST_MAX)
LIST_MAX = 1000


def organisation_out(row: OrganisationRow) -> OrganisationOut:
    return OrganisationOut(id=row.id, principal_id=row.principal_id, name=row.name, kind=row.kind,
                           care_agreement=row.care_agreement, has_local_administration=row.has_local_administration,
                           active=row.active)


def unit_out(row: UnitRow) -> AdminUnitOut:
    return AdminUnitOut(id=row.id, organisation_id=row.organisation_id, name=row.name, kind=row.kind,
                        hsa_id=row.hsa_id, parent_unit_id=row.parent_unit_id, municipality_code=row.municipality_code,
                        district=row.district, routing_role=row.routing_role, active=row.active,
                        deactivated_at=event_log.as_utc(row.deactivated_at) if row.deactivated_at else None,
                        cross_municipal_agreement=row.cross_municipal_agreement, phone=row.phone)


def user_out(row: UserRow, assignments: list[AssignmentRow]) -> AdminUserOut:
    return AdminUserOut(id=row.id, username=row.username, hsa_id=row.hsa_id, display_name=row.display_name,
                        title=row.title, organisation_id=row.organisation_id, active=row.active,
                        assignments=[AdminAssignmentOut(id=a.id, unit_id=a.unit_id, role=a.role,
                                                        protected_identity_access=a.protected_identity_access)
                                     for a in sorted(assignments, key=lambda a: a.id)])


def check_protected_identity_access(role: Role, access: bool) -> None:
    """The explicit need to see protected identities belongs only to an assignment that works with cases."""
    if access and not role.works_with_cases:
        raise Invalid("only the roles user and super user work with patients and can see protected identities",
                      field="protected_identity_access")


def _user_conflict(exc: IntegrityError) -> Conflict:
    """The unique index a concurrent create or change ran into: the username's or the HSA-id's."""
    if "username" in str(exc.orig):
        return Conflict("the username is taken", field="username", code="username_taken")
    return Conflict("a user with this HSA-id exists", field="hsa_id", code="hsa_id_taken")


def check_routing_integrity(g: Grants, refusal: str | None, *, agreement: str | None, agreement_sent: bool,
                            routing_changed: bool) -> None:
    """A unit routes only its organisation's municipality's patients, unless a central administrator recorded a
    cross-municipal agreement (`municipality_refusal` says why not; None: it does)."""
    central_only = "cross_municipal_agreement_central_only"
    if agreement_sent and not g.is_central:
        raise Forbidden("only a central administrator records or removes a cross-municipal agreement",
                        field="cross_municipal_agreement", code=central_only)
    if refusal is None:
        return
    if agreement is None:
        raise Conflict(f"{refusal}; routing another municipality's patients needs a cross-municipal agreement "
                       "recorded by a central administrator", field="municipality_code", code="municipality_mismatch")
    if routing_changed and not g.is_central:
        raise Forbidden("the unit routes under a cross-municipal agreement: only a central administrator changes "
                        "its municipality, district or routing role", field="municipality_code", code=central_only)


class AdminService:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._clock = clock
        self._merge = PatientMergeService(uow, clock)

    # ----- organisations ----------------------------------------------------------------------------------------

    async def list_organisations(self, user: CurrentUser, *, limit: int = LIST_LIMIT,
                                 cursor: str | None = None) -> tuple[list[OrganisationOut], str | None]:
        """A page of the organisations the user administers, by name, and the cursor of the next page."""
        async with self._uow() as uow:
            g = await authz.grants(uow.directory, user)
            authz.require_administrator(g)
            query = select(OrganisationRow)
            if not g.is_central:
                query = query.where(OrganisationRow.id.in_(sorted(
                    o for o in g.organisations(*Role) if authz.may_see_organisation(g, o))))
            rows, next_cursor = await keyset_page(uow.session, query, (OrganisationRow.name, OrganisationRow.id),
                                                  limit=limit, cursor=cursor, shape=tuple[str, str])
            return [organisation_out(r) for r in rows], next_cursor

    async def connect(self, user: CurrentUser, data: ConnectOrganisation) -> OrganisationOut:
        async with self._uow() as uow:
            authz.require_connect(await authz.grants(uow.directory, user))
            check_connection(care_agreement=data.care_agreement)
            if await uow.session.get(PrincipalRow, data.principal_id) is None:
                raise Invalid("no such principal (huvudman)", field="principal_id")
            row = OrganisationRow(id=str(uuid.uuid4()), principal_id=data.principal_id, name=data.name,
                                  kind=data.kind, has_local_administration=data.has_local_administration,
                                  care_agreement=True, active=True)
            uow.session.add(row)
            await uow.session.flush()
            await self._log(uow, user, row.id, "connect_organisation", "organisation", row.id,
                            {"name": row.name, "kind": row.kind, "care_agreement": True})
            await uow.commit()
            return organisation_out(row)

    async def organisation(self, user: CurrentUser, organisation_id: str) -> OrganisationOut:
        async with self._uow() as uow:
            row = await self._organisation(uow, organisation_id)
            g = await authz.grants(uow.directory, user)
            if not authz.may_see_organisation(g, row.id):
                authz.require_user_admin(g, row.id)
            return organisation_out(row)

    async def change_organisation(self, user: CurrentUser, organisation_id: str,
                                  data: ChangeOrganisation) -> OrganisationOut:
        async with self._uow() as uow:
            row = await self._organisation(uow, organisation_id)
            authz.require_connect(await authz.grants(uow.directory, user))
            if data.name is not None:
                row.name = data.name
            if data.has_local_administration is not None:
                row.has_local_administration = data.has_local_administration
            await self._log(uow, user, row.id, "change_organisation", "organisation", row.id,
                            msgspec.to_builtins(data))
            await uow.commit()
            return organisation_out(row)

    # ----- units ------------------------------------------------------------------------------------------------

    async def list_units(self, user: CurrentUser, organisation_id: str, *, limit: int = LIST_LIMIT,
                         cursor: str | None = None) -> tuple[list[AdminUnitOut], str | None]:
        """A page of the organisation's units (deactivated ones too) by name, and the cursor of the next page."""
        async with self._uow() as uow:
            await self._organisation(uow, organisation_id)
            g = await authz.grants(uow.directory, user)
            if not authz.may_see_organisation(g, organisation_id):
                authz.require_unit_admin(g, organisation_id)
            rows, next_cursor = await keyset_page(
                uow.session, select(UnitRow).where(UnitRow.organisation_id == organisation_id),
                (UnitRow.name, UnitRow.id), limit=limit, cursor=cursor, shape=tuple[str, str])
            return [unit_out(r) for r in rows], next_cursor

    async def create_unit(self, user: CurrentUser, organisation_id: str, data: NewUnit) -> AdminUnitOut:
        async with self._uow() as uow:
            org = await self._organisation(uow, organisation_id)
            g = await authz.grants(uow.directory, user)
            authz.require_unit_admin(g, org.id)
            if not org.active:
                raise Invalid("the organisation is not active", field="organisation_id")
            check_unit(kind=data.kind, routing_role=data.routing_role, district=data.district,
                       municipality_code=data.municipality_code)
            check_routing_integrity(g, municipality_refusal(
                routing_role=data.routing_role, municipality_code=data.municipality_code,
                organisation_municipality=await self._municipality_of(uow, org)),
                agreement=data.cross_municipal_agreement,
                agreement_sent=data.cross_municipal_agreement is not None, routing_changed=True)
            await self._check_hsa_free(uow, data.hsa_id)
            unit_id = str(uuid.uuid4())
            if data.parent_unit_id is not None:
                await self._check_parent(uow, unit_id, data.parent_unit_id, org.id)
            row = UnitRow(id=unit_id, organisation_id=org.id, name=data.name, kind=str(data.kind),
                          hsa_id=data.hsa_id, municipality_code=data.municipality_code, district=data.district,
                          routing_role=data.routing_role, active=True, parent_unit_id=data.parent_unit_id,
                          cross_municipal_agreement=data.cross_municipal_agreement, phone=data.phone)
            uow.session.add(row)
            await uow.session.flush()
            await event_log.ensure_feed(uow.session, unit_feed(unit_id))
            await self._log(uow, user, org.id, "create_unit", "unit", unit_id, msgspec.to_builtins(data))
            await uow.commit()
            return unit_out(row)

    async def change_unit(self, user: CurrentUser, unit_id: str, data: ChangeUnit) -> AdminUnitOut:
        async with self._uow() as uow:
            row = await self._unit(uow, unit_id)
            g = await authz.grants(uow.directory, user)
            authz.require_unit_admin(g, row.organisation_id)
            changes = {f: getattr(data, f) for f in ("parent_unit_id", "municipality_code", "district",
                                                      "routing_role", "cross_municipal_agreement")
                       if getattr(data, f) is not msgspec.UNSET}
            routing = ("municipality_code", "district", "routing_role")
            merged = {f: changes.get(f, getattr(row, f)) for f in routing}
            check_unit(kind=UnitKind(row.kind), **merged)
            organisation = await self._organisation(uow, row.organisation_id)
            check_routing_integrity(g, municipality_refusal(
                routing_role=merged["routing_role"], municipality_code=merged["municipality_code"],
                organisation_municipality=await self._municipality_of(uow, organisation)),
                agreement=changes.get("cross_municipal_agreement", row.cross_municipal_agreement),
                agreement_sent="cross_municipal_agreement" in changes,
                routing_changed=any(merged[f] != getattr(row, f) for f in routing))
            if changes.get("parent_unit_id") is not None:
                await self._check_parent(uow, row.id, changes["parent_unit_id"], row.organisation_id)
            if data.name is not None:
                row.name = data.name
            if data.phone is not msgspec.UNSET:
                row.phone = data.phone
            for name, value in changes.items():
                setattr(row, name, value)
            await self._log(uow, user, row.organisation_id, "change_unit", "unit", row.id,
                            msgspec.to_builtins(data))
            await uow.commit()
            return unit_out(row)

    async def deactivate_unit(self, user: CurrentUser, unit_id: str) -> AdminUnitOut:
        async with self._uow() as uow:
            row = await self._unit(uow, unit_id)
            authz.require_unit_admin(await authz.grants(uow.directory, user), row.organisation_id)
            if row.active:
                open_states = [s for s in CaseState if s.is_open]
                # Cases the unit sees, and drafts (admitted, notice not yet sent) whose receivers don't see them yet.
                drafts = list(await uow.session.scalars(select(CaseRow.id).where(
                    CaseRow.state == str(CaseState.ADMITTED))))
                ids = set(await uow.cases.ids_for_units([unit_id], open_states)) | set(drafts)
                cases = await uow.cases.get_many(sorted(ids))
                taking_part = sum(1 for c, _ in cases if c.ward_unit_id == unit_id or any(
                    p.unit_id == unit_id and p.active for p in c.participants))
                if reason := deactivation_refusal(taking_part):
                    raise Conflict(reason, field="unit_id", code="unit_in_use")
                children = await uow.session.scalar(select(func.count()).select_from(UnitRow).where(
                    UnitRow.parent_unit_id == unit_id, UnitRow.active.is_(True)))
                if children:
                    raise Conflict("the unit has active sub-units; deactivate or move them first", field="unit_id",
                                   code="unit_has_active_sub_units")
                row.active, row.deactivated_at = False, self._clock()
                await self._log(uow, user, row.organisation_id, "deactivate_unit", "unit", row.id, {})
                await uow.commit()
            return unit_out(row)

    # ----- users and assignments --------------------------------------------------------------------------------

    async def list_users(self, user: CurrentUser, organisation_id: str, *, search: str | None = None,
                         limit: int = USER_LIST_LIMIT,
                         cursor: str | None = None) -> tuple[list[AdminUserOut], str | None]:
        """A page of the organisation's users by name, and the cursor of the next page; `search`: those whose name,
        username, title or HSA-id contains it in any case (compared casefolded: `users.search_key`, the same on
        every database), so an administrator of a large organisation finds one without listing thousands."""
        async with self._uow() as uow:
            await self._organisation(uow, organisation_id)
            authz.require_user_admin(await authz.grants(uow.directory, user), organisation_id)
            query = select(UserRow).where(UserRow.organisation_id == organisation_id)
            if search:
                query = query.where(UserRow.search_key.contains(user_search_key(search), autoescape=True))
            rows, next_cursor = await keyset_page(uow.session, query, (UserRow.display_name, UserRow.username),
                                                  limit=limit, cursor=cursor, shape=tuple[str, str])
            assignments = list(await uow.session.scalars(select(AssignmentRow).where(
                AssignmentRow.user_id.in_([r.id for r in rows]))))
            return [user_out(r, [a for a in assignments if a.user_id == r.id]) for r in rows], next_cursor

    async def create_user(self, user: CurrentUser, organisation_id: str, data: NewUser) -> AdminUserOut:
        async with self._uow() as uow:
            org = await self._organisation(uow, organisation_id)
            authz.require_user_admin(await authz.grants(uow.directory, user), org.id)
            if await uow.session.scalar(select(UserRow.id).where(UserRow.username == data.username)):
                raise Conflict("the username is taken", field="username", code="username_taken")
            await self._check_user_hsa_free(uow, data.hsa_id)
            # Tokens issued before now for this HSA-id were issued to its earlier holder (if any): refused.
            row = UserRow(id=str(uuid.uuid4()), username=data.username, hsa_id=data.hsa_id,
                          display_name=data.display_name, title=data.title, organisation_id=org.id, active=True,
                          identity_changed_at=self._clock())
            uow.session.add(row)
            try:
                await uow.session.flush()
            except IntegrityError as exc:  # another administrator created the same username or HSA-id meanwhile
                raise _user_conflict(exc) from None
            await self._log(uow, user, org.id, "create_user", "user", row.id,
                            {"username": row.username, "hsa_id": row.hsa_id})
            await uow.commit()
            return user_out(row, [])

    async def user(self, user: CurrentUser, user_id: str) -> AdminUserOut:
        async with self._uow() as uow:
            row = await self._user(uow, user_id)
            authz.require_user_admin(await authz.grants(uow.directory, user), row.organisation_id)
            return user_out(row, await uow.directory.assignments(row.id))

    async def change_user(self, user: CurrentUser, user_id: str, data: ChangeUser) -> AdminUserOut:
        async with self._uow() as uow:
            row = await self._user(uow, user_id)
            authz.require_user_admin(await authz.grants(uow.directory, user), row.organisation_id)
            if data.active is False and row.id == user.id:
                raise Invalid("you cannot deactivate yourself", field="active")
            detail = msgspec.to_builtins(data)
            access_change = None
            if data.active is not None and data.active != row.active:
                access_change = "activated" if data.active else "deactivated"
            if data.hsa_id is not None and data.hsa_id != row.hsa_id:
                await self._check_user_hsa_free(uow, data.hsa_id)
                detail["previous_hsa_id"] = row.hsa_id
                access_change = access_change or "hsa_id_changed"
            for name in ("display_name", "title", "active", "hsa_id"):
                if (value := getattr(data, name)) is not None:
                    setattr(row, name, value)
            if "previous_hsa_id" in detail:  # tokens issued before the change name the old holder: refused
                row.identity_changed_at = self._clock()
            try:
                await uow.session.flush()
            except IntegrityError:  # another administrator gave the same HSA-id at the same moment
                raise Conflict("a user with this HSA-id exists", field="hsa_id", code="hsa_id_taken") from None
            await self._log(uow, user, row.organisation_id, "change_user", "user", row.id, detail)
            if access_change is not None:
                await uow.record_access_change(row.id, access_change, user.id, self._clock())
            await uow.commit()
            return user_out(row, await uow.directory.assignments(row.id))

    async def add_assignment(self, user: CurrentUser, user_id: str, data: NewAssignment) -> AdminUserOut:
        async with self._uow() as uow:
            row = await self._user(uow, user_id)
            g = await authz.grants(uow.directory, user)
            authz.require_user_admin(g, row.organisation_id)
            unit = await uow.directory.unit(data.unit_id)
            if unit is None:
                raise Invalid("no such unit", field="unit_id")
            authz.require_assignment(g, user_organisation_id=row.organisation_id,
                                     unit_organisation_id=unit.organisation_id, role=data.role)
            if not unit.active:
                raise Invalid("the unit is deactivated", field="unit_id")
            check_protected_identity_access(data.role, data.protected_identity_access)
            if await uow.session.scalar(select(AssignmentRow.id).where(
                    AssignmentRow.user_id == row.id, AssignmentRow.unit_id == unit.id,
                    AssignmentRow.role == str(data.role))):
                raise Conflict("the user already has this assignment", field="role", code="assignment_exists")
            await uow.session.execute(insert(AssignmentRow).values(
                user_id=row.id, unit_id=unit.id, role=str(data.role),
                protected_identity_access=data.protected_identity_access))
            await self._log(uow, user, row.organisation_id, "grant_assignment", "user", row.id,
                            {"unit_id": unit.id, "role": str(data.role),
                             "protected_identity_access": data.protected_identity_access})
            await uow.record_access_change(row.id, "assignment_added", user.id, self._clock())
            assignments = await uow.directory.assignments(row.id)
            await uow.commit()
            return user_out(row, assignments)

    async def change_assignment(self, user: CurrentUser, user_id: str, assignment_id: int,
                                data: ChangeAssignment) -> AdminUserOut:
        """Give or take away the explicit need to see protected identities at the assignment's unit. Decided by
        those who may grant the assignment itself (the user's organisation's administrators, central)."""
        async with self._uow() as uow:
            row, assignment = await self._assignment_in_reach(uow, user, user_id, assignment_id)
            check_protected_identity_access(Role(assignment.role), data.protected_identity_access)
            if assignment.protected_identity_access != data.protected_identity_access:
                assignment.protected_identity_access = data.protected_identity_access
                await self._log(uow, user, row.organisation_id, "change_assignment", "user", row.id,
                                {"assignment_id": assignment.id, "unit_id": assignment.unit_id,
                                 "role": assignment.role,
                                 "protected_identity_access": data.protected_identity_access})
            assignments = await uow.directory.assignments(row.id)
            await uow.commit()
            return user_out(row, assignments)

    async def _assignment_in_reach(self, uow: UnitOfWork, user: CurrentUser, user_id: str,
                                   assignment_id: int) -> tuple[UserRow, AssignmentRow]:
        """The user and one of their assignments, if `user` may administer that user and grant that assignment
        (the user's organisation's administrators, central); else refused (404 for an assignment not theirs)."""
        row = await self._user(uow, user_id)
        g = await authz.grants(uow.directory, user)
        authz.require_user_admin(g, row.organisation_id)
        assignment = await uow.session.get(AssignmentRow, assignment_id)
        if assignment is None or assignment.user_id != row.id:
            raise NotVisible("no such assignment")
        unit = await uow.directory.unit(assignment.unit_id)
        assert unit is not None
        authz.require_assignment(g, user_organisation_id=row.organisation_id,
                                 unit_organisation_id=unit.organisation_id, role=Role(assignment.role))
        return row, assignment

    async def remove_assignment(self, user: CurrentUser, user_id: str, assignment_id: int) -> AdminUserOut:
        async with self._uow() as uow:
            row, assignment = await self._assignment_in_reach(uow, user, user_id, assignment_id)
            await uow.session.execute(delete(AssignmentRow).where(AssignmentRow.id == assignment_id))
            await self._log(uow, user, row.organisation_id, "revoke_assignment", "user", row.id,
                            {"unit_id": assignment.unit_id, "role": assignment.role,
                             "protected_identity_access": assignment.protected_identity_access})
            await uow.record_access_change(row.id, "assignment_removed", user.id, self._clock())
            assignments = await uow.directory.assignments(row.id)
            await uow.commit()
            return user_out(row, assignments)

    # ----- protected identity -------------------------------------------------------------------------------------

    async def clear_protected_identity(self, user: CurrentUser, patient_id: str) -> ProtectedIdentityOut:
        """End a person's protected identity everywhere (registrations can only set it): by an administrator with
        the explicit need, recorded in the admin log (`clear_protected_identity`) and, as a change of patient data,
        in the access log. Clearing a person who is not protected changes and records nothing."""
        unit_id = authz.protected_identity_unit(user)
        async with self._uow() as uow:
            patient = await uow.patients.get(patient_id)
            if patient is None:
                raise NotVisible("no such patient")
            if patient.protected_identity:
                patient.protected_identity = False
                now = self._clock()
                await self._log(uow, user, user.organisation_id, "clear_protected_identity", "patient", patient.id,
                                {"protected_identity": False, "unit_id": unit_id})
                await access_log.record(uow.session, user, unit_id=unit_id, patient_ids=[patient.id],
                                        case_ids=[None], action="clear_protected_identity", at=now)
            await uow.commit()
            return ProtectedIdentityOut(patient_id=patient.id, protected_identity=False)

    async def merge_identity(self, user: CurrentUser, data: IdentityMerge) -> IdentityMergeOut:
        """A reserve number into the person's real identity: `server/services/patient_merge.py`."""
        return await self._merge.merge(user, data)

    # ----- the record of changes ----------------------------------------------------------------------------------

    async def changes(self, user: CurrentUser, organisation_id: str, limit: int,
                      cursor: str | None = None) -> AdminChangePage:
        async with self._uow() as uow:
            await self._organisation(uow, organisation_id)
            g = await authz.grants(uow.directory, user)
            if not authz.may_see_organisation(g, organisation_id):
                authz.require_user_admin(g, organisation_id)
            rows, next_cursor = await keyset_page(
                uow.session, select(AdminLogRow).where(AdminLogRow.organisation_id == organisation_id),
                (AdminLogRow.id,), limit=limit, cursor=cursor, shape=tuple[int], descending=True)
            return AdminChangePage(items=[AdminChangeOut(
                at=event_log.as_utc(r.at), actor_user_id=r.actor_user_id, actor_hsa_id=r.actor_hsa_id,
                action=r.action, target_type=r.target_type, target_id=r.target_id, detail=r.detail) for r in rows],
                limit=limit, next_cursor=next_cursor)

    async def _log(self, uow: UnitOfWork, user: CurrentUser, organisation_id: str, action: str, target_type: str,
                   target_id: str, detail: dict[str, object]) -> None:
        """Every administrative change is recorded with who made it, in the change's own transaction."""
        await uow.session.execute(insert(AdminLogRow).values(
            at=self._clock(), actor_user_id=user.id, actor_hsa_id=user.hsa_id, organisation_id=organisation_id,
            action=action, target_type=target_type, target_id=target_id, detail=detail))

    # ----- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    async def _organisation(uow: UnitOfWork, organisation_id: str) -> OrganisationRow:
        row = await uow.directory.organisation(organisation_id)
        if row is None:
            raise NotVisible("no such organisation")
        return row

    @staticmethod
    async def _municipality_of(uow: UnitOfWork, organisation: OrganisationRow) -> str | None:
        """The municipality whose organisation this is (its principal's code); None for the region's and others."""
        principal = await uow.session.get(PrincipalRow, organisation.principal_id)
        return principal.municipality_code if principal is not None else None

    @staticmethod
    async def _unit(uow: UnitOfWork, unit_id: str) -> UnitRow:
        row = await uow.directory.unit(unit_id)
        if row is None:
            raise NotVisible("no such unit")
        return row

    @staticmethod
    async def _user(uow: UnitOfWork, user_id: str) -> UserRow:
        row = await uow.directory.user(user_id)
        if row is None:
            raise NotVisible("no such user")
        return row

    @staticmethod
    async def _check_hsa_free(uow: UnitOfWork, hsa_id: str) -> None:
        if await uow.session.scalar(select(UnitRow.id).where(UnitRow.hsa_id == hsa_id)):
            raise Conflict("a unit with this HSA-id exists", field="hsa_id", code="hsa_id_taken")

    @staticmethod
    async def _check_user_hsa_free(uow: UnitOfWork, hsa_id: str) -> None:
        if await uow.session.scalar(select(UserRow.id).where(UserRow.hsa_id == hsa_id)):
            raise Conflict("a user with this HSA-id exists", field="hsa_id", code="hsa_id_taken")

    @staticmethod
    async def _check_parent(uow: UnitOfWork, unit_id: str, parent_id: str, organisation_id: str) -> None:
        parent = await uow.directory.unit(parent_id)
        if parent is None or parent.organisation_id != organisation_id:
            raise Invalid("the parent must be a unit of the same organisation", field="parent_unit_id")
        rows = (await uow.session.execute(select(UnitRow.id, UnitRow.parent_unit_id).where(
            UnitRow.organisation_id == organisation_id))).tuples()
        check_parent(unit_id, parent_id, {child: parent for child, parent in rows})
