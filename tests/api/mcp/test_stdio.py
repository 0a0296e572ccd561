"""Issue 7 end to end with real processes (PUB-MCP-SERVER): apps published from the CLI
(``treadle app mcp APP_ID --enable --json``), a live ``treadle serve`` answering the ``mcp`` SDK's
client in both protocols, and the stdio bridge ``treadle mcp stdio`` spawned by the SDK's stdio
client — running the app in its own process, and relaying to the live server."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from support.serve import TREADLE, running_server

from .support import CHATFLOW, FAILING_WORKFLOW, WORKFLOW

pytestmark = pytest.mark.slow


def _cli(home: Path, *args: str) -> Any:
    env = {**os.environ, "TREADLE_HOME": str(home)}
    env.pop("TREADLE_CONFIG", None)
    done = subprocess.run([TREADLE, *args], env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout.strip()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data directory with three published apps (their MCP servers off until a test needs them)."""
    root = tmp_path_factory.mktemp("mcp-e2e")
    home = root / "home"
    apps = {}
    for name, dsl in {"workflow": WORKFLOW, "chatflow": CHATFLOW, "broken": FAILING_WORKFLOW}.items():
        path = root / f"{name}.yml"
        path.write_text(dsl)
        app_id = _cli(home, "app", "import", str(path), "--json")["id"]
        _cli(home, "app", "publish", app_id)
        apps[name] = app_id
    yield {"root": root, "home": home, "apps": apps}


def _text(result: types.CallToolResult) -> str:
    return "".join(part.text for part in result.content if isinstance(part, types.TextContent))


def _stdio(home: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=TREADLE, args=["mcp", "stdio", *args], env={"TREADLE_HOME": str(home)}, cwd=str(home.parent)
    )


async def _exercise(client: Client) -> list[str]:
    """List the workflow's tool and call it with progress; the progress messages."""
    tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == ["Shout_Box"]
    assert tools[0].input_schema["properties"]["text"]["description"] == "What to shout."
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    result = await client.call_tool("Shout_Box", {"text": "over stdio"}, progress_callback=on_progress)
    assert not result.is_error, _text(result)
    assert result.structured_content == {"shout": "OVER STDIO!"}
    return progress


async def test_cli_publishes_and_a_live_server_answers_both_protocols(home: dict[str, Any]) -> None:
    apps = home["apps"]
    enabled = _cli(home["home"], "app", "mcp", apps["workflow"], "--enable", "--json")
    assert enabled["status"] == "active"
    assert enabled["server_url"].endswith(f"/mcp/server/{enabled['server_code']}/mcp")
    chat_url = _cli(home["home"], "app", "mcp", apps["chatflow"], "--enable")
    broken_url = _cli(home["home"], "app", "mcp", apps["broken"], "--enable")
    with running_server(home["home"], home["root"] / "server.log") as info:
        url = f"{info['url']}/mcp/server/{enabled['server_code']}/mcp"
        chat_url = chat_url.replace(chat_url.split("/mcp/server/")[0], info["url"])
        broken_url = broken_url.replace(broken_url.split("/mcp/server/")[0], info["url"])

        for mode in ("legacy", "2026-07-28"):
            async with Client(url, mode=mode) as client:
                progress = await _exercise(client)
                assert progress[:2] == ["Running Start", "Start succeeded"]
            async with Client(chat_url, mode=mode) as client:
                answer = await client.call_tool("Parrot", {"query": "hello"})
                assert _text(answer) == "hello (turn 1)"
            async with Client(broken_url, mode=mode) as client:
                failed = await client.call_tool("Broken", {})
                assert failed.is_error and "the script model needs a script" in _text(failed)
        # Regenerated from the CLI while the server runs: the old URL stops at once.
        fresh = _cli(home["home"], "app", "mcp", apps["workflow"], "--regenerate", "--json")
        assert fresh["server_code"] != enabled["server_code"]
        async with httpx.AsyncClient() as http:
            gone = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert gone.status_code == 404
        off = _cli(home["home"], "app", "mcp", apps["workflow"], "--disable")
        assert off.startswith(f"the MCP server of app {apps['workflow']} is off")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_stdio_bridge_runs_the_app_locally(home: dict[str, Any], mode: str) -> None:
    """No server is running on the data directory: the bridge runs the app in its own process."""
    params = _stdio(home["home"], "--app", home["apps"]["workflow"], "--local")
    async with Client(params, mode=mode) as client:
        progress = await _exercise(client)
        assert "Upper succeeded" in progress
        failed = await client.call_tool("Shout_Box", {"tone": "loud"})
        assert failed.is_error and "text" in _text(failed)


async def test_the_stdio_bridge_relays_to_the_running_server(home: dict[str, Any]) -> None:
    """With a server running on the data directory and the app's MCP server on, the bridge relays
    to it over HTTP: a server that requires an app key refuses the bridge until it sends one."""
    app_id = home["apps"]["workflow"]
    _cli(home["home"], "app", "mcp", app_id, "--enable", "--require-key")
    key = _cli(home["home"], "app", "key", app_id)
    try:
        with running_server(home["home"], home["root"] / "relay-server.log"):
            async with Client(_stdio(home["home"], "--app", app_id), mode="auto") as client:
                refused = await client.call_tool("Shout_Box", {"text": "no key"})
                assert refused.is_error and "did not answer" in _text(refused)
            async with Client(_stdio(home["home"], "--app", app_id, "--key", key), mode="legacy") as client:
                progress = await _exercise(client)
                # Relayed notifications may trail the result they belong to: their set, not their order.
                assert {"Running Start", "Upper succeeded"} <= set(progress)
    finally:
        _cli(home["home"], "app", "mcp", app_id, "--no-require-key", "--disable")


async def test_the_stdio_bridge_says_why_a_server_does_not_answer(home: dict[str, Any]) -> None:
    dead = "http://127.0.0.1:9/mcp/server/nothing/mcp"
    async with Client(_stdio(home["home"], "--url", dead), mode="legacy") as client:
        result = await client.call_tool("anything", {})
    assert result.is_error and _text(result).startswith(f"the Treadle server at {dead} did not answer")


def test_the_stdio_bridge_refuses_an_unknown_app_before_serving(home: dict[str, Any]) -> None:
    done = subprocess.run(
        [TREADLE, "mcp", "stdio", "--app", "no-such-app", "--local"],
        env={**os.environ, "TREADLE_HOME": str(home["home"])},
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: app 'no-such-app' not found"
