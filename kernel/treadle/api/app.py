"""The ASGI application: routes, error envelope, and the lifespan that runs the plugin supervisor."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .. import __version__
from ..config import Settings
from ..plugins import PluginSupervisor, SqliteKVStore
from .errors import ApiError, exception_handlers

__all__ = ["create_app"]


def create_app(settings: Settings, *, admin_token: str, supervisor: PluginSupervisor | None = None) -> Starlette:
    """The Treadle server application.

    ``admin_token`` guards the operator endpoints under ``/admin/api`` (the CLI reads it from the
    data directory's ``server.json``). A ``supervisor`` given here is used as is (and not stopped);
    otherwise one is made from ``settings`` and runs for the app's lifetime.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if supervisor is not None:
            app.state.supervisor = supervisor
            yield
            return
        settings.ensure_home()
        kv = SqliteKVStore(settings.home / "plugin_kv.sqlite3")
        own = PluginSupervisor(settings, kv=kv)
        await own.start()
        app.state.supervisor = own
        try:
            yield
        finally:
            await own.stop()
            kv.close()

    def require_admin(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), admin_token.encode()):
            raise ApiError(401, "unauthorized", "this endpoint needs the server's admin token as a Bearer token")

    async def health(request: Request) -> JSONResponse:
        sup: PluginSupervisor = request.app.state.supervisor
        hosts: dict[str, Any] = {
            name: {"state": host.state.value, "isolation": host.isolation, "pid": host.pid}
            for name, host in sorted(sup.hosts.items())
        }
        return JSONResponse({"status": "ok", "version": __version__, "plugin_hosts": hosts})

    async def plugins(request: Request) -> JSONResponse:
        require_admin(request)
        sup: PluginSupervisor = request.app.state.supervisor
        return JSONResponse({"data": sup.table()})

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/admin/api/plugins", plugins, methods=["GET"]),
        ],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
