"""Treadle on both ends of MCP (PUB-MCP-SERVER with WS-MCP-CLIENT, issue 7): an app published as an
MCP server is added to a workspace as an MCP server, and its tool is called through the tool manager
like any MCP tool — the client plugin speaking to our own endpoint over real HTTP, with the app key
the server requires sent as a header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.local_server import serving_here
from support.service_api import INLINE_PLUGINS, ServiceApi, service_api
from treadle.runtime import McpServers
from treadle_sdk.errors import PluginError
from treadle_sdk.ssrf import ALLOW_ENV

from .support import CHATFLOW, FAILING_WORKFLOW, WORKFLOW

APPS = {"Shout Box": WORKFLOW, "Parrot": CHATFLOW, "Broken": FAILING_WORKFLOW}


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[ServiceApi, str]]:
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")
    plugins = (*INLINE_PLUGINS, "mcp-tools")
    async with service_api(tmp_path, apps=APPS, plugins=plugins) as running, serving_here(running.app) as base_url:
        yield running, base_url


async def _call(api: ServiceApi, server: str, tool: str, **parameters: Any) -> list[Any]:
    payload = {"provider_type": "mcp", "provider": server, "tool": tool, "parameters": parameters}
    return [message async for message in api.supervisor.tools.invoke(api.tenant_id, payload, depth=0)]


async def test_a_published_app_is_an_mcp_tool_of_the_workspace(api: tuple[ServiceApi, str]) -> None:
    running, base_url = api
    servers = McpServers(running.db, running.tenant_id)
    shout = await servers.enable(running.apps["Shout Box"], require_api_key=True)
    parrot = await servers.enable(running.apps["Parrot"])
    broken = await servers.enable(running.apps["Broken"])
    mcp = running.supervisor.mcp_tools
    added = await mcp.add_server(
        running.tenant_id, "shout", "Shout box", shout.url(base_url),
        headers={"Authorization": running.auth("Shout Box")["Authorization"]},
    )
    assert added.error == "" and [tool["name"] for tool in added.tools] == ["Shout_Box"]
    schema = await running.supervisor.tools.describe(
        running.tenant_id, {"provider_type": "mcp", "provider": "shout", "tool": "Shout_Box"}
    )
    assert [(p["name"], p["required"]) for p in schema["parameters"]] == [
        ("text", True), ("tone", False), ("times", False),
    ]

    messages = await _call(running, "shout", "Shout_Box", text="round trip", tone="louder")
    assert {"type": "json", "json_object": {"shout": "ROUND TRIP!!!"}} in [
        {key: m[key] for key in ("type", "json_object")} for m in messages if m.get("type") == "json"
    ]

    await mcp.add_server(running.tenant_id, "parrot", "Parrot", parrot.url(base_url))
    answered = await _call(running, "parrot", "Parrot", query="echo me")
    assert any(m.get("type") == "text" and m.get("text") == "echo me (turn 1)" for m in answered)

    await mcp.add_server(running.tenant_id, "broken", "Broken", broken.url(base_url))
    with pytest.raises(PluginError, match="the script model needs a script"):
        await _call(running, "broken", "Broken")

    # Without the key the server requires, the workspace's server cannot even list its tools.
    refused = await mcp.add_server(running.tenant_id, "keyless", "No key", shout.url(base_url))
    assert not refused.tools and "401" in refused.error, refused.error
