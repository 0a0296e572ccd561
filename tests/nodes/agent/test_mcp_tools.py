"""Agent and tool nodes using MCP tools (WS-MCP-CLIENT, NODE-AGENT, NODE-TOOL; issue 7's acceptance):
a real agent node whose model is a local server speaking OpenAI's wire format calls a tool of a real
MCP server built with the SDK, reached over streamable HTTP and over SSE by the ``mcp_client`` plugin
in a plugin host; the server records the call and the agent's answer carries its result."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from support.local_server import LocalServer
from support.mcp_tool_server import WeatherMcpServer
from treadle.apps import RunRequest
from treadle.config import Settings
from treadle.models import ModelMapping
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle_sdk.ssrf import ALLOW_ENV

from .model_server import text_stream, tool_call_stream
from .support import ServerCredentials, agent_node, chatflow, run_app, workflow

pytestmark = pytest.mark.asyncio(loop_scope="module")

TENANT = "t1"  # the workspace run_app runs in


class WeatherModel(LocalServer):
    """Chat completions of a model that asks the ``forecast`` tool for Oslo, then answers with what
    the tool said. It keeps the tools it was offered and the tool results it was sent."""

    def __init__(self) -> None:
        self.offered: list[list[dict[str, Any]]] = []
        self.results: list[str] = []
        super().__init__(Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])]))
        self.url = self.url_for("/v1")

    async def chat(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.offered.append([tool["function"] for tool in body.get("tools", [])])
        results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
        self.results.extend(results[len(self.results):])
        if results:
            events = text_stream(f"The MCP server says: {results[-1]}")
        else:
            events = tool_call_stream("call_1", "forecast", {"city": "Oslo"})
        return StreamingResponse(iter(events), media_type="text/event-stream")


@pytest.fixture(scope="module")
def weather() -> Iterator[WeatherMcpServer]:
    with WeatherMcpServer() as server:
        yield server


@pytest.fixture(scope="module")
def model() -> Iterator[WeatherModel]:
    with WeatherModel() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor(model: WeatherModel, weather: WeatherMcpServer) -> AsyncIterator[PluginSupervisor]:
    """The core and agent nodes inline; the OpenAI-compatible provider and the MCP client plugin in a
    host process that may reach 127.0.0.1; the weather server added as ``weather`` (streamable HTTP)
    and ``weather-sse`` (SSE)."""
    groups = [
        GroupPlan("inline", True, (PluginSpec("core-nodes"), PluginSpec("agent-nodes"))),
        GroupPlan("tools", False, (PluginSpec("openai-compat"), PluginSpec("mcp-tools"))),
    ]
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory(prefix="trm-") as home:
        patch.setenv(ALLOW_ENV, "127.0.0.1")
        settings = Settings.load(home=Path(home))
        mapping = ModelMapping({"*": "openai_compat"})
        async with PluginSupervisor(settings, groups=groups, model_mapping=mapping) as running:
            running.models.credentials = ServerCredentials(model.url)
            await running.mcp_tools.add_server(TENANT, "weather", "Weather", weather.http_url)
            await running.mcp_tools.add_server(TENANT, "weather-sse", "Weather (SSE)", weather.sse_url)
            yield running


def mcp_tool(server_id: str, tool: str, **parameters: Any) -> dict[str, Any]:
    """An MCP tool in an agent's tool list, as Dify's editor writes it: the Server ID as provider."""
    return {
        "enabled": True,
        "provider_name": server_id,
        "provider_show_name": "Weather",
        "tool_name": tool,
        "tool_label": tool,
        "type": "mcp",
        "extra": {"description": ""},
        "parameters": parameters,
        "settings": {},
        "schemas": [],
    }


@pytest.mark.parametrize("server_id", ["weather", "weather-sse"])
async def test_an_agent_node_calls_an_mcp_tool(supervisor: PluginSupervisor, model: WeatherModel,
                                               weather: WeatherMcpServer, server_id: str) -> None:
    """Over streamable HTTP and over SSE: the model is offered the server's tool with its parameters,
    calls it, the MCP server runs it, and the agent's answer carries its result."""
    model.offered.clear()
    model.results.clear()
    before = len(weather.calls)
    data = agent_node("function_calling", "fc-weather", tools=[mcp_tool(server_id, "forecast")])
    nodes, edges = chatflow(data)
    outcome = await run_app(supervisor, nodes, edges, RunRequest(query="Weather in Oslo?"), mode="advanced-chat")

    assert weather.calls[before:] == [("forecast", {"city": "Oslo", "days": 1})]
    [offered] = model.offered[0]
    assert offered["name"] == "forecast"
    assert offered["description"] == "The weather forecast of a city for the next days."
    assert offered["parameters"]["required"] == ["city"]
    assert sorted(offered["parameters"]["properties"]) == ["city", "days"]
    assert model.results[0].startswith("Sunny in Oslo for 1 day(s), 21 degrees")
    answer = outcome.succeeded("agent").outputs["text"]
    assert answer.startswith("The MCP server says: Sunny in Oslo for 1 day(s), 21 degrees")


async def test_a_fixed_parameter_is_not_offered_to_the_model(supervisor: PluginSupervisor, model: WeatherModel,
                                                             weather: WeatherMcpServer) -> None:
    """Per tool, a parameter Fixed in the agent's tool list (``auto: 0``) is set by the node: the model
    neither sees nor fills it, and the server gets its value."""
    model.offered.clear()
    model.results.clear()
    tool = mcp_tool("weather", "forecast", days={"auto": 0, "value": 5}, city={"auto": 1, "value": None})
    nodes, edges = chatflow(agent_node("function_calling", "fc-weather", tools=[tool]))
    await run_app(supervisor, nodes, edges, RunRequest(query="Weather in Oslo?"), mode="advanced-chat")
    assert weather.calls[-1] == ("forecast", {"city": "Oslo", "days": 5})
    assert sorted(model.offered[0][0]["parameters"]["properties"]) == ["city"]


async def test_a_tool_node_runs_an_mcp_tool(supervisor: PluginSupervisor, weather: WeatherMcpServer) -> None:
    """NODE-TOOL with provider_type mcp: a workflow's tool node names the server by its Server ID."""
    data = {
        "type": "tool",
        "title": "Conditions",
        "provider_id": "weather-sse",
        "provider_name": "weather-sse",
        "provider_type": "mcp",
        "tool_name": "conditions",
        "tool_label": "conditions",
        "tool_configurations": {},
        "tool_parameters": {"city": {"type": "mixed", "value": "{{#start.city#}}"}},
    }
    variables = [{"variable": "city", "label": "City", "type": "text-input", "required": True}]
    nodes, edges = workflow(data, variables=variables)
    outcome = await run_app(supervisor, nodes, edges, RunRequest(inputs={"city": "Porto"}))
    assert weather.calls[-1] == ("conditions", {"city": "Porto"})
    assert outcome.succeeded("node").outputs["json"][-1] == {"city": "Porto", "temperature": 21, "sky": "clear"}
