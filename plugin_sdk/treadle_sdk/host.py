"""The plugin host process: loads one isolation group of plugins and serves them on a Unix socket.

Run as ``python -m treadle_sdk.host --group NAME --socket PATH [--plugin EP ...] [--path MOD ...]``.
It prints one JSON line ``{"ready": true, ...}`` on stdout once it listens, serves the first
connection (the kernel's supervisor), and exits when that connection closes, so a host never
outlives its kernel.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic_core import PydanticSerializationError

from .context import CallContext, KernelClient
from .dispatch import Dispatcher, call_name, unencodable
from .errors import (
    PluginCancelled,
    PluginError,
    PluginInternalError,
    PluginProtocolError,
    PluginTimeout,
    PluginUnimplemented,
)
from .extensions import operation_specs
from .protocol import PROTOCOL_VERSION, Connection, error_from_frame, pb
from .registry import Registry, find_entry_points
from .spin import new_spinning_loop

__all__ = ["ConnectionKernelClient", "HostServer", "main"]

#: How long a started host waits for the kernel to connect before giving up.
CONNECT_GRACE_SECONDS = 30.0


class ConnectionKernelClient(KernelClient):
    """A :class:`KernelClient` that sends Kernel calls over the host's connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, conn: Connection, token: str) -> None:
        super().__init__(loop, token)
        self._conn = conn

    async def astream(self, method: str, payload: dict[str, Any]) -> AsyncIterator[Any]:
        request = pb.KernelRequest(token=self.token, method=method, payload=json.dumps(payload).encode())
        stream = self._conn.open(pb.Call(kernel=request))
        finished = False
        try:
            while True:
                frame = await stream.next()
                body = frame.WhichOneof("body")
                if body == "chunk":
                    yield json.loads(frame.chunk.data)
                elif body == "end":
                    finished = True
                    return
                elif body == "error":
                    finished = True
                    raise error_from_frame(frame.error)
        finally:
            # A plugin that stops reading (its own call cancelled, or it broke off) must stop the
            # kernel's work too: a nested invocation would otherwise run on for nobody.
            stream.close(None if finished else "the plugin stopped reading")


class HostServer:
    """Serves the PluginHost calls (Describe, Invoke, Health) for one registry."""

    def __init__(self, registry: Registry, group: str, *, max_workers: int = 32) -> None:
        self.registry = registry
        self.group = group
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"plugin-{group}")
        self.dispatcher = Dispatcher(registry.extensions, self.executor)
        self.started = time.monotonic()
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def describe(self) -> pb.DescribeResponse:
        return pb.DescribeResponse(
            protocol_version=PROTOCOL_VERSION,
            pid=os.getpid(),
            group=self.group,
            plugins=[
                pb.PluginInfo(name=p.name, distribution=p.distribution, version=p.version, load_error=p.load_error)
                for p in self.registry.plugins.values()
            ],
            extensions=[
                pb.ExtensionInfo(
                    kind=e.kind.value,
                    name=e.name,
                    plugin=e.plugin,
                    schema=json.dumps(e.schema).encode(),
                    operations=list(e.operations),
                )
                for e in self.registry.extensions
            ],
        )

    def on_call(self, conn: Connection, call_id: int, call: pb.Call) -> None:
        which = call.WhichOneof("request")
        try:
            if which == "invoke":
                if not self._serve_now(conn, call_id, call):
                    task = asyncio.get_running_loop().create_task(self._serve_invoke(conn, call_id, call))
                    self._tasks[call_id] = task
                    task.add_done_callback(lambda _t: self._tasks.pop(call_id, None))
            elif which == "describe":
                major = call.describe.protocol_version.split(".")[0]
                if major != PROTOCOL_VERSION.split(".")[0]:
                    raise PluginProtocolError(
                        f"the kernel speaks protocol {call.describe.protocol_version}, "
                        f"this host {PROTOCOL_VERSION}"
                    )
                conn.reply_chunk(call_id, described=self.describe())
                conn.reply_end(call_id)
            elif which == "health":
                health = pb.HealthResponse(
                    pid=os.getpid(), uptime=time.monotonic() - self.started, in_flight=len(self._tasks)
                )
                conn.reply_chunk(call_id, health=health)
                conn.reply_end(call_id)
            else:
                raise PluginUnimplemented(f"a plugin host does not serve {which!r} calls")
        except PluginError as exc:
            conn.reply_error(call_id, exc)

    def on_cancel(self, conn: Connection, call_id: int) -> None:
        task = self._tasks.get(call_id)
        if task is not None:
            task.cancel()

    @staticmethod
    def _context(conn: Connection, call: pb.Call) -> CallContext:
        req = call.invoke
        return CallContext(
            plugin="",
            call=call_name(req.kind, req.name, req.operation),
            tenant_id=req.tenant_id,
            kernel=ConnectionKernelClient(asyncio.get_running_loop(), conn, req.token),
            deadline=time.monotonic() + call.timeout if call.timeout > 0 else None,
        )

    @staticmethod
    def _dumper(req: pb.InvokeRequest) -> Any:
        try:
            return operation_specs(req.kind)[req.operation].result_adapter.dump_json  # type: ignore[attr-defined]
        except (ValueError, KeyError):
            return None  # resolve() refuses unknown kinds and operations before anything is dumped

    def _serve_now(self, conn: Connection, call_id: int, call: pb.Call) -> bool:
        """Answer a call of quick sync code (``blocking = False``) within this turn of the loop:
        no task, one write. False if the call must run as a task."""
        req = call.invoke
        ctx = self._context(conn, call)
        with conn.batch():
            try:
                results = self.dispatcher.run_now(req.kind, req.name, req.operation, req.payload, ctx)
                if results is None:
                    return False
                dump = self._dumper(req)
                for item in results:
                    conn.reply_chunk(call_id, data=dump(item))
                conn.reply_end(call_id)
            except PluginError as exc:
                conn.reply_error(call_id, exc)
            except PydanticSerializationError as exc:
                conn.reply_error(call_id, unencodable(exc, plugin=ctx.plugin, call=ctx.call))
            except Exception as exc:  # raised out of on_call it would drop the connection and the host
                conn.reply_error(call_id, PluginInternalError(f"{type(exc).__name__}: {exc}", call=ctx.call))
        return True

    async def _serve_invoke(self, conn: Connection, call_id: int, call: pb.Call) -> None:
        req = call.invoke
        ctx = self._context(conn, call)
        name = ctx.call
        dump = self._dumper(req)
        try:
            async with asyncio.timeout(call.timeout if call.timeout > 0 else None):
                async for item in self.dispatcher.invoke(req.kind, req.name, req.operation, req.payload, ctx):
                    assert dump is not None  # resolve() refused unknown kinds and operations
                    conn.reply_chunk(call_id, data=dump(item))
            conn.reply_end(call_id)
        except TimeoutError:
            ctx.cancelled.set()
            self._reply(conn, call_id, PluginTimeout(
                f"the call passed its {call.timeout:g} s deadline", plugin=ctx.plugin, call=name
            ))
        except asyncio.CancelledError:
            ctx.cancelled.set()
            self._reply(conn, call_id, PluginCancelled("the kernel cancelled the call", plugin=ctx.plugin, call=name))
        except PluginError as exc:
            self._reply(conn, call_id, exc)
        except PydanticSerializationError as exc:
            self._reply(conn, call_id, unencodable(exc, plugin=ctx.plugin, call=name))
        except Exception as exc:  # a fault in this module, reported rather than killing the host
            self._reply(conn, call_id, PluginInternalError(f"{type(exc).__name__}: {exc}", call=name))

    @staticmethod
    def _reply(conn: Connection, call_id: int, exc: PluginError) -> None:
        if not conn.closed:
            conn.reply_error(call_id, exc)

    def shutdown(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)


def load_registry(entry_points: Iterable[str], paths: Iterable[str]) -> Registry:
    """A registry with the named installed plugins and the plugins at the given import paths."""
    registry = Registry()
    names = list(entry_points)
    found = {ep.name: ep for ep in find_entry_points(names)}
    for name in names:
        if name in found:
            registry.load_entry_point(found[name])
        else:
            from .registry import LoadedPlugin

            registry.plugins[name] = LoadedPlugin(
                name, load_error=f"no installed distribution has an entry point {name!r} in group 'treadle'"
            )
    for path in paths:
        registry.load_path(path)
    return registry


async def serve(registry: Registry, group: str, socket_path: str, *, max_workers: int = 32) -> None:
    """Listen on ``socket_path``, serve the first connection, return when it closes."""
    loop = asyncio.get_running_loop()
    server = HostServer(registry, group, max_workers=max_workers)
    connected = asyncio.Event()
    done = asyncio.Event()
    current: list[Connection] = []

    def factory() -> Connection:
        conn = Connection(
            odd_ids=False,
            on_call=server.on_call,
            on_cancel=server.on_cancel,
            on_lost=lambda _c, _e: done.set(),
            peer="the kernel",
        )
        if current:  # one kernel per host: a second connection is closed at once
            loop.call_soon(lambda: conn.transport.close() if conn.transport else None)
        else:
            current.append(conn)
            connected.set()
        return conn

    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)  # a stale socket of a crashed host with the same path
    listener = await loop.create_unix_server(factory, socket_path)
    os.chmod(socket_path, 0o600)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    print(
        json.dumps({"ready": True, "pid": os.getpid(), "group": group, "socket": socket_path}),
        flush=True,
    )
    # The kernel reads only the ready line; later prints by plugins go to stderr, so a full stdout
    # pipe can never block the host.
    os.dup2(2, 1)
    try:
        await asyncio.wait_for(connected.wait(), CONNECT_GRACE_SECONDS)
    except TimeoutError:
        print(f"no kernel connected within {CONNECT_GRACE_SECONDS:g} s; exiting", file=sys.stderr)
        done.set()
    await done.wait()
    listener.close()
    server.shutdown()
    await registry.extensions.aclose()
    for conn in current:
        conn.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m treadle_sdk.host", description=__doc__.splitlines()[0])
    parser.add_argument("--group", required=True, help="the isolation group this host serves")
    parser.add_argument("--socket", required=True, help="the Unix socket path to listen on")
    parser.add_argument("--plugin", action="append", default=[], help="an entry point name in group 'treadle'")
    parser.add_argument("--path", action="append", default=[], help="a plugin import path, module[:attr]")
    parser.add_argument("--max-workers", type=int, default=32, help="threads for blocking plugin code")
    parser.add_argument(
        "--spin-us", type=float, default=0, help="poll this long after activity before sleeping (see spin.py)"
    )
    args = parser.parse_args(argv)
    registry = load_registry(args.plugin, args.path)
    with asyncio.Runner(loop_factory=lambda: new_spinning_loop(args.spin_us)) as runner:
        runner.run(serve(registry, args.group, args.socket, max_workers=args.max_workers))
    # Blocking plugin code still running in a worker thread (a hung call) must not keep us alive.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
