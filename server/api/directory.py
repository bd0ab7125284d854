"""Routes of the organisation directory: me, units."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post
from litestar.params import Parameter

from domain.discharge_case import RECEIVING_PART_OF_KIND
from domain.organisation import UnitKind
from server.api.dependencies import Reads
from server.api.openapi import PROBLEMS
from server.auth.revocation import RevocationUnavailable
from server.auth.users import Authenticated
from server.errors import Unavailable
from server.principal import CurrentUser
from server.runtime import Runtime
from server.schemas.cases import MeOut, RoutingOut, UnitOut, UnitPage


@get("/me", operation_id="getMe", summary="Who am I", responses=PROBLEMS, tags=["directory"],
     description="The signed-in user with their assignments (unit and role) and what they may do "
                 "(`capabilities`, computed by the domain).")
async def get_me(current_user: CurrentUser, queries: Reads) -> MeOut:
    return await queries.directory.me(current_user)


@get("/units", operation_id="listUnits", summary="List units", responses=PROBLEMS, tags=["directory"],
     description="Active units, for choosing receivers and forwarding targets (`forward_from`). Filter by kind "
                 "and municipality.")
async def list_units(
    current_user: CurrentUser, queries: Reads,
    kind: Annotated[UnitKind | None, Parameter(query="kind", required=False)] = None,
    municipality_code: Annotated[str | None, Parameter(query="municipality_code", required=False,
                                                       pattern=r"^[0-9]{4}$")] = None,
    organisation_id: Annotated[str | None, Parameter(query="organisation_id", required=False, max_length=64)] = None,
    receiving: Annotated[bool | None, Parameter(
        query="receiving", required=False,
        description="true: only units that receive discharge cases (can be added to one or forwarded to); "
                    "false: only the others (wards)")] = None,
    forward_from: Annotated[str | None, Parameter(
        query="forward_from", required=False, max_length=64,
        description="Only the units this unit may forward a case to: the rule the forward command enforces "
                    "(receiving units of the same part, not the unit itself)")] = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
) -> UnitPage:
    kinds = None if receiving is None else [str(k) for k in UnitKind if (k in RECEIVING_PART_OF_KIND) is receiving]
    return await queries.directory.units(kind=kind, municipality_code=municipality_code,
                                         organisation_id=organisation_id, kinds=kinds, forward_from=forward_from,
                                         limit=limit, offset=offset)


@get("/routing", operation_id="previewRouting", summary="Which units a new case's notice would reach",
     responses=PROBLEMS, tags=["directory"],
     description="The routing rule of `POST /cases` (when `receiving_unit_ids` is not given): the municipality's "
                 "intake unit for the district (else its central one) and the primary care unit of the listing. "
                 "For the registration form's preview; 422 naming `municipality_code` or `listed_unit_id` when "
                 "they route nowhere. The ward may choose other receivers (`receiving_unit_ids`) with a "
                 "`routing_reason`.")
async def preview_routing(
    current_user: CurrentUser, queries: Reads,
    municipality_code: Annotated[str, Parameter(query="municipality_code", pattern=r"^[0-9]{4}$")],
    district: Annotated[str | None, Parameter(query="district", required=False, max_length=100)] = None,
    listed_unit_id: Annotated[str | None, Parameter(query="listed_unit_id", required=False, max_length=64)] = None,
) -> RoutingOut:
    return await queries.directory.routing(municipality_code=municipality_code, district=district,
                                           listed_unit_id=listed_unit_id)


@get("/units/{unit_id:str}", operation_id="getUnit", summary="Read one unit", responses=PROBLEMS,
     tags=["directory"], description="One unit of the directory.")
async def get_unit(current_user: CurrentUser, queries: Reads,
                   unit_id: Annotated[str, Parameter(max_length=64)]) -> UnitOut:
    return await queries.directory.unit(unit_id)


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


DIRECTORY_ROUTES = [get_me, list_units, preview_routing, get_unit, logout]
