"""`one_at_a_time`: an async method run on a click (a save, a start) that does nothing while its previous call on
the same object still runs, so a second click never sends the same request (the same revisions, a second plan)
again."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

S = TypeVar("S")
P = ParamSpec("P")


def one_at_a_time(
        method: Callable[Concatenate[S, P], Awaitable[None]]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, None]]:
    running: weakref.WeakSet[Any] = weakref.WeakSet()  # the objects whose call runs now

    @functools.wraps(method)
    async def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> None:
        if self in running:
            return
        running.add(self)
        try:
            await method(self, *args, **kwargs)
        finally:
            running.discard(self)

    return guarded
