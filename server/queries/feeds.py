"""A unit's event feed: the events after a position, with the feed's head (resume after the stream's gap)."""

from __future__ import annotations

from collections.abc import Callable

from realtime.feeds import unit_feed
from server import authorization
from server.persistence import event_log
from server.persistence.unit_of_work import UnitOfWork
from server.principal import CurrentUser
from server.schemas.cases import EventOut, EventPage


class FeedQuery:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def unit_events(self, current_user: CurrentUser, unit_id: str, after: int, limit: int) -> EventPage:
        authorization.require_unit_access(current_user, unit_id)
        feed = unit_feed(unit_id)
        async with self._uow() as uow:
            head = await event_log.feed_head(uow.session, feed)
            items = await event_log.read_feed(uow.session, feed, after, limit)
        return EventPage(feed=feed, head=head, items=[EventOut(
            event_id=e.event_id, type=e.type, feed=e.feed, position=e.position, aggregate_type=e.aggregate_type,
            aggregate_id=e.aggregate_id, aggregate_version=e.aggregate_version, occurred_at=e.occurred_at,
            unit_ids=list(e.unit_ids), data=e.data) for e in items])
