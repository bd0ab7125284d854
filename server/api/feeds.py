"""Route of a unit's event feed: the events after a position (resume; the stream comes with the live pipeline)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from realtime.feeds import unit_feed
from server import authorization
from server.api.openapi import PROBLEMS
from server.persistence import event_log
from server.principal import CurrentUser
from server.runtime import Runtime
from server.schemas.cases import EventOut, EventPage


@get("/units/{unit_id:str}/events", operation_id="listUnitEvents", summary="Events of my unit's feed",
     responses=PROBLEMS, tags=["events"],
     description="The events of the unit's feed after a position, in order, with the feed's head. Events carry "
                 "ids and codes only; fetch the case for its data.")
async def list_unit_events(
    current_user: CurrentUser, runtime: Runtime, unit_id: Annotated[str, Parameter(max_length=64)],
    after: Annotated[int, Parameter(ge=0, le=2**53)] = 0,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 500,
) -> EventPage:
    authorization.require_unit_access(current_user, unit_id)
    feed = unit_feed(unit_id)
    async with runtime.uow() as uow:
        head = await event_log.feed_head(uow.session, feed)
        items = await event_log.read_feed(uow.session, feed, after, limit)
    return EventPage(feed=feed, head=head, items=[EventOut(
        event_id=e.event_id, type=e.type, feed=e.feed, position=e.position, aggregate_type=e.aggregate_type,
        aggregate_id=e.aggregate_id, aggregate_version=e.aggregate_version, occurred_at=e.occurred_at,
        unit_ids=list(e.unit_ids), data=e.data) for e in items])


FEED_ROUTES = [list_unit_events]
