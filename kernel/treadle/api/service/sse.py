"""Server-sent events as Dify frames them (API-SSE-*): ``data: {json}\\n\\n`` per event, and a bare
``event: ping\\n\\n`` every 10 seconds so proxies and clients keep the connection open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import orjson

__all__ = ["PING", "PING_INTERVAL", "encode_event", "sse_stream"]

#: The keep-alive frame: no ``data:`` line, so clients that read only ``data:`` lines skip it.
PING = b"event: ping\n\n"

#: Seconds between pings (Dify's cadence).
PING_INTERVAL = 10.0


def _fallback(value: Any) -> Any:
    # Decimals, UUIDs, sets and the like: the text form a client would expect.
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One event as its SSE frame: ``data: `` and the event's JSON on one line, then a blank line."""
    payload = orjson.dumps(dict(event), default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    return b"data: " + payload + b"\n\n"


async def sse_stream(
    events: AsyncIterator[Mapping[str, Any]], *, ping_interval: float = PING_INTERVAL
) -> AsyncGenerator[bytes, None]:
    """The frames of ``events``, with a ping every ``ping_interval`` seconds from the start of the
    stream, whether or not events came in between (as Dify's queue does).

    Waiting for the next event and the next ping is one ``asyncio.wait``: nothing polls. When the
    consumer stops early (the client went away), the pending read is cancelled and ``events`` closed.
    """
    if ping_interval <= 0:
        raise ValueError(f"ping_interval must be positive, not {ping_interval}")
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + ping_interval
    iterator = aiter(events)
    pending: asyncio.Task[Mapping[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=max(next_ping - loop.time(), 0.0))
            if not done:
                yield PING
                next_ping += ping_interval
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield encode_event(event)
            if loop.time() >= next_ping:
                yield PING
                next_ping = loop.time() + ping_interval
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
