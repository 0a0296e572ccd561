"""The ASGI application: routes, error envelope, and the lifespan that runs the plugin supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from .. import __version__
from ..config import Settings
from ..plugins import PluginSupervisor, SqliteKVStore
from ..store import Database
from .console import console_routes
from .errors import ApiError, exception_handlers
from .files import FILE_ROUTES
from .guards import RejectNul
from .knowledge import knowledge_routes
from .mcp import McpEndpoint
from .openapi import console_openapi
from .service.routes import service_routes
from .service.state import ServiceState

__all__ = ["create_app", "service_runtime"]


def create_app(
    settings: Settings,
    *,
    admin_token: str,
    supervisor: PluginSupervisor | None = None,
    database: Database | None = None,
) -> Starlette:
    """The Treadle server application.

    ``admin_token`` guards the operator endpoints under ``/admin/api`` (the CLI reads it from the
    data directory's ``server.json``). A ``supervisor`` or ``database`` given here is used as is (and
    not stopped); otherwise each is made from ``settings`` and lives as long as the app. The database
    must be migrated already (``treadle serve`` migrates it before it starts the app).
    """

    mcp = McpEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with service_runtime(settings, supervisor=supervisor, database=database) as state, mcp.run():
            app.state.supervisor = state.supervisor
            app.state.service = state
            yield

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
            Route("/console/api/openapi.json", console_openapi, methods=["GET"]),
            Mount("/v1", routes=[*service_routes(), *knowledge_routes()]),
            Mount("/console/api", routes=console_routes()),
            mcp.route(),
            *FILE_ROUTES,
        ],
        exception_handlers=exception_handlers,
        middleware=[Middleware(RejectNul)],
        lifespan=lifespan,
    )


@contextlib.asynccontextmanager
async def service_runtime(
    settings: Settings, *, supervisor: PluginSupervisor | None = None, database: Database | None = None
) -> AsyncIterator[ServiceState]:
    """What serving apps needs, running: the database, the plugin hosts, the files and knowledge
    bases, shared as the Service API's state; on exit the runs under way are stopped and drained,
    then everything made here is closed. A ``supervisor`` or ``database`` given is used as is (and
    not stopped). The server's lifespan runs in it; so does ``treadle mcp stdio`` running an app
    locally."""
    async with contextlib.AsyncExitStack() as stack:
        settings.ensure_home()
        db = database
        if db is None:
            db = Database.from_settings(settings)
            stack.push_async_callback(db.dispose)
        sup = supervisor
        if sup is None:
            kv = SqliteKVStore(settings.home / "plugin_kv.sqlite3")
            stack.callback(kv.close)
            sup = PluginSupervisor(settings, kv=kv)
            await sup.start()
            stack.push_async_callback(sup.stop)
        state = await _service_state(settings, sup, db)
        stack.push_async_callback(_drain, state)
        if state.knowledge is not None:
            await state.knowledge.start()
            # Stopped before the runs are drained and the database goes: its jobs use both.
            stack.push_async_callback(state.knowledge.stop)
        yield state


async def _service_state(settings: Settings, supervisor: PluginSupervisor, db: Database) -> ServiceState:
    """The Service API's shared state: conversation memory and stored files served to the plugins
    from the database, apps compiled against the installed node types."""
    from ..files import FileService, FileSigner, PluginStorage
    from ..knowledge.app_retrieval import AppRetrieval
    from ..knowledge.runtime import build_knowledge_runtime
    from ..plugins.node_factory import PluginNodeFactory
    from ..store import SqlConversationHistory, SqlFileRecordStore
    from ..tenancy import SecretCipher
    from ..tenancy.secrets import derive_key

    cipher = SecretCipher(settings.home / "secret_key")
    supervisor.services.history = SqlConversationHistory(db)
    files = FileService(
        PluginStorage(supervisor, settings.storage.backend, home=settings.home),
        SqlFileRecordStore(db),
        FileSigner(derive_key(cipher.server_secret(), "file-urls")),
    )
    supervisor.services.files = files
    knowledge = build_knowledge_runtime(settings, supervisor, db, files, cipher)
    # Nodes retrieve through the kernel (``retrieve_knowledge``), over the same retriever as the API.
    supervisor.services.knowledge = AppRetrieval(db, knowledge.retriever, supervisor)
    return ServiceState(
        db=db, supervisor=supervisor, cipher=cipher, factory=PluginNodeFactory(supervisor), files=files,
        max_active_requests=settings.server.app_max_active_requests,
        knowledge=knowledge,
    )


async def _drain(state: ServiceState) -> None:
    """On shutdown, stop the runs still under way and let them write what they made."""
    state.tasks.stop_all("the server is shutting down")
    if state.background:
        await asyncio.wait(list(state.background), timeout=10)
