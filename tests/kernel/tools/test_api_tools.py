"""Custom tools end to end (WS-TOOLS, custom tools; PLUG-REVERSE-TOOL): an OpenAPI document imported
for a workspace, its operations called through the tool manager and a kernel client, the requests
sent by the ``openapi_request`` plugin (inline and in a host process) to a real local server behind
the SSRF guard, with each kind of credential."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.tools import ApiTools
from treadle_sdk.errors import PluginError, PluginFailed, PluginNotFound
from treadle_sdk.ssrf import ALLOW_ENV

from ..support import short_home
from .petstore import PetShopServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

TENANT = "workspace-1"


@pytest.fixture(scope="module")
def shop() -> Iterator[PetShopServer]:
    with PetShopServer() as server:
        yield server


def supervisor_for(home: Any, inline: bool) -> PluginSupervisor:
    plan = GroupPlan("openapi", inline, (PluginSpec("openapi-tools"),))
    return PluginSupervisor(Settings.load(home=home), groups=[plan])


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["inline", "process"])
async def kernel(
    request: pytest.FixtureRequest, shop: PetShopServer
) -> AsyncIterator[tuple[PluginSupervisor, ApiTools]]:
    """A supervisor running the request plugin (inline, or in its own host process) that may reach
    127.0.0.1, with the pet shop imported as the custom tool provider ``petshop``."""
    with pytest.MonkeyPatch.context() as patch, short_home() as home:
        patch.setenv(ALLOW_ENV, "127.0.0.1")
        async with supervisor_for(home, request.param == "inline") as supervisor:
            api = ApiTools(supervisor.invoke)
            supervisor.tools.add_source("api", api)
            await api.save_provider(TENANT, "petshop", shop.spec)
            await api.save_provider(TENANT, "oddities", shop.oddities)
            yield supervisor, api


async def call(supervisor: PluginSupervisor, tool: str, provider: str = "petshop", **parameters: Any) -> list[Any]:
    payload = {"provider_type": "api", "provider": provider, "tool": tool, "parameters": parameters}
    return [message async for message in supervisor.tools.invoke(TENANT, payload, depth=0)]


async def test_an_operation_answers_json_as_json_and_text(kernel: tuple[PluginSupervisor, ApiTools],
                                                          shop: PetShopServer) -> None:
    supervisor, _ = kernel
    messages = await call(supervisor, "listPets", tag="dog", **{"X-Request-Id": "req-7", "session": "s1"})
    assert messages == [
        {"type": "json", "json_object": [{"id": 2, "name": "Rex", "tags": ["dog"]}]},
        {"type": "text", "text": '[{"id": 2, "name": "Rex", "tags": ["dog"]}]'},
    ]
    seen = shop.last
    assert (seen["method"], seen["path"]) == ("GET", "/v1/pets")
    assert seen["query"] == [("limit", "20"), ("tag", "dog")]
    assert seen["headers"]["x-request-id"] == "req-7"
    assert seen["cookies"] == {"session": "s1"}
    assert "authorization" not in seen["headers"]


async def test_nodes_reach_custom_tools_through_the_kernel_client(kernel: tuple[PluginSupervisor, ApiTools],
                                                                  shop: PetShopServer) -> None:
    """PLUG-REVERSE-TOOL with provider_type api: what tool and agent nodes call."""
    supervisor, api = kernel
    provider = await api.provider(TENANT, "petshop")
    with supervisor.kernel_client(tenant_id=TENANT) as client:
        schema = await client.adescribe_tool("petshop", "showPetById", provider_type="api")
        # DSL files name a custom provider by its id too.
        messages = await client.ainvoke_tool(provider.id, "showPetById", {"petId": 1}, provider_type="api")
    assert [p.name for p in schema.parameters] == ["petId"]
    assert messages[0] == {"type": "json", "json_object": {"id": 1, "name": "Tom", "tags": ["cat"]}}
    assert shop.last["path"] == "/v1/pets/1"


async def test_json_and_form_bodies_reach_the_server(kernel: tuple[PluginSupervisor, ApiTools],
                                                     shop: PetShopServer) -> None:
    supervisor, _ = kernel
    created = await call(supervisor, "createPet", name="Kit", tags=["cat"], weight="2.5")
    assert created[0] == {"type": "json", "json_object": {"id": 3, "name": "Kit", "tags": ["cat"], "weight": 2.5}}
    assert shop.last["headers"]["content-type"] == "application/json"
    assert json.loads(shop.last["body"]) == {"name": "Kit", "tags": ["cat"], "weight": 2.5}

    found = await call(supervisor, "searchPets", q="grey cat", vaccinated=True)
    assert found[0] == {"type": "json", "json_object": {"q": "grey cat", "vaccinated": "true"}}
    assert shop.last["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert shop.last["body"] == b"q=grey+cat&vaccinated=true"


async def test_text_empty_and_binary_answers(kernel: tuple[PluginSupervisor, ApiTools]) -> None:
    supervisor, _ = kernel
    assert await call(supervisor, "pet_notes", petId=2) == [{"type": "text", "text": "Pet 2 likes naps. Prix: 10 €"}]
    assert await call(supervisor, "delete_pets_petId", petId=2) == [{"type": "text", "text": ""}]
    # A bare JSON scalar is text: json messages carry objects and arrays only (PLUG-TOOL-SCHEMA).
    assert await call(supervisor, "count", provider="oddities") == [{"type": "text", "text": "2"}]
    (photo,) = await call(supervisor, "photo", provider="oddities")
    assert photo["type"] == "blob" and photo["mime_type"] == "image/png"
    assert base64.b64decode(photo["blob"]) == b"\x89PNG\r\n\x1a\n\x00\x00"


@pytest.mark.parametrize(
    ("credentials", "header", "query"),
    [
        ({"auth_type": "api_key_header", "api_key_value": "tok-1", "api_key_header_prefix": "bearer"},
         ("authorization", "Bearer tok-1"), None),
        ({"auth_type": "api_key_header", "api_key_header": "X-API-Key", "api_key_value": "tok-2"},
         ("x-api-key", "tok-2"), None),
        ({"auth_type": "api_key_header", "api_key_value": "ann:pw", "api_key_header_prefix": "basic"},
         ("authorization", "Basic " + base64.b64encode(b"ann:pw").decode()), None),
        ({"auth_type": "api_key_query", "api_key_query_param": "api_key", "api_key_value": "tok-3"},
         None, ("api_key", "tok-3")),
    ],
    ids=["bearer", "custom-header", "basic", "query"],
)
async def test_each_kind_of_credential_reaches_the_server(
    kernel: tuple[PluginSupervisor, ApiTools],
    shop: PetShopServer,
    credentials: dict[str, Any],
    header: tuple[str, str] | None,
    query: tuple[str, str] | None,
) -> None:
    supervisor, api = kernel
    await api.save_provider(TENANT, "petshop-auth", shop.spec, credentials=credentials)
    await call(supervisor, "showPetById", provider="petshop-auth", petId=1)
    seen = shop.last
    if header is not None:
        assert seen["headers"][header[0]] == header[1]
        assert seen["query"] == []
    if query is not None:
        assert seen["query"] == [query]
        assert "authorization" not in seen["headers"]


async def test_an_error_answer_fails_naming_the_status_and_the_body(kernel: tuple[PluginSupervisor, ApiTools]) -> None:
    supervisor, _ = kernel
    with pytest.raises(PluginFailed) as info:
        await call(supervisor, "showPetById", petId=99)
    error = info.value
    assert error.details["error_type"] == "ToolInvokeError"
    assert error.details["status"] == 404
    assert "GET http://127.0.0.1:" in error.message and "/v1/pets/99 answered 404 Not Found" in error.message
    assert "no pet 99 here" in error.message


async def test_an_echoed_key_is_blanked_out_of_the_error(kernel: tuple[PluginSupervisor, ApiTools],
                                                         shop: PetShopServer) -> None:
    supervisor, api = kernel
    await api.save_provider(TENANT, "odd-auth", shop.oddities, credentials={
        "auth_type": "api_key_header", "api_key_value": "very-secret-key", "api_key_header_prefix": "bearer"})
    with pytest.raises(PluginError) as info:
        await call(supervisor, "echo", provider="odd-auth", say="hi")
    assert shop.last["headers"]["authorization"] == "Bearer very-secret-key"  # it was sent...
    assert "answered 401" in str(info.value)
    assert "very-secret-key" not in str(info.value)  # ...and does not come back
    assert "very-secret-key" not in json.dumps(info.value.details)


async def test_a_redirect_to_a_private_address_is_refused(kernel: tuple[PluginSupervisor, ApiTools]) -> None:
    supervisor, _ = kernel
    with pytest.raises(PluginFailed) as info:
        await call(supervisor, "moved", provider="oddities")
    assert info.value.details["error_type"] == "ToolRequestRefused"
    assert "169.254.169.254" in info.value.message


async def test_unknown_providers_tools_and_other_workspaces(kernel: tuple[PluginSupervisor, ApiTools]) -> None:
    supervisor, _ = kernel
    with pytest.raises(PluginNotFound, match=r"has no tool 'adoptPet' \(tools: listPets, createPet"):
        await call(supervisor, "adoptPet")
    with pytest.raises(PluginNotFound, match=r"no custom tool provider 'zoo' \(custom tool providers: odd"):
        await call(supervisor, "listPets", provider="zoo")
    payload = {"provider_type": "api", "provider": "petshop", "tool": "listPets", "parameters": {}}
    with pytest.raises(PluginNotFound, match=r"custom tool providers: none"):
        await supervisor.tools.describe("workspace-2", payload)


async def test_a_document_imported_from_its_url(kernel: tuple[PluginSupervisor, ApiTools], shop: PetShopServer) -> None:
    """WS-TOOLS: import from a URL; the document's relative server URL resolves against it."""
    supervisor, api = kernel
    url = f"http://127.0.0.1:{shop.port}/v1/openapi.yaml"
    text = await api.fetch_spec(TENANT, url)
    provider = await api.save_provider(TENANT, "fetched", text, spec_url=url)
    _, spec = await api.spec(TENANT, provider.name)
    assert spec.server_url == f"http://127.0.0.1:{shop.port}/v1"
    assert (await call(supervisor, "pet_notes", provider="fetched", petId=1))[0]["text"].startswith("Pet 1")


async def test_without_the_allow_list_a_local_server_is_refused(shop: PetShopServer) -> None:
    """DESIGN.md Security: outbound HTTP from tools goes through the SSRF guard."""
    with pytest.MonkeyPatch.context() as patch, short_home() as home:
        patch.delenv(ALLOW_ENV, raising=False)
        async with supervisor_for(home, True) as supervisor:
            api = ApiTools(supervisor.invoke)
            supervisor.tools.add_source("api", api)
            await api.save_provider(TENANT, "petshop", shop.spec)
            before = len(shop.requests)
            with pytest.raises(PluginFailed) as info:
                await call(supervisor, "listPets")
    assert info.value.details["error_type"] == "ToolRequestRefused"
    assert "refused: 127.0.0.1 is a loopback address" in info.value.message
    assert len(shop.requests) == before


async def test_without_the_request_plugin_the_error_names_it(shop: PetShopServer) -> None:
    with short_home() as home:
        async with PluginSupervisor(Settings.load(home=home), groups=[]) as supervisor:
            api = ApiTools(supervisor.invoke)
            supervisor.tools.add_source("api", api)
            await api.save_provider(TENANT, "petshop", shop.spec)
            with pytest.raises(PluginNotFound, match="'openapi_request' of the treadle-plugin-openapi-tools plugin"):
                await call(supervisor, "listPets")
