"""The framed, multiplexed connection, over a real Unix socket pair in one event loop."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from treadle_sdk.errors import ErrorCode, PluginCancelled, PluginProtocolError, PluginUnavailable
from treadle_sdk.protocol import MAX_FRAME_BYTES, CallStream, Connection, error_from_frame, pb
from treadle_sdk.protocol.connection import awaiting_answers

MiB = 1024 * 1024


@dataclass
class Peer:
    """The serving end of a test connection. It answers Invoke calls by their ``kind``:

    ``echo`` answers one chunk holding the payload; ``stream`` answers ``payload["chunks"]`` chunks;
    ``hold`` answers one chunk, then waits until the call is cancelled.
    """

    calls: dict[int, pb.Call] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    cancelled: list[int] = field(default_factory=list)
    lost: list[Exception | None] = field(default_factory=list)

    def on_call(self, conn: Connection, call_id: int, call: pb.Call) -> None:
        self.calls[call_id] = call
        self.tasks[call_id] = asyncio.get_running_loop().create_task(self.answer(conn, call_id, call.invoke))

    def on_cancel(self, conn: Connection, call_id: int) -> None:
        self.cancelled.append(call_id)
        self.tasks[call_id].cancel()

    def on_lost(self, conn: Connection, exc: Exception | None) -> None:
        self.lost.append(exc)

    async def answer(self, conn: Connection, call_id: int, req: pb.InvokeRequest) -> None:
        if req.kind == "echo":
            conn.reply_chunk(call_id, data=req.payload)
        elif req.kind == "stream":
            for i in range(json.loads(req.payload)["chunks"]):
                conn.reply_chunk(call_id, data=str(i).encode())
        elif req.kind == "hold":
            conn.reply_chunk(call_id, data=b"held")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                conn.reply_error(call_id, PluginCancelled("the caller cancelled the call"))
                raise
        conn.reply_end(call_id)


def invoke(kind: str, payload: bytes = b"") -> pb.Call:
    return pb.Call(invoke=pb.InvokeRequest(kind=kind, name="n", operation="op", payload=payload))


async def read_all(stream: CallStream) -> tuple[list[bytes], pb.Frame]:
    """The chunks of a call and the frame that ended it."""
    chunks: list[bytes] = []
    while True:
        frame = await stream.next()
        if frame.WhichOneof("body") != "chunk":
            return chunks, frame
        chunks.append(frame.chunk.data)


@dataclass
class Link:
    """Both ends of one test connection."""

    kernel: Connection
    host: Connection
    peer: Peer
    kernel_lost: list[Exception | None]


OnCall = Callable[[Connection, int, pb.Call], None]
Connect = Callable[..., Awaitable[Link]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Connects a kernel end (odd ids) to a host end (even ids, served by a Peer) over a socketpair."""
    loop = asyncio.get_running_loop()
    links: list[Link] = []

    async def make(kernel_on_call: OnCall | None = None, host_on_call: OnCall | None = None) -> Link:
        kernel_sock, host_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        peer = Peer()
        kernel_lost: list[Exception | None] = []
        _, kernel = await loop.connect_accepted_socket(
            lambda: Connection(
                odd_ids=True,
                on_call=kernel_on_call or peer.on_call,
                on_lost=lambda _c, exc: kernel_lost.append(exc),
                peer="the host",
            ),
            kernel_sock,
        )
        _, host = await loop.connect_accepted_socket(
            lambda: Connection(
                odd_ids=False,
                on_call=host_on_call or peer.on_call,
                on_cancel=peer.on_cancel,
                on_lost=peer.on_lost,
                peer="the kernel",
            ),
            host_sock,
        )
        links.append(Link(kernel, host, peer, kernel_lost))
        return links[-1]

    yield make
    for link in links:
        for task in link.peer.tasks.values():
            task.cancel()
        await asyncio.gather(*link.peer.tasks.values(), return_exceptions=True)
        link.kernel.close()
        link.host.close()
        await link.kernel.closed_event.wait()
        await link.host.closed_event.wait()


async def test_a_call_with_many_chunks(connect: Connect) -> None:
    link = await connect()
    kernel, peer = link.kernel, link.peer
    stream = kernel.open(invoke("stream", json.dumps({"chunks": 5000}).encode()))
    chunks, last = await read_all(stream)
    assert chunks == [str(i).encode() for i in range(5000)]
    assert last.WhichOneof("body") == "end"
    assert list(peer.calls) == [stream.call_id]


@pytest.mark.parametrize("size", [1 * MiB, 5 * MiB])
async def test_frames_larger_than_the_initial_buffer(connect: Connect, size: int) -> None:
    kernel = (await connect()).kernel
    payload = random.Random(size).randbytes(size)
    big, small = kernel.open(invoke("echo", payload)), kernel.open(invoke("echo", b"after"))
    assert await read_all(big) == ([payload], pb.Frame(call_id=big.call_id, end=pb.End()))
    assert await read_all(small) == ([b"after"], pb.Frame(call_id=small.call_id, end=pb.End()))


async def test_frames_split_at_every_byte_and_across_reads() -> None:
    """Drive the protocol as the event loop does, with reads cut at awkward places."""
    received: list[tuple[int, pb.Call]] = []
    conn = Connection(odd_ids=False, on_call=lambda _c, call_id, call: received.append((call_id, call)))
    calls = [invoke("echo", b"x" * n) for n in (0, 10, 300 * 1024, 3, 2 * MiB + 5, 1)]
    wire = b"".join(
        len(data).to_bytes(4, "big") + data
        for data in (pb.Frame(call_id=2 * i + 1, call=c).SerializeToString() for i, c in enumerate(calls))
    )
    rng = random.Random(7)
    pos = 0
    while pos < len(wire):
        # Byte by byte through the first frames' headers, then reads of every size up to 300 KiB.
        want = 1 if pos < 64 else rng.randint(1, 300 * 1024)
        buf = conn.get_buffer(-1)
        n = min(len(buf), want, len(wire) - pos)
        assert n > 0
        buf[:n] = wire[pos : pos + n]
        conn.buffer_updated(n)
        pos += n
    assert [call_id for call_id, _ in received] == [1, 3, 5, 7, 9, 11]
    assert [call for _, call in received] == calls


async def test_interleaved_calls_in_both_directions(connect: Connect) -> None:
    arrived = asyncio.Event()
    pending: list[int] = []
    rounds = 20

    def host_on_call(conn: Connection, call_id: int, call: pb.Call) -> None:
        pending.append(call_id)
        if len(pending) == 10:
            arrived.set()

    def kernel_on_call(conn: Connection, call_id: int, call: pb.Call) -> None:
        # The host's calls into the kernel: answered at once, while the kernel's calls are open.
        conn.reply_chunk(call_id, data=call.kernel.method.encode())
        conn.reply_end(call_id)

    link = await connect(kernel_on_call=kernel_on_call, host_on_call=host_on_call)
    kernel, host = link.kernel, link.host
    kernel_streams = [kernel.open(invoke("interleaved", str(i).encode())) for i in range(10)]
    await arrived.wait()
    host_streams = [host.open(pb.Call(kernel=pb.KernelRequest(method=f"kv_get-{i}"))) for i in range(5)]
    for r in range(rounds):
        for call_id in pending:
            host.reply_chunk(call_id, data=f"{call_id}:{r}".encode())
    for call_id in reversed(pending):
        host.reply_end(call_id)

    results = await asyncio.gather(*(read_all(s) for s in kernel_streams + host_streams))
    for stream, (chunks, last) in zip(kernel_streams, results, strict=False):
        assert chunks == [f"{stream.call_id}:{r}".encode() for r in range(rounds)]
        assert last.WhichOneof("body") == "end"
    for i, (chunks, last) in enumerate(results[len(kernel_streams) :]):
        assert chunks == [f"kv_get-{i}".encode()]
        assert last.WhichOneof("body") == "end"
    assert [s.call_id for s in kernel_streams] == list(range(1, 21, 2))
    assert [s.call_id for s in host_streams] == list(range(2, 11, 2))


async def test_cancel_stops_the_call_and_the_connection_goes_on(connect: Connect) -> None:
    link = await connect()
    kernel, peer = link.kernel, link.peer
    stream = kernel.open(invoke("hold"))
    first = await stream.next()
    assert first.chunk.data == b"held"
    stream.close(cancel_reason="the run was stopped")
    with pytest.raises(asyncio.CancelledError):
        await peer.tasks[stream.call_id]
    assert peer.cancelled == [stream.call_id]
    # The host's late CANCELLED error for the closed call is dropped; the next call is unaffected.
    chunks, last = await read_all(kernel.open(invoke("echo", b"still here")))
    assert (chunks, last.WhichOneof("body")) == ([b"still here"], "end")


async def test_closing_without_a_reason_sends_no_cancel(connect: Connect) -> None:
    link = await connect()
    kernel, peer = link.kernel, link.peer
    stream = kernel.open(invoke("echo", b"one"))
    stream.close()
    chunks, _ = await read_all(kernel.open(invoke("echo", b"two")))
    assert chunks == [b"two"]
    assert peer.cancelled == []


async def test_error_frames_carry_the_typed_error(connect: Connect) -> None:
    def refuse(conn: Connection, call_id: int, call: pb.Call) -> None:
        conn.reply_error(call_id, PluginProtocolError("version 2 is not spoken here", details={"want": "1.0"}))

    kernel = (await connect(host_on_call=refuse)).kernel
    _, last = await read_all(kernel.open(pb.Call(describe=pb.DescribeRequest(protocol_version="2.0"))))
    exc = error_from_frame(last.error)
    assert isinstance(exc, PluginProtocolError)
    assert (exc.message, exc.details) == ("version 2 is not spoken here", {"want": "1.0"})


async def test_connection_loss_fails_open_calls_with_unavailable(connect: Connect) -> None:
    link = await connect()
    kernel = link.kernel
    streams = [kernel.open(invoke("hold")) for _ in range(3)]
    for stream in streams:
        assert (await stream.next()).chunk.data == b"held"
    link.host.close()
    for stream in streams:
        frame = await stream.next()
        exc = error_from_frame(frame.error)
        assert isinstance(exc, PluginUnavailable)
        assert exc.code is ErrorCode.UNAVAILABLE
        assert exc.message == "the connection to the host closed"
    await kernel.closed_event.wait()
    assert kernel.closed
    assert link.kernel_lost == [None]
    assert link.peer.lost == [None]
    with pytest.raises(PluginUnavailable, match="the connection to the host is closed"):
        kernel.open(invoke("echo"))


async def test_frames_sent_just_before_close_are_delivered(connect: Connect) -> None:
    # Regression: sends are coalesced until the loop's next turn, and close() dropped what was queued.
    def answer_and_hang_up(conn: Connection, call_id: int, call: pb.Call) -> None:
        conn.reply_chunk(call_id, data=b"last words")
        conn.reply_end(call_id)
        conn.close()

    kernel = (await connect(host_on_call=answer_and_hang_up)).kernel
    chunks, last = await read_all(kernel.open(invoke("echo")))
    assert (chunks, last.WhichOneof("body")) == ([b"last words"], "end")


async def test_oversize_frame_header_closes_the_connection() -> None:
    loop = asyncio.get_running_loop()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.setblocking(False)
    lost: list[Exception | None] = []
    _, conn = await loop.connect_accepted_socket(
        lambda: Connection(
            odd_ids=True, on_call=lambda *_: None, on_lost=lambda _c, exc: lost.append(exc), peer="the host"
        ),
        mine,
    )
    try:
        stream = conn.open(invoke("hold"))
        await loop.sock_sendall(theirs, (MAX_FRAME_BYTES + 1).to_bytes(4, "big") + b"\0" * 16)
        await conn.closed_event.wait()

        [reason] = lost
        assert isinstance(reason, PluginProtocolError)
        assert reason.message == f"frame of {MAX_FRAME_BYTES + 1} bytes exceeds the {MAX_FRAME_BYTES} byte limit"
        exc = error_from_frame((await stream.next()).error)
        assert isinstance(exc, PluginUnavailable)
        assert exc.message.endswith(f"exceeds the {MAX_FRAME_BYTES} byte limit")
        # The socket was closed on the other side too: it reads the call frame, then end of file.
        received = b""
        while chunk := await loop.sock_recv(theirs, 65536):
            received += chunk
        frame = pb.Frame.FromString(received[4:])
        assert (frame.call_id, frame.call.invoke.kind) == (stream.call_id, "hold")
    finally:
        theirs.close()


async def test_awaiting_answers_says_whether_a_call_of_this_process_waits(connect: Connect) -> None:
    """What the kernel's event loop asks before it spins (treadle_sdk.spin): true from a call's
    opening until its end arrives, or it is closed, or the connection is lost."""
    link = await connect()
    assert not awaiting_answers()
    stream = link.kernel.open(invoke("echo", b"x"))
    assert awaiting_answers()
    await read_all(stream)
    assert not awaiting_answers()
    held = link.kernel.open(invoke("hold", b""))
    await held.next()  # its one chunk; the call goes on
    assert awaiting_answers()
    held.close("done")
    assert not awaiting_answers()
    lost = link.kernel.open(invoke("hold", b""))
    await lost.next()
    link.host.close()
    await link.kernel.closed_event.wait()
    assert not awaiting_answers()
