"""The event envelope and its JSON codec: the one place that defines what goes over the wire.

An envelope carries identifiers, the event type, the aggregate version, the feed position and times, plus
the event's own non-personal fields in `data`. Never names, personal identity numbers or free text.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec


class AggregateType(StrEnum):
    """What an event is about: the one list of aggregate types, for the server that writes events and every client
    that reads them."""

    DISCHARGE_CASE = "discharge_case"
    SIP_PLAN = "sip_plan"
    USER = "user"  # a user's access changed (their own feed, `server.persistence.event_log.append_access_change`)


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    event_id: str
    type: str
    feed: str
    position: int
    aggregate_type: AggregateType
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    unit_ids: tuple[str, ...]
    data: dict[str, Any]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(raw: bytes | str) -> Envelope:
    return _decoder.decode(raw)
