"""The ``mcp_client`` tool provider: the MCP protocol side of a workspace's MCP servers.

The kernel keeps each workspace's MCP servers (URL, headers, the tools last listed) and turns a call
of one of their tools (``provider_type`` ``mcp``) into a call of this provider's ``call_tool``; it
lists a server's tools (on save, and when a builder asks to refresh them) with ``list_tools``. So the
kernel itself makes no outbound HTTP: every connection is made here, through the SSRF guard.

The server's headers travel in the call's ``credentials`` (``{"headers": {...}}``), not in its
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

__all__ = ["CallTool", "ListTools", "McpClientProvider", "result_messages"]

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
        self.tools = [ListTools(), CallTool()]
        self.guard = guard or SSRFGuard()

    async def invoke_tool(  # type: ignore[override]
        self, args: InvokeToolArgs, ctx: CallContext
    ) -> AsyncIterator[Message]:
        tool = self.get_tool(args.tool)
        parameters = validate_tool_parameters(tool.schema, args.parameters)
        target = ServerTarget.parse(parameters, args.credentials)
        if tool.schema.name == "list_tools":
            yield JsonMessage(json_object=await connected(target, self.guard, _listing))
            return
        for message in await self.call(target, str(parameters["tool"]), parameters.get("arguments") or {}):
            yield message

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
