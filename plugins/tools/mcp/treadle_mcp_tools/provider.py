"""The ``mcp_client`` tool provider: the MCP protocol side of a workspace's MCP servers.

The kernel keeps each workspace's MCP servers (URL, headers, the tools last listed) and turns a call
of one of their tools (``provider_type`` ``mcp``) into a call of this provider's ``call_tool``; it
lists a server's tools (on save, and when a builder asks to refresh them) with ``list_tools``. A
server that wants OAuth is signed in to with ``oauth_authorize`` (discovery, registration, the
authorization URL) and ``oauth_token`` (the code exchanged, a token refreshed). So the kernel itself
makes no outbound HTTP: every connection is made here, through the SSRF guard.

The server's headers (with the kernel's ``Authorization: Bearer`` once it holds a token), the OAuth
client, code, verifier and refresh token travel in the call's ``credentials``, not in its
parameters, as any secret does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import mcp_types as types
from mcp import Client
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider, validate_tool_parameters
from treadle_sdk.schemas import (
    ToolParameter,
    ToolParameterOption,
    ToolParameterType,
    ToolProviderSchema,
    ToolSchema,
)
from treadle_sdk.ssrf import SSRFGuard
from treadle_sdk.tool_parameters import number_parameter, string_parameter
from treadle_sdk.tool_runtime import BlobMessage, InvokeToolArgs, JsonMessage, LinkMessage, TextMessage

from .connection import TRANSPORTS, ServerTarget, connected
from .errors import McpToolError
from .oauth import GRANT_TYPES, begin_authorization, parse_client, parse_metadata, request_tokens

__all__ = ["CallTool", "ListTools", "McpClientProvider", "OAuthAuthorize", "OAuthTokenRequest", "result_messages"]

Message = TextMessage | JsonMessage | BlobMessage | LinkMessage

#: The parameters both tools take: where the server is and how to reach it.
_SERVER_PARAMETERS = [
    string_parameter("server_url", "Server URL", "The MCP server's HTTP endpoint.", required=True),
    ToolParameter(
        name="transport",
        type=ToolParameterType.SELECT,
        label="Transport",
        default="auto",
        options=[ToolParameterOption(value=t, label=t) for t in TRANSPORTS],
        llm_description="auto tries streamable HTTP, then SSE.",
    ),
    number_parameter("timeout", "Timeout", "Seconds for each HTTP exchange.", default=30.0, minimum=0.1),
    number_parameter(
        "sse_read_timeout", "SSE read timeout", "Seconds to wait for the server's answer.", default=300.0, minimum=0.1
    ),
]


class _AsyncTool(Tool):
    """A tool its provider runs asynchronously, in ``invoke_tool``."""

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> list[TextMessage]:
        raise PluginInvalidArgument(f"the {self.schema.name} tool runs asynchronously, through its provider")


class ListTools(_AsyncTool):
    """``list_tools``: the server's identity and every tool it offers, as one json message."""

    schema = ToolSchema(
        name="list_tools",
        label="List MCP tools",
        description="Connect to an MCP server and list its tools.",
        parameters=list(_SERVER_PARAMETERS),
    )


class CallTool(_AsyncTool):
    """``call_tool``: call one tool of the server with JSON arguments."""

    schema = ToolSchema(
        name="call_tool",
        label="Call an MCP tool",
        description="Call one tool of an MCP server and return what it answered.",
        parameters=[
            *_SERVER_PARAMETERS,
            string_parameter("tool", "Tool", "The name of the server's tool.", required=True),
            ToolParameter(
                name="arguments",
                type=ToolParameterType.OBJECT,
                label="Arguments",
                llm_description="The tool's arguments, a JSON object.",
            ),
        ],
    )


class OAuthAuthorize(_AsyncTool):
    """``oauth_authorize``: discover how the server is authorized, register a client (unless
    ``credentials.client`` holds one for it), and answer the authorization URL with the PKCE verifier,
    the client, the authorization server's metadata, the resource and the scope, as one json message."""

    schema = ToolSchema(
        name="oauth_authorize",
        label="Start an MCP server's OAuth authorization",
        description="Discover an MCP server's authorization server, register a client and build the URL to sign in.",
        parameters=[
            *_SERVER_PARAMETERS,
            string_parameter("redirect_uri", "Redirect URI", "Where the browser comes back with the code.",
                             required=True),
            string_parameter("state", "State", "What the callback must carry back.", required=True),
            string_parameter("client_name", "Client name", "The name registered with the authorization server.",
                             default="Treadle"),
        ],
    )


class OAuthTokenRequest(_AsyncTool):
    """``oauth_token``: exchange an authorization code (``credentials.code`` and ``code_verifier``) or a
    refresh token (``credentials.refresh_token``) for tokens, answered as one json message."""

    schema = ToolSchema(
        name="oauth_token",
        label="Get an MCP server's OAuth tokens",
        description="Exchange an authorization code or a refresh token at the authorization server.",
        parameters=[
            _SERVER_PARAMETERS[0],
            ToolParameter(
                name="grant_type",
                type=ToolParameterType.SELECT,
                label="Grant type",
                required=True,
                options=[ToolParameterOption(value=g, label=g) for g in GRANT_TYPES],
            ),
            ToolParameter(name="metadata", type=ToolParameterType.OBJECT, label="Authorization server metadata",
                          required=True, llm_description="As oauth_authorize answered it."),
            string_parameter("resource", "Resource", "The resource the tokens are for (RFC 8707)."),
            string_parameter("redirect_uri", "Redirect URI", "The one the code was issued for."),
            number_parameter("timeout", "Timeout", "Seconds for the HTTP exchange.", default=30.0, minimum=0.1),
        ],
    )


def _icon(info: types.Implementation | None) -> str:
    icons = (info.icons if info is not None else None) or []
    return icons[0].src if icons else ""


async def _listing(client: Client, transport: str) -> dict[str, Any]:
    tools: list[dict[str, Any]] = []
    cursor: str | None = None
    # A server that pages forever must not hold the call: 100 pages is far more than any lists.
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools.extend(tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    info = client.server_info
    server = {
        "name": info.name if info is not None else "",
        "title": (info.title or "") if info is not None else "",
        "version": info.version if info is not None else "",
        "icon": _icon(info),
    }
    return {"transport": transport, "server": server, "tools": tools}


def _content_messages(block: types.ContentBlock) -> list[Message]:
    if isinstance(block, types.TextContent):
        return [TextMessage(text=block.text)]
    if isinstance(block, types.ImageContent | types.AudioContent):
        return [BlobMessage(blob=block.data, mime_type=block.mime_type)]
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return [TextMessage(text=resource.text)]
        mime = resource.mime_type or "application/octet-stream"
        return [BlobMessage(blob=resource.blob, mime_type=mime, filename=str(resource.uri).rsplit("/", 1)[-1] or None)]
    if isinstance(block, types.ResourceLink):
        return [LinkMessage(link=str(block.uri))]
    return []


def result_messages(result: types.CallToolResult) -> list[Message]:
    """A tool's answer as messages: text as text, images, audio and binary resources as blobs, links as
    links, and its structured content as a json message (a bare scalar as text)."""
    messages = [message for block in result.content for message in _content_messages(block)]
    structured = result.structured_content
    if isinstance(structured, dict | list):
        messages.append(JsonMessage(json_object=structured))
    elif structured is not None:
        messages.append(TextMessage(text=str(structured)))
    return messages


def _error_text(result: types.CallToolResult) -> str:
    texts = [block.text for block in result.content if isinstance(block, types.TextContent)]
    return " ".join(texts).strip()[:1000] or "(no message)"


class McpClientProvider(ToolProvider):
    """The ``mcp_client`` provider: ``list_tools`` and ``call_tool``.

    :param guard: the SSRF guard every connection goes through (by default one that reads the
        operator's ``TREADLE_SSRF_ALLOW``).
    """

    schema = ToolProviderSchema(
        name="mcp_client",
        author="treadle",
        label="MCP client",
        description="Lists and calls the tools of MCP servers over HTTP, behind the SSRF guard.",
        tags=["utilities"],
    )

    def __init__(self, *, guard: SSRFGuard | None = None) -> None:
        self.tools = [ListTools(), CallTool(), OAuthAuthorize(), OAuthTokenRequest()]
        self.guard = guard or SSRFGuard()

    async def invoke_tool(  # type: ignore[override]
        self, args: InvokeToolArgs, ctx: CallContext
    ) -> AsyncIterator[Message]:
        tool = self.get_tool(args.tool)
        parameters = validate_tool_parameters(tool.schema, args.parameters)
        if tool.schema.name == "oauth_token":
            yield JsonMessage(json_object=await self.tokens(parameters, args.credentials))
            return
        target = ServerTarget.parse(parameters, args.credentials)
        if tool.schema.name == "oauth_authorize":
            answer = await begin_authorization(
                target, self.guard, redirect_uri=str(parameters["redirect_uri"]), state=str(parameters["state"]),
                client=parse_client(args.credentials.get("client")),
                client_name=str(parameters.get("client_name") or "Treadle"),
            )
            yield JsonMessage(json_object=answer)
            return
        if tool.schema.name == "list_tools":
            yield JsonMessage(json_object=await connected(target, self.guard, _listing))
            return
        for message in await self.call(target, str(parameters["tool"]), parameters.get("arguments") or {}):
            yield message

    async def tokens(self, parameters: Mapping[str, Any], credentials: Mapping[str, Any]) -> dict[str, Any]:
        """The tokens of an ``oauth_token`` call: the grant's secrets come from ``credentials``."""
        client = parse_client(credentials.get("client"))
        if client is None:
            raise PluginInvalidArgument("credentials.client must hold the registered OAuth client",
                                        details={"field": "client"})
        grant_type = str(parameters["grant_type"])
        if grant_type == "refresh_token":
            grant = {"grant_type": grant_type, "refresh_token": str(credentials.get("refresh_token") or "")}
        else:
            grant = {
                "grant_type": grant_type,
                "code": str(credentials.get("code") or ""),
                "code_verifier": str(credentials.get("code_verifier") or ""),
                "redirect_uri": str(parameters.get("redirect_uri") or ""),
            }
        missing = [name for name, value in grant.items() if not value]
        if missing:
            raise PluginInvalidArgument(f"a {grant_type} grant needs {', '.join(missing)}",
                                        details={"field": missing[0]})
        tokens = await request_tokens(
            self.guard, parse_metadata(parameters["metadata"]), client, grant,
            resource=str(parameters.get("resource") or ""), timeout=float(parameters.get("timeout") or 30.0),
        )
        return tokens.model_dump(mode="json", exclude_none=True)

    async def call(self, target: ServerTarget, name: str, arguments: Mapping[str, Any]) -> list[Message]:
        """Call the tool ``name`` of the server with ``arguments`` and return its answer's messages;
        a tool that reports an error (``isError``) fails with :class:`McpToolError` quoting it."""

        async def work(client: Client, transport: str) -> types.CallToolResult:
            return await client.call_tool(name, dict(arguments))

        result = await connected(target, self.guard, work)
        if result.is_error:
            raise McpToolError(
                f"tool {name!r} of the MCP server at {target.shown} failed: {_error_text(result)}",
                details={"tool": name, "server_url": target.shown, "body": _error_text(result)},
            )
        return result_messages(result)
