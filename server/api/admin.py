"""Routes of administration under /admin: organisations, the unit tree, users and their assignments.

Who may call what is decided in `server/authorization.py` (central administrators everywhere; local access
administrators for users in their own organisation; local object specialists for their organisation's units).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar import Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter

from server.api.dependencies import Admin
from server.api.openapi import PROBLEMS
from server.principal import CurrentUser
from server.schemas.admin import (
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
from server.services.admin import LIST_LIMIT, LIST_MAX, USER_LIST_LIMIT

T = TypeVar("T")
NEXT_CURSOR = "X-Next-Cursor"
PAGED = (f"the `{NEXT_CURSOR}` header of the answer is the `cursor` of the next page (absent on the last); a cursor "
         "the list did not give out is 400 with field `cursor`.")
# documentation only (each answer sets it itself); `value` gives the documented header its schema (a string)
PAGE_HEADERS = [ResponseHeader(name=NEXT_CURSOR, documentation_only=True, required=False, value="",
                               description="The `cursor` of the next page; absent on the last page.")]
ListLimit = Annotated[int, Parameter(ge=1, le=LIST_MAX, description="Rows per page.")]
CursorQuery = Annotated[str | None, Parameter(required=False, min_length=1, max_length=1000,
                                              description="The next page's cursor from the page before.")]

OrganisationId = Annotated[str, Parameter(max_length=64, description="The organisation id.")]
UnitId = Annotated[str, Parameter(max_length=64, description="The unit id.")]
UserId = Annotated[str, Parameter(max_length=64, description="The user id.")]
PatientId = Annotated[str, Parameter(max_length=64, description="The person's `id` in a case or plan.")]
AssignmentId = Annotated[int, Parameter(ge=1, le=2**53, description="The assignment id.")]
TAGS = ["administration"]


def _page(items: list[T], next_cursor: str | None) -> Response[list[T]]:
    """A list answer; the next page's cursor in the `X-Next-Cursor` header (absent on the last page)."""
    return Response(items, headers={NEXT_CURSOR: next_cursor} if next_cursor else None)


@get("/admin/organisations", operation_id="adminListOrganisations", summary="Organisations I administer",
     description="Every organisation for central administrators; your own for local administrators. By name, "
                 f"in keyset pages: {PAGED}", responses=PROBLEMS, response_headers=PAGE_HEADERS, tags=TAGS)
async def list_organisations(current_user: CurrentUser, admin: Admin, limit: ListLimit = LIST_LIMIT,
                             cursor: CursorQuery = None) -> Response[list[OrganisationOut]]:
    return _page(*await admin.list_organisations(current_user, limit=limit, cursor=cursor))


@post("/admin/organisations", operation_id="adminConnectOrganisation", summary="Connect an organisation",
      description="Central administrators connect a care provider or municipal organisation. Only with a care "
                  "agreement with Region Stockholm (`care_agreement: true`); refused otherwise (422, field "
                  "`care_agreement`).", status_code=201, responses=PROBLEMS, tags=TAGS)
async def connect_organisation(current_user: CurrentUser, admin: Admin,
                               data: ConnectOrganisation) -> OrganisationOut:
    return await admin.connect(current_user, data)


@get("/admin/organisations/{organisation_id:str}", operation_id="adminGetOrganisation",
     summary="Read one organisation", description="For its administrators.", responses=PROBLEMS, tags=TAGS)
async def get_organisation(current_user: CurrentUser, admin: Admin,
                           organisation_id: OrganisationId) -> OrganisationOut:
    return await admin.organisation(current_user, organisation_id)


@patch("/admin/organisations/{organisation_id:str}", operation_id="adminChangeOrganisation",
       summary="Change an organisation", description="Central administrators: name, local administration.",
       responses=PROBLEMS, tags=TAGS)
async def change_organisation(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                              data: ChangeOrganisation) -> OrganisationOut:
    return await admin.change_organisation(current_user, organisation_id, data)


@get("/admin/organisations/{organisation_id:str}/units", operation_id="adminListUnits",
     summary="The organisation's unit tree", description="Every unit of the organisation, deactivated ones too, by "
     f"name, in keyset pages: {PAGED}", responses=PROBLEMS, response_headers=PAGE_HEADERS, tags=TAGS)
async def list_units(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                     limit: ListLimit = LIST_LIMIT, cursor: CursorQuery = None) -> Response[list[AdminUnitOut]]:
    return _page(*await admin.list_units(current_user, organisation_id, limit=limit, cursor=cursor))


@post("/admin/organisations/{organisation_id:str}/units", operation_id="adminCreateUnit", summary="Add a unit",
      description="A unit with its kind, HSA-id and place in the tree. A municipal unit with `routing_role: "
                  "intake` receives the municipality's notices (for its `district`, or all without one). 409 "
                  "`hsa_id_taken` when another unit has the HSA-id.",
      status_code=201, responses=PROBLEMS, tags=TAGS)
async def create_unit(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                      data: NewUnit) -> AdminUnitOut:
    return await admin.create_unit(current_user, organisation_id, data)


@patch("/admin/units/{unit_id:str}", operation_id="adminChangeUnit", summary="Change a unit",
       description="Name, parent, municipality, routing district and role. Fields left out stay as they are.",
       responses=PROBLEMS, tags=TAGS)
async def change_unit(current_user: CurrentUser, admin: Admin, unit_id: UnitId, data: ChangeUnit) -> AdminUnitOut:
    return await admin.change_unit(current_user, unit_id, data)


@post("/admin/units/{unit_id:str}/deactivation", operation_id="adminDeactivateUnit", summary="Deactivate a unit",
      description="The unit keeps its cases and log rows but receives no new notices and takes no new "
                  "assignments. Refused while it takes part in open cases (409 `unit_in_use`) or has active "
                  "sub-units (409 `unit_has_active_sub_units`).",
      status_code=200, responses=PROBLEMS, tags=TAGS)
async def deactivate_unit(current_user: CurrentUser, admin: Admin, unit_id: UnitId) -> AdminUnitOut:
    return await admin.deactivate_unit(current_user, unit_id)


@get("/admin/organisations/{organisation_id:str}/users", operation_id="adminListUsers",
     summary="The organisation's users",
     description="Users with their assignments, by name. `q`: only those whose name, username, title or HSA-id "
                 "contains it (any case, 'åberg' finds 'Åberg'; a name, never a patient's data, so it may travel in "
                 f"the URL). Keyset pages: {PAGED}", responses=PROBLEMS, response_headers=PAGE_HEADERS, tags=TAGS)
async def list_users(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                     q: Annotated[str | None, Parameter(required=False, max_length=100)] = None,
                     limit: Annotated[int, Parameter(ge=1, le=USER_LIST_LIMIT)] = USER_LIST_LIMIT,
                     cursor: CursorQuery = None) -> Response[list[AdminUserOut]]:
    return _page(*await admin.list_users(current_user, organisation_id, search=(q or "").strip() or None,
                                         limit=limit, cursor=cursor))


@post("/admin/organisations/{organisation_id:str}/users", operation_id="adminCreateUser", summary="Add a user",
      description="A user of the organisation, identified at login by the HSA-id. 409 `username_taken` or "
                  "`hsa_id_taken` when another user has it.", status_code=201,
      responses=PROBLEMS, tags=TAGS)
async def create_user(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                      data: NewUser) -> AdminUserOut:
    return await admin.create_user(current_user, organisation_id, data)


@get("/admin/users/{user_id:str}", operation_id="adminGetUser", summary="Read one user",
     description="The user with their assignments.", responses=PROBLEMS, tags=TAGS)
async def get_user(current_user: CurrentUser, admin: Admin, user_id: UserId) -> AdminUserOut:
    return await admin.user(current_user, user_id)


@patch("/admin/users/{user_id:str}", operation_id="adminChangeUser", summary="Change a user",
       description="Name, title, HSA-id; `active: false` ends the user's access (they can no longer sign in). A "
                   "changed HSA-id must be free (409 `hsa_id_taken`); the user signs in by it, so tokens issued for "
                   "the old one stop working.",
       responses=PROBLEMS, tags=TAGS)
async def change_user(current_user: CurrentUser, admin: Admin, user_id: UserId, data: ChangeUser) -> AdminUserOut:
    return await admin.change_user(current_user, user_id, data)


@post("/admin/users/{user_id:str}/assignments", operation_id="adminAddAssignment", summary="Give an assignment",
      description="A role at a unit of the user's organisation; `protected_identity_access: true` gives the explicit "
                  "need to see the name and address of people with protected identity when acting for that unit "
                  "(roles user and super_user only). 409 `assignment_exists` if the user has it already.",
      status_code=201, responses=PROBLEMS, tags=TAGS)
async def add_assignment(current_user: CurrentUser, admin: Admin, user_id: UserId,
                         data: NewAssignment) -> AdminUserOut:
    return await admin.add_assignment(current_user, user_id, data)


@patch("/admin/users/{user_id:str}/assignments/{assignment_id:int}", operation_id="adminChangeAssignment",
       summary="Change an assignment",
       description="Give or take away the explicit need to see protected identities (skyddad identitet) at the "
                   "assignment's unit: `protected_identity_access`. For those who may grant the assignment; "
                   "recorded as `change_assignment` in the organisation's changes.",
       responses=PROBLEMS, tags=TAGS)
async def change_assignment(current_user: CurrentUser, admin: Admin, user_id: UserId,
                            assignment_id: AssignmentId, data: ChangeAssignment) -> AdminUserOut:
    return await admin.change_assignment(current_user, user_id, assignment_id, data)


@delete("/admin/users/{user_id:str}/assignments/{assignment_id:int}", operation_id="adminRemoveAssignment",
        summary="Take an assignment away", description="Answers with the user's remaining assignments.",
        status_code=200, responses=PROBLEMS, tags=TAGS)
async def remove_assignment(current_user: CurrentUser, admin: Admin, user_id: UserId,
                            assignment_id: AssignmentId) -> AdminUserOut:
    return await admin.remove_assignment(current_user, user_id, assignment_id)


@delete("/admin/patients/{patient_id:str}/protected-identity", operation_id="adminClearProtectedIdentity",
        summary="Clear a person's protected identity",
        description="Registrations of cases and plans can only set protected identity (skyddad identitet); it then "
                    "holds everywhere. Only an administrator (central, or local access administrator) who also holds "
                    "the explicit need to see protected identities (`protected_identity_access` on an assignment) "
                    "clears it, for the person everywhere; else 403 `not_protected_identity_administrator`. "
                    "Recorded as `clear_protected_identity` in the administrator's organisation's changes and in "
                    "the access log.",
        status_code=200, responses=PROBLEMS, tags=TAGS)
async def clear_protected_identity(current_user: CurrentUser, admin: Admin,
                                   patient_id: PatientId) -> ProtectedIdentityOut:
    return await admin.clear_protected_identity(current_user, patient_id)


@post("/admin/patient-identity-merges", operation_id="adminMergePatientIdentity",
      summary="Merge a reserve number into the person's real identity",
      description="The person registered under a reserve number (reservnummer) is identified: every case and SIP "
                  "plan of the reserve number moves to the personnummer or samordningsnummer (its patient is "
                  "created if new), each recorded as a change of the case or plan (`PatientIdentityMerged`, "
                  "`SipPersonIdentityMerged`). History is kept: the reserve number's patient row stays, pointing at "
                  "the real identity, and the log search by the real identity finds its access-log rows. Both "
                  "numbers go in the body. Central administrators; local access administrators of an "
                  "organisation whose units take part in the person's cases or plans (else 404). Recorded as "
                  "`merge_patient_identity` in the admin log and the access log. 422 `not_a_reserve_number`, "
                  "`invalid_identity`; 409 `identity_already_merged`, `open_case_at_same_ward` (the person "
                  "already has an open case at a ward where the reserve number has one).",
      status_code=200, responses=PROBLEMS, tags=TAGS)
async def merge_patient_identity(current_user: CurrentUser, admin: Admin, data: IdentityMerge) -> IdentityMergeOut:
    return await admin.merge_identity(current_user, data)


@get("/admin/organisations/{organisation_id:str}/changes", operation_id="adminListChanges",
     summary="Administrative changes in the organisation",
     description="Who connected, created, changed or deactivated what, and who granted or took away which "
                 "assignment, newest first. Keyset pages: pass the answer's `next_cursor` as `cursor`.",
     responses=PROBLEMS, tags=TAGS)
async def list_changes(current_user: CurrentUser, admin: Admin, organisation_id: OrganisationId,
                       limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
                       cursor: CursorQuery = None) -> AdminChangePage:
    return await admin.changes(current_user, organisation_id, limit, cursor)


ADMIN_ROUTES = [list_organisations, connect_organisation, get_organisation, change_organisation, list_units,
                create_unit, change_unit, deactivate_unit, list_users, create_user, get_user, change_user,
                add_assignment, change_assignment, remove_assignment, clear_protected_identity,
                merge_patient_identity, list_changes]
