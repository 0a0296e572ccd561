"""What the supervisor needs of a plugin host, inline or out of process."""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from treadle_sdk.errors import PluginTimeout
from treadle_sdk.registry import ExtensionEntry

from .placement import GroupPlan

__all__ = ["HostState", "PluginHostHandle", "PluginRecord", "with_deadline"]


class HostState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class PluginRecord:
    """A plugin as its host reports it."""

    name: str
    distribution: str
    version: str
    load_error: str = ""


class PluginHostHandle(abc.ABC):
    """One isolation group of plugins, however it runs."""

    group: str
    plan: GroupPlan
    isolation: str
    state: HostState
    #: Why the host is failed or restarting, if it is.
    error: str = ""
    restarts: int = 0
    plugins: list[PluginRecord]
    extensions: list[ExtensionEntry]

    @property
    def pid(self) -> int | None:
        return None

    @abc.abstractmethod
    async def start(self) -> None:
        """Load the group's plugins; return once they can be called (or the host failed)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop serving; cancel what is in flight."""

    @abc.abstractmethod
    def invoke(
        self,
        entry: ExtensionEntry,
        operation: str,
        payload: dict[str, Any],
        *,
        token: str,
        tenant_id: str,
        timeout: float,
    ) -> AsyncIterator[Any]:
        """Run one operation of one of this host's extensions, yielding typed results."""


class _Watch:
    """Whether a stream's deadline has passed, and the task to wake if it passes mid-wait."""

    __slots__ = ("expired", "task")

    def __init__(self) -> None:
        self.expired = False
        self.task: asyncio.Task[Any] | None = None

    def expire(self) -> None:
        self.expired = True
        if self.task is not None:
            self.task.cancel()


async def with_deadline(
    items: AsyncIterator[Any], deadline: float, *, plugin: str, call: str, timeout: float
) -> AsyncIterator[Any]:
    """Yield from ``items`` until the loop-clock ``deadline``; past it, close them and raise.

    One timer serves the whole stream (a stream of thousands of chunks would otherwise arm and
    disarm one per chunk): when it fires while the stream waits for its next item, it cancels that
    wait; when it fires while the consumer holds an item, the next wait does not start.
    """

    def expired() -> PluginTimeout:
        return PluginTimeout(
            f"no answer within the {timeout:g} s deadline; the call was cancelled",
            plugin=plugin,
            call=call,
            details={"timeout": timeout},
        )

    iterator = aiter(items)
    watch = _Watch()
    timer = asyncio.get_running_loop().call_at(deadline, watch.expire)
    try:
        while True:
            if watch.expired:
                raise expired()
            task = watch.task = asyncio.current_task()
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                # Our timer's cancel becomes the timeout; anyone else's cancel goes on up.
                if watch.expired and task is not None and task.uncancel() == 0:
                    raise expired() from None
                raise
            finally:
                watch.task = None
            yield item
    finally:
        timer.cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
