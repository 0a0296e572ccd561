"""One test per hook of ``treadle_sdk.hookspecs``: a tiny plugin registers a real extension through
the hook, and an operation of it runs through the dispatcher (``test_hook_contract`` checks that each
hook has its ``test_hook_<name>`` here)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from treadle_sdk import (
    CallContext,
    ModelProvider,
    NodeType,
    StorageBackend,
    Tool,
    ToolProvider,
    Trigger,
    VectorStore,
    hookimpl,
)
from treadle_sdk.extensions import (
    CollectionArgs,
    CreateCollectionArgs,
    DeleteVectorsArgs,
    DispatchTriggerArgs,
    NodeEvent,
    SaveArgs,
    SearchVectorsArgs,
    StorageKeyArgs,
    TriggerConfigArgs,
    TriggerDispatch,
    UpsertVectorsArgs,
    VectorHit,
)
from treadle_sdk.model_runtime import (
    AssistantMessage,
    InvokeLLMArgs,
    InvokeTextEmbeddingArgs,
    LLMDelta,
    LLMResultChunk,
    LLMUsage,
    TextEmbeddingResult,
)
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import (
    ModelProviderSchema,
    ModelSchema,
    NodeTypeSchema,
    StorageSchema,
    ToolParameter,
    ToolProviderSchema,
    ToolSchema,
    TriggerSchema,
    VectorStoreSchema,
)
from treadle_sdk.testing import ainvoke, invoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage


def test_hook_register_models() -> None:
    class Echo(ModelProvider):
        """Answers with the last user message, one word per chunk; embeds texts by letter counts."""

        schema = ModelProviderSchema(
            name="echo",
            label="Echo",
            supported_model_types=["llm", "text-embedding"],
            models=[
                ModelSchema(model="parrot", model_type="llm"),
                ModelSchema(model="abc", model_type="text-embedding"),
            ],
        )

        def invoke_llm(self, args: InvokeLLMArgs, ctx: CallContext) -> Iterator[LLMResultChunk]:
            words = args.prompt_messages[-1].text().split()
            for i, word in enumerate(words):
                last = i == len(words) - 1
                yield LLMResultChunk(
                    model=args.model,
                    delta=LLMDelta(
                        index=i,
                        message=AssistantMessage(content=word if i == 0 else f" {word}"),
                        usage=LLMUsage(prompt_tokens=len(words), completion_tokens=len(words)) if last else None,
                        finish_reason="stop" if last else None,
                    ),
                )

        async def invoke_text_embedding(self, args: InvokeTextEmbeddingArgs, ctx: CallContext) -> TextEmbeddingResult:
            return TextEmbeddingResult(
                model=args.model, embeddings=[[float(text.count(c)) for c in "abc"] for text in args.texts]
            )

    class Plugin:
        @hookimpl
        def register_models(self, register: Callable[[ModelProvider], None]) -> None:
            register(Echo())

    registry = load(Plugin())
    [entry] = registry.extensions
    assert (entry.kind.value, entry.name, entry.operations) == (
        "model_provider",
        "echo",
        ("invoke_llm", "invoke_text_embedding"),
    )
    assert [m["model"] for m in entry.schema["models"]] == ["parrot", "abc"]

    chunks = invoke(
        registry,
        "model_provider",
        "echo",
        "invoke_llm",
        {
            "model": "parrot",
            "prompt_messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "hi there you"}],
        },
    )
    assert "".join(c.delta.message.content for c in chunks) == "hi there you"
    assert [c.delta.finish_reason for c in chunks] == [None, None, "stop"]
    assert chunks[-1].delta.usage.completion_tokens == 3

    [embedded] = invoke(
        registry, "model_provider", "echo", "invoke_text_embedding", {"model": "abc", "texts": ["aab", "c"]}
    )
    assert embedded.embeddings == [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_hook_register_tools() -> None:
    class Reverse(Tool):
        schema = ToolSchema(
            name="reverse",
            label="Reverse",
            description="Reverses text",
            parameters=[
                ToolParameter(name="text", type="string", label="Text", required=True),
                ToolParameter(name="times", type="number", label="Times", default=1),
            ],
        )

        def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> Iterator[Any]:
            text = parameters["text"]
            for _ in range(parameters["times"]):
                text = text[::-1]
                yield text
            yield JsonMessage(json_object={"length": len(text), "key_given": "api_key" in credentials})

    class TextTools(ToolProvider):
        schema = ToolProviderSchema(name="text-tools", label="Text tools", description="Small text tools")
        tools = [Reverse()]

    class Plugin:
        @hookimpl
        def register_tools(self, register: Callable[[ToolProvider], None]) -> None:
            register(TextTools())

    messages = invoke(
        Plugin(),
        "tool_provider",
        "text-tools",
        "invoke_tool",
        {"tool": "reverse", "parameters": {"text": "hello", "times": "2"}, "credentials": {"api_key": "k"}},
    )
    assert messages == [
        TextMessage(text="olleh"),
        TextMessage(text="hello"),
        JsonMessage(json_object={"length": 5, "key_given": True}),
    ]


def test_hook_register_node_types() -> None:
    class Template(NodeType):
        """Renders ``{{#node.var#}}`` references in its template, streaming the text word by word."""

        schema = NodeTypeSchema(
            name="mini-template",
            label="Mini template",
            config_schema={"type": "object", "properties": {"template": {"type": "string"}}},
        )
        blocking = False

        def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
            if not isinstance(config.get("template"), str):
                raise NodeConfigError("must be text", path="template")
            return MiniTemplate(config)

    class MiniTemplate(PreparedNode):
        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

        def run(self, rt: NodeRuntime) -> NodeResult:
            text = rt.render(self.config["template"])
            for piece in text.split(" "):
                rt.emit("output", piece + " ")
            return NodeResult(outputs={"output": text})

    class Plugin:
        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            register(Template())

    config = {"template": "Hello {{#start.who#}}!"}
    args = {"node_id": "n1", "config": config, "variables": [[["start", "who"], "world"]]}
    events = invoke(Plugin(), "node_type", "mini-template", "run", args)
    assert [(e.type, e.chunk) for e in events[:-1]] == [("chunk", "Hello "), ("chunk", "world! ")]
    assert events[-1] == NodeEvent(type="result", outputs={"output": "Hello world!"}, handle="source")


async def test_hook_register_vector_stores() -> None:
    class MemoryStore(VectorStore):
        """Collections of vectors in a dict, searched by cosine similarity."""

        schema = VectorStoreSchema(name="memory", label="In memory", supports_metadata_filter=True)
        blocking = False

        def __init__(self) -> None:
            self.collections: dict[str, tuple[int, dict[str, Any]]] = {}

        def create_collection(self, args: CreateCollectionArgs, ctx: CallContext) -> None:
            self.collections.setdefault(args.collection, (args.dimension, {}))

        def upsert(self, args: UpsertVectorsArgs, ctx: CallContext) -> int:
            dimension, records = self.collections[args.collection]
            for record in args.records:
                if len(record.vector) != dimension:
                    raise ValueError(f"record {record.id!r} has {len(record.vector)} dimensions, not {dimension}")
                records[record.id] = record
            return len(args.records)

        def search(self, args: SearchVectorsArgs, ctx: CallContext) -> list[VectorHit]:
            _, records = self.collections[args.collection]
            wanted = (args.filter or {}).items()
            hits = [
                VectorHit(id=r.id, score=cosine(args.vector, r.vector), text=r.text, metadata=r.metadata)
                for r in records.values()
                if wanted <= r.metadata.items()
            ]
            return sorted(hits, key=lambda h: -h.score)[: args.top_k]

        def delete(self, args: DeleteVectorsArgs, ctx: CallContext) -> int:
            _, records = self.collections[args.collection]
            return sum(records.pop(i, None) is not None for i in args.ids)

        def drop_collection(self, args: CollectionArgs, ctx: CallContext) -> None:
            self.collections.pop(args.collection, None)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))

    store = MemoryStore()

    class Plugin:
        @hookimpl
        def register_vector_stores(self, register: Callable[[VectorStore], None]) -> None:
            register(store)

    registry = load(Plugin())

    async def call(operation: str, **payload: Any) -> Any:
        [result] = await ainvoke(registry, "vector_store", "memory", operation, {"collection": "docs", **payload})
        return result

    assert await call("create_collection", dimension=2) is None
    records = [
        {"id": "east", "vector": [1, 0], "text": "sunrise", "metadata": {"lang": "en"}},
        {"id": "north", "vector": [0, 1], "text": "polaris", "metadata": {"lang": "en"}},
        {"id": "nordost", "vector": [1, 1], "text": "Morgen", "metadata": {"lang": "de"}},
    ]
    assert await call("upsert", records=records) == 3
    hits = await call("search", vector=[1, 0.1], top_k=2)
    assert [h.id for h in hits] == ["east", "nordost"]
    assert hits[0].score > 0.99
    assert [h.id for h in await call("search", vector=[1, 0.1], filter={"lang": "de"})] == ["nordost"]
    assert await call("delete", ids=["east", "gone"]) == 1
    assert [h.id for h in await call("search", vector=[1, 0])] == ["nordost", "north"]
    assert await call("drop_collection") is None
    assert store.collections == {}


def test_hook_register_storage() -> None:
    class DictStorage(StorageBackend):
        """Files in a dict; ``load`` streams them in pieces of ``config["piece"]`` bytes."""

        schema = StorageSchema(name="dict", label="Dictionary")
        blocking = False

        def __init__(self) -> None:
            self.files: dict[str, bytes] = {}

        def save(self, args: SaveArgs, ctx: CallContext) -> None:
            self.files[args.key] = base64.b64decode(args.data)

        def load(self, args: StorageKeyArgs, ctx: CallContext) -> Iterator[str]:
            data, piece = self.files[args.key], int(args.config.get("piece", 4096))
            for start in range(0, len(data), piece):
                yield base64.b64encode(data[start : start + piece]).decode()

        def exists(self, args: StorageKeyArgs, ctx: CallContext) -> bool:
            return args.key in self.files

        def delete(self, args: StorageKeyArgs, ctx: CallContext) -> None:
            self.files.pop(args.key, None)

    class Plugin:
        @hookimpl
        def register_storage(self, register: Callable[[StorageBackend], None]) -> None:
            register(DictStorage())

    registry = load(Plugin())
    content = bytes(range(256)) * 3
    key = {"key": "uploads/a.bin"}
    assert invoke(registry, "storage", "dict", "exists", key) == [False]
    assert invoke(registry, "storage", "dict", "save", {**key, "data": base64.b64encode(content).decode()}) == [None]
    pieces = invoke(registry, "storage", "dict", "load", {**key, "config": {"piece": 100}})
    assert len(pieces) == 8
    assert b"".join(base64.b64decode(p) for p in pieces) == content
    assert invoke(registry, "storage", "dict", "exists", key) == [True]
    invoke(registry, "storage", "dict", "delete", key)
    assert invoke(registry, "storage", "dict", "exists", key) == [False]


def test_hook_register_triggers() -> None:
    class Webhook(Trigger):
        """Starts one run per item of a JSON array posted to it, if the shared secret matches."""

        schema = TriggerSchema(
            name="json-webhook",
            label="JSON webhook",
            config_schema={"type": "object", "required": ["secret"]},
            output_schema={"type": "object"},
        )

        def validate_config(self, args: TriggerConfigArgs, ctx: CallContext) -> dict[str, Any]:
            secret = str(args.config.get("secret", "")).strip()
            if not secret:
                raise ValueError("config.secret is required")
            return {"secret": secret}

        def dispatch(self, args: DispatchTriggerArgs, ctx: CallContext) -> TriggerDispatch:
            if args.request.headers.get("x-secret") != args.config["secret"]:
                return TriggerDispatch(status=401, body="wrong secret")
            items = json.loads(args.request.body)
            return TriggerDispatch(events=[{"item": item} for item in items], status=202, body="accepted")

    class Plugin:
        @hookimpl
        def register_triggers(self, register: Callable[[Trigger], None]) -> None:
            register(Webhook())

    registry = load(Plugin())
    [config] = invoke(registry, "trigger", "json-webhook", "validate_config", {"config": {"secret": " s3 "}})
    assert config == {"secret": "s3"}
    request = {"headers": {"x-secret": "s3"}, "body": json.dumps([{"n": 1}, {"n": 2}])}
    [accepted] = invoke(registry, "trigger", "json-webhook", "dispatch", {"config": config, "request": request})
    assert accepted == TriggerDispatch(events=[{"item": {"n": 1}}, {"item": {"n": 2}}], status=202, body="accepted")
    request["headers"] = {"x-secret": "guess"}
    [refused] = invoke(registry, "trigger", "json-webhook", "dispatch", {"config": config, "request": request})
    assert (refused.status, refused.events) == (401, [])
