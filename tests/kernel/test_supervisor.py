"""The supervisor's calls into plugins, the same inline and out of process: typed failures, deadlines,
malformed results, missing plugins, streaming and early stops, and name collisions across hosts."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from treadle.plugins import PluginSpec, PluginSupervisor
from treadle_sdk.errors import (
    PluginFailed,
    PluginInvalidArgument,
    PluginMalformedResponse,
    PluginNotFound,
    PluginTimeout,
)
from treadle_sdk.tool_runtime import TextMessage

from .support import call_tool, eventually, plan, plugin_path, row_of, settings_in, short_home, spec, text_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

MISBEHAVING = plugin_path("misbehaving")
STREAMING = plugin_path("streaming")

#: The misbehaving providers, by how their code runs.
IN_THREAD, ON_LOOP, COROUTINE, ASYNC_GENERATOR = (
    "misbehaving_thread",
    "misbehaving_quick",
    "misbehaving_async",
    "misbehaving_agen",
)
EVERY_SHAPE = [IN_THREAD, ON_LOOP, COROUTINE, ASYNC_GENERATOR]


def invoke_tool(provider: str) -> str:
    return f"tool_provider/{provider}.invoke_tool"


# -- the plugin raises ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", EVERY_SHAPE)
async def test_a_plugin_that_raises_fails_with_plugin_failed(throwaway: PluginSupervisor, provider: str) -> None:
    with pytest.raises(PluginFailed) as info:
        await call_tool(throwaway, provider, "fail")
    error = info.value
    assert (error.plugin, error.call) == (MISBEHAVING, invoke_tool(provider))
    assert error.details["exception_type"] == "ValueError"
    assert "the plugin failed on purpose" in error.message
    assert str(error).startswith(f"plugin {MISBEHAVING!r}, call {invoke_tool(provider)}: ")


# -- the plugin hangs past its deadline -----------------------------------------------------------


@pytest.mark.parametrize("provider", [IN_THREAD, COROUTINE, ASYNC_GENERATOR])
async def test_a_call_that_hangs_times_out_at_its_deadline_and_the_host_serves_on(
    throwaway: PluginSupervisor, provider: str
) -> None:
    """PLUG-RUNTIME (exec timeout): a worker thread blocked for good, or an await that never ends; the
    caller gets PluginTimeout at the deadline, and the same provider answers the next call."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PluginTimeout) as info:
        await call_tool(throwaway, provider, "hang", timeout=0.5)
    waited = loop.time() - started
    assert (info.value.plugin, info.value.call) == (MISBEHAVING, invoke_tool(provider))
    assert 0.45 <= waited < 3.0, f"timed out after {waited:.2f} s for a 0.5 s deadline"
    assert await call_tool(throwaway, provider, "echo", text="still here") == [TextMessage(text="still here")]


# -- the plugin answers with malformed data -------------------------------------------------------


@pytest.mark.parametrize("provider", EVERY_SHAPE)
async def test_a_result_of_the_wrong_type_is_a_malformed_response(throwaway: PluginSupervisor, provider: str) -> None:
    with pytest.raises(PluginMalformedResponse) as info:
        await call_tool(throwaway, provider, "wrong_type")
    assert (info.value.plugin, info.value.call) == (MISBEHAVING, invoke_tool(provider))
    assert "int" in info.value.message


@pytest.mark.parametrize("provider", [IN_THREAD, ON_LOOP, COROUTINE])
async def test_a_streaming_operation_that_returns_no_iterable_is_a_malformed_response(
    throwaway: PluginSupervisor, provider: str
) -> None:
    with pytest.raises(PluginMalformedResponse) as info:
        await call_tool(throwaway, provider, "not_iterable")
    assert (info.value.plugin, info.value.call) == (MISBEHAVING, invoke_tool(provider))
    assert "iterable" in info.value.message


@pytest.mark.parametrize("provider", EVERY_SHAPE)
async def test_a_result_json_cannot_encode_is_a_malformed_response(throwaway: PluginSupervisor, provider: str) -> None:
    """Inline as out of process: a result must survive the trip to JSON, or moving the plugin out of
    process would break it.

    Regression: out of process, such a result of quick code (``misbehaving_quick``) raised out of the
    host's frame handler and took the host process down with every call in flight; of other code it
    came back as an internal error of Treadle's. Inline it was not noticed at all."""
    before = row_of(throwaway, MISBEHAVING)
    with pytest.raises(PluginMalformedResponse) as info:
        await call_tool(throwaway, provider, "not_json")
    assert (info.value.plugin, info.value.call) == (MISBEHAVING, invoke_tool(provider))
    assert "JSON cannot encode" in info.value.message
    assert "Unserialisable" in info.value.message
    assert await call_tool(throwaway, provider, "echo", text="after") == [TextMessage(text="after")]
    after = row_of(throwaway, MISBEHAVING)
    assert (after["pid"], after["restarts"]) == (before["pid"], before["restarts"])


# -- invalid arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"parameters": {}}, "tool"),
        ({"tool": "echo", "parameters": "not an object"}, "parameters"),
        ({"tool": "echo", "unexpected": 1}, "unexpected"),
        ({"tool": ["echo"]}, "tool"),
    ],
)
async def test_invalid_arguments_name_the_field(
    throwaway: PluginSupervisor, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(PluginInvalidArgument) as info:
        await throwaway.call("tool_provider", ON_LOOP, "invoke_tool", payload)
    error = info.value
    assert (error.plugin, error.call) == (MISBEHAVING, invoke_tool(ON_LOOP))
    assert [e["loc"] for e in error.details["errors"]] == [field]
    assert f"first at {field}:" in error.message


async def test_a_payload_that_is_not_an_object_is_an_invalid_argument(throwaway: PluginSupervisor) -> None:
    with pytest.raises(PluginInvalidArgument, match="the payload must be an object, not list"):
        throwaway.invoke("tool_provider", ON_LOOP, "invoke_tool", ["echo"])  # type: ignore[arg-type]


# -- missing plugins, extensions and operations ---------------------------------------------------


async def test_an_unknown_extension_is_not_found_and_the_error_lists_what_is_loaded(
    throwaway: PluginSupervisor,
) -> None:
    with pytest.raises(PluginNotFound) as info:
        await call_tool(throwaway, "no_such_provider", "echo")
    assert "no tool_provider named 'no_such_provider' is loaded" in info.value.message
    available = info.value.details["available"]
    assert {"maths", "time", *EVERY_SHAPE, "streamer", "kv_a_thread", "caller_async"} <= set(available)
    assert available == sorted(available)


async def test_an_unknown_kind_is_not_found_and_the_error_lists_the_kinds(throwaway: PluginSupervisor) -> None:
    with pytest.raises(PluginNotFound) as info:
        throwaway.invoke("gadget", "maths", "invoke_tool", {})
    assert "tool_provider" in info.value.details["kinds"]


@pytest.mark.parametrize("operation", ["no_such_operation", "validate_credentials"])
async def test_an_operation_the_extension_lacks_is_not_found(throwaway: PluginSupervisor, operation: str) -> None:
    """``validate_credentials`` is an operation of the kind that this provider does not implement."""
    with pytest.raises(PluginNotFound) as info:
        await throwaway.call("tool_provider", ON_LOOP, operation, {})
    assert info.value.plugin == MISBEHAVING
    assert info.value.call == f"tool_provider/{ON_LOOP}.{operation}"
    assert repr(operation) in info.value.message


async def test_plugins_that_fail_to_load_are_listed_with_why(placement: str) -> None:
    """An entry point nobody installed, a module whose import fails, a module that is not there: each
    is a failed row of the table, and the good plugin of the same group still serves."""
    broken = [PluginSpec("no-such-plugin"), spec("broken_import"), spec("no_such_module"), spec("colliding", "FIRST")]
    with short_home() as home:
        async with PluginSupervisor(settings_in(home), groups=[plan("broken", placement, *broken)]) as supervisor:
            missing = row_of(supervisor, "no-such-plugin")
            assert missing["state"] == "failed"
            assert missing["error"] == (
                "no installed distribution has an entry point 'no-such-plugin' in group 'treadle'"
            )
            assert missing["registers"] == []
            import_failed = row_of(supervisor, plugin_path("broken_import"))
            assert import_failed["state"] == "failed"
            assert "ModuleNotFoundError" in import_failed["error"]
            assert "treadle_tests_no_such_dependency" in import_failed["error"]
            not_there = row_of(supervisor, plugin_path("no_such_module"))
            assert not_there["state"] == "failed"
            assert f"import of {plugin_path('no_such_module')!r} failed: ModuleNotFoundError" in not_there["error"]
            good = row_of(supervisor, plugin_path("colliding", "FIRST"))
            assert (good["state"], good["error"]) == ("running", "")
            assert {r["isolation"] for r in supervisor.table()} == {placement}

            with pytest.raises(PluginNotFound) as info:
                await call_tool(supervisor, "no-such-plugin", "who")
            assert info.value.details["available"] == ["first_only", "shared"]
            assert await call_tool(supervisor, "shared", "who") == [TextMessage(text="first")]


# -- streaming ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["streamer", "streamer_thread"])
async def test_a_stream_of_many_chunks_arrives_whole_and_in_order(throwaway: PluginSupervisor, provider: str) -> None:
    received = [
        m.text
        async for m in throwaway.invoke(
            "tool_provider", provider, "invoke_tool", {"tool": "count", "parameters": {"n": 3000}}
        )
    ]
    assert received == [str(i) for i in range(3000)]


@pytest.mark.parametrize("provider", ["streamer", "streamer_thread"])
@pytest.mark.parametrize("closing", ["aclosing", "dropped"])
async def test_a_reader_that_stops_early_stops_the_plugin(
    throwaway: PluginSupervisor, provider: str, closing: str, tmp_path: Path
) -> None:
    """Breaking out of ``async for`` cancels the call: the plugin's generator is closed (it writes its
    marker file as it ends) rather than running to its limit. ``dropped`` leaves closing the stream to
    the event loop's finalizer of abandoned async generators."""
    marker = tmp_path / "marker"
    payload = {"tool": "endless", "parameters": {"marker": str(marker)}}
    seen = []
    if closing == "aclosing":
        async with contextlib.aclosing(throwaway.invoke("tool_provider", provider, "invoke_tool", payload)) as stream:
            async for message in stream:
                seen.append(message.text)
                if len(seen) == 5:
                    break
    else:
        async for message in throwaway.invoke("tool_provider", provider, "invoke_tool", payload):
            seen.append(message.text)
            if len(seen) == 5:
                break
    assert seen == ["0", "1", "2", "3", "4"]
    outcome = await eventually(lambda: text_of(marker), what="the plugin's generator ending")
    assert outcome.startswith("stopped after ")


# -- name collisions across hosts -----------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("process", "inline"), ("inline", "process"), ("process", "process")])
async def test_a_name_claimed_by_two_hosts_goes_to_the_first_group(first: str, second: str) -> None:
    """Groups are ordered by name, not by the order they are given or start in: ``alpha``'s plugin keeps
    ``shared``, and ``beta``'s plugin is refused whole, its other provider included."""
    groups = [plan("beta", second, spec("colliding", "SECOND")), plan("alpha", first, spec("colliding", "FIRST"))]
    with short_home() as home:
        async with PluginSupervisor(settings_in(home), groups=groups) as supervisor:
            assert await call_tool(supervisor, "shared", "who") == [TextMessage(text="first")]
            assert await call_tool(supervisor, "first_only", "who") == [TextMessage(text="first")]
            with pytest.raises(PluginNotFound):
                await call_tool(supervisor, "second_only", "who")
            assert [e.name for e in supervisor.extensions("tool_provider")] == ["first_only", "shared"]
            refused = row_of(supervisor, plugin_path("colliding", "SECOND"))
            assert refused["error"] == (
                f"tool_provider 'shared' is already registered by plugin {plugin_path('colliding', 'FIRST')!r}"
            )
            assert row_of(supervisor, plugin_path("colliding", "FIRST"))["error"] == ""


@pytest.mark.parametrize("placement", ["inline", "process"])
async def test_stopping_a_host_closes_its_extensions(placement: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extension.aclose runs once per extension when its host stops, inline or out of process, so
    HTTP clients and files are released."""
    with short_home() as home:
        marker = home / "closed.txt"
        monkeypatch.setenv("TREADLE_TEST_CLOSED", str(marker))
        async with PluginSupervisor(settings_in(home), groups=[plan("g", placement, spec("closing"))]) as supervisor:
            assert await call_tool(supervisor, "closing", "noop") == [TextMessage(text="ok")]
            assert not marker.exists()
        # A host process closes its extensions as it exits, after the supervisor has let it go.
        lines = await eventually(lambda: text_of(marker).splitlines(), what="the close")
        assert len(lines) == 1
