"""Where a workspace's MCP servers are kept (WS-MCP-CLIENT): URL, headers, OAuth authorization, the
tools last listed and the per-tool settings.

A small port (:class:`McpServerStore`) with two implementations, like the custom tools' store:
:class:`MemoryMcpServerStore` for tests and single-process use, and :class:`SQLiteMcpServerStore`, a
table of the ``tools.db`` file whose headers (API keys, bearer tokens) and OAuth secrets (the
registered client, the tokens, a pending PKCE verifier) are stored encrypted with the workspace
secrets cipher, bound to the server's id, and everything else in the clear.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..models.encryption import SecretCipher
from .local_stores import KeyedMemoryStore, LazySQLiteFile

__all__ = [
    "McpOAuth",
    "McpServer",
    "McpServerStore",
    "McpToolSettings",
    "MemoryMcpServerStore",
    "SQLiteMcpServerStore",
]


@dataclass(frozen=True)
class McpToolSettings:
    """How the workspace uses one tool of a server: its ``description`` shown to models instead of
    the server's ("" keeps it), and ``fixed`` parameters, set to a value the model neither sees nor
    fills (the others are Auto: the model fills them)."""

    description: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"description": self.description, "fixed": dict(self.fixed)}

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> McpToolSettings:
        return cls(str(data.get("description") or ""), dict(data.get("fixed") or {}))


@dataclass(frozen=True)
class McpOAuth:
    """A server's OAuth authorization (the MCP authorization spec), kept between the steps of the flow
    and across calls.

    ``client`` is the client registered with the authorization server (RFC 7591, with its secret if
    it has one), ``metadata`` the authorization server's metadata (RFC 8414) and ``resource`` what
    tokens are asked for (RFC 8707). ``tokens`` are the token endpoint's answer (``access_token``,
    ``refresh_token`` ...), ``expires_at`` when the access token expires (0: it did not say). While a
    sign-in is under way, ``state_hash`` is the SHA-256 of the state the callback must carry (so the
    state itself is never stored), ``code_verifier`` the PKCE verifier, ``redirect_uri`` where the
    browser comes back and ``started_at`` when it began. ``client``, ``tokens`` and ``code_verifier``
    are the secrets.
    """

    client: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    resource: str = ""
    tokens: Mapping[str, Any] = field(default_factory=dict)
    expires_at: float = 0.0
    state_hash: str = ""
    code_verifier: str = ""
    redirect_uri: str = ""
    started_at: float = 0.0

    @property
    def access_token(self) -> str:
        return str(self.tokens.get("access_token") or "")

    @property
    def refresh_token(self) -> str:
        return str(self.tokens.get("refresh_token") or "")

    def secrets(self) -> dict[str, Any]:
        """What is stored encrypted."""
        return {"client": dict(self.client), "tokens": dict(self.tokens), "code_verifier": self.code_verifier}

    def plain(self) -> dict[str, Any]:
        """What is stored in the clear (the state's hash has a column of its own)."""
        return {"metadata": dict(self.metadata), "resource": self.resource, "expires_at": self.expires_at,
                "redirect_uri": self.redirect_uri, "started_at": self.started_at}


@dataclass(frozen=True)
class McpServer:
    """An MCP server of a workspace, as stored.

    ``server_id`` (the Server ID: lowercase letters, digits, ``_`` and ``-``, at most 24 characters)
    is what apps reference (a DSL's ``provider_id``/``provider_name`` of ``provider_type`` ``mcp``)
    and never changes; ``id`` is the record's own id. ``tools`` are the server's tools as it last
    listed them (MCP ``Tool`` objects as JSON), ``transport`` the one they were listed over, and
    ``error`` why the last listing failed ("" when it worked): the console's "Unconfigured Server".
    ``needs_authorization`` is set when the server answered 401 (or refused to refresh its token)
    until a sign-in succeeds; ``oauth`` is that sign-in.
    """

    tenant_id: str
    id: str
    server_id: str
    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    icon: str = ""
    #: ``auto`` (streamable HTTP, then SSE), ``streamable_http`` or ``sse``.
    transport: str = "auto"
    timeout: float = 30.0
    sse_read_timeout: float = 300.0
    tools: tuple[Mapping[str, Any], ...] = ()
    #: The transport the server answered on when its tools were last listed ("" before).
    connected_over: str = ""
    error: str = ""
    tool_settings: Mapping[str, McpToolSettings] = field(default_factory=dict)
    needs_authorization: bool = False
    oauth: McpOAuth = field(default_factory=McpOAuth)
    updated_at: float = 0.0


class McpServerStore(Protocol):
    """MCP servers by workspace and server id."""

    async def get(self, tenant_id: str, server_id: str) -> McpServer | None:
        """The server ``server_id``, or None."""

    async def servers(self, tenant_id: str) -> list[McpServer]:
        """Every server of the workspace, by server id."""

    async def save(self, server: McpServer) -> None:
        """Create the server, or replace the one of the same workspace and server id."""

    async def delete(self, tenant_id: str, server_id: str) -> bool:
        """Remove the server; False if there was none."""

    async def by_oauth_state(self, state_hash: str) -> McpServer | None:
        """The server, of whichever workspace, whose sign-in under way has ``oauth.state_hash``, or None."""


class MemoryMcpServerStore(KeyedMemoryStore[McpServer]):
    """Servers in a dict, by Server ID: gone when the process ends."""

    def __init__(self) -> None:
        super().__init__(lambda server: server.server_id)

    async def servers(self, tenant_id: str) -> list[McpServer]:
        return self.all_of(tenant_id)

    async def by_oauth_state(self, state_hash: str) -> McpServer | None:
        if not state_hash:
            return None
        return next((s for s in self.every() if s.oauth.state_hash == state_hash), None)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS mcp_tool_servers (
    tenant_id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    id TEXT NOT NULL,
    settings TEXT NOT NULL,
    headers TEXT NOT NULL,
    updated_at REAL NOT NULL,
    oauth TEXT NOT NULL DEFAULT '',
    oauth_state TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, server_id)
)
"""
#: Columns a ``tools.db`` made before OAuth lacks, added on first use.
_ADDED = ("oauth", "oauth_state")
_COLUMNS = "tenant_id, server_id, id, settings, headers, updated_at, oauth, oauth_state"
#: The fields kept in the clear, as one JSON object.
_SETTINGS = (
    "name", "url", "icon", "transport", "timeout", "sse_read_timeout", "connected_over", "error",
    "needs_authorization",
)


def _prepare(db: sqlite3.Connection) -> None:
    """The table, with the columns a ``tools.db`` made before OAuth lacks added."""
    db.execute(_SCHEMA)
    present = {row[1] for row in db.execute("PRAGMA table_info(mcp_tool_servers)")}
    for column in _ADDED:
        if column not in present:
            db.execute(f"ALTER TABLE mcp_tool_servers ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")


class SQLiteMcpServerStore:
    """Servers in a SQLite file; their headers are stored encrypted by ``cipher``, never in the clear."""

    @staticmethod
    def _context(record_id: str, part: str = "headers") -> str:
        # Binds stored secrets to their server: copied into another row, they do not decrypt.
        return f"mcp_tool_server/{record_id}/{part}"

    def __init__(self, path: str | Path, cipher: SecretCipher) -> None:
        self.file = LazySQLiteFile(path, _prepare)
        self.cipher = cipher

    def _row(self, row: tuple[Any, ...]) -> McpServer:
        tenant_id, server_id, record_id, settings, headers, updated_at, oauth, oauth_state = row
        data = json.loads(settings)
        plain = json.loads(self.cipher.decrypt(tenant_id, headers, context=self._context(record_id))) if headers else {}
        tool_settings = {name: McpToolSettings.of(value) for name, value in (data.get("tool_settings") or {}).items()}
        sealed = {}
        if oauth:
            sealed = json.loads(self.cipher.decrypt(tenant_id, oauth, context=self._context(record_id, "oauth")))
        clear = data.get("oauth") or {}
        authorization = McpOAuth(
            client=sealed.get("client") or {},
            metadata=clear.get("metadata") or {},
            resource=str(clear.get("resource") or ""),
            tokens=sealed.get("tokens") or {},
            expires_at=float(clear.get("expires_at") or 0.0),
            state_hash=oauth_state,
            code_verifier=str(sealed.get("code_verifier") or ""),
            redirect_uri=str(clear.get("redirect_uri") or ""),
            started_at=float(clear.get("started_at") or 0.0),
        )
        return McpServer(
            tenant_id=tenant_id,
            id=record_id,
            server_id=server_id,
            headers=plain,
            tools=tuple(data.get("tools") or ()),
            tool_settings=tool_settings,
            oauth=authorization,
            updated_at=updated_at,
            **{key: data[key] for key in _SETTINGS if key in data},
        )

    def _query(self, where: str, *args: str) -> list[McpServer]:
        with self.file.connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM mcp_tool_servers WHERE {where} ORDER BY server_id", args)
            return [self._row(row) for row in rows.fetchall()]

    def _save(self, server: McpServer) -> None:
        data: dict[str, Any] = {key: getattr(server, key) for key in _SETTINGS}
        data["tools"] = list(server.tools)
        data["tool_settings"] = {name: value.as_dict() for name, value in server.tool_settings.items()}
        data["oauth"] = server.oauth.plain()
        sealed = ""
        if server.headers:
            text = json.dumps(dict(server.headers))
            sealed = self.cipher.encrypt(server.tenant_id, text, context=self._context(server.id))
        secrets = server.oauth.secrets()
        sealed_oauth = ""
        if any(secrets.values()):
            sealed_oauth = self.cipher.encrypt(
                server.tenant_id, json.dumps(secrets), context=self._context(server.id, "oauth")
            )
        row = (server.tenant_id, server.server_id, server.id, json.dumps(data), sealed, time.time(), sealed_oauth,
               server.oauth.state_hash)
        with self.file.connect() as db:
            db.execute(f"INSERT OR REPLACE INTO mcp_tool_servers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def _delete(self, tenant_id: str, server_id: str) -> bool:
        with self.file.connect() as db:
            cursor = db.execute(
                "DELETE FROM mcp_tool_servers WHERE tenant_id = ? AND server_id = ?", (tenant_id, server_id)
            )
        return cursor.rowcount > 0

    # A local file answers in milliseconds; a worker thread keeps even a slow disk off the event loop.

    async def get(self, tenant_id: str, server_id: str) -> McpServer | None:
        found = await asyncio.to_thread(self._query, "tenant_id = ? AND server_id = ?", tenant_id, server_id)
        return found[0] if found else None

    async def servers(self, tenant_id: str) -> list[McpServer]:
        return await asyncio.to_thread(self._query, "tenant_id = ?", tenant_id)

    async def save(self, server: McpServer) -> None:
        await asyncio.to_thread(self._save, server)

    async def delete(self, tenant_id: str, server_id: str) -> bool:
        return await asyncio.to_thread(self._delete, tenant_id, server_id)

    async def by_oauth_state(self, state_hash: str) -> McpServer | None:
        if not state_hash:
            return None
        found = await asyncio.to_thread(self._query, "oauth_state = ?", state_hash)
        return found[0] if found else None
