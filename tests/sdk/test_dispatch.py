"""The dispatcher: argument and result checks, typed failures, every method shape, cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from treadle_sdk.context import CallContext
from treadle_sdk.dispatch import Dispatcher, call_name
from treadle_sdk.errors import (
    PluginCancelled,
    PluginError,
    PluginFailed,
    PluginInternalError,
    PluginInvalidArgument,
    PluginMalformedResponse,
    PluginNotFound,
    PluginTimeout,
)
from treadle_sdk.extensions import (
    ModelProvider,
    NodeEvent,
    NodeType,
    RunNodeArgs,
    SearchVectorsArgs,
    Tool,
    ToolProvider,
    VectorHit,
    VectorStore,
)
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.model_runtime import (
    AssistantMessage,
    CountTokensArgs,
    InvokeLLMArgs,
    LLMDelta,
    LLMResultChunk,
    PromptMessage,
)
from treadle_sdk.schemas import (
    ModelProviderSchema,
    NodeTypeSchema,
    ToolParameter,
    ToolProviderSchema,
    ToolSchema,
    VectorStoreSchema,
)
from treadle_sdk.testing import MemoryKernel, ainvoke, invoke, load

NODE = NodeTypeSchema(name="probe", label="Probe")
STORE = VectorStoreSchema(name="probe", label="Probe")


def plugin_with(*extensions: Any) -> Any:
    """A plugin object registering the given extensions through the hook of their kind."""

    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[Any], None]) -> None:
            for ext in extensions:
                if isinstance(ext, ModelProvider):
                    register(ext)

        @hookimpl
        def register_tools(self, register: Callable[[Any], None]) -> None:
            for ext in extensions:
                if isinstance(ext, ToolProvider):
                    register(ext)

        @hookimpl
        def register_node_types(self, register: Callable[[Any], None]) -> None:
            for ext in extensions:
                if isinstance(ext, NodeType):
                    register(ext)

        @hookimpl
        def register_vector_stores(self, register: Callable[[Any], None]) -> None:
            for ext in extensions:
                if isinstance(ext, VectorStore):
                    register(ext)

    return Plugin()


class Counter(ModelProvider):
    schema = ModelProviderSchema(name="counter", label="Counter", supported_model_types=["llm"])

    def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> int:
        return sum(len(m.text().split()) for m in args.prompt_messages)


class Upper(Tool):
    schema = ToolSchema(
        name="upper",
        label="Upper",
        description="Upper-cases text",
        parameters=[ToolParameter(name="text", type="string", label="Text", required=True)],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> str:
        return str(parameters["text"]).upper()


class Kit(ToolProvider):
    schema = ToolProviderSchema(name="kit", label="Kit", description="Text tools")

    def __init__(self) -> None:
        self.tools = [Upper()]


@pytest.fixture
async def dispatcher() -> AsyncIterator[Callable[..., Dispatcher]]:
    """Makes a Dispatcher over a fresh registry of the given extensions."""
    with ThreadPoolExecutor(max_workers=4) as executor:

        def make(*extensions: Any) -> Dispatcher:
            return Dispatcher(load(plugin_with(*extensions), "probe-plugin").extensions, executor)

        yield make


def context(kind: str, name: str, operation: str) -> CallContext:
    return CallContext(
        plugin="",
        call=call_name(kind, name, operation),
        tenant_id="t1",
        kernel=MemoryKernel(asyncio.get_running_loop()),
    )


async def collect(d: Dispatcher, kind: str, name: str, operation: str, payload: Any) -> list[Any]:
    ctx = context(kind, name, operation)
    return [item async for item in d.invoke(kind, name, operation, payload, ctx)]


# -- arguments ------------------------------------------------------------------------------------


async def test_invalid_argument_names_the_field_path(dispatcher: Callable[..., Dispatcher]) -> None:
    d = dispatcher(Counter())
    payload = {"model": "m", "prompt_messages": [{"role": "user", "content": "hi"}, {"role": "robot"}]}
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(d, "model_provider", "counter", "count_tokens", payload)
    exc = caught.value
    assert exc.plugin == "probe-plugin"
    assert exc.call == "model_provider/counter.count_tokens"
    assert exc.details["errors"] == [
        {
            "loc": "prompt_messages.1.role",
            "msg": "Input should be 'system', 'user', 'assistant' or 'tool'",
            "type": "enum",
        }
    ]
    assert exc.message.startswith("invalid arguments: 1 error(s), first at prompt_messages.1.role: Input should be")


async def test_missing_and_unknown_arguments_are_all_listed(dispatcher: Callable[..., Dispatcher]) -> None:
    d = dispatcher(Kit())
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(d, "tool_provider", "kit", "invoke_tool", {"parameters": {}, "colour": "red"})
    assert [(e["loc"], e["type"]) for e in caught.value.details["errors"]] == [
        ("tool", "missing"),
        ("colour", "extra_forbidden"),
    ]
    assert "2 error(s), first at tool: Field required" in caught.value.message


async def test_json_payload_is_validated_as_it_came_off_the_wire(dispatcher: Callable[..., Dispatcher]) -> None:
    d = dispatcher(Kit())
    [message] = await collect(
        d, "tool_provider", "kit", "invoke_tool", b'{"tool": "upper", "parameters": {"text": "a"}}'
    )
    assert message.text == "A"
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(d, "tool_provider", "kit", "invoke_tool", b'{"tool": ')
    assert caught.value.details["errors"][0]["type"] == "json_invalid"
    assert "first at (root): Invalid JSON" in caught.value.message


async def test_invalid_tool_parameter_is_an_invalid_argument_of_the_call(
    dispatcher: Callable[..., Dispatcher],
) -> None:
    d = dispatcher(Kit())
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(d, "tool_provider", "kit", "invoke_tool", {"tool": "upper", "parameters": {}})
    exc = caught.value
    assert exc.message == "parameter 'text' of tool 'upper' is required"
    assert exc.details == {"parameter": "text"}
    assert (exc.plugin, exc.call) == ("probe-plugin", "tool_provider/kit.invoke_tool")
    assert str(exc) == "plugin 'probe-plugin', call tool_provider/kit.invoke_tool: " + exc.message


class Typed(Tool):
    schema = ToolSchema(
        name="typed",
        label="Typed",
        description="Returns its parameters",
        parameters=[
            ToolParameter(name="count", type="number", label="Count"),
            ToolParameter(name="flag", type="boolean", label="Flag"),
            ToolParameter(
                name="unit",
                type="select",
                label="Unit",
                options=[{"value": "c", "label": "Celsius"}, {"value": "f", "label": "Fahrenheit"}],
            ),
            ToolParameter(name="note", type="string", label="Note", default="none"),
        ],
    )

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> Any:
        return {"type": "json", "json_object": parameters}


class TypedKit(ToolProvider):
    schema = ToolProviderSchema(name="typed-kit", label="Typed", description="d")
    tools = [Typed()]


@pytest.mark.parametrize(
    ("given", "coerced"),
    [
        ({"count": "2"}, {"count": 2, "note": "none"}),
        ({"count": "-2.5"}, {"count": -2.5, "note": "none"}),
        ({"count": 7, "flag": "true", "unit": "f"}, {"count": 7, "flag": True, "unit": "f", "note": "none"}),
        ({"flag": False, "note": 12}, {"flag": False, "note": "12"}),
    ],
)
async def test_number_tool_parameter_is_coerced_not_crashed(
    dispatcher: Callable[..., Dispatcher], given: dict[str, Any], coerced: dict[str, Any]
) -> None:
    # Regression: any number parameter raised TypeError (``tuple | type``) inside the SDK's coercion.
    [message] = await collect(
        dispatcher(TypedKit()), "tool_provider", "typed-kit", "invoke_tool", {"tool": "typed", "parameters": given}
    )
    assert message.json_object == coerced


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"count": "many"}, "parameter 'count' of tool 'typed' must be a number, not 'many'"),
        ({"count": True}, "parameter 'count' of tool 'typed' must be a number, not bool"),
        ({"flag": "maybe"}, "parameter 'flag' of tool 'typed' must be true or false, not 'maybe'"),
        ({"unit": "k"}, "parameter 'unit' of tool 'typed' must be one of ['c', 'f'], not 'k'"),
        ({"note": {"a": 1}}, "parameter 'note' of tool 'typed' must be text, not dict"),
        ({"colour": "red"}, "tool 'typed' has no parameter(s) 'colour'"),
    ],
)
async def test_tool_parameter_of_the_wrong_type_is_an_invalid_argument(
    dispatcher: Callable[..., Dispatcher], given: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(
            dispatcher(TypedKit()), "tool_provider", "typed-kit", "invoke_tool", {"tool": "typed", "parameters": given}
        )
    assert caught.value.message == reason


# -- failures of the plugin's code ------------------------------------------------------------------


@pytest.mark.parametrize("blocking", [True, False])
async def test_plugin_exception_becomes_plugin_failed(dispatcher: Callable[..., Dispatcher], blocking: bool) -> None:
    class Divider(VectorStore):
        schema = STORE

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            return [VectorHit(id="x", score=1 / 0)]

    Divider.blocking = blocking
    d = dispatcher(Divider())
    with pytest.raises(PluginFailed) as caught:
        await collect(d, "vector_store", "probe", "search", {"collection": "c", "vector": [1.0]})
    exc = caught.value
    assert exc.plugin == "probe-plugin"
    assert exc.call == "vector_store/probe.search"
    assert exc.details == {"exception_type": "ZeroDivisionError"}
    assert exc.message == "the plugin raised ZeroDivisionError: division by zero"
    assert isinstance(exc.__cause__, ZeroDivisionError)


async def test_exception_midway_through_a_stream_follows_the_results_before_it(
    dispatcher: Callable[..., Dispatcher],
) -> None:
    class Flaky(NodeType):
        schema = NODE

        def run(self, args: RunNodeArgs, ctx: CallContext) -> Iterator[NodeEvent]:
            yield NodeEvent(type="chunk", variable="text", chunk="so far")
            raise KeyError("missing")

    d = dispatcher(Flaky())
    seen: list[Any] = []
    with pytest.raises(PluginFailed) as caught:
        async for event in d.invoke(
            "node_type", "probe", "run", {"node_id": "n", "config": {}}, context("node_type", "probe", "run")
        ):
            seen.append(event)
    assert [e.chunk for e in seen] == ["so far"]
    assert caught.value.details == {"exception_type": "KeyError"}


async def test_typed_error_raised_by_the_plugin_keeps_its_class(dispatcher: Callable[..., Dispatcher]) -> None:
    class Picky(NodeType):
        schema = NODE

        async def run(self, args: RunNodeArgs, ctx: CallContext) -> list[NodeEvent]:
            raise PluginInvalidArgument("config.mode must be 'a' or 'b'", details={"loc": "config.mode"})

    d = dispatcher(Picky())
    with pytest.raises(PluginInvalidArgument) as caught:
        await collect(d, "node_type", "probe", "run", {"node_id": "n", "config": {"mode": "c"}})
    assert (caught.value.plugin, caught.value.call) == ("probe-plugin", "node_type/probe.run")
    assert caught.value.details == {"loc": "config.mode"}
    assert str(caught.value) == "plugin 'probe-plugin', call node_type/probe.run: config.mode must be 'a' or 'b'"


# -- malformed results ------------------------------------------------------------------------------


@pytest.mark.parametrize("blocking", [True, False])
async def test_result_of_the_wrong_type_is_malformed(dispatcher: Callable[..., Dispatcher], blocking: bool) -> None:
    class Sloppy(ModelProvider):
        schema = Counter.schema

        def count_tokens(self, args: CountTokensArgs, ctx: CallContext) -> Any:
            return "many"

    Sloppy.blocking = blocking
    d = dispatcher(Sloppy())
    with pytest.raises(PluginMalformedResponse) as caught:
        await collect(d, "model_provider", "counter", "count_tokens", {"model": "m", "prompt_messages": []})
    exc = caught.value
    assert exc.message.startswith(
        "the plugin returned str where count_tokens gives int: Input should be a valid integer"
    )
    assert (exc.plugin, exc.call) == ("probe-plugin", "model_provider/counter.count_tokens")
    assert exc.details["errors"][0]["type"] == "int_parsing"


@pytest.mark.parametrize("blocking", [True, False])
@pytest.mark.parametrize("result", [42, {"type": "result"}, "text", None])
async def test_streaming_operation_returning_no_iterable_is_malformed(
    dispatcher: Callable[..., Dispatcher], blocking: bool, result: Any
) -> None:
    class NotAStream(NodeType):
        schema = NODE

        def run(self, args: RunNodeArgs, ctx: CallContext) -> Any:
            return result

    NotAStream.blocking = blocking
    d = dispatcher(NotAStream())
    with pytest.raises(PluginMalformedResponse) as caught:
        await collect(d, "node_type", "probe", "run", {"node_id": "n", "config": {}})
    assert caught.value.message == (
        f"a streaming operation must return an iterable of results, not {type(result).__name__}"
    )
    assert (caught.value.plugin, caught.value.call) == ("probe-plugin", "node_type/probe.run")


async def test_streamed_item_of_the_wrong_shape_is_malformed(dispatcher: Callable[..., Dispatcher]) -> None:
    class Garbled(NodeType):
        schema = NODE

        async def run(self, args: RunNodeArgs, ctx: CallContext) -> AsyncIterator[Any]:
            yield {"type": "result", "outputs": {"x": 1}}
            yield {"type": "finale"}

    d = dispatcher(Garbled())
    with pytest.raises(PluginMalformedResponse) as caught:
        await collect(d, "node_type", "probe", "run", {"node_id": "n", "config": {}})
    assert caught.value.message.startswith("the plugin returned dict where run gives NodeEvent:")
    assert caught.value.details["errors"][0]["loc"] == "type"


# -- not found ----------------------------------------------------------------------------------------


async def test_unknown_kind_lists_the_kinds(dispatcher: Callable[..., Dispatcher]) -> None:
    with pytest.raises(PluginNotFound) as caught:
        await collect(dispatcher(), "gadget", "x", "run", {})
    assert caught.value.message == "there is no extension kind 'gadget'"
    assert caught.value.details == {
        "kinds": ["model_provider", "tool_provider", "node_type", "vector_store", "storage", "trigger"]
    }
    assert caught.value.call == "gadget/x.run"


async def test_unknown_extension_lists_those_loaded(dispatcher: Callable[..., Dispatcher]) -> None:
    with pytest.raises(PluginNotFound) as caught:
        await collect(dispatcher(Kit(), Counter()), "tool_provider", "kitt", "invoke_tool", {})
    assert caught.value.message == "no tool_provider named 'kitt' is loaded"
    assert caught.value.details == {"available": ["kit"]}


@pytest.mark.parametrize("operation", ["invoke_llm", "invoke_rerank", "name", "__init__", "check"])
async def test_unknown_or_unimplemented_operation_lists_those_offered(
    dispatcher: Callable[..., Dispatcher], operation: str
) -> None:
    with pytest.raises(PluginNotFound) as caught:
        await collect(dispatcher(Counter()), "model_provider", "counter", operation, {})
    assert caught.value.message == f"model_provider 'counter' has no operation {operation!r}"
    assert caught.value.plugin == "probe-plugin"
    assert caught.value.details == {"operations": ["count_tokens"]}


async def test_unknown_tool_of_a_provider_lists_its_tools(dispatcher: Callable[..., Dispatcher]) -> None:
    with pytest.raises(PluginNotFound) as caught:
        await collect(dispatcher(Kit()), "tool_provider", "kit", "invoke_tool", {"tool": "lower"})
    assert caught.value.message == "tool provider 'kit' has no tool 'lower'"
    assert caught.value.details == {"tools": ["upper"]}


# -- shapes of operation methods ---------------------------------------------------------------------


def model_of_shape(shape: str, threads: list[int]) -> ModelProvider:
    """A model provider whose streaming ``invoke_llm`` has the given shape and records the thread it
    ran on; it echoes the last message in two pieces."""

    def chunks(args: InvokeLLMArgs) -> list[LLMResultChunk]:
        threads.append(threading.get_ident())
        text = args.prompt_messages[-1].text()
        return [
            LLMResultChunk(model=args.model, delta=LLMDelta(index=i, message=AssistantMessage(content=piece)))
            for i, piece in enumerate([text[:2], text[2:]])
        ]

    class AsyncFunction(ModelProvider):
        async def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> list[LLMResultChunk]:
            return chunks(args)

    class AsyncGenerator(ModelProvider):
        async def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> AsyncIterator[LLMResultChunk]:
            for chunk in chunks(args):
                yield chunk

    class BlockingGenerator(ModelProvider):
        def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> Iterator[LLMResultChunk]:
            yield from chunks(args)

    class BlockingFunction(ModelProvider):
        def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> list[LLMResultChunk]:
            return chunks(args)

    class QuickGenerator(BlockingGenerator):
        blocking = False

    class QuickFunction(BlockingFunction):
        blocking = False

    classes: dict[str, type[ModelProvider]] = {
        cls.__name__: cls
        for cls in (AsyncFunction, AsyncGenerator, BlockingGenerator, BlockingFunction, QuickGenerator, QuickFunction)
    }
    model = classes[shape]()
    model.schema = ModelProviderSchema(name="echo", label="Echo", supported_model_types=["llm"])
    return model


@pytest.mark.parametrize(
    ("shape", "in_worker_thread"),
    [
        ("AsyncFunction", False),
        ("AsyncGenerator", False),
        ("BlockingGenerator", True),
        ("BlockingFunction", True),
        ("QuickGenerator", False),
        ("QuickFunction", False),
    ],
)
async def test_every_method_shape_streams_its_results(
    dispatcher: Callable[..., Dispatcher], shape: str, in_worker_thread: bool
) -> None:
    threads: list[int] = []
    d = dispatcher(model_of_shape(shape, threads))
    payload = {"model": "m", "prompt_messages": [{"role": "user", "content": "hello"}]}
    chunks = await collect(d, "model_provider", "echo", "invoke_llm", payload)
    assert [(c.delta.index, c.delta.message.content) for c in chunks] == [(0, "he"), (1, "llo")]
    assert (threads[0] != threading.get_ident()) is in_worker_thread


@pytest.mark.parametrize(("shape", "in_worker_thread"), [("async", False), ("blocking", True), ("quick", False)])
async def test_non_streaming_operation_of_every_shape(
    dispatcher: Callable[..., Dispatcher], shape: str, in_worker_thread: bool
) -> None:
    threads: list[int] = []

    def hits(args: SearchVectorsArgs) -> list[dict[str, Any]]:
        threads.append(threading.get_ident())
        return [{"id": "a", "score": args.vector[0]}]

    class BlockingStore(VectorStore):
        schema = STORE

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> Any:
            return hits(args)

    class QuickStore(BlockingStore):
        blocking = False

    class AsyncStore(VectorStore):
        schema = STORE

        async def search(self, args: SearchVectorsArgs, ctx: CallContext) -> Any:
            return hits(args)

    store = {"async": AsyncStore, "blocking": BlockingStore, "quick": QuickStore}[shape]()
    [result] = await collect(dispatcher(store), "vector_store", "probe", "search", {"collection": "c", "vector": [0.5]})
    assert result == [VectorHit(id="a", score=0.5)]
    assert (threads[0] != threading.get_ident()) is in_worker_thread


# -- cancellation and deadlines ----------------------------------------------------------------------


async def test_closing_a_blocking_stream_stops_its_generator(dispatcher: Callable[..., Dispatcher]) -> None:
    stopped = threading.Event()
    produced: list[int] = []
    how: list[str] = []

    class Endless(NodeType):
        schema = NODE

        def run(self, args: RunNodeArgs, ctx: CallContext) -> Iterator[NodeEvent]:
            try:
                while True:
                    produced.append(len(produced))
                    yield NodeEvent(type="chunk", variable="out", chunk=str(len(produced)))
            except GeneratorExit:
                how.append("closed")
                raise
            finally:
                stopped.set()

    d = dispatcher(Endless())
    ctx = context("node_type", "probe", "run")
    stream = d.invoke("node_type", "probe", "run", {"node_id": "n", "config": {}}, ctx)
    first = await anext(stream)
    assert first.chunk == "1"
    await stream.aclose()
    assert ctx.cancelled.is_set()
    assert await asyncio.to_thread(stopped.wait, 10)
    assert how == ["closed"]  # the producing thread saw the flag and closed the generator


async def test_cancelling_the_caller_tells_blocking_code(dispatcher: Callable[..., Dispatcher]) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    outcome: list[str] = []

    class Patient(VectorStore):
        schema = STORE

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            try:
                started.set()
                release.wait(10)  # a step of slow work; the code checks for cancellation after it
                ctx.check()
                return []
            except PluginCancelled as exc:
                outcome.append(str(exc))
                raise
            finally:
                finished.set()

    d = dispatcher(Patient())
    ctx = context("vector_store", "probe", "search")
    call = d.invoke("vector_store", "probe", "search", {"collection": "c", "vector": [1]}, ctx)
    task = asyncio.create_task(anext(call))
    assert await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.cancelled.is_set()
    release.set()
    assert await asyncio.to_thread(finished.wait, 10)
    assert outcome == ["plugin 'probe-plugin', call vector_store/probe.search: the caller cancelled the call"]


async def test_cancelling_the_caller_cancels_async_code(dispatcher: Callable[..., Dispatcher]) -> None:
    waiting = asyncio.Event()
    seen: list[str] = []

    class Waiter(NodeType):
        schema = NODE

        async def run(self, args: RunNodeArgs, ctx: CallContext) -> AsyncIterator[NodeEvent]:
            yield NodeEvent(type="chunk", variable="out", chunk="a")
            waiting.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
            yield NodeEvent(type="result", outputs={})

    d = dispatcher(Waiter())
    ctx = context("node_type", "probe", "run")

    async def consume() -> None:
        async for _ in d.invoke("node_type", "probe", "run", {"node_id": "n", "config": {}}, ctx):
            pass

    task = asyncio.create_task(consume())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
    assert ctx.cancelled.is_set()


async def test_deadline_of_a_test_call_is_a_plugin_timeout() -> None:
    seen: list[str] = []

    class Slow(VectorStore):
        schema = STORE

        async def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            seen.append(f"time left: {0 < (ctx.time_left() or 0) <= 0.05}")
            try:
                await asyncio.Event().wait()  # never set: only the deadline ends this
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
            return []

    with pytest.raises(PluginTimeout) as caught:
        await ainvoke(
            plugin_with(Slow()), "vector_store", "probe", "search", {"collection": "c", "vector": [1]}, timeout=0.05
        )
    assert caught.value.message == "the call passed its 0.05 s deadline"
    assert (caught.value.plugin, caught.value.call) == ("test-plugin", "vector_store/probe.search")
    assert seen == ["time left: True", "cancelled"]


async def test_check_raises_once_the_deadline_has_passed() -> None:
    class Strict(VectorStore):
        schema = STORE

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            ctx.deadline = 0.0  # long past on the monotonic clock
            ctx.check()
            return []

    with pytest.raises(PluginTimeout) as caught:
        await ainvoke(
            plugin_with(Strict()), "vector_store", "probe", "search", {"collection": "c", "vector": [1]}, timeout=10
        )
    assert caught.value.message == "the call passed its deadline"


# -- calls back into the kernel -----------------------------------------------------------------------


async def test_blocking_code_uses_the_plain_kernel_methods() -> None:
    class Memo(VectorStore):
        schema = STORE

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            before = ctx.kernel.kv_get("last")
            ctx.kernel.kv_set("last", args.collection.encode())
            return [VectorHit(id="previous", score=0, text=(before or b"").decode())]

    registry = load(plugin_with(Memo()))
    kernel = MemoryKernel(asyncio.get_running_loop())
    payload = {"collection": "first", "vector": [1]}
    [[hit]] = await ainvoke(registry, "vector_store", "probe", "search", payload, kernel=kernel)
    assert hit.text == ""
    payload["collection"] = "second"
    [[hit]] = await ainvoke(registry, "vector_store", "probe", "search", payload, kernel=kernel)
    assert hit.text == "first"
    assert kernel.kv == {"last": b"second"}


async def test_async_code_awaits_the_a_methods_and_may_not_block() -> None:
    class Caller(NodeType):
        schema = NODE

        async def run(self, args: RunNodeArgs, ctx: CallContext) -> AsyncIterator[NodeEvent]:
            await ctx.kernel.akv_set("k", b"v")
            tools = await ctx.kernel.ainvoke_tool("kit", "upper", {"text": "x"})
            chunks = [
                c.delta.message.content
                async for c in ctx.kernel.ainvoke_llm("acme", "m", [PromptMessage(role="user", content="hi")])
            ]
            yield NodeEvent(
                type="result",
                outputs={"kv": (await ctx.kernel.akv_get("k") or b"").decode(), "tools": tools, "model": chunks},
            )
            ctx.kernel.kv_get("k")  # a blocking call from the event loop: refused

    def model(payload: dict[str, Any]) -> list[Any]:
        assert payload["provider"] == "acme"
        return [
            LLMResultChunk.model_validate({"model": "m", "delta": {"index": i, "message": {"content": t}}}).model_dump()
            for i, t in enumerate(["Hel", "lo"])
        ]

    kernel = MemoryKernel(
        asyncio.get_running_loop(),
        handlers={
            "invoke_tool": lambda p: [{"type": "text", "text": p["parameters"]["text"].upper()}],
            "invoke_model": model,
        },
    )
    with pytest.raises(PluginInternalError) as caught:
        await ainvoke(plugin_with(Caller()), "node_type", "probe", "run", {"node_id": "n", "config": {}}, kernel=kernel)
    assert "a blocking kernel call was made from async plugin code" in caught.value.message
    assert [method for method, _ in kernel.calls] == ["kv_set", "invoke_tool", "invoke_model", "kv_get"]


async def test_kernel_method_the_test_kernel_lacks_is_unimplemented() -> None:
    class Caller(NodeType):
        schema = NODE

        async def run(self, args: RunNodeArgs, ctx: CallContext) -> list[NodeEvent]:
            await ctx.kernel.ainvoke_app("app-1", {})
            return []

    with pytest.raises(PluginError) as caught:
        await ainvoke(plugin_with(Caller()), "node_type", "probe", "run", {"node_id": "n", "config": {}})
    assert caught.value.code.name == "UNIMPLEMENTED"
    assert caught.value.message == "the test kernel has no handler for 'invoke_app'"


def test_blocking_invoke_helper_runs_its_own_loop() -> None:
    payload = {"model": "m", "prompt_messages": [{"role": "user", "content": "one two three"}]}
    assert invoke(plugin_with(Counter()), "model_provider", "counter", "count_tokens", payload) == [3]
