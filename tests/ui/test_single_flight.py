"""`one_at_a_time` (`ui/single_flight.py`): a save or start clicked again while it runs does not run twice; the
next click after it ends runs; another object's call is not held up."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from ui.single_flight import one_at_a_time


class Saver:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = asyncio.Event()

    @one_at_a_time
    async def save(self, what: str) -> None:
        self.calls.append(what)
        await self.gate.wait()


async def test_a_second_call_while_the_first_runs_does_nothing() -> None:
    saver, other = Saver(), Saver()
    first = asyncio.create_task(saver.save("first"))
    await asyncio.sleep(0)  # let it start (not a wait for time: one turn of the loop)
    await asyncio.wait_for(saver.save("again"), timeout=5)  # returns at once: the first still runs
    other_call = asyncio.create_task(other.save("other"))
    await asyncio.sleep(0)
    assert (saver.calls, other.calls) == (["first"], ["other"])
    saver.gate.set()
    other.gate.set()
    await asyncio.gather(first, other_call)
    await saver.save("after")
    assert saver.calls == ["first", "after"]


async def test_an_exception_frees_the_object_for_the_next_call() -> None:
    class Failing:
        tries = 0

        @one_at_a_time
        async def start(self) -> None:
            self.tries += 1
            raise RuntimeError("refused")

    failing = Failing()
    for _ in range(2):
        with pytest.raises(RuntimeError):
            await failing.start()
    assert failing.tries == 2


def test_the_bound_method_shows_the_original_signature() -> None:
    """NiceGUI passes an event argument only to a handler whose signature takes one: `Saver().save` takes `what`,
    a button's `start` none."""
    assert list(inspect.signature(Saver().save).parameters) == ["what"]
