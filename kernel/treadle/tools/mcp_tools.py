"""MCP client tools (``provider_type`` ``mcp``, WS-MCP-CLIENT): the tools of a workspace's MCP servers,
grouped by server, usable by tool nodes and agents.

The kernel keeps the servers (:mod:`treadle.tools.mcp_store`): a Server ID that apps reference and
that never changes, the URL, headers (encrypted), the tools as the server last listed them, and per
tool a description override and the parameters fixed to a value. Every connection to a server is
made by the ``mcp_client`` tool provider of the ``treadle-plugin-mcp-tools`` plugin, in a plugin host
behind the SSRF guard, so the kernel makes no outbound HTTP itself: ``list_tools`` when a server is
added, changed or refreshed, ``call_tool`` for every call.

A server that answers 401 is kept as needing authorization. Signing in to it is OAuth as the MCP
authorization spec has it: :meth:`McpTools.start_authorization` has the plugin discover the
authorization server, register a client and build the authorization URL (PKCE, and a state whose
hash is kept with the server); :meth:`McpTools.complete_authorization`, called with the code and state
the browser brings back to the redirect URI, has it exchange the code for tokens, stored sealed, and
lists the tools. Calls then send ``Authorization: Bearer``; an access token that expired (by its
``expires_in``, or answered 401) is refreshed once, and a refused refresh sets the server back to
needing authorization.

A DSL names an MCP tool with ``provider_type: mcp``, ``provider_id`` (or ``provider_name``) the
Server ID and ``tool_name`` the server's tool name. Install it on a supervisor's tool manager::

    mcp_tools = McpTools(supervisor.invoke, MemoryMcpServerStore())
    supervisor.tools.add_source("mcp", mcp_tools)
    await mcp_tools.add_server("tenant-1", "weather", "Weather", "https://weather.example/mcp")
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from treadle_sdk.errors import PluginError, PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import validate_tool_parameters
from treadle_sdk.schemas import NAME_PATTERN, ToolParameter, ToolParameterOption, ToolParameterType, ToolSchema

from ..models.errors import scrubbed
from ..models.vault import mask
from .errors import McpAuthorizationError, McpServerError
from .manager import InvokeFn, jsonable
from .mcp_store import McpOAuth, McpServer, McpServerStore, McpToolSettings, MemoryMcpServerStore

__all__ = ["AUTHORIZATION_TTL", "CLIENT_PROVIDER", "SERVER_ID_PATTERN", "TRANSPORTS", "McpTools", "tool_schema"]

#: The plugin tool provider that speaks MCP.
CLIENT_PROVIDER = "mcp_client"

#: A Server ID: lowercase letters, digits, ``_`` and ``-``, 1 to 24 characters.
SERVER_ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,24}$")

#: How a server is reached: ``auto`` tries streamable HTTP, then SSE.
TRANSPORTS = ("auto", "streamable_http", "sse")

#: Seconds an authorization URL stays usable: signing in takes minutes, not hours.
AUTHORIZATION_TTL = 600.0

#: An access token this close (in seconds) to its expiry is refreshed before a call, not sent to be refused.
_EXPIRY_MARGIN = 30.0

_NOT_FOUND = "ToolProviderNotFoundError"
_AUTH_ERROR = McpAuthorizationError.error_type


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _expiry(tokens: Mapping[str, Any]) -> float:
    """When an access token expires, from its ``expires_in`` (0: it did not say)."""
    expires_in = tokens.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        return time.time() + float(expires_in)
    return 0.0


def _auth_failure(exc: PluginError) -> bool:
    return exc.details.get("error_type") == _AUTH_ERROR


def _check_server_id(server_id: str) -> str:
    if not isinstance(server_id, str) or not SERVER_ID_PATTERN.match(server_id):
        raise McpServerError(
            f"{str(server_id)[:40]!r} is not a usable Server ID: use 1 to 24 lowercase letters, digits, "
            "'_' or '-'",
            field="server_identifier",
        )
    return server_id


def _check_settings(name: str, url: str, transport: str, timeout: float, sse_read_timeout: float) -> None:
    if not name.strip() or len(name) > 128 or any(ord(ch) < 32 for ch in name):
        raise McpServerError(
            f"{name[:140]!r} is not a usable server name: 1 to 128 characters, no control characters", field="name"
        )
    if not re.match(r"^https?://[^\s/?#]+", url) or any(ch.isspace() for ch in url):
        raise McpServerError(f"{url[:200]!r} is not an http(s) URL", field="server_url")
    if transport not in TRANSPORTS:
        raise McpServerError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}", field="transport")
    for field_name, value in (("timeout", timeout), ("sse_read_timeout", sse_read_timeout)):
        if not 0 < value <= 3600:
            raise McpServerError(
                f"{field_name} must be more than 0 and at most 3600 seconds, not {value}", field=field_name
            )


def _check_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise McpServerError("headers must map header names to strings", field="headers")
        if not name or any(ch in name for ch in "\r\n\0: ") or any(ch in value for ch in "\r\n\0"):
            raise McpServerError(f"header {name!r} has a space, colon, line break or NUL where none may be",
                                 field="headers")
        checked[name] = value
    return checked


# -- JSON Schema of an MCP tool's input → tool parameters ---------------------------------------------


def _resolve(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/...``) followed, and an optional value's
    ``anyOf: [X, null]`` read as X."""
    if not isinstance(schema, Mapping):
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 8:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return _resolve(target, root, depth + 1)
    for combinator in ("anyOf", "oneOf"):
        members = schema.get(combinator)
        if isinstance(members, list) and depth < 8:
            real = [m for m in members if not (isinstance(m, Mapping) and m.get("type") == "null")]
            if len(real) == 1:
                return {**_resolve(real[0], root, depth + 1), **{k: v for k, v in schema.items() if k != combinator}}
    return schema


def _json_type(schema: Mapping[str, Any]) -> str | None:
    declared = schema.get("type")
    if isinstance(declared, list):
        kinds = [t for t in declared if t != "null"]
        declared = kinds[0] if len(kinds) == 1 else None
    if isinstance(declared, str):
        return declared
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        return "string"
    return None


_KINDS = {
    "integer": ToolParameterType.NUMBER,
    "number": ToolParameterType.NUMBER,
    "boolean": ToolParameterType.BOOLEAN,
    "string": ToolParameterType.STRING,
    "object": ToolParameterType.OBJECT,
    "array": ToolParameterType.ARRAY,
}


def _parameter(name: str, schema: Mapping[str, Any], required: bool) -> ToolParameter:
    json_type = _json_type(schema)
    kind = _KINDS.get(json_type or "", ToolParameterType.ANY)
    enum = schema.get("enum")
    options: list[ToolParameterOption] = []
    if kind == ToolParameterType.STRING and isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        kind = ToolParameterType.SELECT
        options = [ToolParameterOption(value=v, label=v) for v in enum]
    description = str(schema.get("description") or schema.get("title") or "")
    extra: dict[str, Any] = {}
    if kind == ToolParameterType.NUMBER:
        extra = {
            key: float(schema[source])
            for key, source in (("min", "minimum"), ("max", "maximum"))
            if isinstance(schema.get(source), int | float) and not isinstance(schema.get(source), bool)
        }
        if json_type == "integer":
            extra["precision"] = 0
    default = schema.get("default")
    if kind == ToolParameterType.SELECT and default not in (None, "") and default not in [o.value for o in options]:
        default = None
    return ToolParameter(
        name=name,
        type=kind,
        label=str(schema.get("title") or name),
        required=required,
        default=default,
        options=options,
        human_description=description or None,
        llm_description=description or name,
        **extra,
    )


def _schema_name(name: str) -> str:
    """A tool name as a tool schema may hold it: MCP allows ``.`` and ``/``, which become ``_``."""
    if NAME_PATTERN.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name).lstrip("_-")[:128]
    return cleaned or "tool"


def tool_schema(tool: Mapping[str, Any], settings: McpToolSettings | None = None) -> ToolSchema:
    """The tool schema of an MCP tool (as ``tools/list`` gives it): its input schema's properties as
    parameters, objects and arrays as JSON values; with ``settings``, the description overridden and
    the fixed parameters left out (the model does not fill them)."""
    settings = settings or McpToolSettings()
    name = str(tool.get("name") or "")
    input_schema = tool.get("inputSchema") if isinstance(tool.get("inputSchema"), Mapping) else {}
    assert isinstance(input_schema, Mapping)
    properties = input_schema.get("properties") if isinstance(input_schema.get("properties"), Mapping) else {}
    assert isinstance(properties, Mapping)
    required = set(input_schema.get("required") or ())
    parameters = [
        _parameter(str(key), _resolve(value, input_schema), key in required)
        for key, value in properties.items()
        if key not in settings.fixed
    ]
    description = settings.description or str(tool.get("description") or "")
    return ToolSchema(
        name=_schema_name(name),
        label=str(tool.get("title") or name),
        description=description or name,
        llm_description=description,
        parameters=parameters,
    )


class McpTools:
    """The ``mcp`` tool source: MCP servers by workspace.

    :param invoke: how the ``mcp_client`` plugin tool is invoked (``PluginSupervisor.invoke``).
    :param store: where servers are kept (in memory by default).
    """

    def __init__(self, invoke: InvokeFn, store: McpServerStore | None = None) -> None:
        self._invoke = invoke
        self.store: McpServerStore = store if store is not None else MemoryMcpServerStore()
        #: One refresh at a time per server: a rotated refresh token works once.
        self._refreshing: dict[tuple[str, str], asyncio.Lock] = {}

    # -- managing servers -------------------------------------------------------------------------

    async def add_server(
        self,
        tenant_id: str,
        server_id: str,
        name: str,
        url: str,
        *,
        headers: Mapping[str, Any] | None = None,
        icon: str = "",
        transport: str = "auto",
        timeout: float = 30.0,
        sse_read_timeout: float = 300.0,
        depth: int = 0,
    ) -> McpServer:
        """Add the server ``server_id`` to the workspace, then connect and list its tools.

        Raises :class:`McpServerError` naming the field for a bad Server ID (uppercase, longer than
        24 characters ...), name, URL or header, and for a Server ID or name the workspace already
        has. A server that cannot be listed is kept all the same, with its ``error`` (the console's
        "Unconfigured Server"), as Dify does: :meth:`refresh` tries again.
        """
        _check_server_id(server_id)
        _check_settings(name, url, transport, timeout, sse_read_timeout)
        checked = _check_headers(headers or {})
        for existing in await self.store.servers(tenant_id):
            if existing.server_id == server_id:
                raise McpServerError(
                    f"this workspace already has an MCP server with the Server ID {server_id!r} ({existing.name!r})",
                    field="server_identifier",
                )
            if existing.name == name:
                raise McpServerError(
                    f"this workspace already has an MCP server named {name!r} (Server ID {existing.server_id!r})",
                    field="name",
                )
        server = McpServer(
            tenant_id=tenant_id,
            id=str(uuid.uuid4()),
            server_id=server_id,
            name=name,
            url=url,
            headers=checked,
            icon=icon,
            transport=transport,
            timeout=timeout,
            sse_read_timeout=sse_read_timeout,
        )
        await self.store.save(server)
        return await self._list(server, depth, keep_failure=True)

    async def update_server(
        self,
        tenant_id: str,
        server: str,
        *,
        server_id: str | None = None,
        name: str | None = None,
        url: str | None = None,
        headers: Mapping[str, Any] | None = None,
        icon: str | None = None,
        transport: str | None = None,
        timeout: float | None = None,
        sse_read_timeout: float | None = None,
        depth: int = 0,
    ) -> McpServer:
        """Change what is given of a server (by Server ID or id), everything but its Server ID: a
        different ``server_id`` is refused, since apps reference it. A new URL, headers or transport
        lists the tools again (keeping the server, with its ``error``, if that fails). A new URL drops
        the server's OAuth authorization: its tokens are for the old one."""
        found = await self.server(tenant_id, server)
        if server_id is not None and server_id != found.server_id:
            raise McpServerError(
                f"the Server ID of {found.name!r} is {found.server_id!r} and cannot be changed (apps reference it); "
                "add a new server instead",
                field="server_identifier",
            )
        changed = replace(
            found,
            name=found.name if name is None else name,
            url=found.url if url is None else url,
            headers=found.headers if headers is None else _check_headers(headers),
            icon=found.icon if icon is None else icon,
            transport=found.transport if transport is None else transport,
            timeout=found.timeout if timeout is None else timeout,
            sse_read_timeout=found.sse_read_timeout if sse_read_timeout is None else sse_read_timeout,
        )
        if changed.url != found.url:
            changed = replace(changed, oauth=McpOAuth(), needs_authorization=False)
        _check_settings(changed.name, changed.url, changed.transport, changed.timeout, changed.sse_read_timeout)
        if changed.name != found.name:
            for other in await self.store.servers(tenant_id):
                if other.name == changed.name and other.server_id != found.server_id:
                    raise McpServerError(
                        f"this workspace already has an MCP server named {changed.name!r} "
                        f"(Server ID {other.server_id!r})",
                        field="name",
                    )
        await self.store.save(changed)
        reach = (changed.url, dict(changed.headers), changed.transport)
        if reach != (found.url, dict(found.headers), found.transport):
            return await self._list(replace(changed, connected_over=""), depth, keep_failure=True)
        return await self._saved(changed)

    async def remove_server(self, tenant_id: str, server: str) -> None:
        """Remove a server (by Server ID or id); apps using its tools then fail to find them."""
        found = await self.server(tenant_id, server)
        await self.store.delete(tenant_id, found.server_id)

    async def refresh(self, tenant_id: str, server: str, *, depth: int = 0) -> McpServer:
        """Connect to a server (by Server ID or id) and list its tools again ("Update Tools").
        A failure is kept as the server's ``error`` and raised."""
        return await self._list(await self.server(tenant_id, server), depth, keep_failure=False)

    # -- OAuth ------------------------------------------------------------------------------------

    async def start_authorization(self, tenant_id: str, server: str, redirect_uri: str, *, depth: int = 0) -> str:
        """Start signing in to a server (by Server ID or id) with OAuth ("Re-authorize") and return the
        authorization URL to open in a browser, which comes back to ``redirect_uri`` with a code and
        the state for :meth:`complete_authorization`.

        The plugin discovers the authorization server and registers a client unless the server keeps
        one registered for ``redirect_uri``; the PKCE verifier and the state's hash are kept with the
        server (the verifier sealed) for :data:`AUTHORIZATION_TTL` seconds. Tokens it already has keep
        working until the sign-in completes. Raises :class:`McpServerError` when the server does not
        use OAuth, or its authorization server cannot be found or refuses to register a client.
        """
        found = await self.server(tenant_id, server)
        if not re.match(r"^https?://[^\s/?#]+", redirect_uri) or any(ch.isspace() for ch in redirect_uri):
            raise McpServerError(f"{redirect_uri[:200]!r} is not an http(s) URL", field="redirect_uri")
        state = secrets.token_urlsafe(32)
        parameters = {**self._reach(found), "redirect_uri": redirect_uri, "state": state, "client_name": "Treadle"}
        credentials = {"headers": dict(found.headers), "client": dict(found.oauth.client)}
        try:
            answer = await self._answer(found, "oauth_authorize", parameters, credentials, depth)
        except PluginError as exc:
            raise McpServerError(
                f"cannot start the authorization of MCP server {found.server_id!r}: {exc.message}", field="server_url"
            ) from None
        latest = await self.server(tenant_id, found.server_id)
        pending = replace(
            latest.oauth,
            client=answer.get("client") or {},
            metadata=answer.get("metadata") or {},
            resource=str(answer.get("resource") or ""),
            state_hash=_state_hash(state),
            code_verifier=str(answer.get("code_verifier") or ""),
            redirect_uri=redirect_uri,
            started_at=time.time(),
        )
        await self.store.save(replace(latest, oauth=pending))
        return str(answer["authorization_url"])

    async def complete_authorization(self, state: str, code: str, *, error: str = "", depth: int = 0) -> McpServer:
        """Finish the sign-in whose ``state`` the browser brought back to the redirect URI: exchange
        ``code`` for tokens (stored sealed), then list the server's tools, and return the server.

        ``state`` alone says which server of which workspace: it matches the hash kept by
        :meth:`start_authorization`, once. ``error`` is the authorization server's refusal, when it
        sent one instead of a code. Raises :class:`McpServerError` (``field`` ``state``) for a state
        that matches no sign-in under way or is older than :data:`AUTHORIZATION_TTL`, and for a
        refusal or a code the token endpoint does not take.
        """
        found = await self.store.by_oauth_state(_state_hash(state)) if state else None
        if found is None:
            raise McpServerError(
                "the state of this OAuth callback matches no MCP server authorization under way: it was used "
                "already, replaced by a newer sign-in or never issued; start the authorization again",
                field="state",
            )
        oauth = found.oauth
        ended = replace(found, oauth=replace(oauth, state_hash="", code_verifier="", redirect_uri="", started_at=0.0))
        started = f"the authorization of MCP server {found.server_id!r} ({found.name})"
        if time.time() - oauth.started_at > AUTHORIZATION_TTL:
            await self.store.save(ended)
            raise McpServerError(f"{started} began more than {int(AUTHORIZATION_TTL // 60)} minutes ago; "
                                 "start it again", field="state")
        if error or not code:
            await self.store.save(ended)
            why = f"the authorization server answered {error[:200]!r}" if error else "the callback carries no code"
            raise McpServerError(f"{started} did not complete: {why}; start it again", field="code")
        parameters = {
            "server_url": found.url, "grant_type": "authorization_code", "metadata": dict(oauth.metadata),
            "resource": oauth.resource, "redirect_uri": oauth.redirect_uri, "timeout": found.timeout,
        }
        credentials = {"client": dict(oauth.client), "code": code, "code_verifier": oauth.code_verifier}
        try:
            tokens = await self._answer(found, "oauth_token", parameters, credentials, depth)
        except PluginError as exc:
            await self.store.save(ended)
            raise McpServerError(f"{started} did not complete: {exc.message}", field="code") from None
        authorized = replace(
            ended, oauth=replace(ended.oauth, tokens=tokens, expires_at=_expiry(tokens)), needs_authorization=False
        )
        await self.store.save(authorized)
        return await self._list(authorized, depth, keep_failure=True)

    async def set_tool_settings(
        self, tenant_id: str, server: str, tool: str, *, description: str = "", fixed: Mapping[str, Any] | None = None
    ) -> McpServer:
        """Override the description of one tool of a server and fix some of its parameters to a value
        (the others stay Auto: the model fills them). Fixed values are checked against the tool's
        parameters."""
        found = await self.server(tenant_id, server)
        listed = self._tool(found, tool)
        fixed = dict(fixed or {})
        full = tool_schema(listed)
        known = {p.name for p in full.parameters}
        unknown = sorted(set(fixed) - known)
        if unknown:
            raise McpServerError(
                f"tool {tool!r} of MCP server {found.server_id!r} has no parameter(s) {', '.join(map(repr, unknown))} "
                f"(parameters: {', '.join(sorted(known)) or 'none'})",
                field="fixed",
            )
        try:
            only_fixed = full.model_copy(update={"parameters": [p for p in full.parameters if p.name in fixed]})
            fixed = validate_tool_parameters(only_fixed, fixed)
        except PluginInvalidArgument as exc:
            raise McpServerError(exc.message, field="fixed") from None
        settings = dict(found.tool_settings)
        settings[str(listed["name"])] = McpToolSettings(description, fixed)
        return await self._saved(replace(found, tool_settings=settings))

    async def servers(self, tenant_id: str) -> list[McpServer]:
        """The workspace's MCP servers, by Server ID."""
        return await self.store.servers(tenant_id)

    async def server(self, tenant_id: str, server: str) -> McpServer:
        """The server whose Server ID is ``server``, or whose record id it is."""
        found = await self.store.get(tenant_id, server)
        if found is not None:
            return found
        every = await self.store.servers(tenant_id)
        for candidate in every:
            if candidate.id == server:
                return candidate
        raise PluginNotFound(
            f"the workspace has no MCP server {server!r} (Server IDs: "
            f"{', '.join(s.server_id for s in every) or 'none'}); add it with the same Server ID",
            details={"provider": server, "provider_type": "mcp", "error_type": _NOT_FOUND},
        )

    def schemas(self, server: McpServer) -> list[ToolSchema]:
        """The tools of ``server`` as tools of this platform, with the workspace's settings applied."""
        return [tool_schema(tool, server.tool_settings.get(str(tool.get("name")))) for tool in server.tools]

    def view(self, server: McpServer) -> dict[str, Any]:
        """A server as the console and the CLI show it (Dify's MCP provider shape): header values and
        the URL's query masked, its tools grouped under it ("Weather » forecast") with their settings.
        ``is_team_authorization`` is false for an "Unconfigured Server", whose ``error`` says why;
        ``authorization`` is ``required`` (it answered 401), ``pending`` (a sign-in is under way),
        ``authorized`` (it has OAuth tokens) or ``none``."""
        url, _, query = server.url.partition("?")
        tools = []
        for listed, schema in zip(server.tools, self.schemas(server), strict=True):
            name = str(listed.get("name"))
            settings = server.tool_settings.get(name, McpToolSettings())
            tools.append({
                "name": name,
                "label": f"{server.name} » {listed.get('title') or name}",
                "description": schema.llm_description,
                "parameters": [p.model_dump(mode="json", exclude_none=True) for p in schema.parameters],
                "input_schema": listed.get("inputSchema") or {},
                "settings": settings.as_dict(),
            })
        return {
            "id": server.id,
            "server_identifier": server.server_id,
            "provider_id": server.server_id,
            "name": server.name,
            "label": {"en_US": server.name},
            "type": "mcp",
            "icon": server.icon,
            "server_url": f"{url}?{mask(query)}" if query else url,
            "headers": {key: mask(value) for key, value in server.headers.items()},
            "transport": server.transport,
            "connected_over": server.connected_over,
            "configuration": {"timeout": server.timeout, "sse_read_timeout": server.sse_read_timeout},
            "is_team_authorization": not server.error and bool(server.connected_over),
            "authorization": self._authorization(server),
            "error": server.error,
            "updated_at": int(server.updated_at),
            "tools": tools,
        }

    @staticmethod
    def _authorization(server: McpServer) -> str:
        if server.oauth.state_hash and time.time() - server.oauth.started_at <= AUTHORIZATION_TTL:
            return "pending"
        if server.needs_authorization:
            return "required"
        return "authorized" if server.oauth.access_token else "none"

    # -- the tool source --------------------------------------------------------------------------

    async def describe(self, tenant_id: str, provider: str, tool: str) -> ToolSchema:
        found = await self.server(tenant_id, provider)
        listed = self._tool(found, tool)
        return tool_schema(listed, found.tool_settings.get(str(listed["name"])))

    async def invoke(
        self, tenant_id: str, provider: str, tool: str, parameters: dict[str, Any], *, depth: int
    ) -> AsyncIterator[Any]:
        found = await self.server(tenant_id, provider)
        listed = self._tool(found, tool)
        name = str(listed["name"])
        settings = found.tool_settings.get(name, McpToolSettings())
        arguments = {**validate_tool_parameters(tool_schema(listed, settings), parameters), **settings.fixed}
        call = {"tool": name, "arguments": arguments}
        async for message in self._client(found, "call_tool", call, depth):
            yield message

    # -- the plugin tool --------------------------------------------------------------------------

    def _tool(self, server: McpServer, tool: str) -> Mapping[str, Any]:
        for listed in server.tools:
            if listed.get("name") == tool or _schema_name(str(listed.get("name"))) == tool:
                return listed
        names = ", ".join(str(t.get("name")) for t in server.tools)
        why = f": {server.error}" if server.error else ""
        hint = f" (tools: {names})" if names else f" (it has no tools listed{why})"
        raise PluginNotFound(
            f"MCP server {server.server_id!r} ({server.name}) has no tool {tool!r}{hint}; "
            "refresh its tools if the server has added it",
            details={"provider": server.server_id, "tool": tool, "error_type": _NOT_FOUND},
        )

    async def _plugin(
        self, server: McpServer, operation: str, parameters: Mapping[str, Any], credentials: Mapping[str, Any],
        depth: int,
    ) -> AsyncIterator[Any]:
        """Run the ``mcp_client`` plugin tool ``operation``; errors never carry the server's header
        values or OAuth secrets."""
        payload = {"tool": operation, "parameters": dict(parameters), "credentials": dict(credentials)}
        try:
            stream = self._invoke(
                "tool_provider", CLIENT_PROVIDER, "invoke_tool", payload, tenant_id=server.tenant_id, depth=depth
            )
        except PluginNotFound as exc:
            raise PluginNotFound(
                f"MCP tools connect through the tool provider {CLIENT_PROVIDER!r} of the treadle-plugin-mcp-tools "
                "plugin, which is not loaded",
                details={**exc.details, "error_type": _NOT_FOUND},
            ) from None
        hidden = [*server.headers.values(), server.oauth.access_token, server.oauth.refresh_token,
                  str(server.oauth.client.get("client_secret") or ""), server.oauth.code_verifier]
        try:
            async for message in stream:
                yield jsonable(message)
        except PluginError as exc:
            # A server may echo the key it refused; it must not reach run records or logs.
            raise scrubbed(exc, [v for v in hidden if v]) from None

    async def _answer(
        self, server: McpServer, operation: str, parameters: Mapping[str, Any], credentials: Mapping[str, Any],
        depth: int,
    ) -> dict[str, Any]:
        """The json answer of an OAuth ``operation`` of the plugin."""
        async for message in self._plugin(server, operation, parameters, credentials, depth):
            if isinstance(message, dict) and message.get("type") == "json":
                answer: dict[str, Any] = message["json_object"]
                return answer
        raise PluginError(f"the {CLIENT_PROVIDER!r} tool {operation!r} answered nothing")

    async def _client(
        self, server: McpServer, operation: str, extra: Mapping[str, Any], depth: int
    ) -> AsyncIterator[Any]:
        """Run the ``mcp_client`` plugin tool ``operation`` on ``server`` with its headers, and its
        OAuth access token as ``Authorization: Bearer``. A token that expired, or that the server
        answered 401 to before anything came back, is refreshed once (and the call made again); a
        401 that no refresh helps sets the server to needing authorization and raises
        :class:`McpAuthorizationError`."""
        parameters = {**self._reach(server), **extra}
        refreshed = False
        if server.oauth.refresh_token and server.oauth.expires_at and (
            time.time() >= server.oauth.expires_at - _EXPIRY_MARGIN
        ):
            server, refreshed = await self._refreshed(server, depth), True
        while True:
            answered = False
            try:
                async for message in self._plugin(server, operation, parameters, self._credentials(server), depth):
                    answered = True
                    yield message
                return
            except PluginError as exc:
                if answered or not _auth_failure(exc):
                    raise
                if refreshed or not server.oauth.refresh_token:
                    raise await self._unauthorized(server, exc.message) from None
            server, refreshed = await self._refreshed(server, depth), True

    @staticmethod
    def _reach(server: McpServer) -> dict[str, Any]:
        """The parameters that say where the server is and how to reach it."""
        return {
            "server_url": server.url,
            "transport": server.connected_over or server.transport,
            "timeout": server.timeout,
            "sse_read_timeout": server.sse_read_timeout,
        }

    @staticmethod
    def _credentials(server: McpServer) -> dict[str, Any]:
        headers = dict(server.headers)
        if server.oauth.access_token:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {server.oauth.access_token}"
        return {"headers": headers}

    async def _refreshed(self, server: McpServer, depth: int) -> McpServer:
        """``server`` with its access token refreshed (and stored), or as another call just refreshed
        it. A refusal sets the server to needing authorization and raises :class:`McpAuthorizationError`."""
        lock = self._refreshing.setdefault((server.tenant_id, server.server_id), asyncio.Lock())
        async with lock:
            latest = await self.store.get(server.tenant_id, server.server_id) or server
            if latest.oauth.access_token and latest.oauth.access_token != server.oauth.access_token:
                return latest
            oauth = latest.oauth
            parameters = {
                "server_url": latest.url, "grant_type": "refresh_token", "metadata": dict(oauth.metadata),
                "resource": oauth.resource, "timeout": latest.timeout,
            }
            credentials = {"client": dict(oauth.client), "refresh_token": oauth.refresh_token}
            try:
                tokens = await self._answer(latest, "oauth_token", parameters, credentials, depth)
            except PluginError as exc:
                if _auth_failure(exc):
                    raise await self._unauthorized(latest, exc.message, forget_tokens=True) from None
                raise
            # A server that does not rotate refresh tokens answers without one: the old one still works.
            kept = {**tokens, "refresh_token": tokens.get("refresh_token") or oauth.refresh_token}
            return await self._saved(replace(latest, oauth=replace(oauth, tokens=kept, expires_at=_expiry(tokens))))

    async def _unauthorized(self, server: McpServer, why: str, *, forget_tokens: bool = False) -> McpAuthorizationError:
        """Keep ``server`` as needing authorization (its tokens forgotten when they are refused for
        good) and the error that says so and how to authorize it again."""
        message = (
            f"MCP server {server.server_id!r} ({server.name}) needs authorization: {why}; authorize it again "
            f"(Re-authorize in the console, or treadle tools mcp auth {server.server_id})"
        )
        latest = await self.store.get(server.tenant_id, server.server_id) or server
        oauth = replace(latest.oauth, tokens={}, expires_at=0.0) if forget_tokens else latest.oauth
        await self.store.save(replace(latest, oauth=oauth, needs_authorization=True, error=message))
        return McpAuthorizationError(message, details={"provider": server.server_id})

    async def _list(self, server: McpServer, depth: int, *, keep_failure: bool) -> McpServer:
        try:
            listing = [m async for m in self._client(server, "list_tools", {}, depth)]
        except PluginError as exc:
            # What the call stored (refreshed tokens, the need to authorize) is kept.
            latest = await self.store.get(server.tenant_id, server.server_id) or server
            failed = await self._saved(replace(latest, error=exc.message, connected_over=""))
            if keep_failure:
                return failed
            raise McpServerError(
                f"cannot list the tools of MCP server {server.server_id!r}: {exc.message}", field="server_url"
            ) from None
        found: dict[str, Any] = next(
            (m["json_object"] for m in listing if isinstance(m, dict) and m.get("type") == "json"), {}
        )
        tools = tuple(t for t in found.get("tools") or () if isinstance(t, dict) and t.get("name"))
        server_info = found.get("server") or {}
        latest = await self.store.get(server.tenant_id, server.server_id) or server
        listed = replace(
            latest,
            tools=tools,
            connected_over=str(found.get("transport") or ""),
            error="",
            needs_authorization=False,
            icon=latest.icon or str(server_info.get("icon") or ""),
        )
        return await self._saved(listed)

    async def _saved(self, server: McpServer) -> McpServer:
        """Save ``server`` and return it as stored (with the store's ``updated_at``)."""
        await self.store.save(server)
        return await self.server(server.tenant_id, server.server_id)
