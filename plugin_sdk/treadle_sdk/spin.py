"""An event loop that polls briefly before it sleeps, for processes that answer calls back to back.

On a virtual machine whose idle CPUs halt, waking a process that sleeps in ``epoll_wait`` costs
100-300 us: more than all the work of a plugin call. A host that has just answered a call is
likely to get the next one within a fraction of a millisecond, so after any activity its selector
polls without sleeping for a short window (``spin_us``) before it blocks. Idle hosts sleep as usual:
the window opens only after events, so the CPU spent is bounded by the call rate.

The kernel spins only while one of its calls to a plugin host waits for its answer
(:func:`treadle_sdk.protocol.connection.awaiting_answers`): spinning while it waits for HTTP clients
or the database would only take the CPU from the processes that serve them (bench/api.py, several
workers on 2 CPUs: ~15 % more runs/s without it).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import time
from collections.abc import Callable
from typing import Any

__all__ = ["SpinningSelector", "new_spinning_loop"]

#: A process counts as busy, and so spins before sleeping, for this long after its last event.
_BUSY_WINDOW = 0.002


class SpinningSelector(selectors.DefaultSelector):
    """A selector that, within ``spin_us`` of its last event, polls instead of sleeping; with
    ``worth_it``, only while that says an answer it spins for is due."""

    def __init__(self, spin_us: float, worth_it: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self._spin = spin_us / 1e6
        self._worth_it = worth_it
        self._last_event = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0 or self._spin <= 0:
            events = super().select(timeout)
        else:
            now = time.perf_counter()
            # Spin only while busy: the last event was recent, measured from when this wait began.
            spin = self._spin if now - self._last_event < _BUSY_WINDOW else 0.0
            if spin and self._worth_it is not None and not self._worth_it():
                spin = 0.0
            stop = now + (spin if timeout is None else min(spin, timeout))
            events = []
            while now < stop:
                events = super().select(0)
                if events:
                    break
                # Let a peer that shares this CPU run: it is likely the one we are waiting for.
                os.sched_yield()
                now = time.perf_counter()
            if not events:
                events = super().select(timeout)
        if events:
            self._last_event = time.perf_counter()
        return events


def new_spinning_loop(spin_us: float, worth_it: Callable[[], bool] | None = None) -> Any:
    """A new asyncio event loop whose selector spins for ``spin_us`` after activity (0: plain loop),
    only while ``worth_it()`` when given."""
    if spin_us <= 0:
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(SpinningSelector(spin_us, worth_it))
