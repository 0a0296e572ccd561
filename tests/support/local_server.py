"""Real HTTP servers on 127.0.0.1 for the tests, each in a background thread of the test process.

:class:`LocalServer` serves an ASGI app (Starlette) with uvicorn; the servers that speak a provider's
wire format subclass it and pass their routes. :func:`serving` runs a standard-library
``http.server`` in a thread for as long as a ``with`` block lasts; :func:`closed_port` is where
nothing listens, for the tests of refused connections.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Self, TypeVar

import uvicorn
from starlette.types import ASGIApp

__all__ = ["LocalServer", "closed_port", "serving", "serving_here"]

Server = TypeVar("Server", bound=socketserver.BaseServer)


class LocalServer:
    """``app`` served by uvicorn on 127.0.0.1 at a random port, in a background thread.

    The port is bound when the object is made, so ``port`` and :meth:`url_for` can be used (in a spec,
    a credential) before :meth:`start`. ``with LocalServer(app) as server:`` starts and stops it.
    ``lifespan=True`` runs the app's startup and shutdown (an MCP server's session manager needs them).
    """

    def __init__(self, app: ASGIApp, *, lifespan: bool = False) -> None:
        self.app = app
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on" if lifespan else "off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def url_for(self, path: str = "") -> str:
        """The URL of ``path`` (which starts with ``/``) on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Serve in the background; returns once uvicorn accepts connections."""
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@contextmanager
def serving(httpd: Server) -> Iterator[Server]:
    """Run ``httpd`` (an ``http.server`` server, bound already) in a thread while the block lasts."""
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound for a moment, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def serving_here(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in the running event loop, its lifespan left to the caller
    (the database and plugin supervisor it uses belong to this loop, unlike :class:`LocalServer`'s
    thread); yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # it failed to start: say why
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
