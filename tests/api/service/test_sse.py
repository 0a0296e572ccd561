"""SSE framing (API-SSE-*): ``data: {json}\\n\\n`` per event and a bare ``event: ping`` keep-alive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from treadle.api.service import PING, encode_event, sse_stream


def test_an_event_is_one_data_line_and_a_blank_line() -> None:
    frame = encode_event({"event": "message", "answer": " I", "created_at": 1679586595})
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n") and frame.count(b"\n") == 2
    assert json.loads(frame[len(b"data: "):]) == {"event": "message", "answer": " I", "created_at": 1679586595}


def test_values_json_cannot_hold_are_sent_as_text() -> None:
    frame = encode_event({"event": "message_end", "metadata": {"price": Decimal("0.0012890"), "ids": ("a",)}})
    assert json.loads(frame[6:]) == {"event": "message_end", "metadata": {"price": "0.0012890", "ids": ["a"]}}


def test_ping_has_no_data_line() -> None:
    assert PING == b"event: ping\n\n"


async def test_pings_keep_a_quiet_stream_alive_and_events_pass_in_order() -> None:
    release = asyncio.Event()

    async def events() -> AsyncIterator[Mapping[str, Any]]:
        yield {"event": "workflow_started"}
        await release.wait()
        yield {"event": "workflow_finished"}

    frames: list[bytes] = []
    async for frame in sse_stream(events(), ping_interval=0.01):
        frames.append(frame)
        if frames.count(PING) == 2:
            release.set()
    data = [json.loads(f[6:])["event"] for f in frames if f != PING]
    assert data == ["workflow_started", "workflow_finished"]
    assert frames[0] != PING and frames.count(PING) >= 2


async def test_a_client_leaving_closes_the_event_source() -> None:
    closed = asyncio.Event()

    async def events() -> AsyncIterator[Mapping[str, Any]]:
        try:
            yield {"event": "message", "answer": "a"}
            await asyncio.Event().wait()
            yield {"event": "never"}
        finally:
            closed.set()

    stream = sse_stream(events(), ping_interval=0.01)
    assert (await anext(stream)).startswith(b"data: ")
    assert await anext(stream) == PING
    await stream.aclose()
    assert closed.is_set()


async def test_the_ping_interval_must_be_positive() -> None:
    async def events() -> AsyncIterator[Mapping[str, Any]]:
        yield {}

    with pytest.raises(ValueError, match="ping_interval must be positive"):
        await anext(sse_stream(events(), ping_interval=0))
