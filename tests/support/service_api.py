"""The Service API in process for tests: a migrated database with a workspace, apps imported from
DSL text and published, an app key each, and an HTTP client on ``/v1`` of the real application
(its lifespan run, plugins inline)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from treadle.api import create_app
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle.runtime import DEFAULT_OWNER_EMAIL, AppManager, ensure_first_workspace
from treadle.store import Database
from treadle.tenancy import SecretCipher

from support.databases import migrated_database

#: The password of the first workspace's owner.
OWNER_PASSWORD = "Passw0rd-for-tests"

#: The plugins the Service API tests run with, all inline (fast to start, same code paths).
INLINE_PLUGINS = (
    "core-nodes", "llm-nodes", "knowledge-nodes", "agent-nodes", "fake", "basic-tools", "local-storage",
)


@dataclass
class ServiceApi:
    """A running Service API and the apps made for a test."""

    app: Starlette
    db: Database
    supervisor: PluginSupervisor
    settings: Settings
    tenant_id: str
    client: httpx.AsyncClient
    apps: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        """The Authorization header of app ``name``'s key."""
        return {"Authorization": f"Bearer {self.keys[name]}"}

    @property
    def state(self) -> Any:
        return self.app.state.service

    async def add_app(self, name: str, dsl: str, *, tenant_id: str | None = None, publish: bool = True) -> str:
        """Import ``dsl`` as app ``name`` (published, with a key); its id."""
        manager = self.manager(tenant_id or self.tenant_id)
        summary = await manager.import_dsl(dsl, name=name)  # the app row
        if publish and summary.mode in ("workflow", "advanced-chat"):
            await manager.publish(summary.id)
        key = await manager.create_api_key(summary.id)
        self.apps[name] = summary.id
        self.keys[name] = key.token
        return summary.id

    def manager(self, tenant_id: str) -> AppManager:
        return AppManager(
            self.db, SecretCipher(self.settings.home / "secret_key"), tenant_id,
            factory=PluginNodeFactory(self.supervisor),
        )


@contextlib.asynccontextmanager
async def service_api(
    tmp_path: Path, *, backend: str = "sqlite", apps: Mapping[str, str] | None = None,
    plugins: tuple[str, ...] = INLINE_PLUGINS, models: Mapping[str, str] | None = None,
) -> AsyncIterator[ServiceApi]:
    """The Service API on ``backend`` with ``apps`` (name -> DSL text) imported, published and keyed.

    ``models`` is the ``[models] map`` (e.g. ``{"*": "fake:echo"}``).
    """
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    if models:
        pairs = ", ".join(f'"{source}" = "{target}"' for source, target in models.items())
        (home / "treadle.toml").write_text(f"[models]\nmap = {{ {pairs} }}\n")
    settings = Settings.load(home=home)
    async with migrated_database(backend, tmp_path) as db:
        first = await ensure_first_workspace(db, password=OWNER_PASSWORD)
        assert first is not None
        groups = [GroupPlan("inline", True, tuple(PluginSpec(name) for name in plugins))]
        async with PluginSupervisor(settings, groups=groups) as supervisor:
            application = create_app(settings, admin_token="admin-token-for-tests", supervisor=supervisor, database=db)
            async with application.router.lifespan_context(application):
                transport = httpx.ASGITransport(app=application)
                async with httpx.AsyncClient(transport=transport, base_url="http://treadle.test/v1") as client:
                    api = ServiceApi(application, db, supervisor, settings, first.workspace_id, client)
                    for name, dsl in (apps or {}).items():
                        await api.add_app(name, dsl)
                    yield api


@contextlib.asynccontextmanager
async def owner_console(api: ServiceApi) -> AsyncIterator[httpx.AsyncClient]:
    """A client on ``/console/api`` of ``api``'s application, signed in (a Bearer session, no cookie) as
    the first workspace's owner."""
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://treadle.test/console/api") as client:
        signed = await client.post("/login", json={"email": DEFAULT_OWNER_EMAIL, "password": OWNER_PASSWORD})
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {signed.json()['data']['access_token']}"
        yield client


@contextlib.asynccontextmanager
async def another_process(
    api: ServiceApi, *, base_url: str = "http://treadle.test/v1"
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A second server application on ``api``'s database, settings and plugins, as another worker
    process would be: none of the first's API state (caches, throttles, jobs) is shared, only the
    database (and, for speed, the inline plugins). Its application (lifespan run) and an HTTP client
    on ``base_url`` of it."""
    application = create_app(
        api.settings, admin_token="admin-token-for-tests", supervisor=api.supervisor, database=api.db
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield application, client


class EventStream:
    """A streaming request made to an ASGI application, its SSE events read as they come."""

    def __init__(self, app: Starlette, path: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        self.status = 0
        self._messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._buffer = b""
        self._ended = False
        self._sent = False
        self._gone = asyncio.Event()
        self._body = json.dumps(body).encode()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": f"/v1{path}", "raw_path": f"/v1{path}".encode(), "root_path": "",
            "query_string": b"", "server": ("treadle.test", 80), "client": ("127.0.0.1", 40000),
            "headers": [
                (b"host", b"treadle.test"), (b"content-type", b"application/json"),
                *((name.lower().encode(), value.encode()) for name, value in headers.items()),
            ],
        }  # fmt: skip
        self._app = asyncio.get_running_loop().create_task(app(scope, self._receive, self._messages.put))

    async def _receive(self) -> dict[str, Any]:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def started(self) -> int:
        """The response's status, once the application answers."""
        message = await asyncio.wait_for(self._messages.get(), 30)
        assert message["type"] == "http.response.start", message
        self.status = message["status"]
        return self.status

    async def next_event(self) -> dict[str, Any] | None:
        """The next event of the stream (pings skipped); None once it has ended."""
        while True:
            frame, separator, rest = self._buffer.partition(b"\n\n")
            if separator:
                self._buffer = rest
                if frame.startswith(b"data: "):
                    event: dict[str, Any] = json.loads(frame[len(b"data: ") :])
                    return event
                continue
            if self._ended:
                return None
            message = await asyncio.wait_for(self._messages.get(), 30)
            self._buffer += message.get("body", b"")
            self._ended = not message.get("more_body", False)

    async def rest(self) -> list[dict[str, Any]]:
        """The events up to the end of the stream."""
        events = []
        while (event := await self.next_event()) is not None:
            events.append(event)
        await asyncio.wait_for(self._app, 30)
        return events


async def open_stream(api: ServiceApi, app: Starlette, path: str, name: str, body: dict[str, Any]) -> EventStream:
    stream = EventStream(app, path, api.auth(name), {**body, "response_mode": "streaming"})
    assert await stream.started() == 200
    return stream
