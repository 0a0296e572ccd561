"""A real HTTP(S) server on 127.0.0.1 for the tests that make requests: echo, redirects, sizes, delays,
and any canned response a test registers. Nothing else is ever contacted."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.local_server import serving

__all__ = ["CannedResponse", "LocalServer", "local_server"]

#: The most an endless response sends before it stops by itself.
ENDLESS_LIMIT = 64 * 1024 * 1024


Headers = dict[str, str] | list[tuple[str, str]]


class CannedResponse:
    def __init__(self, body: bytes, headers: Headers | None = None, status: int = 200) -> None:
        self.body = body
        self.headers = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Refused TLS handshakes and clients that hang up early are part of the tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _send(self, status: int, body: bytes, headers: Headers | None = None, *, length: bool = True) -> None:
        self.send_response(status)
        for key, value in headers.items() if isinstance(headers, dict) else headers or []:
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/unread":
            # Never reads the request body: a large upload stalls until the client gives up.
            owner.unread_done.wait(timeout=5)
            self.close_connection = True
            return
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size) if size else b""
        owner.requests.append((self.command, self.path, dict(self.headers.items()), body))
        path = parts.path
        if path in owner.canned:
            canned = owner.canned[path]
            self._send(canned.status, canned.body, canned.headers)
        elif path == "/echo" or path == "/slow":
            if path == "/slow":
                time.sleep(min(float(query.get("delay", "1")), 5.0))
            echo = {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query, keep_blank_values=True),
                "headers": [[key.lower(), value] for key, value in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
                "body_base64": base64.b64encode(body).decode(),
            }
            self._send(200, json.dumps(echo).encode(), {"Content-Type": "application/json", "X-Echo": "yes"})
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            self._send(status, json.dumps({"status": status}).encode(), {"Content-Type": "application/json"})
        elif path == "/redirect":
            status = int(query.get("status", "302"))
            self._send(status, b"", {"Location": query["to"]})
        elif path.startswith("/hops/"):
            left = int(path.rsplit("/", 1)[1])
            self._send(302, b"", {"Location": f"/hops/{left - 1}" if left > 0 else "/echo"})
        elif path == "/bytes":
            count = int(query["size"])
            fill = b"\x00\x01\x02\x03" if query.get("fill") == "binary" else b"a"
            data = (fill * (count // len(fill) + 1))[:count]
            headers = {"Content-Type": query.get("type", "text/plain")}
            self._send(200, data, headers, length=query.get("length", "1") == "1")
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            chunk = b"a" * 65536
            try:
                while owner.endless_sent < ENDLESS_LIMIT:
                    self.wfile.write(chunk)
                    owner.endless_sent += len(chunk)
            except OSError:
                pass
            owner.endless_done.set()
        else:
            self._send(404, b"not found", {"Content-Type": "text/plain"})


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (HTTPS with ``ssl_context``), started by :func:`local_server`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if ssl_context else "http"
        self.port = self._httpd.server_address[1]
        self.canned: dict[str, CannedResponse] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.endless_sent = 0
        self.endless_done = threading.Event()
        self.unread_done = threading.Event()

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, headers: Headers | None = None, status: int = 200) -> str:
        """Answer ``path`` with this response from now on; returns its URL."""
        self.canned[path] = CannedResponse(body, headers, status)
        return self.url(path)


@contextmanager
def local_server(ssl_context: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    server = LocalServer(ssl_context)
    with serving(server._httpd):
        try:
            yield server
        finally:
            server.unread_done.set()
