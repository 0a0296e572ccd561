"""Running the server: the event loop, uvicorn, and the ``server.json`` that tells the CLI where it is."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Any

import uvicorn
from treadle_sdk.spin import new_spinning_loop

from . import __version__
from .api import create_app
from .config import Settings
from .runtime import prepare_database

__all__ = ["SERVER_FILE", "ServerError", "read_server_file", "serve"]

log = logging.getLogger("treadle")


class ServerError(RuntimeError):
    """The server could not start (the address is taken, the data directory is unusable)."""


SERVER_FILE = "server.json"


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


def _tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector out of request latency: what start-up made (modules, plugins,
    compiled apps) is frozen out of its scans, and its youngest generation runs after 20 000
    allocations instead of 700. A request allocates thousands of short-lived objects, so at the default
    a collection ran every few requests and full collections, walking everything, paused the server for
    tens of milliseconds (bench/api.py: p95 of 100 concurrent runs 340 -> 180 ms, +25 % runs/s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the server until interrupted, on the embedded defaults unless configured otherwise."""
    settings.ensure_home()
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    # Bind before serving, so the port (also when 0 asks for any free one) is known up front.
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
    bound = sock.getsockname()[1]
    admin_token = secrets.token_urlsafe(24)
    server_file = settings.home / SERVER_FILE
    info = {"pid": os.getpid(), "url": f"http://{host}:{bound}", "admin_token": admin_token}
    app = create_app(settings, admin_token=admin_token)
    config = uvicorn.Config(app, loop="none", lifespan="on", log_level="info")
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

    with asyncio.Runner(loop_factory=lambda: new_spinning_loop(settings.server.loop_spin_us)) as runner:
        runner.run(run())
