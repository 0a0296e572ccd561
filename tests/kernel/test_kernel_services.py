"""Plugins calling back into the kernel through ``ctx.kernel``, inline and out of process: KV storage
(PLUG-KV), nested tool calls (PLUG-REVERSE-TOOL), apps (PLUG-REVERSE-APP), and what the invocation
token allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from treadle.plugins import KernelServices, MemoryKVStore, PluginSupervisor
from treadle.plugins.kernel_services import MAX_CALL_DEPTH, InvocationScope
from treadle_sdk.errors import (
    PluginInvalidArgument,
    PluginPermissionDenied,
    PluginTimeout,
    PluginUnauthenticated,
    PluginUnimplemented,
)
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .conftest import KV_LIMIT
from .support import call_tool, eventually, plugin_path, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

KV_A = plugin_path("kernel_calls", "KV_A")
CALLER = plugin_path("kernel_calls", "CALLER")
#: The KV providers of plugin KV_A: blocking code in a worker thread, and async code.
SHAPES = ["thread", "async"]


async def kv_get(supervisor: PluginSupervisor, provider: str, key: str, tenant_id: str) -> Any:
    (message,) = await call_tool(supervisor, provider, "get", key=key, tenant_id=tenant_id)
    assert isinstance(message, JsonMessage)
    return message.json_object["value"]


# -- KV storage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
async def test_kv_set_get_delete_round_trip(throwaway: PluginSupervisor, shape: str) -> None:
    """PLUG-KV: ``kv_set``/``kv_get``/``kv_delete`` from blocking code and ``akv_*`` from async code."""
    provider = f"kv_a_{shape}"
    assert await kv_get(throwaway, provider, "colour", "t-round-trip") is None
    assert await call_tool(throwaway, provider, "set", key="colour", value="teal", tenant_id="t-round-trip") == [
        TextMessage(text="ok")
    ]
    assert await kv_get(throwaway, provider, "colour", "t-round-trip") == "teal"
    await call_tool(throwaway, provider, "set", key="colour", value="plum", tenant_id="t-round-trip")
    assert await kv_get(throwaway, provider, "colour", "t-round-trip") == "plum"
    await call_tool(throwaway, provider, "delete", key="colour", tenant_id="t-round-trip")
    assert await kv_get(throwaway, provider, "colour", "t-round-trip") is None


async def test_kv_data_is_scoped_per_plugin_and_tenant(throwaway: PluginSupervisor) -> None:
    """PLUG-KV: two plugins and two tenants writing the same key see four values. The two providers of
    one plugin share its storage, whichever way their code runs."""
    for plugin in ("a", "b"):
        for tenant in ("t1", "t2"):
            await call_tool(
                throwaway, f"kv_{plugin}_thread", "set", key="shared-key", value=f"{plugin}/{tenant}", tenant_id=tenant
            )
    for plugin in ("a", "b"):
        for tenant in ("t1", "t2"):
            for shape in SHAPES:
                assert await kv_get(throwaway, f"kv_{plugin}_{shape}", "shared-key", tenant) == f"{plugin}/{tenant}"
    assert await kv_get(throwaway, "kv_a_async", "shared-key", "t3") is None
    assert await kv_get(throwaway, "kv_a_async", "shared-key", "") is None

    await call_tool(throwaway, "kv_a_async", "delete", key="shared-key", tenant_id="t1")
    assert await kv_get(throwaway, "kv_a_thread", "shared-key", "t1") is None
    assert await kv_get(throwaway, "kv_a_thread", "shared-key", "t2") == "a/t2"
    assert await kv_get(throwaway, "kv_b_thread", "shared-key", "t1") == "b/t1"


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_kv_value_over_the_size_limit_is_refused(throwaway: PluginSupervisor, shape: str) -> None:
    """PLUG-KV: ``plugins.kv_max_value_bytes`` (here 1024) bounds one value; a value at the limit is fine."""
    provider = f"kv_a_{shape}"
    assert await call_tool(throwaway, provider, "set_size", key="big", size=KV_LIMIT, tenant_id="t-size") == [
        TextMessage(text="ok")
    ]
    with pytest.raises(PluginInvalidArgument) as info:
        await call_tool(throwaway, provider, "set_size", key="big", size=KV_LIMIT + 1, tenant_id="t-size")
    assert info.value.plugin == KV_A
    assert info.value.details == {"size": KV_LIMIT + 1, "limit": KV_LIMIT}
    assert f"exceeds the {KV_LIMIT} byte limit" in info.value.message
    assert await kv_get(throwaway, provider, "big", "t-size") == "x" * KV_LIMIT


# -- nested calls ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_plugin_invokes_another_providers_tool(throwaway: PluginSupervisor, shape: str) -> None:
    """PLUG-REVERSE-TOOL: the first-party ``maths`` provider, called from a plugin's tool."""
    messages = await call_tool(throwaway, f"caller_{shape}", "maths", expression="6 * 7")
    assert messages == [TextMessage(text="42"), JsonMessage(json_object={"result": 42})]


@pytest.mark.parametrize("shape", SHAPES)
async def test_invoking_an_app_is_unimplemented_without_an_app_runtime(throwaway: PluginSupervisor, shape: str) -> None:
    """PLUG-REVERSE-APP: no app runtime is given to this supervisor."""
    with pytest.raises(PluginUnimplemented) as info:
        await call_tool(throwaway, f"caller_{shape}", "app")
    assert info.value.plugin == CALLER
    assert "no app runtime" in info.value.message


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_token_used_after_its_call_ended_is_refused(throwaway: PluginSupervisor, shape: str) -> None:
    provider = f"caller_{shape}"
    assert await call_tool(throwaway, provider, "stash") == [TextMessage(text="stashed")]
    with pytest.raises(PluginUnauthenticated) as info:
        await call_tool(throwaway, provider, "use_stash")
    assert "unknown or its call has ended" in info.value.message


@pytest.mark.parametrize("shape", SHAPES)
async def test_calls_nested_too_deep_are_denied(throwaway: PluginSupervisor, shape: str) -> None:
    """A tool invoking itself without end is stopped at MAX_CALL_DEPTH nested calls."""
    with pytest.raises(PluginPermissionDenied) as info:
        await call_tool(throwaway, f"caller_{shape}", "recurse")
    assert info.value.plugin == CALLER
    assert info.value.call == f"tool_provider/caller_{shape}.invoke_tool"
    assert f"nest more than {MAX_CALL_DEPTH} deep" in info.value.message


async def test_a_call_that_ends_ends_the_calls_it_made(throwaway: PluginSupervisor, tmp_path: Path) -> None:
    """A plugin's call past its deadline is cancelled, and with it the nested call it was reading.

    Regression: out of process, the host stopped reading the nested call without telling the kernel,
    which went on serving it (here: a stream of up to 100 s) for nobody."""
    marker = tmp_path / "marker"
    with pytest.raises(PluginTimeout):
        await call_tool(throwaway, "caller_async", "relay_endless", marker=str(marker), timeout=0.5)
    outcome = await eventually(lambda: text_of(marker), what="the nested call ending")
    assert outcome.startswith("stopped after ")


# -- the kernel services themselves ---------------------------------------------------------------


def services() -> tuple[KernelServices, str]:
    kernel = KernelServices(MemoryKVStore(), kv_max_value_bytes=16)
    return kernel, kernel.mint(InvocationScope("plugin-a", "tenant-1", "group-a", "tool_provider/p.invoke_tool", 0))


async def served(kernel: KernelServices, token: str, method: str, payload: dict[str, Any]) -> list[Any]:
    return [item async for item in kernel.handle(kernel.scope_for(token, "group-a"), method, payload)]


async def test_a_token_presented_from_another_host_group_is_refused() -> None:
    kernel, token = services()
    assert kernel.scope_for(token, "group-a").plugin == "plugin-a"
    with pytest.raises(PluginUnauthenticated, match="belongs to host group 'group-a', not 'group-b'"):
        kernel.scope_for(token, "group-b")
    kernel.revoke(token)
    with pytest.raises(PluginUnauthenticated):
        kernel.scope_for(token, "group-a")


async def test_tokens_are_unique() -> None:
    kernel, first = services()
    scope = kernel.scope_for(first, "group-a")
    assert len({kernel.mint(scope) for _ in range(1000)} | {first}) == 1001


@pytest.mark.parametrize(
    ("method", "payload", "error", "message"),
    [
        ("kv_get", {}, PluginInvalidArgument, "a KV key must be a non-empty string"),
        ("kv_get", {"key": "k" * 257}, PluginInvalidArgument, "at most 256 characters"),
        ("kv_set", {"key": "k", "value": "not base64!"}, PluginInvalidArgument, "must be base64"),
        ("drop_tables", {}, PluginUnimplemented, "the kernel has no method 'drop_tables'"),
    ],
)
async def test_malformed_kernel_calls_are_refused(
    method: str, payload: dict[str, Any], error: type[Exception], message: str
) -> None:
    kernel, token = services()
    with pytest.raises(error, match=message):
        await served(kernel, token, method, payload)
