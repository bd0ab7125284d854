"""Routes of the organisation directory: me, units."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.params import Parameter

from domain.organisation import UnitKind
from server.api.openapi import PROBLEMS
from server.auth.revocation import RevocationUnavailable
from server.auth.users import Authenticated
from server.errors import NotVisible, Unavailable
from server.persistence.models import UnitRow
from server.principal import CurrentUser
from server.runtime import Runtime
from server.schemas.cases import AssignmentOut, MeOut, UnitOut, UnitPage


def unit_out(row: UnitRow) -> UnitOut:
    return UnitOut(id=row.id, name=row.name, kind=row.kind, hsa_id=row.hsa_id, organisation_id=row.organisation_id,
                   municipality_code=row.municipality_code, district=row.district, routing_role=row.routing_role)


@get("/me", operation_id="getMe", summary="Who am I", responses=PROBLEMS, tags=["directory"],
     description="The signed-in user with their assignments (unit and role).")
async def get_me(current_user: CurrentUser, runtime: Runtime) -> MeOut:
    async with runtime.uow() as uow:
        units = await uow.directory.units(a.unit_id for a in current_user.assignments)
    return MeOut(id=current_user.id, username=current_user.username, hsa_id=current_user.hsa_id,
                 display_name=current_user.display_name, organisation_id=current_user.organisation_id,
                 assignments=[AssignmentOut(unit_id=a.unit_id, unit_name=units[a.unit_id].name if a.unit_id in units
                                            else a.unit_id, role=str(a.role)) for a in current_user.assignments])


@get("/units", operation_id="listUnits", summary="List units", responses=PROBLEMS, tags=["directory"],
     description="Active units, for choosing receivers and forwarding targets. Filter by kind and municipality.")
async def list_units(
    current_user: CurrentUser, runtime: Runtime,
    kind: Annotated[UnitKind | None, Parameter(query="kind", required=False)] = None,
    municipality_code: Annotated[str | None, Parameter(query="municipality_code", required=False,
                                                       pattern=r"^[0-9]{4}$")] = None,
    organisation_id: Annotated[str | None, Parameter(query="organisation_id", required=False, max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
) -> UnitPage:
    async with runtime.uow() as uow:
        rows = await uow.directory.list_units(kind=kind, municipality_code=municipality_code,
                                              organisation_id=organisation_id, limit=limit, offset=offset)
    return UnitPage(items=[unit_out(r) for r in rows], limit=limit, offset=offset)


@get("/units/{unit_id:str}", operation_id="getUnit", summary="Read one unit", responses=PROBLEMS,
     tags=["directory"], description="One unit of the directory.")
async def get_unit(current_user: CurrentUser, runtime: Runtime,
                   unit_id: Annotated[str, Parameter(max_length=64)]) -> UnitOut:
    async with runtime.uow() as uow:
        row = await uow.directory.unit(unit_id)
    if row is None:
        raise NotVisible("no such unit")
    return unit_out(row)


@post("/logout", operation_id="logout", summary="Sign out: revoke this access token", status_code=204,
      responses=PROBLEMS, tags=["directory"],
      description="The presented access token is refused from now on (REST and the event stream) until it expires. "
                  "The UI calls this when a user signs out; scripts may call it with their `samplan token`. "
                  "Revoke the refresh token at the identity provider as well.")
async def logout(authenticated: Authenticated, runtime: Runtime) -> None:
    try:
        await runtime.revocations.revoke(authenticated.token_key, authenticated.expires_at)
    except RevocationUnavailable:
        raise Unavailable("the sign-out cannot be recorded right now; try again shortly") from None


DIRECTORY_ROUTES = [get_me, list_units, get_unit, logout]
