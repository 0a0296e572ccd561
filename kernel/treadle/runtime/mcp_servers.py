"""Apps published as MCP servers (PUB-MCP-SERVER): switching an app's server on and off, its URL's
code, and the descriptions its tool shows.

A server is off until switched on. Switching it on makes a random code that the URL embeds
(``/mcp/server/<code>/mcp``); the code is the credential, so :meth:`McpServers.regenerate` replaces
it and the old URL stops working at once. Switching off keeps the row (code, descriptions) so that
switching on again gives back the same URL. A server may also ask for one of the app's Service API
keys as a Bearer token (``require_api_key``), for clients that can send headers.

Only apps a person starts can be servers: chat, agent-chat, completion and advanced-chat apps, and
workflows whose graph begins with a User Input (Start) node, not a trigger.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ..store import DRAFT, App, AppMcpServer, Database, Workflow
from .errors import AppManagerError, AppNotFound

__all__ = [
    "CODE_LENGTH",
    "MAX_DESCRIPTION_CHARS",
    "McpServerError",
    "McpServerView",
    "McpServers",
    "mcp_server_path",
    "server_by_code",
]

#: Characters of a server code: 62 letters and digits, so 16 of them hold 95 bits.
CODE_LENGTH = 16
_CODE_ALPHABET = string.ascii_letters + string.digits
#: The longest tool or parameter description kept.
MAX_DESCRIPTION_CHARS = 4000
_TRIGGER_PREFIX = "trigger-"


class McpServerError(AppManagerError, ValueError):
    """An MCP server setting cannot be applied; the message says which and why."""

    def __init__(self, message: str, field: str = "") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


def mcp_server_path(server_code: str) -> str:
    """The path a server answers at, below the server's base URL."""
    return f"/mcp/server/{server_code}/mcp"


@dataclass(frozen=True)
class McpServerView:
    """An app's MCP server as stored."""

    id: str
    tenant_id: str
    app_id: str
    server_code: str
    status: str
    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    require_api_key: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def url(self, base_url: str) -> str:
        """The server URL under ``base_url`` (``http://host:port``)."""
        return base_url.rstrip("/") + mcp_server_path(self.server_code)

    def as_dict(self, base_url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "app_id": self.app_id,
            "server_code": self.server_code,
            "status": self.status,
            "description": self.description,
            "parameters": dict(self.parameters),
            "require_api_key": self.require_api_key,
            "created_at": int(self.created_at.timestamp()) if self.created_at else None,
            "updated_at": int(self.updated_at.timestamp()) if self.updated_at else None,
        }
        if base_url is not None:
            body["server_url"] = self.url(base_url)
        return body

    @classmethod
    def of(cls, row: AppMcpServer) -> McpServerView:
        return cls(
            id=row.id, tenant_id=row.tenant_id, app_id=row.app_id, server_code=row.server_code, status=row.status,
            description=row.description, parameters=dict(row.parameters or {}), require_api_key=row.require_api_key,
            created_at=row.created_at, updated_at=row.updated_at,
        )


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _checked_description(description: str) -> str:
    if not isinstance(description, str):
        raise McpServerError("description must be a string", "description")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise McpServerError(
            f"description is {len(description)} characters long; at most {MAX_DESCRIPTION_CHARS} are kept",
            "description",
        )
    return description


def _checked_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(parameters, Mapping):
        raise McpServerError("parameters must be an object of input names to descriptions", "parameters")
    checked: dict[str, str] = {}
    for name, text in parameters.items():
        if not isinstance(name, str) or not name:
            raise McpServerError("parameters: every key must be an input variable name", "parameters")
        if not isinstance(text, str):
            raise McpServerError(
                f"parameters.{name}: a description must be a string, not {type(text).__name__}", "parameters"
            )
        if len(text) > MAX_DESCRIPTION_CHARS:
            raise McpServerError(
                f"parameters.{name}: {len(text)} characters; at most {MAX_DESCRIPTION_CHARS} are kept", "parameters"
            )
        checked[name] = text
    return checked


class McpServers:
    """The MCP servers of workspace ``tenant_id``'s apps; another workspace's app is not found."""

    def __init__(self, db: Database, tenant_id: str) -> None:
        self.db = db
        self.tenant_id = tenant_id

    async def get(self, app_id: str) -> McpServerView | None:
        """The app's server, on or off; None if it was never switched on."""
        async with self.db.session() as session:
            await self._app(session, app_id)
            row = await self._row(session, app_id)
            return McpServerView.of(row) if row is not None else None

    async def by_id(self, server_id: str) -> McpServerView:
        """The server ``server_id`` of one of the workspace's apps."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(AppMcpServer).where(AppMcpServer.id == server_id, AppMcpServer.tenant_id == self.tenant_id)
            )
            if row is None:
                raise AppNotFound("MCP server", server_id)
            return McpServerView.of(row)

    async def enable(
        self,
        app_id: str,
        *,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        require_api_key: bool | None = None,
    ) -> McpServerView:
        """Switch the app's server on (made on first use, with a new code); the settings given
        replace the stored ones."""
        return await self.update(
            app_id, description=description, parameters=parameters, require_api_key=require_api_key, status="active"
        )

    async def disable(self, app_id: str) -> McpServerView:
        """Switch the server off: its URL answers 404 until it is switched on again."""
        return await self.update(app_id, status="inactive")

    async def update(
        self,
        app_id: str,
        *,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        require_api_key: bool | None = None,
        status: str | None = None,
    ) -> McpServerView:
        """Change the server's settings; a server never switched on is made (off unless ``status``
        says ``active``)."""
        if status is not None and status not in ("active", "inactive"):
            raise McpServerError(f"status must be 'active' or 'inactive', not {status!r}", "status")
        checked_description = _checked_description(description) if description is not None else None
        checked_parameters = _checked_parameters(parameters) if parameters is not None else None
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            if status == "active":
                await self._check_servable(session, app)
            row = await self._row(session, app_id)
            if row is None:
                row = AppMcpServer(
                    tenant_id=self.tenant_id, app_id=app.id, server_code=_new_code(), status="inactive",
                    description="", parameters={}, require_api_key=False,
                )
                session.add(row)
            if status is not None:
                row.status = status
            if checked_description is not None:
                row.description = checked_description
            if checked_parameters is not None:
                row.parameters = checked_parameters
            if require_api_key is not None:
                row.require_api_key = require_api_key
            await session.flush()
            return McpServerView.of(row)

    async def regenerate(self, app_id: str) -> McpServerView:
        """Give the server a new code: the old URL stops working at once."""
        async with self.db.session() as session:
            await self._app(session, app_id)
            row = await self._row(session, app_id)
            if row is None:
                raise McpServerError(
                    f"app {app_id!r} has no MCP server to regenerate: switch it on first (--enable)", "app_id"
                )
            row.server_code = _new_code()
            await session.flush()
            return McpServerView.of(row)

    # -- helpers -----------------------------------------------------------------------------------

    async def _app(self, session: AsyncSession, app_id: str) -> App:
        app = await session.scalar(select(App).where(App.id == app_id, App.tenant_id == self.tenant_id))
        if app is None:
            raise AppNotFound("app", app_id)
        return app

    @staticmethod
    async def _row(session: AsyncSession, app_id: str) -> AppMcpServer | None:
        row: AppMcpServer | None = await session.scalar(select(AppMcpServer).where(AppMcpServer.app_id == app_id))
        return row

    @staticmethod
    async def _check_servable(session: AsyncSession, app: App) -> None:
        """Workflows must begin with a User Input node: a trigger-started one takes no arguments."""
        if app.mode != "workflow":
            return
        chosen = (
            select(Workflow).where(Workflow.id == app.workflow_id)
            if app.workflow_id
            else select(Workflow).where(Workflow.app_id == app.id, Workflow.version == DRAFT)
        )
        workflow = await session.scalar(chosen)
        nodes = (workflow.graph or {}).get("nodes") if workflow is not None else None
        types = {
            str((node.get("data") or {}).get("type", ""))
            for node in nodes or []
            if isinstance(node, Mapping) and not node.get("parentId")
        }
        if "start" not in types:
            triggers = sorted(t for t in types if t.startswith(_TRIGGER_PREFIX))
            started_by = f"a trigger ({', '.join(triggers)})" if triggers else "no User Input node"
            raise McpServerError(
                f"app {app.id!r} starts with {started_by}: only workflows that begin with a User Input (Start) "
                "node can be MCP servers",
                "app_id",
            )


async def server_by_code(db: Database, server_code: str) -> tuple[McpServerView, App] | None:
    """The active server with this code and its app (detached), or None (unknown code, or switched
    off). Read on every MCP request, as one step (:meth:`Database.read`)."""

    def look(connection: Connection) -> tuple[McpServerView, App] | None:
        with Session(bind=connection) as session:
            found = session.execute(
                select(AppMcpServer, App)
                .join(App, App.id == AppMcpServer.app_id)
                .where(AppMcpServer.server_code == server_code, AppMcpServer.status == "active")
            ).first()
            if found is None:
                return None
            row, app = found
            session.expunge(app)
            return McpServerView.of(row), app

    return await db.read(look)
