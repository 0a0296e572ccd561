"""Waiting in tests for something another task or process does: a deadline for a hung test, never a
timing assertion."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]], *, within: float = 30.0, what: str = "the condition"
) -> T:
    """Await until ``condition()`` (sync or async) is truthy and return its value; fail after
    ``within`` seconds naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {within:g} s")
        await asyncio.sleep(0.01)
