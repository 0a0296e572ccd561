"""Issue 5 acceptance: tenant isolation of the console API, walked over every ``/console/api`` route.

Workspace A (the first workspace, signed in as its owner) has a workflow app published twice, a chat
app, API keys of both, a workflow run made through ``/v1`` with the app's key, model credentials for
the ``fake`` provider and a default model, an API-based extension, a knowledge API key and a member.
Workspace B is another account that owns another workspace. With B's session, every route that
names one of A's records answers 404 (or 403), nothing of A changes, and every list shows none of
A's records (WS-WORKSPACE, WS-MEMBERS-ROLES, WS-APP-MGMT, VC-HISTORY, WS-MODEL-CREDENTIALS,
FEAT-MODERATION, API-COMMON-AUTH). An account in both workspaces sees only the current one's records,
and an account removed from a workspace loses access to it at once.

The walk table must name every console route: a route added without an entry fails
:func:`test_the_walk_covers_every_console_route`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route
from support.extension_server import KEY, ExtensionServer
from treadle.runtime import DEFAULT_OWNER_EMAIL
from treadle.store import Account, Tenant, TenantMember
from treadle.tenancy import PasswordHasher

from .conftest import CHAT, WORKFLOW, Console

B_EMAIL = "owner-b@example.com"
B_PASSWORD = "Workspace-B-passw0rd"
A_MEMBER_EMAIL = "a-member@example.com"
INVITE = "/workspaces/current/members/invite-email"
CREDENTIALS = "/workspaces/current/model-providers/{provider}/credentials"
FAKE = "/workspaces/current/model-providers/fake/credentials"
MCP_TOOLS = "/workspaces/current/tool-provider/mcp"

Headers = dict[str, str]


@dataclass
class World:
    """Workspace A's records (``ids``; B's own app and tenant under ``b_…`` names), the two owners'
    sessions, and the strings that only A's records show (``markers``: ids, key tokens, names, emails)."""

    console: Console
    a: Headers
    b: Headers
    server: ExtensionServer
    ids: dict[str, str] = field(default_factory=dict)
    markers: set[str] = field(default_factory=set)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.console.client


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    answered = await response
    assert answered.status_code == status, answered.text
    return answered.json() if answered.content else None


async def _build_a(console: Console, server: ExtensionServer) -> World:
    """Workspace A, made through the console as its owner (the run through ``/v1``)."""
    c = console.client
    a = await console.login()
    ids: dict[str, str] = {"tenant": console.api.tenant_id, "owner": await console.owner_id()}
    tokens: list[str] = []
    for kind, dsl in (("workflow", WORKFLOW), ("chat", CHAT)):
        made = await _ok(c.post("/apps/imports", headers=a, json={
            "mode": "yaml-content", "yaml_content": dsl, "name": f"A {kind}"}))
        ids[kind] = made["app_id"]
        key = await _ok(c.post(f"/apps/{made['app_id']}/api-keys", headers=a), 201)
        ids[f"{kind}_key"] = key["id"]
        tokens.append(key["token"])
    for name in ("v1", "v2"):
        await _ok(c.post(f"/apps/{ids['workflow']}/workflows/publish", headers=a, json={"marked_name": name}))
    versions = (await _ok(c.get(f"/apps/{ids['workflow']}/workflows", headers=a)))["items"]
    ids["draft"] = next(v["id"] for v in versions if v["version"] == "draft")
    ids["version"] = next(v["id"] for v in versions if v["marked_name"] == "v1")
    ids["current_version"] = next(v["id"] for v in versions if v["marked_name"] == "v2")
    mcp = await _ok(c.post(f"/apps/{ids['workflow']}/server", headers=a, json={"description": "A's tool"}))
    ids["mcp_server"], ids["mcp_code"] = mcp["id"], mcp["server_code"]
    run = await _ok(console.api.client.post("/workflows/run", headers={"Authorization": f"Bearer {tokens[0]}"},
                                            json={"inputs": {"text": "hi"}, "user": "x"}))
    ids["run"] = run["workflow_run_id"]
    nodes = await _ok(c.get(f"/apps/{ids['workflow']}/workflow-runs/{ids['run']}/node-executions", headers=a))
    ids["node_execution"] = nodes["data"][0]["id"]
    credential = await _ok(c.post(FAKE, headers=a, json={
        "credentials": {"api_key": "sk-a-1234567890"}, "name": "main"}), 201)
    ids["credential"] = credential["credential_id"]
    await _ok(c.post("/workspaces/current/default-model", headers=a, json={
        "model_settings": [{"model_type": "llm", "provider": "fake", "model": "script"}]}))
    extension = await _ok(c.post("/api-based-extension", headers=a, json={
        "name": "moderator", "api_endpoint": server.url_for("/moderate"), "api_key": KEY}), 201)
    ids["extension"] = extension["id"]
    dataset_key = await _ok(c.post("/datasets/api-keys", headers=a), 201)
    ids["dataset_key"] = dataset_key["id"]
    tokens.append(dataset_key["token"])
    await console.member(a, "normal", A_MEMBER_EMAIL)
    members = (await _ok(c.get("/workspaces/current/members", headers=a)))["accounts"]
    ids["member"] = next(m["id"] for m in members if m["email"] == A_MEMBER_EMAIL)
    ids["tenant_name"] = (await _ok(c.get("/workspaces/current", headers=a)))["name"]
    # Without the MCP client plugin the server is kept unconfigured: enough to own a record.
    crm = await _ok(c.post(MCP_TOOLS, headers=a, json={
        "server_url": "https://crm.example/mcp", "name": "CRM", "server_identifier": "crm"}))
    ids["mcp_tool_server"] = crm["id"]
    markers = {*ids.values(), *tokens, "A workflow", "A chat", DEFAULT_OWNER_EMAIL, A_MEMBER_EMAIL}
    return World(console, a, {}, server, ids, markers)


async def _build_b(world: World) -> None:
    """Workspace B: an account that owns it (made in the store), signed in, with a workflow app of its own."""
    tenant = Tenant(name="Workspace B")
    password_hash = PasswordHasher().hash(B_PASSWORD)
    async with world.console.api.db.session() as session:
        session.add(tenant)
        account = Account(email=B_EMAIL, name="Owner B", password_hash=password_hash, status="active")
        session.add(account)
        await session.flush()
        session.add(TenantMember(tenant_id=tenant.id, account_id=account.id, role="owner", current=True))
    world.ids.update(b_tenant=tenant.id, b_owner=account.id)
    world.b = b = await world.console.login(B_EMAIL, B_PASSWORD)
    c = world.client
    made = await _ok(c.post("/apps/imports", headers=b, json={
        "mode": "yaml-content", "yaml_content": WORKFLOW, "name": "B workflow"}))
    world.ids["b_workflow"] = made["app_id"]
    await _ok(c.post(f"/apps/{made['app_id']}/workflows/publish", headers=b, json={"marked_name": "b1"}))
    await _ok(c.post(f"/apps/{made['app_id']}/api-keys", headers=b), 201)


@pytest.fixture
async def world(console: Console) -> AsyncIterator[World]:
    with ExtensionServer() as server:
        built = await _build_a(console, server)
        await _build_b(built)
        yield built


@dataclass(frozen=True)
class Call:
    """One call of a route: ``{name}`` in the path, the query and the JSON body are filled from
    ``World.ids`` (``{server}`` is the extension server's moderation URL)."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    #: Whether A's own session reaches the record (the control); not when the call names B's own app,
    #: a key of the other kind, or a record the call before it deleted.
    reaches: bool = True

    async def __call__(self, w: World, headers: Headers) -> httpx.Response:
        values = {**w.ids, "server": w.server.url_for("/moderate")}
        query = {name: value.format(**values) for name, value in self.params.items()}
        content = None
        if self.body is not None:
            text = json.dumps(self.body)
            for name, value in values.items():
                text = text.replace("{" + name + "}", value)
            content = text.encode()
            headers = {**headers, "Content-Type": "application/json"}
        return await w.client.request(self.method, self.path.format(**values), headers=headers, params=query,
                                      content=content)


def _call(method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Call:
    return Call(method, path, body, params, reaches="{b_" not in path)


def _unreached(call: Call) -> Call:
    return Call(call.method, call.path, call.body, call.params, reaches=False)


def _calls(*calls: Call) -> tuple[Call, ...]:
    return calls


EXTENSION = {"name": "mine now", "api_endpoint": "{server}", "api_key": KEY}

#: Routes that name a record of workspace A (in the path, query or body): each call, made with B's
#: session, must answer 404 or 403. Where a route takes two ids, B's own app with A's record is tried too.
NAMED: dict[tuple[str, str], tuple[Call, ...]] = {
    ("POST", "/workspaces/switch"): _calls(_call("POST", "/workspaces/switch", {"tenant_id": "{tenant}"})),
    ("PUT", "/workspaces/current/members/{member_id}/update-role"): _calls(
        _call("PUT", "/workspaces/current/members/{member}/update-role", {"role": "admin"}),
        _call("PUT", "/workspaces/current/members/{owner}/update-role", {"role": "normal"}),
    ),
    ("DELETE", "/workspaces/current/members/{member_id}"): _calls(
        _call("DELETE", "/workspaces/current/members/{member}"),
        _call("DELETE", "/workspaces/current/members/{owner}"),
    ),
    ("GET", "/apps/{app_id}"): _calls(_call("GET", "/apps/{workflow}"), _call("GET", "/apps/{chat}")),
    ("DELETE", "/apps/{app_id}"): _calls(_call("DELETE", "/apps/{workflow}"), _call("DELETE", "/apps/{chat}")),
    ("GET", "/apps/{app_id}/export"): _calls(
        _call("GET", "/apps/{workflow}/export", include_secret="true"), _call("GET", "/apps/{chat}/export"),
    ),
    ("POST", "/apps/{app_id}/workflows/publish"): _calls(
        _call("POST", "/apps/{workflow}/workflows/publish", {"marked_name": "mine now"}),
    ),
    ("GET", "/apps/{app_id}/workflows"): _calls(_call("GET", "/apps/{workflow}/workflows")),
    ("POST", "/apps/{app_id}/workflows/{version_id}/restore"): _calls(
        _call("POST", "/apps/{workflow}/workflows/{version}/restore"),
        _call("POST", "/apps/{b_workflow}/workflows/{version}/restore"),
        _call("POST", "/apps/{b_workflow}/workflows/{current_version}/restore"),
    ),
    ("GET", "/apps/{app_id}/api-keys"): _calls(
        _call("GET", "/apps/{workflow}/api-keys"), _call("GET", "/apps/{chat}/api-keys"),
    ),
    ("POST", "/apps/{app_id}/api-keys"): _calls(
        _call("POST", "/apps/{workflow}/api-keys"), _call("POST", "/apps/{chat}/api-keys"),
    ),
    ("DELETE", "/apps/{app_id}/api-keys/{key_id}"): _calls(
        _call("DELETE", "/apps/{workflow}/api-keys/{workflow_key}"),
        _call("DELETE", "/apps/{b_workflow}/api-keys/{workflow_key}"),
        _call("DELETE", "/apps/{b_workflow}/api-keys/{dataset_key}"),
    ),
    ("GET", "/apps/{app_id}/workflow-runs"): _calls(_call("GET", "/apps/{workflow}/workflow-runs")),
    ("GET", "/apps/{app_id}/server"): _calls(_call("GET", "/apps/{workflow}/server")),
    ("POST", "/apps/{app_id}/server"): _calls(_call("POST", "/apps/{workflow}/server", {"description": "B's"})),
    ("PUT", "/apps/{app_id}/server"): _calls(_call("PUT", "/apps/{workflow}/server", {"status": "inactive"})),
    ("GET", "/apps/{server_id}/server/refresh"): _calls(_call("GET", "/apps/{mcp_server}/server/refresh")),
    ("GET", "/apps/{app_id}/workflow-runs/{run_id}"): _calls(
        _call("GET", "/apps/{workflow}/workflow-runs/{run}"),
        _call("GET", "/apps/{b_workflow}/workflow-runs/{run}"),
    ),
    ("GET", "/apps/{app_id}/workflow-runs/{run_id}/node-executions"): _calls(
        _call("GET", "/apps/{workflow}/workflow-runs/{run}/node-executions"),
        _call("GET", "/apps/{b_workflow}/workflow-runs/{run}/node-executions"),
    ),
    ("GET", CREDENTIALS): _calls(_call("GET", FAKE, credential_id="{credential}")),
    ("DELETE", CREDENTIALS): _calls(
        _call("DELETE", FAKE, credential_id="{credential}"),
        _unreached(_call("DELETE", FAKE, {"credential_id": "{credential}"})),
    ),
    ("POST", CREDENTIALS + "/switch"): _calls(_call("POST", FAKE + "/switch", {"credential_id": "{credential}"})),
    ("GET", "/api-based-extension/{extension_id}"): _calls(_call("GET", "/api-based-extension/{extension}")),
    ("POST", "/api-based-extension/{extension_id}"): _calls(
        _call("POST", "/api-based-extension/{extension}", EXTENSION),
    ),
    ("DELETE", "/api-based-extension/{extension_id}"): _calls(_call("DELETE", "/api-based-extension/{extension}")),
    ("DELETE", "/datasets/api-keys/{key_id}"): _calls(
        _call("DELETE", "/datasets/api-keys/{dataset_key}"),
        _unreached(_call("DELETE", "/datasets/api-keys/{workflow_key}")),
    ),
    ("GET", MCP_TOOLS + "/tools/{provider_id}"): _calls(_call("GET", MCP_TOOLS + "/tools/{mcp_tool_server}")),
    ("GET", MCP_TOOLS + "/update/{provider_id}"): _calls(_call("GET", MCP_TOOLS + "/update/{mcp_tool_server}")),
    ("PUT", MCP_TOOLS): _calls(_call("PUT", MCP_TOOLS, {
        "provider_id": "{mcp_tool_server}", "server_url": "https://b.example/mcp", "name": "B's now"})),
    ("DELETE", MCP_TOOLS): _calls(_call("DELETE", MCP_TOOLS, {"provider_id": "{mcp_tool_server}"})),
    # Without the MCP client plugin, A's own start is 400: the server is found, but no sign-in can begin.
    ("POST", MCP_TOOLS + "/auth"): _calls(_call("POST", MCP_TOOLS + "/auth", {"provider_id": "{mcp_tool_server}"})),
    # The unconfigured server has no tool: 404 for A as well.
    ("POST", MCP_TOOLS + "/tools/{provider_id}/{tool_name}/settings"): _calls(
        _unreached(_call("POST", MCP_TOOLS + "/tools/{mcp_tool_server}/find/settings", {"description": "B's"})),
    ),
}

#: Routes that list or describe what the caller's current workspace has: A's markers must not appear.
LISTS: dict[tuple[str, str], Call] = {
    ("GET", "/workspaces"): _call("GET", "/workspaces"),
    ("GET", "/workspaces/current"): _call("GET", "/workspaces/current"),
    ("GET", "/workspaces/current/members"): _call("GET", "/workspaces/current/members"),
    ("GET", "/apps"): _call("GET", "/apps"),
    ("GET", "/workspaces/current/model-providers"): _call("GET", "/workspaces/current/model-providers"),
    ("GET", CREDENTIALS): _call("GET", FAKE),
    ("GET", "/workspaces/current/default-model"): _call("GET", "/workspaces/current/default-model",
                                                        model_type="llm"),
    ("GET", "/workspaces/current/plugins"): _call("GET", "/workspaces/current/plugins"),
    ("GET", "/api-based-extension"): _call("GET", "/api-based-extension"),
    ("GET", "/datasets/api-keys"): _call("GET", "/datasets/api-keys"),
    ("GET", "/workspaces/current/tools/mcp"): _call("GET", "/workspaces/current/tools/mcp"),
}

#: Routes that make something new in the caller's current workspace (B's): made with B's session they
#: must succeed and leave A as it was. Names are the same as A's on purpose (a credential "main", an
#: extension "moderator"): names are unique per workspace, so B's must not clash with or replace A's.
CREATES: dict[tuple[str, str], tuple[Call, int]] = {
    ("POST", "/apps/imports"): (_call("POST", "/apps/imports", {
        "mode": "yaml-content", "yaml_content": CHAT, "name": "B chat"}), 200),
    ("POST", "/apps/{app_id}/api-keys"): (_call("POST", "/apps/{b_workflow}/api-keys"), 201),
    ("POST", INVITE): (_call("POST", INVITE, {"emails": ["b-member@example.com"], "role": "editor"}), 201),
    ("POST", CREDENTIALS): (_call("POST", FAKE, {"credentials": {"api_key": "sk-b-1234567890"}, "name": "main"}), 201),
    ("POST", "/workspaces/current/default-model"): (_call("POST", "/workspaces/current/default-model", {
        "model_settings": [{"model_type": "llm", "provider": "fake", "model": "echo"}]}), 200),
    ("POST", "/api-based-extension"): (_call("POST", "/api-based-extension", {
        "name": "moderator", "api_endpoint": "{server}", "api_key": KEY}), 201),
    ("POST", "/datasets/api-keys"): (_call("POST", "/datasets/api-keys"), 201),
    ("POST", MCP_TOOLS): (_call("POST", MCP_TOOLS, {
        "server_url": "https://crm.example/mcp", "name": "CRM", "server_identifier": "crm"}), 200),
}

#: Routes that act on the caller's own account or session, not on a workspace's records: signing in
#: (takes an email and password, answers with the caller's own session), signing out and renewing
#: (end or renew the caller's own session), and the caller's own profile.
OWN: set[tuple[str, str]] = {
    ("POST", "/login"), ("POST", "/logout"), ("POST", "/refresh-token"), ("GET", "/account/profile"),
}


#: Public routes authenticated by what they carry, not by a session: the OAuth callback of MCP servers
#: finishes the one sign-in its state was issued for, whoever brings it (a state it does not know is 400,
#: tested in tests/kernel/tools/test_mcp_oauth.py with two workspaces).
CARRIED: set[tuple[str, str]] = {("GET", "/mcp/oauth/callback")}


def _console_routes(application: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in application.routes:
        if isinstance(route, Mount) and route.path == "/console/api":
            for inner in route.routes:
                if isinstance(inner, Route):
                    found.update((method, inner.path) for method in inner.methods or () if method != "HEAD")
    return found


async def _a_snapshot(w: World) -> dict[str, Any]:
    """Everything of A its owner can read: compared before and after B's calls."""
    i = w.ids
    paths = [
        "/apps", f"/apps/{i['workflow']}", f"/apps/{i['chat']}", f"/apps/{i['workflow']}/workflows",
        f"/apps/{i['workflow']}/export?include_secret=true", f"/apps/{i['chat']}/export",
        f"/apps/{i['workflow']}/api-keys", f"/apps/{i['chat']}/api-keys", f"/apps/{i['workflow']}/workflow-runs",
        f"/apps/{i['workflow']}/workflow-runs/{i['run']}",
        f"/apps/{i['workflow']}/workflow-runs/{i['run']}/node-executions", f"/apps/{i['workflow']}/server",
        "/workspaces/current", "/workspaces/current/members", "/workspaces/current/model-providers", FAKE,
        "/workspaces/current/default-model?model_type=llm", "/api-based-extension", "/datasets/api-keys",
        "/workspaces/current/tools/mcp",
    ]
    snapshot = {}
    for path in paths:
        response = await w.client.get(path, headers=w.a)
        assert response.status_code == 200, f"{path}: {response.text}"
        snapshot[path] = response.json()
    return snapshot


async def _refusals(w: World, headers: Headers, *, skip: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
    """Each NAMED call made with ``headers`` that did not answer 404 or 403, with what it answered."""
    let_through = {}
    for (method, path), calls in NAMED.items():
        if (method, path) in skip:
            continue
        for index, call in enumerate(calls):
            response = await call(w, headers)
            if response.status_code not in (403, 404):
                let_through[f"{method} {path} #{index}"] = (response.status_code, response.text[:300])
    return let_through


async def _leaks(w: World, headers: Headers) -> dict[str, list[str]]:
    """A's markers that each LISTS route shows to ``headers`` (every one must answer 200)."""
    found = {}
    for (method, path), call in LISTS.items():
        response = await call(w, headers)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        leaked = sorted(m for m in w.markers if m in response.text)
        if leaked:
            found[f"{method} {path}"] = leaked
    return found


async def _create_in_b(w: World) -> None:
    for (method, path), (call, status) in CREATES.items():
        response = await call(w, w.b)
        assert response.status_code == status, f"{method} {path}: {response.text}"


async def test_the_walk_covers_every_console_route(console: Console) -> None:
    """Every ``/console/api`` route (method and path) has an entry in NAMED, LISTS, CREATES, OWN or CARRIED."""
    routes = _console_routes(console.api.app)
    walked = set(NAMED) | set(LISTS) | set(CREATES) | OWN | CARRIED
    assert routes - walked == set(), "console routes the isolation walk does not cover"
    assert walked - routes == set(), "walk entries for routes that do not exist"
    assert (OWN | CARRIED).isdisjoint(set(NAMED) | set(LISTS) | set(CREATES))


async def test_the_walk_reaches_workspace_a_records_with_a_session(world: World) -> None:
    """The control: with A's owner session the same calls find A's records (none is 404), so B's 404s
    come from the workspace, not from a malformed call. Deletions go last; calls that are 404 for A as
    well (see :attr:`Call.reaches`) are left out."""
    calls = [(route, call) for route, group in NAMED.items() for call in group if call.reaches]
    calls.sort(key=lambda pair: (pair[1].method == "DELETE", pair[0] == ("DELETE", "/apps/{app_id}")))
    not_found = {}
    for (method, path), call in calls:
        response = await call(world, world.a)
        if response.status_code == 404 or response.status_code >= 500:
            not_found[f"{method} {path} {call.path}"] = (response.status_code, response.text[:300])
    assert not_found == {}


async def test_workspace_b_gets_404_or_403_on_every_record_of_workspace_a(world: World) -> None:
    """Issue 5: B's session on every route naming A's app, version, key, run, member, extension, knowledge
    key or model credential is 404 or 403, and A reads the same afterwards (WS-WORKSPACE, WS-APP-MGMT)."""
    before = await _a_snapshot(world)
    assert await _refusals(world, world.b) == {}, "routes that let workspace B reach workspace A's records"
    assert await _a_snapshot(world) == before, "workspace B's calls changed workspace A"
    # A's keys still open its apps on /v1.
    keys = await _ok(world.client.get(f"/apps/{world.ids['workflow']}/api-keys", headers=world.a))
    assert [k["id"] for k in keys["data"]] == [world.ids["workflow_key"]]


async def test_workspace_b_creating_its_own_records_changes_nothing_of_workspace_a(world: World) -> None:
    """What B makes (apps, keys, members, a credential and an extension named as A's, a default model)
    lands in B only (WS-MODEL-CREDENTIALS, WS-DEFAULT-MODELS, FEAT-MODERATION)."""
    before = await _a_snapshot(world)
    await _create_in_b(world)
    assert await _a_snapshot(world) == before, "records B made in its own workspace changed workspace A"
    # A's default model and credential stay A's; B's are its own.
    a_default = before["/workspaces/current/default-model?model_type=llm"]["data"]
    assert a_default["model"] == "script"
    b_default = await _ok(world.client.get("/workspaces/current/default-model", headers=world.b,
                                           params={"model_type": "llm"}))
    assert b_default["data"]["model"] == "echo"
    b_credentials = await _ok(world.client.get(FAKE, headers=world.b))
    assert [c["credential_name"] for c in b_credentials["available_credentials"]] == ["main"]
    assert b_credentials["current_credential_id"] != world.ids["credential"]


async def test_workspace_b_lists_none_of_workspace_a(world: World) -> None:
    """Every list B reads (workspaces, members, apps, providers, credentials, default model, plugins,
    extensions, knowledge keys) shows none of A's ids, key tokens, names or emails."""
    await _create_in_b(world)
    assert await _leaks(world, world.b) == {}, "lists that show workspace A's records to workspace B"
    apps = await _ok(world.client.get("/apps", headers=world.b))
    assert sorted(app["name"] for app in apps["data"]) == ["B chat", "B workflow"]
    workspaces = await _ok(world.client.get("/workspaces", headers=world.b))
    assert [(w["id"], w["current"]) for w in workspaces["workspaces"]] == [(world.ids["b_tenant"], True)]
    profile = await _ok(world.client.get("/account/profile", headers=world.b))
    assert profile["id"] == world.ids["b_owner"] and profile["email"] == B_EMAIL


async def test_a_member_of_both_workspaces_sees_only_the_current_ones_records(world: World) -> None:
    """An account in A and B, switched to B, reaches none of A's records and lists none; its session in
    A still reads A and not B (WS-WORKSPACE, WS-MEMBERS-ROLES)."""
    c = world.client
    both_in_a = await world.console.member(world.a, "admin", "both@example.com")  # signed in: A is current
    invited = await _ok(c.post(INVITE, headers=world.b, json={"emails": ["both@example.com"], "role": "admin"}), 201)
    assert invited["invitation_results"][0]["status"] == "success"
    assert "password" not in invited["invitation_results"][0]  # an existing account joins without a new one
    switched = await _ok(c.post("/workspaces/switch", headers=both_in_a, json={"tenant_id": world.ids["b_tenant"]}))
    both_in_b = {"Authorization": f"Bearer {switched['data']['access_token']}"}

    before = await _a_snapshot(world)
    # Current workspace B: A's records are out of reach (switching back to A is allowed: a member of A).
    let_through = await _refusals(world, both_in_b, skip=frozenset({("POST", "/workspaces/switch")}))
    assert let_through == {}, "routes that let a member of both workspaces reach A's records from B"
    assert await _a_snapshot(world) == before
    leaks = await _leaks(world, both_in_b)
    # Only the workspace list names A (among the account's workspaces), and not as the current one.
    assert leaks.pop("GET /workspaces") == sorted(m for m in world.markers if m in (world.ids["tenant"],
                                                                                    world.ids["tenant_name"]))
    assert leaks == {}, "lists of workspace B that show workspace A's records"
    listed = await _ok(c.get("/workspaces", headers=both_in_b))
    assert {w["id"]: w["current"] for w in listed["workspaces"]} == {world.ids["tenant"]: False,
                                                                     world.ids["b_tenant"]: True}
    # The session in A still reads A's records, and only A's.
    apps_in_a = await _ok(c.get("/apps", headers=both_in_a))
    assert sorted(app["id"] for app in apps_in_a["data"]) == sorted([world.ids["workflow"], world.ids["chat"]])
    assert (await c.get(f"/apps/{world.ids['b_workflow']}", headers=both_in_a)).status_code == 404


async def test_access_ends_when_workspace_b_owner_is_removed_from_workspace_a(world: World) -> None:
    """B's owner, added to A and switched to it, loses every route of A (403/404) the moment A's owner
    removes it, cannot switch back, and signs in to B (WS-MEMBERS-ROLES)."""
    c = world.client
    added = await _ok(c.post(INVITE, headers=world.a, json={"emails": [B_EMAIL], "role": "admin"}), 201)
    assert added["invitation_results"][0]["status"] == "success"
    switched = await _ok(c.post("/workspaces/switch", headers=world.b, json={"tenant_id": world.ids["tenant"]}))
    in_a = {"Authorization": f"Bearer {switched['data']['access_token']}"}
    assert (await c.get(f"/apps/{world.ids['workflow']}", headers=in_a)).status_code == 200
    run_path = f"/apps/{world.ids['workflow']}/workflow-runs/{world.ids['run']}"
    assert (await c.get(run_path, headers=in_a)).status_code == 200

    removed = await c.delete(f"/workspaces/current/members/{world.ids['b_owner']}", headers=world.a)
    assert removed.status_code == 204, removed.text
    before = await _a_snapshot(world)
    for path in (f"/apps/{world.ids['workflow']}", run_path, "/apps", "/workspaces/current/members"):
        gone = await c.get(path, headers=in_a)
        assert gone.status_code == 403, f"{path}: {gone.text}"
    assert await _refusals(world, in_a) == {}, "routes still open to a member removed from workspace A"
    assert await _a_snapshot(world) == before
    back = await c.post("/workspaces/switch", headers=world.b, json={"tenant_id": world.ids["tenant"]})
    assert back.status_code == 404, back.text
    workspaces = await _ok(c.get("/workspaces", headers=world.b))
    assert [w["id"] for w in workspaces["workspaces"]] == [world.ids["b_tenant"]]
    # Signing in again lands in B, the only workspace left.
    again = await world.console.login(B_EMAIL, B_PASSWORD)
    current = await _ok(c.get("/workspaces/current", headers=again))
    assert current["id"] == world.ids["b_tenant"] and current["role"] == "owner"


MODERATED_BY = """\
version: 0.3.0
kind: app
app: {mode: chat, name: B moderated}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
  sensitive_word_avoidance:
    enabled: true
    type: api
    config:
      api_based_extension_id: EXTENSION_ID
      inputs_config: {enabled: true, preset_response: ""}
      outputs_config: {enabled: true, preset_response: ""}
"""


async def test_an_app_of_workspace_b_cannot_call_workspace_a_extension(world: World) -> None:
    """FEAT-MODERATION: an app B imports that names A's API extension by id does not reach it (nor A's
    key): its runs are refused as the app being unavailable, and A's extension is never called."""
    c = world.client
    dsl = MODERATED_BY.replace("EXTENSION_ID", world.ids["extension"])
    made = await _ok(c.post("/apps/imports", headers=world.b, json={"mode": "yaml-content", "yaml_content": dsl}))
    key = await _ok(c.post(f"/apps/{made['app_id']}/api-keys", headers=world.b), 201)
    calls_before = len(world.server.calls)
    run = await world.console.api.client.post(
        "/chat-messages",
        headers={"Authorization": f"Bearer {key['token']}"},
        json={"inputs": {}, "query": "please refuse", "user": "x", "response_mode": "blocking"},
    )
    assert run.status_code == 400, run.text
    assert run.json()["code"] == "app_unavailable" and "Refused." not in run.text
    assert len(world.server.calls) == calls_before
