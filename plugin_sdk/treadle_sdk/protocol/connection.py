"""One end of a plugin-protocol socket: length-prefixed ``Frame`` messages, multiplexed calls.

Both ends open calls (the kernel with odd ids, the host with even ids) and serve calls from the
other end. Reads go into one reusable buffer (``asyncio.BufferedProtocol``): the default streams
allocate a fresh 256 KiB buffer per read, which costs more than the whole round trip on small VMs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import weakref
from collections.abc import Callable, Iterator
from typing import Any, cast

from ..errors import PluginError, PluginProtocolError, PluginUnavailable, error_for_code
from . import treadle_plugin_v1_pb2 as pb

__all__ = [
    "MAX_FRAME_BYTES", "CallStream", "Connection", "awaiting_answers", "error_frame_body", "error_from_frame",
]

#: Largest frame either end accepts (64 MiB); a bigger one is a protocol error and closes the socket.
MAX_FRAME_BYTES = 64 * 1024 * 1024
_HEADER = 4
_INITIAL_BUFFER = 256 * 1024
#: Every open connection of this process (for :func:`awaiting_answers`).
_CONNECTIONS: weakref.WeakSet[Connection] = weakref.WeakSet()


def awaiting_answers() -> bool:
    """Whether a call this process opened, on any connection, still waits for (more of) its answer."""
    return any(connection._calls for connection in _CONNECTIONS)


def error_frame_body(exc: PluginError) -> pb.Error:
    """The wire form of a typed error."""
    return pb.Error(
        code=cast("pb.ErrorCode", int(exc.code)),
        message=exc.message,
        plugin=exc.plugin,
        call=exc.call,
        details=json.dumps(exc.details, default=str).encode() if exc.details else b"",
    )


def error_from_frame(err: pb.Error) -> PluginError:
    """The typed error a wire error stands for."""
    details = json.loads(err.details) if err.details else None
    return error_for_code(err.code, err.message, plugin=err.plugin, call=err.call, details=details)


class CallStream:
    """The answer frames of one call this end opened, read with ``async for`` or :meth:`next`."""

    __slots__ = ("_closed", "_conn", "_frames", "_waiter", "call_id")

    def __init__(self, conn: Connection, call_id: int) -> None:
        self.call_id = call_id
        self._conn = conn
        self._frames: collections.deque[pb.Frame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def _push(self, frame: pb.Frame) -> None:
        self._frames.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def expire(self) -> None:
        """Wake the reader with an empty frame (no ``body``): the caller's deadline has passed."""
        self._push(pb.Frame(call_id=self.call_id))

    async def next(self) -> pb.Frame:
        """The next frame of the call: ``chunk``s, then an ``end`` or an ``error`` (or, after
        :meth:`expire`, a frame without a body)."""
        while not self._frames:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    def close(self, cancel_reason: str | None = None) -> None:
        """Forget the call; with a reason, tell the other end to stop it."""
        if self._closed:
            return
        self._closed = True
        self._conn._calls.pop(self.call_id, None)
        if cancel_reason is not None and not self._conn.closed:
            self._conn.send(pb.Frame(call_id=self.call_id, cancel=pb.Cancel(reason=cancel_reason)))


class Connection(asyncio.BufferedProtocol):
    """A framed, multiplexed plugin-protocol connection.

    ``on_call(conn, call_id, call)`` is invoked for each call the other end opens, ``on_cancel(conn,
    call_id)`` when it cancels one, and ``on_lost(conn, exc)`` once when the socket closes. Open
    calls of this end fail with :class:`PluginUnavailable` when the socket closes.
    """

    def __init__(
        self,
        *,
        odd_ids: bool,
        on_call: Callable[[Connection, int, pb.Call], None],
        on_cancel: Callable[[Connection, int], None] | None = None,
        on_lost: Callable[[Connection, Exception | None], None] | None = None,
        peer: str = "",
    ) -> None:
        self._next_id = 1 if odd_ids else 2
        self._on_call = on_call
        self._on_cancel = on_cancel
        self._on_lost = on_lost
        self.peer = peer
        self._calls: dict[int, CallStream] = {}
        self._buf = bytearray(_INITIAL_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self.transport: asyncio.Transport | None = None
        self._outbox: list[bytes] = []
        self._batching = False
        self.closed = False
        self.closed_event = asyncio.Event()

    # -- asyncio protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are duck-typed
        _CONNECTIONS.add(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._end == len(self._buf):
            self._make_room(len(self._buf) if self._start == 0 else 0)
        return self._view[self._end :]

    def _make_room(self, extra: int) -> None:
        """Move unread bytes to the front of a buffer with ``extra`` more free bytes than now.

        A new buffer is allocated rather than resized in place: the event loop may still hold a
        view of the old one.
        """
        pending = self._end - self._start
        size = max(len(self._buf), pending + extra)
        buf = bytearray(size)
        buf[:pending] = self._view[self._start : self._end]
        self._buf, self._view = buf, memoryview(buf)
        self._start, self._end = 0, pending

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        while self._end - self._start >= _HEADER:
            size = int.from_bytes(self._view[self._start : self._start + _HEADER], "big")
            if size > MAX_FRAME_BYTES:
                self._fail(PluginProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME_BYTES} byte limit"))
                return
            stop = self._start + _HEADER + size
            if stop > self._end:
                if _HEADER + size > len(self._buf) - self._start:
                    self._make_room(_HEADER + size)
                return
            frame = pb.Frame.FromString(self._view[self._start + _HEADER : stop])  # type: ignore[arg-type]  # any buffer parses
            self._start = stop
            self._dispatch(frame)
        if self._start == self._end:
            self._start = self._end = 0

    def _dispatch(self, frame: pb.Frame) -> None:
        body = frame.WhichOneof("body")
        if body == "call":
            self._on_call(self, frame.call_id, frame.call)
        elif body == "cancel":
            if self._on_cancel is not None:
                self._on_cancel(self, frame.call_id)
        else:
            stream = self._calls.get(frame.call_id)
            if stream is not None:
                if body != "chunk":
                    self._calls.pop(frame.call_id, None)
                stream._push(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        _CONNECTIONS.discard(self)
        reason = PluginUnavailable(
            f"the connection to {self.peer or 'the peer'} closed" + (f": {exc}" if exc else "")
        )
        body = error_frame_body(reason)
        for call_id, stream in list(self._calls.items()):
            stream._push(pb.Frame(call_id=call_id, error=body))
        self._calls.clear()
        self.closed_event.set()
        if self._on_lost is not None:
            self._on_lost(self, exc)

    def _fail(self, exc: PluginError) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.connection_lost(exc)

    # -- sending --------------------------------------------------------------------------------

    def send(self, frame: pb.Frame) -> None:
        """Queue a frame; frames queued in one turn of the event loop leave in one write.

        Coalescing matters: each write can wake the peer, and on a small VM a wake-up costs more
        than all the Python work of a call (a call's last chunk and its end go out together).
        """
        if self.closed or self.transport is None:
            raise PluginUnavailable(f"the connection to {self.peer or 'the peer'} is closed")
        data = frame.SerializeToString()
        if not self._outbox and not self._batching:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(len(data).to_bytes(_HEADER, "big"))
        self._outbox.append(data)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Frames sent inside the block leave in one write when it ends (not a turn of the loop later)."""
        outer = self._batching
        self._batching = True
        try:
            yield
        finally:
            self._batching = outer
            if not outer:
                self._flush()

    def _flush(self) -> None:
        if self._outbox and not self.closed and self.transport is not None:
            self.transport.write(b"".join(self._outbox))
        self._outbox.clear()

    def open(self, call: pb.Call) -> CallStream:
        """Open a call; read its answer from the returned stream."""
        call_id = self._next_id
        self._next_id += 2
        stream = CallStream(self, call_id)
        self._calls[call_id] = stream
        if self.closed or self.transport is None:
            self._calls.pop(call_id, None)
            raise PluginUnavailable(f"the connection to {self.peer or 'the peer'} is closed")
        # A call is complete when opened and the caller's next step is to wait: write it now,
        # with anything queued before it, rather than at the end of this turn of the loop.
        data = pb.Frame(call_id=call_id, call=call).SerializeToString()
        self._outbox.append(len(data).to_bytes(_HEADER, "big"))
        self._outbox.append(data)
        self._flush()
        return stream

    def reply_chunk(self, call_id: int, **chunk: Any) -> None:
        self.send(pb.Frame(call_id=call_id, chunk=pb.Chunk(**chunk)))

    def reply_end(self, call_id: int) -> None:
        self.send(pb.Frame(call_id=call_id, end=pb.End()))

    def reply_error(self, call_id: int, exc: PluginError) -> None:
        self.send(pb.Frame(call_id=call_id, error=error_frame_body(exc)))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._flush()  # frames queued this turn go out first: the transport drops writes after close
            self.transport.close()
