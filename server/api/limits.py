"""Bounds on request bodies: their size and how deeply their JSON nests.

Size: Litestar's `request_max_body_size` (SAMPLAN_MAX_BODY_BYTES) refuses a larger body with 413, from its
Content-Length before reading it, or as soon as a streamed body passes the limit.

Depth: Litestar decodes a JSON body to Python values before converting them to the handler's msgspec type, and
msgspec's decoder recurses once per level: a body nested 100 000 deep raised RecursionError (a 500). The request
class below measures the nesting first, on the raw bytes (strings cut out with one regular-expression pass, the
brackets counted by a running sum in C: linear, a few milliseconds for the largest body), and refuses a body
nested deeper than SAMPLAN_MAX_JSON_DEPTH with 400 problem details (`validation_failed`, field `body`), the same
answer as any malformed JSON. Our bodies nest four levels at most.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any, ClassVar

from litestar import Request
from litestar.exceptions import SerializationException

# A JSON string: possessive (no backtracking), and an unterminated one runs to the end instead of failing (a
# failing match per quote would make the pass quadratic). Only bodies that are not valid JSON anyway are counted
# differently by it, and the decoder refuses those.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_BRACKETS = b"[]{}"
_DELETE = bytes(b for b in range(256) if b not in _BRACKETS)
_STEPS = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")  # opening +1, closing -1 (as signed bytes)


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``body`` (0 for a scalar)."""
    steps = _STRING.sub(b"", body).translate(_STEPS, _DELETE)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


class DepthLimitedRequest(Request[Any, Any, Any]):
    """A request whose JSON body is refused (400) when nested deeper than `max_json_depth`."""

    max_json_depth: ClassVar[int] = 32

    async def json(self) -> Any:
        body = await self.body()
        if json_depth(body) > self.max_json_depth:
            # Litestar answers a SerializationException from the body as 400 (problems.http_error: field `body`).
            raise SerializationException(f"the JSON body nests deeper than {self.max_json_depth} levels")
        try:
            return await super().json()
        except RecursionError:  # cannot happen below the limit; never a 500 should it ever be raised
            raise SerializationException("the JSON body nests too deeply") from None


def depth_limited_request(max_depth: int) -> type[DepthLimitedRequest]:
    """The request class of an app with this JSON depth limit."""
    return type("DepthLimitedRequest", (DepthLimitedRequest,), {"max_json_depth": max_depth})
