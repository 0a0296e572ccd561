"""Running the server: the event loop, uvicorn, and the ``server.json`` that tells the CLI where it is.

With ``[server] workers = 1`` (the default) the server is this one process. With more, this process
binds the socket, migrates the database and writes ``server.json`` once, then supervises that many
worker processes, each serving the whole application on the shared socket (the kernel spreads the
connections among them): the server is CPU-bound in Python, and one process uses one CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url
from treadle_sdk.protocol.connection import awaiting_answers
from treadle_sdk.spin import new_spinning_loop

from . import __version__
from .api import create_app
from .config import Settings
from .http_protocol import CoalescingHttpToolsProtocol
from .runtime import prepare_database

__all__ = ["LOG_FORMAT", "SERVER_FILE", "ServerError", "kernel_loop", "read_server_file", "serve"]

log = logging.getLogger("treadle")

#: How ``treadle serve`` formats its log lines, in the server process and in every worker.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ServerError(RuntimeError):
    """The server could not start (the address is taken, the data directory is unusable)."""


SERVER_FILE = "server.json"

#: How long stopping waits for the workers to finish their requests and shut down before killing them.
STOP_GRACE = 30.0
#: A worker that dies before it serves, or sooner than this after, failed at start-up: the next one waits.
STARTUP_WINDOW = 2.0
#: A worker slot is restarted at most this often.
RESTART_INTERVAL = 1.0
#: The longest delay before a worker that keeps failing at start-up is tried again.
RESTART_BACKOFF_MAX = 30.0
#: After this many start-up failures in a row of every worker, the log says the server is not serving.
ALL_FAILING_AFTER = 3
#: The signals that stop the server.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def read_server_file(settings: Settings) -> dict[str, Any] | None:
    """Where the server on this data directory listens, if one is running there."""
    path = settings.home / SERVER_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info


def _write_server_file(path: Path, info: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(info, file)


def kernel_loop(settings: Settings) -> asyncio.AbstractEventLoop:
    """The event loop the kernel runs on: it spins briefly before sleeping while a plugin call waits
    for its answer (``[server] loop_spin_us``, see treadle_sdk.spin)."""
    loop: asyncio.AbstractEventLoop = new_spinning_loop(settings.server.loop_spin_us, awaiting_answers)
    return loop


def _uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """How uvicorn runs ``app``: on the event loop we make, with our HTTP protocol (see http_protocol)."""
    return uvicorn.Config(
        app, loop="none", lifespan="on", log_level="info", access_log=settings.server.access_log,
        http=CoalescingHttpToolsProtocol,
    )


def _tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector out of request latency: what start-up made (modules, plugins,
    compiled apps) is frozen out of its scans, and its youngest generation runs after 20 000
    allocations instead of 700. A request allocates thousands of short-lived objects, so at the default
    a collection ran every few requests and full collections, walking everything, paused the server for
    tens of milliseconds (bench/api.py: p95 of 100 concurrent runs 340 -> 180 ms, +25 % runs/s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before serving so the port (also when 0 asks for any free one) is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP,
    # and accepted connections inherit it. With Nagle on, every response after the first on a
    # keep-alive connection waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Run the server until interrupted, on the embedded defaults unless configured otherwise.

    ``host``, ``port`` and ``workers`` override ``[server]``. One worker serves in this process; more
    are separate processes that this one starts, restarts when they die, and stops on SIGINT or SIGTERM.
    """
    workers = settings.server.workers if workers is None else workers
    if workers < 1:
        raise ServerError(f"--workers must be at least 1, not {workers}")
    if workers > 1:
        url = make_url(settings.database_url)
        if url.get_backend_name() != "postgresql":
            # str(url) hides a password the URL may hold.
            raise ServerError(
                f"{workers} workers need PostgreSQL ([database] url, TREADLE_DATABASE__URL), but the database "
                f"is {url}: SQLite takes one writer at a time, so the workers would wait on each other; "
                "run one worker on SQLite"
            )
    settings.ensure_home()
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    admin_token = secrets.token_urlsafe(24)
    server_file = settings.home / SERVER_FILE
    info = {"pid": os.getpid(), "url": f"http://{host}:{bound}", "admin_token": admin_token}
    if workers > 1:
        try:
            _serve_with_workers(settings, sock, info, workers, server_file)
        finally:
            sock.close()
        return
    app = create_app(settings, admin_token=admin_token)
    config = _uvicorn_config(app, settings)
    server = uvicorn.Server(config)

    async def run() -> None:
        for line in await prepare_database(settings, f"http://{host}:{bound}/v1"):
            log.info("%s", line)
        _write_server_file(server_file, info)
        _tune_garbage_collector()
        log.info("Treadle %s on http://%s:%s, data in %s", __version__, host, bound, settings.home)
        try:
            await server.serve(sockets=[sock])
        finally:
            server_file.unlink(missing_ok=True)

    with asyncio.Runner(loop_factory=lambda: kernel_loop(settings)) as runner:
        runner.run(run())


# ---------------------------------------------------------------------------------------------------
# Several workers


def _serve_with_workers(
    settings: Settings, sock: socket.socket, info: dict[str, Any], count: int, server_file: Path
) -> None:
    """Prepare the database once, then run ``count`` workers on ``sock`` until SIGINT or SIGTERM."""
    url = str(info["url"])
    lines = asyncio.run(prepare_database(settings, f"{url}/v1"))
    for line in lines:
        log.info("%s", line)
    _write_server_file(server_file, info)
    log.info("Treadle %s on %s with %d workers, data in %s", __version__, url, count, settings.home)
    try:
        _Supervisor(settings, sock, str(info["admin_token"]), count).run()
    finally:
        server_file.unlink(missing_ok=True)


def _worker_main(settings: Settings, sock: socket.socket, admin_token: str, index: int, ready: Connection) -> None:
    """One worker process: the whole application on the shared socket, as the single process runs it.
    Once the application has started it says so on ``ready``, so the server tells a worker that fails
    at start-up from one that dies later.

    It starts with SIGINT ignored and SIGINT and SIGTERM blocked (see :meth:`_Supervisor._start`), so a
    terminal's Ctrl-C during start-up does not interrupt it half-way; uvicorn's handlers take both
    signals once it serves, and either shuts the worker down gracefully."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    app = create_app(settings, admin_token=admin_token)
    config = _uvicorn_config(app, settings)
    server = _WorkerServer(config, ready)

    async def run() -> None:
        _tune_garbage_collector()
        log.info("Worker %d is pid %d", index, os.getpid())
        _stop_when_parent_dies(server)
        await server.serve(sockets=[sock])

    with asyncio.Runner(loop_factory=lambda: kernel_loop(settings)) as runner:
        runner.run(run())
    if not server.started:
        raise SystemExit(3)  # uvicorn's STARTUP_FAILURE: the application's start-up failed (logged above)


class _WorkerServer(uvicorn.Server):
    """uvicorn's server, which tells the supervising process when the application has started."""

    def __init__(self, config: uvicorn.Config, ready: Connection) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            with contextlib.suppress(OSError):
                self.ready.send_bytes(b"ready")
        self.ready.close()


def _stop_when_parent_dies(server: uvicorn.Server) -> None:
    """Shut the worker down gracefully if the server process dies (SIGKILL, OOM): it can no longer
    supervise or stop it, and an orphan would go on answering on the port."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    loop = asyncio.get_running_loop()

    def parent_died() -> None:
        loop.remove_reader(parent.sentinel)
        log.warning("The server process (pid %s) is gone: worker pid %d stops", parent.pid, os.getpid())
        server.should_exit = True

    loop.add_reader(parent.sentinel, parent_died)


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM before uvicorn serves stops the start-up; after it served, uvicorn raises the signal it
    shut down on again, and this makes that a clean exit (0) instead of death by signal."""
    raise SystemExit(0)


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@dataclass
class _Slot:
    """One worker position: the process in it, and how its recent start-ups went."""

    index: int
    process: BaseProcess | None = None
    started_at: float = 0.0
    #: Where the worker says it serves, until it has (or has died).
    ready: Connection | None = None
    #: When the worker said it serves (monotonic seconds); None until then.
    ready_at: float | None = None
    #: When an empty slot gets its next worker (monotonic seconds).
    due: float = 0.0
    #: Workers in a row that failed at start-up: died before serving, or within STARTUP_WINDOW of it.
    failures: int = 0


class _Supervisor:
    """Starts the workers, replaces those that die, and stops them all on SIGINT or SIGTERM.

    It runs in the main thread of the server process, without an event loop: it sleeps on the
    workers' sentinels and on a pipe its signal handlers write to."""

    def __init__(self, settings: Settings, sock: socket.socket, admin_token: str, count: int) -> None:
        self.settings = settings
        self.sock = sock
        self.admin_token = admin_token
        # spawn, not fork: this process has run an event loop and held database connections, which
        # a forked child would inherit half-way.
        self.context = multiprocessing.get_context("spawn")
        self.slots = [_Slot(index) for index in range(count)]
        self.stopping = False
        self.reported_all_failing = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def run(self) -> None:
        """Supervise until a stop signal arrives, then stop every worker; returns when they are gone."""
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in _STOP_SIGNALS}
        try:
            for slot in self.slots:
                self._start(slot)
            pids = ", ".join(str(slot.process.pid) for slot in self.slots if slot.process is not None)
            log.info("%d workers: pids %s", len(self.slots), pids)
            while not self.stopping:
                self._wait(self._next_timeout())
                if self.stopping:
                    break
                self._check()
        finally:
            try:
                self._stop_all()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                os.close(self._wake_read)
                os.close(self._wake_write)

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("%s: stopping the workers", signal.Signals(signum).name)
        self.stopping = True
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _start(self, slot: _Slot) -> None:
        ready, ready_in_worker = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main,
            args=(self.settings, self.sock, self.admin_token, slot.index, ready_in_worker),
            name=f"treadle-worker-{slot.index}",
        )
        # The child inherits signal dispositions and the signal mask through exec. With SIGINT ignored
        # and both stop signals blocked, a Ctrl-C that reaches the child (a terminal signals the whole
        # process group) while it imports and builds the app does nothing; SIGTERM waits until the
        # worker unblocks it. Blocked here too, a stop signal for this process is delivered just after.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            ready_in_worker.close()  # the worker has its own copy: a dead worker's pipe reads as closed
        slot.process = process
        slot.started_at = time.monotonic()
        slot.ready = ready
        slot.ready_at = None

    def _next_timeout(self) -> float | None:
        """Seconds until an empty slot is due, or a failing worker has served through its start-up window."""
        now = time.monotonic()
        moments = [slot.due for slot in self.slots if slot.process is None]
        moments += [
            slot.ready_at + STARTUP_WINDOW
            for slot in self.slots
            if slot.process is not None and slot.failures and slot.ready_at is not None
        ]
        return max(0.0, min(moments) - now) if moments else None

    def _wait(self, timeout: float | None) -> None:
        waitables: list[Any] = [self._wake_read]
        for slot in self.slots:
            if slot.process is not None:
                waitables.append(slot.process.sentinel)
            if slot.ready is not None:
                waitables.append(slot.ready)
        wait_for(waitables, timeout)
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)

    def _check(self) -> None:
        """Note the workers that now serve, empty the slots whose worker died, start those that are due."""
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is None:
                continue
            if slot.ready is not None and slot.ready.poll():
                with contextlib.suppress(EOFError, OSError):
                    slot.ready.recv_bytes()
                    slot.ready_at = now
                slot.ready.close()
                slot.ready = None
            if process.is_alive():
                if slot.failures and slot.ready_at is not None and now - slot.ready_at >= STARTUP_WINDOW:
                    slot.failures = 0
                    self.reported_all_failing = False
                continue
            self._worker_died(slot, process, now)
        if not self.reported_all_failing and all(slot.failures >= ALL_FAILING_AFTER for slot in self.slots):
            self.reported_all_failing = True
            log.error(
                "Every worker has failed at start-up %d times in a row, so the server is not serving; their "
                "errors are above. Still trying, at most every %g s",
                ALL_FAILING_AFTER,
                RESTART_BACKOFF_MAX,
            )
        for slot in self.slots:
            if slot.process is None and now >= slot.due:
                self._start(slot)
                log.info("Worker %d started again: pid %s", slot.index, slot.process.pid if slot.process else "?")

    def _worker_died(self, slot: _Slot, process: BaseProcess, now: float) -> None:
        """Log how the worker ended and when its slot gets the next one: at once if it had served a
        while (but not within RESTART_INTERVAL of its start), else after an exponential backoff."""
        process.join()
        if slot.ready is not None:
            slot.ready.close()
            slot.ready = None
        if slot.ready_at is None:
            when = f"before it served ({now - slot.started_at:.1f} s after it started)"
        else:
            when = f"after serving {now - slot.ready_at:.1f} s"
        if slot.ready_at is None or now - slot.ready_at < STARTUP_WINDOW:
            slot.failures += 1
            delay = min(RESTART_BACKOFF_MAX, RESTART_INTERVAL * 2 ** (slot.failures - 1))
        else:
            slot.failures = 0
            delay = max(0.0, slot.started_at + RESTART_INTERVAL - now)
        slot.due = now + delay
        log.warning(
            "Worker %d (pid %s) %s %s; starting another in %.1f s",
            slot.index,
            process.pid,
            _describe_exit(process.exitcode),
            when,
            delay,
        )
        process.close()
        slot.process = None

    def _stop_all(self) -> None:
        """Ask every worker to shut down gracefully, wait up to STOP_GRACE, then kill what is left.

        SIGTERM, not SIGINT: after a terminal's Ctrl-C the workers have had a SIGINT already, and
        uvicorn takes a second SIGINT as "exit now", skipping the graceful shutdown (open requests,
        the application's shutdown: plugin hosts, run logs). A second stop signal to this process
        while it waits kills the workers at once."""
        running = [slot.process for slot in self.slots if slot.process is not None]
        self.stopping = True
        for process in running:
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        # A stop signal already seen is not a second one: drain the wake-up pipe first.
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)
        deadline = time.monotonic() + STOP_GRACE
        while True:
            alive = [process for process in running if process.exitcode is None]
            remaining = deadline - time.monotonic()
            if not alive or remaining <= 0:
                break
            ready = wait_for([*(process.sentinel for process in alive), self._wake_read], remaining)
            if self._wake_read in ready:
                log.warning("A second stop signal: killing the workers that are still running")
                break
        for process in running:
            if process.exitcode is None:
                log.warning("Worker pid %s is still running; killing it", process.pid)
                process.kill()
            process.join()
            if process.exitcode not in (0, None):
                log.info("Worker %s %s", process.pid, _describe_exit(process.exitcode))
            process.close()
        for slot in self.slots:
            slot.process = None
            if slot.ready is not None:
                slot.ready.close()
                slot.ready = None
