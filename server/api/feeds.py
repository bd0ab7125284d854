"""Route of a unit's event feed: the events after a position (resume; the stream comes with the live pipeline)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from server.api.dependencies import Reads
from server.api.openapi import PROBLEMS
from server.principal import CurrentUser
from server.schemas.cases import EventPage


@get("/units/{unit_id:str}/events", operation_id="listUnitEvents", summary="Events of my unit's feed",
     responses=PROBLEMS, tags=["events"],
     description="The events of the unit's feed after a position, in order, with the feed's head. Events carry "
                 "ids and codes only; fetch the case for its data.")
async def list_unit_events(
    current_user: CurrentUser, queries: Reads, unit_id: Annotated[str, Parameter(max_length=64)],
    after: Annotated[int, Parameter(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 500,
) -> EventPage:
    return await queries.feeds.unit_events(current_user, unit_id, after, limit)


FEED_ROUTES = [list_unit_events]
