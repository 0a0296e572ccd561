"""The MCP client provider (treadle_mcp_tools, WS-MCP-CLIENT): ``list_tools`` and ``call_tool`` against
a real MCP server built with the SDK, over streamable HTTP and over SSE, through the real dispatcher
and behind the SSRF guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.local_server import closed_port
from support.mcp_tool_server import ICON, WeatherMcpServer
from treadle_mcp_tools import McpClientProvider
from treadle_sdk.errors import PluginFailed
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.ssrf import SSRFGuard
from treadle_sdk.testing import ainvoke

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def weather() -> Iterator[WeatherMcpServer]:
    with WeatherMcpServer() as server:
        yield server


class _Plugin:
    def __init__(self, guard: SSRFGuard) -> None:
        self.guard = guard

    @hookimpl
    def register_tools(self, register: Any) -> None:
        register(McpClientProvider(guard=self.guard))


def local(allow: tuple[str, ...] = ("127.0.0.1",)) -> _Plugin:
    return _Plugin(SSRFGuard(allow=allow, environ={}))


async def run(operation: str, plugin: _Plugin | None = None, headers: dict[str, str] | None = None,
              **parameters: Any) -> list[Any]:
    """Run the provider's tool ``operation`` (``list_tools`` or ``call_tool``)."""
    payload = {"tool": operation, "parameters": parameters, "credentials": {"headers": headers or {}}}
    return await ainvoke(plugin or local(), "tool_provider", "mcp_client", "invoke_tool", payload)


async def test_list_tools_over_streamable_http_sends_the_headers(weather: WeatherMcpServer) -> None:
    (listing,) = await run("list_tools", headers={"X-Api-Key": "k-123"}, server_url=weather.http_url)
    found = listing.json_object
    assert found["transport"] == "streamable_http"
    assert found["server"] == {"name": "Weather", "title": "", "version": "1.0", "icon": ICON}
    tools = {tool["name"]: tool for tool in found["tools"]}
    assert sorted(tools) == ["alert", "conditions", "forecast"]
    assert tools["forecast"]["description"] == "The weather forecast of a city for the next days."
    assert tools["forecast"]["inputSchema"]["required"] == ["city"]
    assert tools["forecast"]["inputSchema"]["properties"]["days"]["default"] == 1
    mcp_requests = [r for r in weather.requests if r["path"] == "/mcp"]
    assert mcp_requests and all(r["headers"].get("x-api-key") == "k-123" for r in mcp_requests)


async def test_auto_falls_back_to_sse_for_a_legacy_server(weather: WeatherMcpServer) -> None:
    (listing,) = await run("list_tools", server_url=weather.sse_url)
    assert listing.json_object["transport"] == "sse"
    assert sorted(t["name"] for t in listing.json_object["tools"]) == ["alert", "conditions", "forecast"]


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_call_tool_runs_the_tool_on_the_server(weather: WeatherMcpServer, transport: str) -> None:
    url = weather.http_url if transport == "streamable_http" else weather.sse_url
    messages = await run(
        "call_tool", server_url=url, transport=transport, tool="forecast", arguments={"city": "Oslo", "days": 3}
    )
    assert messages[0].model_dump() == {"type": "text", "text": "Sunny in Oslo for 3 day(s), 21 degrees"}
    assert messages[1].json_object == {"result": "Sunny in Oslo for 3 day(s), 21 degrees"}
    assert weather.calls[-1] == ("forecast", {"city": "Oslo", "days": 3})

    data = await run("call_tool", server_url=url, transport=transport, tool="conditions", arguments='{"city": "Rome"}')
    assert data[-1].json_object == {"city": "Rome", "temperature": 21, "sky": "clear"}


async def test_a_tool_that_reports_an_error_fails_the_call_with_its_message(weather: WeatherMcpServer) -> None:
    with pytest.raises(PluginFailed) as caught:
        await run("call_tool", server_url=weather.http_url, tool="alert", arguments={"reason": "hail"})
    assert "tool 'alert' of the MCP server at" in caught.value.message
    assert "alerts are disabled: hail" in caught.value.message
    assert caught.value.details["error_type"] == "ToolInvokeError"
    assert weather.calls[-1] == ("alert", {"reason": "hail"})


async def test_an_unknown_tool_fails_naming_it(weather: WeatherMcpServer) -> None:
    with pytest.raises(PluginFailed) as caught:
        await run("call_tool", server_url=weather.http_url, tool="tides", arguments={})
    assert "tides" in caught.value.message


async def test_an_unreachable_server_fails_naming_its_url_without_trying_sse() -> None:
    url = f"http://127.0.0.1:{closed_port()}/mcp"
    with pytest.raises(PluginFailed) as caught:
        await run("list_tools", server_url=url)
    assert caught.value.message.startswith(f"cannot use the MCP server at {url}: over streamable HTTP:")
    assert "over SSE" not in caught.value.message


async def test_a_server_that_is_not_mcp_fails_naming_both_transports(weather: WeatherMcpServer) -> None:
    url = weather.http_url.replace("/mcp", "/nothing-here")
    with pytest.raises(PluginFailed) as caught:
        await run("list_tools", server_url=url)
    assert "over streamable HTTP:" in caught.value.message and "over SSE: " in caught.value.message


@pytest.mark.parametrize("url", ["http://10.1.2.3/mcp", "http://169.254.169.254/latest", "LOCAL"])
async def test_private_addresses_are_refused(weather: WeatherMcpServer, url: str) -> None:
    """The SSRF guard refuses private, metadata and (not allowed) loopback addresses before any request."""
    before = len(weather.requests)
    with pytest.raises(PluginFailed) as caught:
        await run("list_tools", plugin=local(allow=()), server_url=weather.http_url if url == "LOCAL" else url)
    assert caught.value.details["error_type"] == "ToolRequestRefused"
    assert caught.value.message.startswith("refused: ")
    assert len(weather.requests) == before
