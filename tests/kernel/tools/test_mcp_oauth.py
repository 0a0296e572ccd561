"""OAuth for MCP servers used as tools (WS-MCP-CLIENT, the MCP authorization spec): against a real MCP
server built with the SDK whose authorization server is in memory (``support.mcp_oauth_server``), through
the console (``.../tool-provider/mcp/auth`` and the public ``/mcp/oauth/callback``) and the kernel's
:class:`~treadle.tools.McpTools`, every request made by the ``mcp_client`` plugin behind the SSRF guard.

The tests follow the authorization URL with an HTTP client as a browser would: the server's
``/authorize`` redirects straight back to the callback with a code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.mcp_oauth_server import OAuthMcpServer
from support.service_api import INLINE_PLUGINS, ServiceApi, owner_console, service_api
from treadle.config import Settings
from treadle.models import SecretCipher
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.tools import McpAuthorizationError, McpOAuth, McpServer, McpServerError, SQLiteMcpServerStore
from treadle_sdk.errors import PluginNotFound
from treadle_sdk.ssrf import ALLOW_ENV

from ..support import short_home

PROVIDER = "/workspaces/current/tool-provider/mcp"
CALLBACK = "http://treadle.test/console/api/mcp/oauth/callback"


@pytest.fixture
def notes() -> Iterator[OAuthMcpServer]:
    with OAuthMcpServer() as server:
        yield server


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServiceApi]:
    """The whole application with the MCP client plugin inline, allowed to reach 127.0.0.1."""
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")
    async with service_api(tmp_path, plugins=(*INLINE_PLUGINS, "mcp-tools")) as made:
        yield made


@pytest.fixture
async def console(api: ServiceApi) -> AsyncIterator[httpx.AsyncClient]:
    """A client on ``/console/api``, signed in as the first workspace's owner."""
    async with owner_console(api) as client:
        yield client


async def browse(authorization_url: str) -> str:
    """Open the authorization URL as a browser would, and return where it is sent back to."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(authorization_url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def callback(api: ServiceApi, location: str) -> httpx.Response:
    """The browser arriving at the callback: no console session, only what the URL carries."""
    assert location.startswith(CALLBACK + "?"), location
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app)) as browser:
        return await browser.get(location)


async def call(supervisor: PluginSupervisor, tenant: str, tool: str = "whoami", **parameters: Any) -> list[Any]:
    payload = {"provider_type": "mcp", "provider": "notes", "tool": tool, "parameters": parameters}
    return [message async for message in supervisor.tools.invoke(tenant, payload, depth=0)]


async def authorized(api: ServiceApi, console: httpx.AsyncClient, notes: OAuthMcpServer) -> dict[str, Any]:
    """Add the Notes server and sign in to it through the console; the server as the callback shows it."""
    added = await console.post(PROVIDER, json={"server_url": notes.url, "name": "Notes", "server_identifier": "notes"})
    assert added.status_code == 200, added.text
    started = await console.post(PROVIDER + "/auth", json={"provider_id": "notes"})
    assert started.status_code == 200, started.text
    done = await callback(api, await browse(started.json()["authorization_url"]))
    assert done.status_code == 200, done.text
    provider: dict[str, Any] = done.json()["provider"]
    return provider


async def test_a_server_that_answers_401_is_kept_needing_authorization(
    console: httpx.AsyncClient, notes: OAuthMcpServer
) -> None:
    added = await console.post(PROVIDER, json={"server_url": notes.url, "name": "Notes", "server_identifier": "notes"})
    view = added.json()
    assert (view["authorization"], view["is_team_authorization"], view["tools"]) == ("required", False, [])
    assert view["error"].startswith("MCP server 'notes' (Notes) needs authorization: the MCP server at ")
    assert "answered HTTP 401 Unauthorized over streamable HTTP" in view["error"]
    assert "treadle tools mcp auth notes" in view["error"]
    assert set(notes.requests) == {"POST"}  # no token, and no SSE attempt (a GET) after the 401


async def test_signing_in_lists_the_tools_and_calls_carry_the_token(
    api: ServiceApi, console: httpx.AsyncClient, notes: OAuthMcpServer
) -> None:
    added = await console.post(PROVIDER, json={"server_url": notes.url, "name": "Notes", "server_identifier": "notes"})
    started = await console.post(PROVIDER + "/auth", json={"provider_id": added.json()["id"]})
    assert started.json()["result"] == "pending", started.text
    url = httpx.URL(started.json()["authorization_url"])
    assert (url.params["code_challenge_method"], url.params["redirect_uri"], url.params["resource"]) == (
        "S256", CALLBACK, notes.url)
    (client_id,) = notes.provider.clients  # registered dynamically
    assert url.params["client_id"] == client_id
    pending = await console.get(f"{PROVIDER}/tools/notes")
    assert pending.json()["authorization"] == "pending"

    location = await browse(str(url))
    done = await callback(api, location)
    assert done.status_code == 200, done.text
    view = done.json()["provider"]
    assert (view["authorization"], view["is_team_authorization"], view["error"]) == ("authorized", True, "")
    assert [t["name"] for t in view["tools"]] == ["whoami"]
    token = notes.requests[-1].removeprefix("POST ")
    assert token.startswith("Bearer at-")

    messages = await call(api.supervisor, api.tenant_id)
    assert messages[0] == {"type": "text", "text": f"client {client_id}"}
    assert notes.requests[-1] == f"POST {token}"

    again = await callback(api, location)  # a state works once
    assert again.status_code == 400 and "matches no MCP server authorization under way" in again.json()["message"]

    # The tokens and the client's secret are sealed in tools.db.
    stored = await api.supervisor.mcp_tools.server(api.tenant_id, "notes")
    with sqlite3.connect(api.settings.home / "tools.db") as db:
        dumped = "\n".join(db.iterdump())
    secrets = (stored.oauth.access_token, stored.oauth.refresh_token, notes.provider.clients[client_id].client_secret)
    assert all(secret and secret not in dumped for secret in secrets)


async def test_an_expired_token_is_refreshed_before_the_call(
    api: ServiceApi, console: httpx.AsyncClient, notes: OAuthMcpServer
) -> None:
    await authorized(api, console, notes)
    mcp = api.supervisor.mcp_tools
    server = await mcp.server(api.tenant_id, "notes")
    old = server.oauth.access_token
    await mcp.store.save(replace(server, oauth=replace(server.oauth, expires_at=1.0)))  # by expires_in: past

    await call(api.supervisor, api.tenant_id)
    renewed = await mcp.server(api.tenant_id, "notes")
    assert notes.provider.refreshed == 1
    assert renewed.oauth.access_token not in ("", old) and renewed.oauth.expires_at > 1.0
    assert notes.requests[-1] == f"POST Bearer {renewed.oauth.access_token}"


async def test_a_token_the_server_refuses_is_refreshed_once_and_the_call_made_again(
    api: ServiceApi, console: httpx.AsyncClient, notes: OAuthMcpServer
) -> None:
    await authorized(api, console, notes)
    notes.provider.expire_access_tokens()  # the server answers 401 to the token Treadle holds
    messages = await call(api.supervisor, api.tenant_id)
    assert messages[0]["text"].startswith("client ")
    assert notes.provider.refreshed == 1
    refreshed = await api.supervisor.mcp_tools.server(api.tenant_id, "notes")
    assert notes.requests[-1] == f"POST Bearer {refreshed.oauth.access_token}"


async def test_a_refused_refresh_needs_authorization_again(
    api: ServiceApi, console: httpx.AsyncClient, notes: OAuthMcpServer
) -> None:
    await authorized(api, console, notes)
    notes.provider.expire_access_tokens()
    notes.provider.refuse_refresh = True
    with pytest.raises(McpAuthorizationError) as caught:
        await call(api.supervisor, api.tenant_id)
    assert caught.value.message.startswith("MCP server 'notes' (Notes) needs authorization: the authorization server")
    assert "refused to refresh the access token: HTTP 400 invalid_grant (the grant was revoked)" in caught.value.message
    assert caught.value.details == {"error_type": "MCPAuthError", "provider": "notes"}
    view = (await console.get(f"{PROVIDER}/tools/notes")).json()
    assert (view["authorization"], view["is_team_authorization"]) == ("required", False)
    assert (await api.supervisor.mcp_tools.server(api.tenant_id, "notes")).oauth.tokens == {}

    # Re-authorize: the client registered before is used again.
    notes.provider.refuse_refresh = False
    started = await console.post(PROVIDER + "/auth", json={"provider_id": "notes"})
    done = await callback(api, await browse(started.json()["authorization_url"]))
    assert done.json()["provider"]["authorization"] == "authorized" and len(notes.provider.clients) == 1


async def test_a_state_that_matches_nothing_is_400(api: ServiceApi, console: httpx.AsyncClient) -> None:
    unknown = await callback(api, f"{CALLBACK}?code=abc&state=never-issued")
    body = unknown.json()
    assert (unknown.status_code, body["code"], body["params"]) == (400, "invalid_param", "state")
    assert body["message"].startswith("the state of this OAuth callback matches no MCP server authorization")
    missing = await callback(api, f"{CALLBACK}?code=abc")
    assert missing.status_code == 400 and missing.json()["params"] == "state"


async def test_a_server_without_oauth_cannot_start_a_sign_in(api: ServiceApi, console: httpx.AsyncClient) -> None:
    """Without the plugin's answer (here: a server on no reachable address) the start is 400, named."""
    await console.post(PROVIDER, json={"server_url": "http://127.0.0.1:9/mcp", "name": "Gone",
                                       "server_identifier": "gone"})
    started = await console.post(PROVIDER + "/auth", json={"provider_id": "gone"})
    assert started.status_code == 400
    assert started.json()["message"].startswith("cannot start the authorization of MCP server 'gone': ")


async def test_another_workspace_can_neither_start_nor_complete_it(notes: OAuthMcpServer) -> None:
    """Two workspaces with a server of the same Server ID: a state completes only the sign-in it was
    issued for, and neither workspace reaches the other's server by its record id."""
    with pytest.MonkeyPatch.context() as patch, short_home() as home:
        patch.setenv(ALLOW_ENV, "127.0.0.1")
        plan = GroupPlan("mcp", True, (PluginSpec("mcp-tools"),))
        async with PluginSupervisor(Settings.load(home=home), groups=[plan]) as supervisor:
            mcp = supervisor.mcp_tools
            a = await mcp.add_server("ws-a", "notes", "Notes", notes.url)
            await mcp.add_server("ws-b", "notes", "Notes", notes.url)
            with pytest.raises(PluginNotFound):
                await mcp.start_authorization("ws-b", a.id, CALLBACK)
            url_a = await mcp.start_authorization("ws-a", "notes", CALLBACK)
            url_b = await mcp.start_authorization("ws-b", "notes", CALLBACK)
            state_b = httpx.URL(await browse(url_b)).params["state"]
            done = httpx.URL(await browse(url_a)).params
            completed = await mcp.complete_authorization(done["state"], done["code"])
            assert (completed.tenant_id, [t["name"] for t in completed.tools]) == ("ws-a", ["whoami"])
            b = await mcp.server("ws-b", "notes")
            assert (b.oauth.access_token, b.needs_authorization) == ("", True)
            assert b.oauth.state_hash  # B's own sign-in is still under way
            with pytest.raises(McpServerError) as caught:
                await mcp.complete_authorization(state_b, done["code"])  # A's code under B's state
            assert "did not complete" in caught.value.message
            assert (await mcp.server("ws-b", "notes")).oauth.access_token == ""


async def test_oauth_secrets_are_sealed_and_the_state_found_by_its_hash(tmp_path: Path) -> None:
    cipher = SecretCipher(tmp_path / "secret_key")
    path = tmp_path / "tools.db"
    with sqlite3.connect(path) as db:  # a tools.db made before OAuth
        db.execute("CREATE TABLE mcp_tool_servers (tenant_id TEXT NOT NULL, server_id TEXT NOT NULL, id TEXT NOT NULL, "
                   "settings TEXT NOT NULL, headers TEXT NOT NULL, updated_at REAL NOT NULL, "
                   "PRIMARY KEY (tenant_id, server_id))")
    store = SQLiteMcpServerStore(path, cipher)
    oauth = McpOAuth(client={"client_id": "c-1", "client_secret": "cs-secret"}, metadata={"issuer": "https://as.example"},
                     resource="https://crm.example/mcp", tokens={"access_token": "at-secret", "refresh_token": "rt-s"},
                     expires_at=123.0, state_hash="h" * 64, code_verifier="v-secret", started_at=5.0)
    await store.save(McpServer("ws", "id-1", "crm", "CRM", "https://crm.example/mcp", oauth=oauth,
                               needs_authorization=True))
    found = await store.by_oauth_state("h" * 64)
    assert found is not None and found.oauth == oauth and found.needs_authorization
    assert await store.by_oauth_state("") is None and await store.by_oauth_state("x" * 64) is None
    with sqlite3.connect(path) as db:
        dumped = "\n".join(db.iterdump())
    assert not any(secret in dumped for secret in ("cs-secret", "at-secret", "rt-s", "v-secret"))
    assert "as.example" in dumped
