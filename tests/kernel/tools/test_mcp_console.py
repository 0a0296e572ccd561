"""The console's MCP servers (WS-MCP-CLIENT, WS-MEMBERS-ROLES), in Dify's shape: add one (its tools
listed from a real MCP server built with the SDK), list, change all but the Server ID, refresh, set a
tool's settings, remove; refusals in the error envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.mcp_tool_server import ICON, WeatherMcpServer
from support.service_api import INLINE_PLUGINS, owner_console, service_api
from treadle_sdk.ssrf import ALLOW_ENV

PROVIDER = "/workspaces/current/tool-provider/mcp"


@pytest.fixture(scope="module")
def weather() -> Iterator[WeatherMcpServer]:
    with WeatherMcpServer() as server:
        yield server


@pytest.fixture
async def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A client on ``/console/api`` of the whole application, the MCP client plugin inline (allowed to
    reach 127.0.0.1), signed in as the first workspace's owner."""
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")
    async with service_api(tmp_path, plugins=(*INLINE_PLUGINS, "mcp-tools")) as api, owner_console(api) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code and {"code", "message"} <= set(body), body
    return body


async def test_mcp_servers_in_the_console(console: httpx.AsyncClient, weather: WeatherMcpServer) -> None:
    made = await console.post(PROVIDER, json={
        "server_url": weather.http_url, "name": "Weather", "icon": "", "icon_type": "image",
        "server_identifier": "weather", "headers": {"Authorization": "Bearer tok-0123456789"},
        "configuration": {"timeout": 10, "sse_read_timeout": 60}})
    assert made.status_code == 200, made.text
    view = made.json()
    assert (view["server_identifier"], view["type"], view["icon"], view["is_team_authorization"]) == (
        "weather", "mcp", ICON, True)
    assert view["headers"] == {"Authorization": "Bea******789"}
    assert view["configuration"] == {"timeout": 10, "sse_read_timeout": 60}
    assert view["updated_at"] > 0  # as stored
    assert {t["label"] for t in view["tools"]} == {"Weather » alert", "Weather » conditions", "Weather » forecast"}
    assert weather.requests[-1]["headers"]["authorization"] == "Bearer tok-0123456789"

    listed = (await console.get("/workspaces/current/tools/mcp")).json()
    assert [s["server_identifier"] for s in listed] == ["weather"]
    assert (await console.get(f"{PROVIDER}/tools/{view['id']}")).json()["name"] == "Weather"

    # Edited with the masked header sent back: the stored one stays.
    changed = await console.put(PROVIDER, json={
        "provider_id": view["id"], "server_identifier": "weather", "server_url": weather.sse_url,
        "name": "Weather (SSE)", "icon": "", "headers": {"Authorization": "Bea******789"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["provider"]["connected_over"] == "sse"
    assert weather.requests[-1]["headers"]["authorization"] == "Bearer tok-0123456789"
    renamed_id = await console.put(PROVIDER, json={
        "provider_id": view["id"], "server_identifier": "weather-2", "server_url": weather.sse_url, "name": "W"})
    assert renamed_id.status_code == 400 and "cannot be changed" in error_of(renamed_id)["message"]

    refreshed = await console.get(f"{PROVIDER}/update/weather")
    assert refreshed.status_code == 200 and len(refreshed.json()["tools"]) == 3
    settings = await console.post(f"{PROVIDER}/tools/weather/forecast/settings",
                                  json={"description": "Forecasts.", "fixed": {"days": 2}})
    forecast = next(t for t in settings.json()["tools"] if t["name"] == "forecast")
    assert forecast["description"] == "Forecasts." and [p["name"] for p in forecast["parameters"]] == ["city"]

    deleted = await console.request("DELETE", PROVIDER, json={"provider_id": "weather"})
    assert deleted.json() == {"result": "success"}
    assert (await console.get("/workspaces/current/tools/mcp")).json() == []


async def test_refusals_answer_in_the_envelope(console: httpx.AsyncClient, weather: WeatherMcpServer) -> None:
    bad = await console.post(PROVIDER, json={"server_url": weather.http_url, "name": "X",
                                             "server_identifier": "Has-Upper"})
    assert bad.status_code == 400
    assert error_of(bad)["code"] == "invalid_param" and error_of(bad)["params"] == "server_identifier"
    first = {"server_url": weather.http_url, "name": "Weather", "server_identifier": "weather"}
    assert (await console.post(PROVIDER, json=first)).status_code == 200
    twice = await console.post(PROVIDER, json={**first, "name": "Other"})
    assert twice.status_code == 400 and "already has an MCP server with the Server ID" in error_of(twice)["message"]
    missing = await console.get(f"{PROVIDER}/update/nope")
    assert missing.status_code == 404 and "no MCP server 'nope'" in error_of(missing)["message"]
