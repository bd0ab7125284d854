"""Keyset (cursor) pagination: a page is found by the position of its first row, never by an offset.

A list ordered by a unique key (e.g. `(at, id)` newest first) answers "the next `limit` rows after this position"
from an index, so the tenth page costs what the first does, however long the history. The position travels as an
opaque cursor: the sort key of the page's last row, encoded with msgspec (MessagePack) as base64url without
padding, under a version tag. A client only hands back what it was given; anything else is refused as a bad
request naming the field `cursor` (400), never a 500.

Counts are bounded (`bounded_count`): "1 000 or more" is what a person can use, and counting further would read
every matching row of the history.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from server.errors import ApplicationError

T = TypeVar("T")
CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 1_000  # characters of the encoded cursor (a sort key of a few short values)
COUNT_LIMIT = 1_000  # counts stop here: "fler än 1 000"


class BadCursor(ApplicationError):
    """The cursor is not one this server issued (garbled, cut short, or from another list)."""

    status = 400
    code = "invalid_cursor"


def encode_cursor(key: Sequence[Any]) -> str:
    """The sort key of a page's last row, opaque to the client."""
    raw = msgspec.msgpack.encode((CURSOR_VERSION, *key))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, shape: type[T]) -> T:
    """The sort key the cursor holds, validated against `shape` (a tuple type, e.g. `tuple[datetime, int]`)."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor("the cursor is empty or too long", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = msgspec.msgpack.decode(raw, type=list[Any])
        if not decoded or decoded[0] != CURSOR_VERSION:
            raise ValueError("another version of the cursor")
        return msgspec.convert(tuple(decoded[1:]), shape, strict=True)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise BadCursor("the cursor is not one this list gave out", field="cursor") from None


Column = ColumnElement[Any] | InstrumentedAttribute[Any]


def after(columns: Sequence[Column], key: Sequence[Any], *, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after `key` in the order of `columns` (all ascending or all descending): a row-value
    comparison, which PostgreSQL and SQLite both answer from an index on those columns."""
    left = tuple_(*columns)
    right = tuple_(*(literal(v, type_=c.type) for c, v in zip(columns, key, strict=True)))
    return left < right if descending else left > right


async def page_of(session: AsyncSession, query: Select[T], limit: int) -> tuple[list[T], bool]:
    """The first `limit` rows of an ordered query, and whether there are more (one extra row is read)."""
    rows = list(await session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit


async def bounded_count(session: AsyncSession, query: Select[Any], cap: int = COUNT_LIMIT) -> tuple[int, bool]:
    """How many rows match, up to `cap`, and whether there are more: at most `cap + 1` index entries read."""
    limited = query.with_only_columns(literal(1)).order_by(None).limit(cap + 1).subquery()
    counted = int(await session.scalar(select(func.count()).select_from(limited)) or 0)
    return min(counted, cap), counted > cap


async def keyset_page(session: AsyncSession, query: Select[T], order: Sequence[Column], *, limit: int,
                      cursor: str | None, shape: type[tuple[Any, ...]], descending: bool = False,
                      key: Callable[[T], Sequence[Any]] | None = None) -> tuple[list[T], str | None]:
    """One page of `query` in the order of `order` (a unique key, all ascending or all descending), after the
    position `cursor` holds, and the cursor of the next page (None on the last). `key`: a row's sort key (by default
    the `order` attributes of the row)."""
    if cursor is not None:
        query = query.where(after(order, decode_cursor(cursor, shape), descending=descending))
    rows, more = await page_of(session, query.order_by(*(c.desc() if descending else c for c in order)), limit)
    if not more:
        return rows, None
    last = rows[-1]
    return rows, encode_cursor(key(last) if key is not None else tuple(getattr(last, str(c.key)) for c in order))
