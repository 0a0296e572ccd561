"""A plugin host process, seen from the kernel: start it, call it, watch it, restart it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from treadle_sdk.dispatch import call_name
from treadle_sdk.errors import (
    PluginError,
    PluginInternalError,
    PluginNotFound,
    PluginTimeout,
    PluginUnavailable,
)
from treadle_sdk.extensions import ExtensionKind, operation_specs
from treadle_sdk.protocol import PROTOCOL_VERSION, Connection, error_from_frame, pb
from treadle_sdk.registry import ExtensionEntry

from ..config import PluginSettings
from .hosts import HostState, PluginHostHandle, PluginRecord
from .kernel_services import KernelServices
from .placement import GroupPlan

__all__ = ["RemoteHost", "socket_dir_for"]

log = logging.getLogger(__name__)

#: A host that stayed up this long before crashing restarts after the initial backoff again.
_STABLE_SECONDS = 60.0


def _model_json(value: Any) -> Any:
    """orjson's fallback: pydantic models (a provider's chunks, passed through as they came)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class RemoteHost(PluginHostHandle):
    """One ``treadle_sdk.host`` process serving an isolation group over a Unix socket."""

    isolation = "process"

    def __init__(
        self,
        plan: GroupPlan,
        services: KernelServices,
        settings: PluginSettings,
        socket_dir: Path,
        *,
        on_change: Callable[[RemoteHost], None] | None = None,
    ) -> None:
        self.group = plan.name
        self.plan = plan
        self.services = services
        self.settings = settings
        self.socket_dir = socket_dir
        self.on_change = on_change
        self.state = HostState.STARTING
        self.plugins = []
        self.extensions = []
        self.error = ""
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._socket_path: str | None = None
        self._conn: Connection | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._started_at = 0.0
        self._backoff = settings.restart_backoff_initial
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serving: dict[int, asyncio.Task[None]] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._launch()
        except PluginError as exc:
            self.error = exc.message
            log.error("plugin host %r failed to start: %s", self.group, exc.message)
            self._schedule_restart()
        self._spawn(self._health_loop())

    async def _launch(self) -> None:
        self.state = HostState.STARTING if self.restarts == 0 else HostState.RESTARTING
        socket_path = str(self.socket_dir / f"{_safe(self.group)}-{secrets.token_hex(4)}.sock")
        self._socket_path = socket_path
        argv = [sys.executable, "-m", "treadle_sdk.host", "--group", self.group, "--socket", socket_path,
                "--max-workers", str(self.settings.max_workers), "--spin-us", str(self.settings.host_spin_us)]
        for spec in self.plan.plugins:
            argv += ["--path", spec.path] if spec.path else ["--plugin", spec.name]
        env = dict(os.environ)
        if any(spec.path for spec in self.plan.plugins):
            # Plugins loaded by import path must import in the host as they do here.
            env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, start_new_session=True, env=env
        )
        self._proc = proc
        try:
            async with asyncio.timeout(self.settings.startup_timeout):
                assert proc.stdout is not None
                line = await proc.stdout.readline()
                if not line:
                    raise PluginUnavailable(
                        f"plugin host {self.group!r} exited with code {await proc.wait()} before it was ready"
                    )
                ready = json.loads(line)
                loop = asyncio.get_running_loop()
                _, conn = await loop.create_unix_connection(
                    lambda: Connection(
                        odd_ids=True,
                        on_call=self._on_call,
                        on_cancel=self._on_cancel,
                        on_lost=self._on_lost,
                        peer=f"plugin host {self.group!r}",
                    ),
                    ready["socket"],
                )
                described = await self._describe(conn)
        except (TimeoutError, OSError, ValueError, KeyError, PluginError) as exc:
            self._kill()
            if isinstance(exc, PluginError):
                raise
            reason = "did not get ready in time" if isinstance(exc, TimeoutError) else f"failed: {exc}"
            raise PluginUnavailable(f"plugin host {self.group!r} {reason}") from exc
        self._conn = conn
        self.plugins = [PluginRecord(p.name, p.distribution, p.version, p.load_error) for p in described.plugins]
        self.extensions = [
            ExtensionEntry(ExtensionKind(e.kind), e.name, e.plugin, json.loads(e.schema), tuple(e.operations))
            for e in described.extensions
        ]
        self.state = HostState.RUNNING
        self.error = ""
        self._started_at = time.monotonic()
        self._ready.set()
        self._spawn(self._watch(proc, conn))
        if self.on_change is not None:
            self.on_change(self)

    async def _describe(self, conn: Connection) -> pb.DescribeResponse:
        stream = conn.open(pb.Call(describe=pb.DescribeRequest(protocol_version=PROTOCOL_VERSION)))
        described = None
        while True:
            frame = await stream.next()
            body = frame.WhichOneof("body")
            if body == "chunk":
                described = frame.chunk.described
            elif body == "error":
                raise error_from_frame(frame.error)
            else:
                break
        if described is None:
            raise PluginInternalError(f"plugin host {self.group!r} answered Describe with nothing")
        return described

    async def _watch(self, proc: asyncio.subprocess.Process, conn: Connection) -> None:
        """Wait for the process to exit or the connection to drop; then restart unless stopping."""
        exited = asyncio.ensure_future(proc.wait())
        lost = asyncio.ensure_future(conn.closed_event.wait())
        await asyncio.wait({exited, lost}, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        self._ready.clear()
        conn.close()
        if not exited.done():
            # A host exits by itself once its connection drops; give it a moment before killing.
            # (Killing an already dead host would reap it behind asyncio's back.)
            await asyncio.wait({exited}, timeout=2)
            if not exited.done():
                self._kill()
        code = await exited
        self._remove_socket()
        if self._stopping:
            return
        self.error = f"the host process exited with code {code}"
        log.warning("plugin host %r (pid %s) went down: %s; restarting", self.group, proc.pid, self.error)
        if time.monotonic() - self._started_at > _STABLE_SECONDS:
            self._backoff = self.settings.restart_backoff_initial
        self._schedule_restart()

    def _schedule_restart(self) -> None:
        if self._stopping:
            return
        self.state = HostState.RESTARTING
        self._spawn(self._restart())

    async def _restart(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, self.settings.restart_backoff_max)
            self.restarts += 1
            try:
                await self._launch()
                return
            except PluginError as exc:
                self.error = exc.message
                log.error("plugin host %r failed to restart: %s", self.group, exc.message)

    async def _health_loop(self) -> None:
        failures = 0
        while not self._stopping:
            await asyncio.sleep(self.settings.health_interval)
            conn = self._conn
            if not self._ready.is_set() or conn is None:
                continue
            try:
                async with asyncio.timeout(self.settings.health_timeout):
                    stream = conn.open(pb.Call(timeout=self.settings.health_timeout, health=pb.HealthRequest()))
                    while (await stream.next()).WhichOneof("body") == "chunk":
                        pass
                failures = 0
            except (TimeoutError, PluginError):
                failures += 1
                if failures >= 2:
                    log.error("plugin host %r failed two health checks; killing it", self.group)
                    self._kill()
                    failures = 0

    def _remove_socket(self) -> None:
        if self._socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._socket_path)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def stop(self) -> None:
        self._stopping = True
        self._ready.clear()
        for task in list(self._tasks):
            task.cancel()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                self._kill()
                await proc.wait()
        if self._conn is not None:
            self._conn.close()
        self._remove_socket()
        self.state = HostState.STOPPED

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- kernel calls from the host ------------------------------------------------------------

    def _on_call(self, conn: Connection, call_id: int, call: pb.Call) -> None:
        if call.WhichOneof("request") != "kernel":
            conn.reply_error(call_id, PluginNotFound("the kernel serves only Kernel calls"))
            return
        task = asyncio.get_running_loop().create_task(self._serve_kernel_call(conn, call_id, call.kernel))
        self._serving[call_id] = task
        task.add_done_callback(lambda _t: self._serving.pop(call_id, None))

    def _on_cancel(self, conn: Connection, call_id: int) -> None:
        task = self._serving.get(call_id)
        if task is not None:
            task.cancel()

    def _on_lost(self, conn: Connection, exc: Exception | None) -> None:
        self._ready.clear()

    async def _serve_kernel_call(self, conn: Connection, call_id: int, request: pb.KernelRequest) -> None:
        try:
            scope = self.services.scope_for(request.token, self.group)
            payload = json.loads(request.payload) if request.payload else {}
            async for item in self.services.handle(scope, request.method, payload):
                conn.reply_chunk(call_id, data=orjson.dumps(item, default=_model_json))
            conn.reply_end(call_id)
        except PluginError as exc:
            if not conn.closed:
                conn.reply_error(call_id, exc)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a kernel fault: tell the plugin rather than leave it waiting
            log.exception("kernel call %s from host %r failed", request.method, self.group)
            if not conn.closed:
                conn.reply_error(call_id, PluginInternalError(f"{type(exc).__name__}: {exc}"))

    # -- invoking ---------------------------------------------------------------------------------

    async def invoke(
        self,
        entry: ExtensionEntry,
        operation: str,
        payload: dict[str, Any],
        *,
        token: str,
        tenant_id: str,
        timeout: float,
    ) -> AsyncIterator[Any]:
        name = call_name(entry.kind.value, entry.name, operation)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        spec = operation_specs(entry.kind).get(operation)
        if spec is None:
            raise PluginNotFound(f"{entry.kind.value} has no operation {operation!r}", plugin=entry.plugin, call=name)
        if not self._ready.is_set():
            try:
                async with asyncio.timeout_at(deadline):
                    await self._ready.wait()
            except TimeoutError:
                raise PluginUnavailable(
                    f"plugin host {self.group!r} is {self.state.value} and did not come back within {timeout:g} s"
                    + (f" ({self.error})" if self.error else ""),
                    plugin=entry.plugin,
                    call=name,
                ) from None
        conn = self._conn
        assert conn is not None
        request = pb.InvokeRequest(
            kind=entry.kind.value,
            name=entry.name,
            operation=operation,
            payload=orjson.dumps(payload),
            token=token,
            tenant_id=tenant_id,
        )
        try:
            stream = conn.open(pb.Call(timeout=timeout, invoke=request))
        except PluginError as exc:
            raise type(exc)(exc.message, plugin=entry.plugin, call=name, details=exc.details) from None
        finished = False
        # One timer per call, not per frame: streams of many chunks stay cheap.
        timer = loop.call_at(deadline, stream.expire)
        try:
            while True:
                frame = await stream.next()
                body = frame.WhichOneof("body")
                if body == "chunk":
                    try:
                        yield spec.result_adapter.validate_json(frame.chunk.data)  # type: ignore[attr-defined]
                    except ValueError as exc:
                        raise PluginInternalError(
                            f"the host sent a result that does not decode: {exc}", plugin=entry.plugin, call=name
                        ) from None
                elif body == "end":
                    finished = True
                    return
                elif body is None:
                    raise PluginTimeout(
                        f"no answer within the {timeout:g} s deadline; the call was cancelled",
                        plugin=entry.plugin,
                        call=name,
                        details={"timeout": timeout},
                    )
                else:
                    finished = True
                    err = error_from_frame(frame.error)
                    raise type(err)(
                        err.message, plugin=err.plugin or entry.plugin, call=err.call or name, details=err.details
                    )
        finally:
            timer.cancel()
            stream.close(None if finished else "the caller stopped reading")


def _safe(group: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in group)[:40]


def socket_dir_for(home_run_dir: Path) -> Path:
    """The directory for host sockets: the data directory's ``run/`` unless its path is too long.

    Unix socket paths are limited to about 107 bytes; a long data directory path falls back to a
    private temporary directory.
    """
    if len(str(home_run_dir)) <= 60:
        home_run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return home_run_dir
    return Path(tempfile.mkdtemp(prefix="treadle-"))

