"""MCP client tools end to end (WS-MCP-CLIENT, NODE-TOOL; PLUG-REVERSE-TOOL): MCP servers added to a
workspace, their tools listed and called through the tool manager and a kernel client, every
connection made by the ``mcp_client`` plugin (inline and in a host process) to a real MCP server
built with the SDK, over streamable HTTP and SSE, behind the SSRF guard."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from support.local_server import closed_port
from support.mcp_tool_server import ICON, WeatherMcpServer
from treadle.config import Settings
from treadle.models import SecretCipher
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.tools import McpServer, McpServerError, McpTools, SQLiteMcpServerStore, tool_schema
from treadle_sdk.errors import PluginFailed, PluginNotFound
from treadle_sdk.schemas import ToolParameterType
from treadle_sdk.ssrf import ALLOW_ENV

from ..support import short_home

pytestmark = pytest.mark.asyncio(loop_scope="module")

TENANT = "workspace-1"


@pytest.fixture(scope="module")
def weather() -> Iterator[WeatherMcpServer]:
    with WeatherMcpServer() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["inline", "process"])
async def kernel(request: pytest.FixtureRequest, weather: WeatherMcpServer) -> AsyncIterator[PluginSupervisor]:
    """A supervisor running the MCP client plugin (inline, or in its own host process) that may reach
    127.0.0.1, with the weather server added twice: ``weather`` (streamable HTTP, an API key header)
    and ``weather-sse`` (the SSE endpoint)."""
    with pytest.MonkeyPatch.context() as patch, short_home() as home:
        patch.setenv(ALLOW_ENV, "127.0.0.1")
        plan = GroupPlan("mcp", request.param == "inline", (PluginSpec("mcp-tools"),))
        async with PluginSupervisor(Settings.load(home=home), groups=[plan]) as supervisor:
            mcp = supervisor.mcp_tools
            await mcp.add_server(TENANT, "weather", "Weather", weather.http_url, headers={"X-Api-Key": "k-42"})
            await mcp.add_server(TENANT, "weather-sse", "Weather (SSE)", weather.sse_url)
            yield supervisor


async def call(supervisor: PluginSupervisor, tool: str, provider: str = "weather", **parameters: Any) -> list[Any]:
    payload = {"provider_type": "mcp", "provider": provider, "tool": tool, "parameters": parameters}
    return [message async for message in supervisor.tools.invoke(TENANT, payload, depth=0)]


async def test_adding_a_server_lists_its_tools(kernel: PluginSupervisor, weather: WeatherMcpServer) -> None:
    http = await kernel.mcp_tools.server(TENANT, "weather")
    sse = await kernel.mcp_tools.server(TENANT, "weather-sse")
    assert (http.connected_over, sse.connected_over) == ("streamable_http", "sse")
    assert (http.error, sse.error) == ("", "")
    assert http.icon == ICON  # fetched from the server, not picked by the builder
    assert sorted(t["name"] for t in http.tools) == ["alert", "conditions", "forecast"]
    assert any(r["headers"].get("x-api-key") == "k-42" for r in weather.requests)

    schema = await kernel.tools.describe(TENANT, {"provider_type": "mcp", "provider": "weather", "tool": "forecast"})
    assert schema["description"] == {"en_US": "The weather forecast of a city for the next days."}
    city, days = schema["parameters"]
    assert (city["name"], city["type"], city["required"]) == ("city", "string", True)
    assert (days["name"], days["type"], days["required"], days["default"], days["precision"]) == (
        "days", "number", False, 1, 0
    )


@pytest.mark.parametrize("provider", ["weather", "weather-sse"])
async def test_a_call_runs_the_tool_on_the_server(kernel: PluginSupervisor, weather: WeatherMcpServer,
                                                  provider: str) -> None:
    messages = await call(kernel, "forecast", provider, city="Lima", days="2")
    assert messages == [
        {"type": "text", "text": "Sunny in Lima for 2 day(s), 21 degrees"},
        {"type": "json", "json_object": {"result": "Sunny in Lima for 2 day(s), 21 degrees"}},
    ]
    assert weather.calls[-1] == ("forecast", {"city": "Lima", "days": 2})


async def test_nodes_reach_mcp_tools_through_the_kernel_client(kernel: PluginSupervisor,
                                                               weather: WeatherMcpServer) -> None:
    """PLUG-REVERSE-TOOL with provider_type mcp: what tool and agent nodes call, by Server ID or id."""
    server = await kernel.mcp_tools.server(TENANT, "weather")
    with kernel.kernel_client(tenant_id=TENANT) as client:
        schema = await client.adescribe_tool("weather", "conditions", provider_type="mcp")
        messages = await client.ainvoke_tool(server.id, "conditions", {"city": "Kyiv"}, provider_type="mcp")
    assert [p.name for p in schema.parameters] == ["city"]
    assert messages[-1] == {"type": "json", "json_object": {"city": "Kyiv", "temperature": 21, "sky": "clear"}}


async def test_a_tool_reporting_an_error_fails_the_call_with_its_message(kernel: PluginSupervisor) -> None:
    with pytest.raises(PluginFailed) as caught:
        await call(kernel, "alert", reason="fog")
    assert "tool 'alert' of the MCP server at" in caught.value.message
    assert "alerts are disabled: fog" in caught.value.message


async def test_an_unknown_tool_or_server_is_named(kernel: PluginSupervisor) -> None:
    with pytest.raises(PluginNotFound) as caught:
        await call(kernel, "tides")
    assert caught.value.message.startswith("MCP server 'weather' (Weather) has no tool 'tides' (tools: ")
    with pytest.raises(PluginNotFound) as missing:
        await call(kernel, "forecast", "notion", city="Oslo")
    assert "the workspace has no MCP server 'notion' (Server IDs: weather, weather-sse)" in missing.value.message


@pytest.mark.parametrize(
    ("server_id", "wrong"),
    [("a" * 25, "not a usable Server ID"), ("Weather", "not a usable Server ID"), ("my server", "not a usable"),
     ("weather", "already has an MCP server with the Server ID 'weather'")],
)
async def test_bad_and_duplicate_server_ids_are_refused(kernel: PluginSupervisor, weather: WeatherMcpServer,
                                                        server_id: str, wrong: str) -> None:
    with pytest.raises(McpServerError) as caught:
        await kernel.mcp_tools.add_server(TENANT, server_id, "Another", weather.http_url)
    assert wrong in caught.value.message
    assert caught.value.field == "server_identifier"


async def test_the_server_id_never_changes_but_the_rest_does(kernel: PluginSupervisor,
                                                             weather: WeatherMcpServer) -> None:
    mcp = kernel.mcp_tools
    await mcp.add_server(TENANT, "renamed", "Before", weather.http_url)
    with pytest.raises(McpServerError) as caught:
        await mcp.update_server(TENANT, "renamed", server_id="other")
    assert "cannot be changed" in caught.value.message
    changed = await mcp.update_server(TENANT, "renamed", name="After", url=weather.sse_url, timeout=5)
    assert (changed.server_id, changed.name, changed.connected_over, changed.timeout) == ("renamed", "After", "sse", 5)
    await mcp.remove_server(TENANT, "renamed")
    assert [s.server_id for s in await mcp.servers(TENANT)] == ["weather", "weather-sse"]


async def test_an_unreachable_server_is_kept_unconfigured(kernel: PluginSupervisor) -> None:
    mcp = kernel.mcp_tools
    url = f"http://127.0.0.1:{closed_port()}/mcp"
    added = await mcp.add_server(TENANT, "gone", "Gone", url)
    assert added.tools == () and added.error.startswith(f"cannot use the MCP server at {url}: over streamable HTTP:")
    with pytest.raises(McpServerError) as caught:
        await mcp.refresh(TENANT, "gone")
    expected = f"cannot list the tools of MCP server 'gone': cannot use the MCP server at {url}"
    assert caught.value.message.startswith(expected)
    with pytest.raises(PluginNotFound) as call_failed:
        await call(kernel, "forecast", "gone", city="Oslo")
    assert "has no tool 'forecast' (it has no tools listed: cannot use the MCP server" in call_failed.value.message
    await mcp.remove_server(TENANT, "gone")


async def test_tool_settings_override_the_description_and_fix_parameters(kernel: PluginSupervisor,
                                                                         weather: WeatherMcpServer) -> None:
    """Per tool: the description shown to models, and parameters Fixed to a value (the rest Auto)."""
    mcp = kernel.mcp_tools
    await mcp.add_server(TENANT, "fixed", "Fixed forecast", weather.http_url)
    await mcp.set_tool_settings(TENANT, "fixed", "forecast", description="Three-day forecasts.", fixed={"days": "3"})
    schema = await mcp.describe(TENANT, "fixed", "forecast")
    assert schema.llm_description == "Three-day forecasts."
    assert [p.name for p in schema.parameters] == ["city"]
    await call(kernel, "forecast", "fixed", city="Cork")
    assert weather.calls[-1] == ("forecast", {"city": "Cork", "days": 3})
    with pytest.raises(McpServerError) as caught:
        await mcp.set_tool_settings(TENANT, "fixed", "forecast", fixed={"hours": 2})
    assert "has no parameter(s) 'hours' (parameters: city, days)" in caught.value.message
    await mcp.remove_server(TENANT, "fixed")


async def test_headers_are_stored_encrypted(tmp_path: Path) -> None:
    cipher = SecretCipher(tmp_path / "secret_key")
    store = SQLiteMcpServerStore(tmp_path / "tools.db", cipher)
    server = McpServer(TENANT, "id-1", "crm", "CRM", "https://crm.example/mcp", headers={"Authorization": "Bearer s3"},
                       tools=({"name": "find", "inputSchema": {"type": "object"}},))
    await store.save(server)
    again = await store.get(TENANT, "crm")
    assert again is not None and again.headers == {"Authorization": "Bearer s3"} and again.tools == server.tools
    with sqlite3.connect(tmp_path / "tools.db") as db:
        dumped = "\n".join(db.iterdump())
    assert "s3" not in dumped and "crm.example" in dumped
    assert await store.delete(TENANT, "crm") and await store.get(TENANT, "crm") is None


async def test_json_schema_types_become_tool_parameter_types() -> None:
    schema = tool_schema({
        "name": "search.docs",
        "inputSchema": {
            "type": "object",
            "required": ["query"],
            "$defs": {"Mode": {"type": "string", "enum": ["fast", "deep"]}},
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                "mode": {"$ref": "#/$defs/Mode"},
                "filters": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "exact": {"type": "boolean"},
                "extra": {},
            },
        },
    })
    assert schema.name == "search_docs"  # MCP allows dots; tool schema names do not
    kinds = {p.name: p.type for p in schema.parameters}
    assert kinds == {
        "query": ToolParameterType.STRING, "limit": ToolParameterType.NUMBER, "mode": ToolParameterType.SELECT,
        "filters": ToolParameterType.OBJECT, "tags": ToolParameterType.ARRAY, "exact": ToolParameterType.BOOLEAN,
        "extra": ToolParameterType.ANY,
    }
    limit = schema.parameters[1]
    assert (limit.min, limit.max, limit.precision) == (1, 50, 0)
    assert [p.name for p in schema.parameters if p.required] == ["query"]


async def test_without_the_plugin_the_error_says_which_to_load() -> None:
    with short_home() as home:
        async with PluginSupervisor(Settings.load(home=home), groups=[]) as supervisor:
            mcp: McpTools = supervisor.mcp_tools
            added = await mcp.add_server(TENANT, "lonely", "Lonely", "https://mcp.example/mcp")
    assert "tool provider 'mcp_client' of the treadle-plugin-mcp-tools plugin, which is not loaded" in added.error
