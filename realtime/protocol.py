"""The websocket stream protocol at `/api/v1/events`: JSON text frames with an `op` field.

Client → server: `auth` {token} (first frame; the token never travels in the URL), `subscribe`
{feeds: {feed: last_position | null}} (null = from now), `unsubscribe` {feeds: [...]}, `presence`
{case_id, state: viewing|editing|left, field?}, `ping`.
Server → client: `authenticated` {user_id, feeds: [feeds you may subscribe]}, `subscribed` {feeds: {feed: head}},
`event` {event: Envelope}, `resync` {feed, reason, head} (fetch a snapshot, then subscribe from `head`),
`presence` {case_id, viewers: [...]}, `heartbeat` {at}, `pong`, `error` {code, detail}.
Limits and close codes: `server/api/stream.py` and docs/events.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from realtime.envelope import Envelope

PresenceState = Literal["viewing", "editing", "left"]


class Auth(msgspec.Struct, tag_field="op", tag="auth", forbid_unknown_fields=True):
    token: str


class Subscribe(msgspec.Struct, tag_field="op", tag="subscribe", forbid_unknown_fields=True):
    feeds: dict[str, int | None]


class Unsubscribe(msgspec.Struct, tag_field="op", tag="unsubscribe", forbid_unknown_fields=True):
    feeds: list[str]


# Presence travels to other organisations' units: an id, and a form field's code name (never free text).
SubjectId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
FieldName = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[A-Za-z0-9_.:-]*$")]


class PresenceUpdate(msgspec.Struct, tag_field="op", tag="presence", forbid_unknown_fields=True):
    case_id: SubjectId  # a case or a SIP plan (ids are UUIDs and never collide)
    state: PresenceState
    field: FieldName | None = None  # its length is limited further by SAMPLAN_STREAM_PRESENCE_FIELD_MAX_LENGTH


class Ping(msgspec.Struct, tag_field="op", tag="ping", forbid_unknown_fields=True):
    pass


ClientMessage = Auth | Subscribe | Unsubscribe | PresenceUpdate | Ping


class Authenticated(msgspec.Struct, tag_field="op", tag="authenticated"):
    user_id: str
    feeds: list[str]


class Subscribed(msgspec.Struct, tag_field="op", tag="subscribed"):
    feeds: dict[str, int]


class EventMessage(msgspec.Struct, tag_field="op", tag="event"):
    event: Envelope


ResyncReason = Literal["too_old", "overflow", "not_allowed", "ahead"]


class Resync(msgspec.Struct, tag_field="op", tag="resync"):
    feed: str
    reason: ResyncReason
    head: int


class Viewer(msgspec.Struct):
    user_id: str
    unit_id: str
    state: PresenceState
    field: str | None = None


class Presence(msgspec.Struct, tag_field="op", tag="presence"):
    case_id: str
    viewers: list[Viewer]


class Heartbeat(msgspec.Struct, tag_field="op", tag="heartbeat"):
    at: float


class Pong(msgspec.Struct, tag_field="op", tag="pong"):
    pass


class Error(msgspec.Struct, tag_field="op", tag="error"):
    code: str
    detail: str


ServerMessage = Authenticated | Subscribed | EventMessage | Resync | Presence | Heartbeat | Pong | Error

_encoder = msgspec.json.Encoder()
_client_decoder = msgspec.json.Decoder(ClientMessage)
_server_decoder = msgspec.json.Decoder(ServerMessage)


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


def event_frame(envelope_json: bytes) -> bytes:
    """The `event` frame around an already-encoded envelope: encoded once, sent to every subscriber."""
    return b'{"op":"event","event":' + envelope_json + b"}"


def decode_client(raw: str | bytes) -> ClientMessage:
    message: ClientMessage = _client_decoder.decode(raw)
    return message


def decode_server(raw: str | bytes) -> ServerMessage:
    message: ServerMessage = _server_decoder.decode(raw)
    return message
