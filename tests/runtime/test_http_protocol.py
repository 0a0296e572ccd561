"""The server's HTTP protocol sends what a response writes in one step of the loop as one write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from treadle.http_protocol import CoalescingTransport


class _Counting:
    """asyncio's real transport, with its writes counted (the thing under test wraps it)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer  # kept: a stream writer that goes closes its transport
        self.transport = writer.transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@contextlib.asynccontextmanager
async def _connected() -> AsyncIterator[tuple[asyncio.StreamReader, _Counting]]:
    """A real TCP connection on loopback: the accepting end's reader, and the connecting end's transport."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    peer, peer_writer = await accepted.get()
    try:
        yield peer, _Counting(writer)
    finally:
        for end in (writer, peer_writer):
            end.close()
            with contextlib.suppress(ConnectionError):
                await end.wait_closed()
        server.close()
        await server.wait_closed()


async def test_writes_of_one_step_go_as_one_and_in_order() -> None:
    async with _connected() as (peer, real):
        loop = asyncio.get_running_loop()
        transport = CoalescingTransport(real, loop)  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        transport.write(memoryview(b"hello"))
        transport.write(b"")
        assert real.writes == [] and transport.get_write_buffer_size() == 43
        await asyncio.sleep(0)
        assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"]
        transport.writelines([b"a", b"b"])
        await asyncio.sleep(0)
        transport.write(b"c")
        await asyncio.sleep(0)
        assert real.writes[1:] == [b"ab", b"c"]
        transport.write(b"d")
        transport.close()  # what is held goes before the connection closes
        assert await peer.read() == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloabcd"


async def test_abort_drops_what_is_held() -> None:
    async with _connected() as (peer, real):
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"never sent")
        transport.abort()
        await asyncio.sleep(0)
        assert real.writes == []
        with contextlib.suppress(ConnectionError):  # aborted: reset, or closed empty
            assert await peer.read() == b""


def test_a_live_server_answers_whole_responses_on_a_kept_alive_connection(tmp_path: Any) -> None:
    from support.serve import running_server

    with running_server(tmp_path / "home", tmp_path / "serve.log") as info, httpx.Client() as client:
        for _ in range(3):  # one connection, kept alive: each response is read whole before the next
            response = client.get(f"{info['url']}/health")
            assert response.status_code == 200 and response.json()["status"] == "ok"
