"""Apps published as MCP servers (PUB-MCP-SERVER, issue 7), with the ``mcp`` SDK's client against the
real server application over HTTP, in the 2026-07-28 protocol (no handshake) and the legacy
``initialize`` handshake: listing the tool, calling a workflow and a chatflow, progress while the run
goes on, tool errors for failed runs and bad arguments, and the URL's code as the credential."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy import select
from support.dsl import SLOW_WORKFLOW
from support.local_server import serving_here
from support.service_api import INLINE_PLUGINS, ServiceApi, service_api
from support.waiting import eventually
from treadle.runtime import McpServerError, McpServers
from treadle.store import Conversation, Message, WorkflowRun

from .support import CHATFLOW, FAILING_WORKFLOW, TRIGGERED_WORKFLOW, WORKFLOW

PROTOCOLS = ["legacy", "2026-07-28"]
APPS = {"Shout Box": WORKFLOW, "Parrot": CHATFLOW, "Broken": FAILING_WORKFLOW, "Slow": SLOW_WORKFLOW}


@dataclass
class Published:
    api: ServiceApi
    base_url: str
    servers: McpServers
    urls: dict[str, str]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def published(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Published]:
    plugins = (*INLINE_PLUGINS, "schedule-trigger")
    async with service_api(tmp_path, backend=request.param, apps=APPS, plugins=plugins) as api, serving_here(
        api.app
    ) as base_url:
        servers = McpServers(api.db, api.tenant_id)
        urls = {name: (await servers.enable(app_id)).url(base_url) for name, app_id in api.apps.items()}
        yield Published(api, base_url, servers, urls)


def _text(result: types.CallToolResult) -> str:
    return "".join(part.text for part in result.content if isinstance(part, types.TextContent))


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_the_tool_is_the_app_described_by_its_start_node(published: Published, mode: str) -> None:
    """PUB-MCP-SERVER: one tool named after the app, described by the app (or the server's own
    description), its parameters the Start node's inputs with their hints, options and limits."""
    async with Client(published.urls["Shout Box"], mode=mode) as client:
        listed = await client.list_tools()
    assert [tool.name for tool in listed.tools] == ["Shout_Box"]
    tool = listed.tools[0]
    assert tool.title == "Shout Box"
    assert tool.description == "Shouts the text it is given."
    schema = tool.input_schema
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"] == {"type": "string", "maxLength": 200, "description": "What to shout."}
    assert schema["properties"]["tone"] == {"type": "string", "enum": ["loud", "louder"], "description": "Tone"}
    assert schema["properties"]["times"] == {"type": "number", "description": "Times"}

    # The server's own descriptions replace the app's.
    await published.servers.update(
        published.api.apps["Shout Box"], description="Make text loud.", parameters={"times": "How many times."}
    )
    async with Client(published.urls["Shout Box"], mode=mode) as client:
        tool = (await client.list_tools()).tools[0]
    assert tool.description == "Make text loud."
    assert tool.input_schema["properties"]["times"]["description"] == "How many times."

    async with Client(published.urls["Parrot"], mode=mode) as client:
        chat_tool = (await client.list_tools()).tools[0]
    assert chat_tool.name == "Parrot"
    assert chat_tool.input_schema["required"] == ["query"]
    assert set(chat_tool.input_schema["properties"]) == {"query", "name", "conversation_id"}


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_calling_a_workflow_returns_its_outputs_with_progress_on_the_way(published: Published, mode: str) -> None:
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async with Client(published.urls["Shout Box"], mode=mode) as client:
        result = await client.call_tool(
            "Shout_Box", {"text": "hello", "tone": "louder"}, progress_callback=on_progress
        )
    assert not result.is_error, _text(result)
    assert result.structured_content == {"shout": "HELLO!!!"}
    assert _text(result) == '{"shout": "HELLO!!!"}'
    messages = [message for _value, message in progress]
    assert messages == [
        "Running Start", "Start succeeded", "Running Upper", "Upper succeeded", "Running End", "End succeeded",
    ]
    assert [value for value, _message in progress] == [1, 2, 3, 4, 5, 6]
    async with published.api.db.session() as session:
        run = await session.scalar(select(WorkflowRun).where(WorkflowRun.app_id == published.api.apps["Shout Box"]))
    assert run is not None and run.status == "succeeded" and run.outputs == {"shout": "HELLO!!!"}


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_calling_a_chatflow_answers_and_can_continue_the_conversation(published: Published, mode: str) -> None:
    chunks: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        chunks.append(message or "")

    async with Client(published.urls["Parrot"], mode=mode) as client:
        first = await client.call_tool("Parrot", {"query": "hi there", "name": "Ann"}, progress_callback=on_progress)
        assert not first.is_error, _text(first)
        assert _text(first) == "hi there (turn 1)"
        assert first.structured_content is not None
        conversation_id = first.structured_content["conversation_id"]
        second = await client.call_tool("Parrot", {"query": "again", "conversation_id": conversation_id})
    assert _text(second) == "again (turn 2)"
    assert second.structured_content == {"answer": "again (turn 2)", "conversation_id": conversation_id}
    # Nodes as they start and finish; the answer's text as it streams, between them.
    nodes = [c for c in chunks if c.startswith("Running ") or c.endswith(" succeeded")]
    assert nodes == [f"{step} {node}" if step == "Running" else f"{node} {step}"
                     for node in ("Start", "LLM", "Count", "Answer") for step in ("Running", "succeeded")]
    assert "".join(c for c in chunks if c not in nodes) == "hi there (turn 1)"
    async with published.api.db.session() as session:
        conversation = await session.get(Conversation, conversation_id)
        messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation_id))).all()
    assert conversation is not None and conversation.inputs == {"name": "Ann"}
    assert sorted(m.answer for m in messages) == ["again (turn 2)", "hi there (turn 1)"]
    assert {m.invoke_from for m in messages} == {"mcp"}


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_a_failed_run_and_bad_arguments_are_tool_errors(published: Published, mode: str) -> None:
    """Issue 7 deliverable 5: the run's message comes back as a tool error, never a protocol crash;
    the connection stays usable afterwards."""
    async with Client(published.urls["Broken"], mode=mode) as client:
        failed = await client.call_tool("Broken", {})
        assert failed.is_error
        assert "the script model needs a script" in _text(failed)
        assert _text(failed).startswith("The run failed: ")
        unknown = await client.call_tool("Shout_Box", {})
        assert unknown.is_error
        assert _text(unknown) == "This server has one tool, 'Broken': there is no tool 'Shout_Box'."
    async with Client(published.urls["Shout Box"], mode=mode) as client:
        missing = await client.call_tool("Shout_Box", {"tone": "loud"})
        assert missing.is_error and "text" in _text(missing)
        extra = await client.call_tool("Shout_Box", {"text": "a", "volume": 11})
        assert extra.is_error
        assert _text(extra) == "Unknown argument(s) 'volume': the app's inputs are text, times, tone."
        fine = await client.call_tool("Shout_Box", {"text": "still here"})
        assert fine.structured_content == {"shout": "STILL HERE!"}
    async with Client(published.urls["Parrot"], mode=mode) as client:
        no_query = await client.call_tool("Parrot", {"name": "Ann"})
        assert no_query.is_error and _text(no_query).startswith("'query' is required")


async def test_the_code_is_the_credential_regenerate_and_switch_off(published: Published) -> None:
    app_id = published.api.apps["Shout Box"]
    old_url = published.urls["Shout Box"]
    new = await published.servers.regenerate(app_id)
    assert new.url(published.base_url) != old_url and len(new.server_code) == 16
    async with httpx.AsyncClient() as http:
        gone = await http.post(old_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert gone.status_code == 404 and "regenerated" in gone.json()["error"]["message"]
    async with Client(new.url(published.base_url), mode="legacy") as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["Shout_Box"]

    await published.servers.disable(app_id)
    with pytest.raises(BaseExceptionGroup) as refused:
        async with Client(new.url(published.base_url), mode="legacy") as client:
            await client.list_tools()
    assert refused.group_contains(MCPError, match="the server is switched off")
    again = await published.servers.enable(app_id)
    assert again.server_code == new.server_code  # switched on again at the same URL
    async with Client(again.url(published.base_url), mode="2026-07-28") as client:
        assert len((await client.list_tools()).tools) == 1


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_a_server_can_also_require_an_app_key(published: Published, mode: str) -> None:
    app_id = published.api.apps["Shout Box"]
    await published.servers.update(app_id, require_api_key=True)
    url = published.urls["Shout Box"]
    async with httpx.AsyncClient() as http:
        refused = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        other = await http.post(url, json={}, headers=published.api.auth("Parrot"))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    assert "API keys as a Bearer token" in refused.json()["error"]["message"]
    assert other.status_code == 401
    assert other.json()["error"]["message"] == "The Bearer token is an API key of another app."
    async with httpx2.AsyncClient(headers=published.api.auth("Shout Box")) as http2:
        async with Client(streamable_http_client(url, http_client=http2), mode=mode) as client:
            result = await client.call_tool("Shout_Box", {"text": "key"})
    assert result.structured_content == {"shout": "KEY!"}


async def test_only_apps_a_person_starts_can_be_servers(published: Published) -> None:
    triggered = await published.api.add_app("nightly", TRIGGERED_WORKFLOW)
    with pytest.raises(McpServerError, match=r"starts with a trigger \(trigger-schedule\)"):
        await published.servers.enable(triggered)
    with pytest.raises(McpServerError, match=r"parameters\.text: a description must be a string"):
        await published.servers.update(published.api.apps["Shout Box"], parameters={"text": 3})


async def test_an_unpublished_app_cannot_list_its_tool(published: Published) -> None:
    draft_only = await published.api.add_app("draft", WORKFLOW, publish=False)
    server = await published.servers.enable(draft_only)
    with pytest.raises(BaseExceptionGroup) as refused:
        async with Client(server.url(published.base_url), mode="legacy") as client:
            await client.list_tools()
    assert refused.group_contains(MCPError, match=r"no published version: publish it first")


@pytest.mark.parametrize("mode", PROTOCOLS)
async def test_a_call_the_client_cancels_stops_the_run(published: Published, mode: str) -> None:
    """The client gives up on a call (a timeout cancels it): the run is stopped, not left to finish."""
    started: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        started.append(message or "")

    async with Client(published.urls["Slow"], mode=mode) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await client.call_tool("Slow", {}, progress_callback=on_progress)
    assert "Running LLM" in started

    async def ended() -> str | None:
        """The run's status once it has ended."""
        async with published.api.db.session() as session:
            run = await session.scalar(select(WorkflowRun).where(WorkflowRun.app_id == published.api.apps["Slow"]))
        return None if run is None or run.status == "running" else run.status

    assert await eventually(ended, what="the run ended") == "stopped"
