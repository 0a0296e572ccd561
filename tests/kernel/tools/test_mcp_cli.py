"""``treadle tools mcp``: the operators' way to a workspace's MCP servers (WS-MCP-CLIENT): add, list,
refresh, update, set a tool's settings, remove, sign in with OAuth (auth), against real MCP servers
built with the SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.local_server import closed_port
from support.mcp_oauth_server import OAuthMcpServer
from support.mcp_tool_server import WeatherMcpServer
from treadle.cli import main
from treadle.config import Settings
from treadle.plugins import PluginSupervisor
from treadle_sdk.ssrf import ALLOW_ENV

CLI = Callable[..., str]


@pytest.fixture(scope="module")
def weather() -> Iterator[WeatherMcpServer]:
    with WeatherMcpServer() as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """``cli("tools", "mcp", "list")``: a ``treadle`` command's output, run on a fresh data directory
    with the MCP client plugin inline, allowed to reach 127.0.0.1."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "treadle.toml").write_text('[plugins]\nload = ["mcp-tools"]\nplacement = {mcp-tools = "inline"}\n')
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.delenv("TREADLE_LOAD_PLUGINS", raising=False)
    monkeypatch.chdir(project)

    def run(*args: str, ok: bool = True) -> str:
        result = CliRunner().invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, f"treadle {' '.join(args)}: {result.output}"
        else:
            assert result.exit_code != 0, f"treadle {' '.join(args)} succeeded: {result.output}"
        return result.output

    return run


def test_mcp_servers_from_the_command_line(cli: CLI, weather: WeatherMcpServer) -> None:
    added = cli("tools", "mcp", "add", "weather", "Weather", weather.http_url, "--header", "X-Api-Key=key-0123456789")
    assert f"weather  'Weather'  {weather.http_url}  (streamable_http)" in added
    assert "  Weather » forecast: The weather forecast of a city for the next days." in added
    assert weather.requests[-1]["headers"]["x-api-key"] == "key-0123456789"

    [view] = json.loads(cli("tools", "mcp", "list", "--json"))
    assert view["headers"] == {"X-Api-Key": "key******789"}
    assert sorted(t["name"] for t in view["tools"]) == ["alert", "conditions", "forecast"]

    assert "(sse)" in cli("tools", "mcp", "update", "weather", "--url", weather.sse_url, "--clear-headers")
    assert "Weather » conditions" in cli("tools", "mcp", "refresh", "weather")
    cli("tools", "mcp", "tool", "weather", "forecast", "--description", "Weekly forecasts.", "--fixed", "days=7")
    [view] = json.loads(cli("tools", "mcp", "list", "--json"))
    forecast = next(t for t in view["tools"] if t["name"] == "forecast")
    assert forecast["settings"] == {"description": "Weekly forecasts.", "fixed": {"days": 7}}
    assert [p["name"] for p in forecast["parameters"]] == ["city"]

    assert "removed MCP server 'weather'" in cli("tools", "mcp", "remove", "weather")
    assert cli("tools", "mcp", "list") == "no MCP servers\n"


def test_refusals_are_clean_errors(cli: CLI, weather: WeatherMcpServer) -> None:
    too_long = cli("tools", "mcp", "add", "a" * 25, "Long", weather.http_url, ok=False)
    assert f"Error: {'a' * 25!r} is not a usable Server ID: use 1 to 24 lowercase letters" in too_long
    assert "(server_identifier)" in too_long
    assert "is not a usable Server ID" in cli("tools", "mcp", "add", "Weather", "W", weather.http_url, ok=False)
    cli("tools", "mcp", "add", "weather", "Weather", weather.http_url)
    twice = cli("tools", "mcp", "add", "weather", "Other", weather.sse_url, ok=False)
    assert "already has an MCP server with the Server ID 'weather' ('Weather')" in twice
    assert "no MCP server 'nope' (Server IDs: weather)" in cli("tools", "mcp", "refresh", "nope", ok=False)

    url = f"http://127.0.0.1:{closed_port()}/mcp"
    unreachable = cli("tools", "mcp", "add", "gone", "Gone", url, ok=False)
    assert f"unconfigured: cannot use the MCP server at {url}: over streamable HTTP" in unreachable
    assert "added 'gone', but its tools could not be listed" in unreachable
    assert "gone  'Gone'" in cli("tools", "mcp", "list")


def test_signing_in_to_an_oauth_server_from_the_command_line(cli: CLI) -> None:
    """``treadle tools mcp auth`` prints the authorization URL; the sign-in it starts is kept in the data
    directory, where the server that the browser comes back to finishes it."""
    with OAuthMcpServer() as notes:
        added = cli("tools", "mcp", "add", "notes", "Notes", notes.url, ok=False)
        assert "added 'notes', but it needs authorization: sign in with 'treadle tools mcp auth notes'" in added
        printed = cli("tools", "mcp", "auth", "notes").splitlines()
        assert printed[0].startswith("open this URL to authorize MCP server 'notes' (the browser comes back to ")
        redirect = "http://127.0.0.1:5001/console/api/mcp/oauth/callback"  # the default [server] address
        assert httpx.URL(printed[-1]).params["redirect_uri"] == redirect

        chosen = "https://treadle.example/console/api/mcp/oauth/callback"
        url = cli("tools", "mcp", "auth", "notes", "--redirect-uri", chosen).splitlines()[-1]
        with httpx.Client() as browser:
            back = httpx.URL(browser.get(url).headers["location"])
        assert str(back.copy_with(query=None)) == chosen

        async def finish() -> None:  # what the server at the redirect URI does
            async with PluginSupervisor(Settings.load()) as supervisor:
                await supervisor.mcp_tools.complete_authorization(back.params["state"], back.params["code"])

        asyncio.run(finish())
        [view] = json.loads(cli("tools", "mcp", "list", "--json"))
        assert (view["authorization"], [t["name"] for t in view["tools"]]) == ("authorized", ["whoami"])
