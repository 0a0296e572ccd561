"""The fake model provider (treadle_fake), called through the real dispatcher."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.metadata
import io
import json
import math
import wave
from pathlib import Path
from typing import Any

import pytest
import treadle_fake
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle_sdk.errors import ErrorCode, PluginInvalidArgument, PluginNotFound
from treadle_sdk.model_runtime import LLMResultChunk, PromptMessage, RerankResult, TextEmbeddingResult, TTSChunk
from treadle_sdk.testing import ainvoke, invoke, load

USER: dict[str, Any] = {"role": "user", "content": "What is the weather in Paris?"}
TOOL_REPLY = {
    "content": "Let me check.",
    "tool_calls": [
        {"name": "weather", "arguments": {"city": "Paris"}},
        {"name": "clock", "arguments": {"timezone": "Europe/Paris"}},
    ],
}


def llm(payload: dict[str, Any]) -> list[LLMResultChunk]:
    return invoke(treadle_fake, "model_provider", "fake", "invoke_llm", payload)


def script_call(script: Any, messages: list[dict[str, Any]], **fields: Any) -> list[LLMResultChunk]:
    parameters = {"script": script, **fields.pop("model_parameters", {})}
    return llm({"model": "script", "prompt_messages": messages, "model_parameters": parameters, **fields})


def text(chunks: list[LLMResultChunk]) -> str:
    return "".join(chunk.delta.message.content for chunk in chunks)


def assistant(content: str = "ok", **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **fields}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- registration ------------------------------------------------------------------------------


def test_provider_registers_its_models_and_operations() -> None:
    """PLUG-MODEL-PROVIDER-YAML, PLUG-MODEL-ENTITY, PLUG-MODEL-TYPES: one provider, a model of every type."""
    entry = load(treadle_fake).extensions.get("model_provider", "fake")
    assert entry is not None
    assert set(entry.operations) == {
        "validate_credentials", "invoke_llm", "count_tokens", "invoke_text_embedding", "invoke_rerank",
        "invoke_tts", "invoke_speech2text", "invoke_moderation",
    }
    assert entry.schema["supported_model_types"] == [
        "llm", "text-embedding", "rerank", "speech2text", "tts", "moderation"]
    models = {m["model"]: m for m in entry.schema["models"]}
    assert {name: m["model_type"] for name, m in models.items()} == {
        "echo": "llm",
        "script": "llm",
        "json": "llm",
        "fake-embedding": "text-embedding",
        "fake-rerank": "rerank",
        "fake-tts": "tts",
        "fake-speech2text": "speech2text",
        "fake-moderation": "moderation",
    }
    assert set(models["script"]["features"]) == {"tool-call", "multi-tool-call", "stream-tool-call"}
    assert models["json"]["features"] == ["structured-output"]
    assert [rule["name"] for rule in models["script"]["parameter_rules"]] == ["script", "max_tokens"]


def test_parameter_rules_are_expanded_from_their_templates() -> None:
    """PLUG-MODEL-PARAM-RULE: use_template fills label, type and bounds; the rule's own fields win."""
    entry = load(treadle_fake).extensions.get("model_provider", "fake")
    assert entry is not None
    models = {m["model"]: m for m in entry.schema["models"]}
    [max_tokens] = [r for r in models["echo"]["parameter_rules"] if r["name"] == "max_tokens"]
    assert (max_tokens["label"], max_tokens["type"], max_tokens["min"], max_tokens["max"], max_tokens["default"]) == (
        {"en_US": "Max Tokens"}, "int", 1, None, 64)
    assert max_tokens["help"]["en_US"].startswith("Cut the reply")
    rules = {r["name"]: r for r in models["json"]["parameter_rules"]}
    assert rules["response_format"]["options"] == ["text", "json_object", "json_schema"]
    assert rules["json_schema"]["type"] == "text"


def test_models_that_bill_carry_pricing() -> None:
    """PLUG-MODEL-PRICING on the LLMs and the embedding model."""
    entry = load(treadle_fake).extensions.get("model_provider", "fake")
    assert entry is not None
    pricing = {m["model"]: m["pricing"] for m in entry.schema["models"]}
    assert pricing["echo"] == {"input": "0.001", "output": "0.002", "unit": "0.001", "currency": "USD"}
    assert pricing["fake-embedding"] == {"input": "0.0001", "output": None, "unit": "0.001", "currency": "USD"}
    assert pricing["fake-tts"] is None


def test_provider_is_published_under_the_treadle_entry_point_group() -> None:
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "fake"]
    assert entry_point.load() is treadle_fake


# -- echo ----------------------------------------------------------------------------------------


def test_echo_streams_the_last_user_message_word_by_word() -> None:
    """PLUG-MODEL-MESSAGES: chunks carry word pieces; the last one carries usage and finish_reason."""
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        assistant("first answer"),
        {"role": "user", "content": [{"type": "text", "data": "  Hello,  big\n"}, {"type": "text", "data": "world "}]},
    ]
    chunks = llm({"model": "echo", "prompt_messages": messages})
    assert [c.delta.message.content for c in chunks] == ["  Hello,  ", "big\n", "world "]
    assert text(chunks) == "  Hello,  big\nworld "
    assert [c.delta.index for c in chunks] == [0, 1, 2]
    assert all(c.model == "echo" for c in chunks)
    assert [c.delta.finish_reason for c in chunks] == [None, None, "stop"]
    assert [c.delta.usage is None for c in chunks] == [True, True, False]
    assert all(not c.delta.message.tool_calls for c in chunks)


def test_echo_without_streaming_gives_one_chunk_with_the_whole_reply() -> None:
    chunks = llm({"model": "echo", "prompt_messages": [USER], "stream": False})
    assert len(chunks) == 1
    assert chunks[0].delta.message.content == USER["content"]
    assert chunks[0].delta.finish_reason == "stop"
    assert chunks[0].delta.usage is not None


def test_echo_with_no_user_message_replies_with_empty_text() -> None:
    (chunk,) = llm({"model": "echo", "prompt_messages": [{"role": "system", "content": "Hi there"}]})
    assert chunk.delta.message.content == ""
    assert chunk.delta.finish_reason == "stop"
    assert chunk.delta.usage is not None and chunk.delta.usage.completion_tokens == 0


# -- script --------------------------------------------------------------------------------------


def test_script_reply_is_chosen_by_the_number_of_assistant_messages() -> None:
    """The turn index comes from the prompt alone: the same prompt always gets the same reply."""
    script = ["zero", "one", "two"]
    history: list[dict[str, Any]] = [USER]
    for turn, expected in enumerate(script):
        assert text(script_call(script, history)) == expected
        assert text(script_call(script, history)) == expected, f"turn {turn} changed on a second call"
        history = [*history, assistant(expected), {"role": "user", "content": "go on"}]


def test_script_tool_calls_arrive_parsed_in_the_last_chunk() -> None:
    """PLUG-MODEL-MESSAGES: tool_calls[{id, type, function{name, arguments}}], finish_reason tool_calls."""
    chunks = script_call([TOOL_REPLY], [USER], tools=[{"name": "weather"}, {"name": "clock"}])
    assert text(chunks) == "Let me check."
    assert all(not c.delta.message.tool_calls for c in chunks[:-1])
    last = chunks[-1].delta
    assert last.finish_reason == "tool_calls"
    assert [(call.id, call.type, call.function.name) for call in last.message.tool_calls] == [
        ("call_0_0", "function", "weather"),
        ("call_0_1", "function", "clock"),
    ]
    assert [json.loads(call.function.arguments) for call in last.message.tool_calls] == [
        {"city": "Paris"},
        {"timezone": "Europe/Paris"},
    ]


def test_script_agent_loop_answers_after_the_tool_result() -> None:
    """An agent's second call holds the assistant tool-call message and the tool result: turn 1."""
    call = script_call([TOOL_REPLY, "It is sunny."], [USER])[-1].delta.message.tool_calls[0]
    history: list[dict[str, Any]] = [
        USER,
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump()]},
        {"role": "tool", "content": "sunny, 21 C", "tool_call_id": call.id},
    ]
    chunks = script_call([TOOL_REPLY, "It is sunny."], history)
    assert text(chunks) == "It is sunny."
    assert chunks[-1].delta.finish_reason == "stop"
    assert not chunks[-1].delta.message.tool_calls


def test_script_tool_call_ids_include_the_turn() -> None:
    chunks = script_call(["hi", TOOL_REPLY], [USER, assistant("hi")])
    assert [call.id for call in chunks[-1].delta.message.tool_calls] == ["call_1_0", "call_1_1"]


def test_script_string_arguments_are_sent_verbatim() -> None:
    """Lets a script hand callers malformed arguments on purpose."""
    script = [{"tool_calls": [{"name": "weather", "arguments": "{not json"}]}]
    (chunk,) = script_call(script, [USER])
    assert chunk.delta.message.content == ""
    assert chunk.delta.message.tool_calls[0].function.arguments == "{not json"
    assert chunk.delta.finish_reason == "tool_calls"


def test_script_may_be_json_text_or_a_provider_credential() -> None:
    script = json.dumps(["from text"])
    assert text(script_call(script, [USER])) == "from text"
    chunks = llm({"model": "script", "prompt_messages": [USER], "credentials": {"script": ["from credentials"]}})
    assert text(chunks) == "from credentials"


def test_script_in_model_parameters_overrides_the_credential() -> None:
    chunks = llm(
        {
            "model": "script",
            "prompt_messages": [USER],
            "credentials": {"script": ["from credentials"]},
            "model_parameters": {"script": ["from parameters"]},
        }
    )
    assert text(chunks) == "from parameters"


def test_script_past_its_end_is_a_clear_error() -> None:
    with pytest.raises(PluginInvalidArgument, match=r"the script has 1 replies .* 1 assistant messages") as caught:
        script_call(["only"], [USER, assistant("only"), {"role": "user", "content": "and?"}])
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.details["turn"] == 1


def test_script_model_without_a_script_is_a_clear_error() -> None:
    with pytest.raises(PluginInvalidArgument, match="the script model needs a script"):
        llm({"model": "script", "prompt_messages": [USER]})


@pytest.mark.parametrize(
    ("script", "where"),
    [
        ("[not json", "model_parameters.script is not valid JSON"),
        ([], "model_parameters.script is empty"),
        ({"content": "x"}, "model_parameters.script: Input should be a valid list"),
        ([1], "model_parameters.script[0]"),
        (["ok", {"contnt": "typo"}], "model_parameters.script[1].contnt"),
        ([{"tool_calls": [{"arguments": {}}]}], "model_parameters.script[0].tool_calls[0].name"),
        ([{"tool_calls": [{"name": "f", "arguments": 3}]}], "model_parameters.script[0].tool_calls[0].arguments"),
        ([{"content": "x", "delay_ms": 10_001}], "model_parameters.script[0].delay_ms"),
    ],
)
def test_malformed_scripts_are_refused_with_their_path(script: Any, where: str) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        script_call(script, [USER])
    assert where in caught.value.message


# -- stop sequences, max_tokens, usage -----------------------------------------------------------


def test_stop_sequence_truncates_at_the_first_occurrence() -> None:
    reply = {"content": "one two STOP three four", "tool_calls": [{"name": "f"}]}
    chunks = script_call([reply], [USER], stop=["four", "STOP", ""])
    assert text(chunks) == "one two "
    last = chunks[-1].delta
    assert last.finish_reason == "stop"
    # Generation ended inside the content, so the tool calls that follow it were never produced.
    assert not last.message.tool_calls
    assert last.usage is not None and last.usage.completion_tokens == 2


def test_max_tokens_truncates_to_that_many_words() -> None:
    chunks = script_call(["a b  c d e"], [USER], model_parameters={"max_tokens": 3})
    assert [c.delta.message.content for c in chunks] == ["a ", "b  ", "c"]
    assert chunks[-1].delta.finish_reason == "length"
    assert chunks[-1].delta.usage is not None and chunks[-1].delta.usage.completion_tokens == 3


def test_max_tokens_equal_to_the_reply_length_keeps_the_tool_calls() -> None:
    chunks = script_call([TOOL_REPLY], [USER], model_parameters={"max_tokens": 3})
    assert text(chunks) == "Let me check."
    assert chunks[-1].delta.finish_reason == "tool_calls"
    assert len(chunks[-1].delta.message.tool_calls) == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "must be at least 1, not 0"), (-1, "must be at least 1"), (2.5, "must be a whole number, not 2.5"),
     ("ten", "must be a whole number, not 'ten'"), (True, "must be a whole number, not True")],
)
def test_max_tokens_must_be_a_positive_whole_number(value: Any, message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=f"model_parameters.max_tokens {message}") as caught:
        llm({"model": "echo", "prompt_messages": [USER], "model_parameters": {"max_tokens": value}})
    assert caught.value.details["field"] == "model_parameters.max_tokens"


def test_max_tokens_as_a_whole_float_and_without_an_upper_bound() -> None:
    chunks = script_call(["a b c"], [USER], model_parameters={"max_tokens": 2.0})
    assert text(chunks) == "a b"
    assert text(script_call(["a b c"], [USER], model_parameters={"max_tokens": 1_000_000})) == "a b c"


def test_usage_counts_words_and_agrees_with_count_tokens() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},  # 2 words
        USER,  # 6
        {  # 1 + tool call name 1 + arguments {"city": "Paris"} 2
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [{"id": "c1", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},  # 1
    ]
    tools = [{"name": "weather", "description": "Weather of a city"}]  # 1 + 4: 18 in all
    # 3 words, the tool name 1, its arguments {"to": "me"} 2.
    reply = {"content": "It is sunny.", "tool_calls": [{"name": "notify", "arguments": {"to": "me"}}]}
    chunks = script_call(["x", reply], messages, tools=tools)
    usage = chunks[-1].delta.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (18, 6, 24)
    # Priced as Dify prices: tokens x unit price x unit, to seven places (0.001 and 0.002 per 1K tokens).
    assert (usage.prompt_unit_price, usage.prompt_price_unit, usage.prompt_price) == ("0.001", "0.001", "0.0000180")
    assert (usage.completion_unit_price, usage.completion_price) == ("0.002", "0.0000120")
    assert (usage.total_price, usage.currency, usage.latency) == ("0.0000300", "USD", 0.0)
    counted = invoke(
        treadle_fake,
        "model_provider",
        "fake",
        "count_tokens",
        {"model": "script", "prompt_messages": messages, "tools": tools},
    )
    assert counted == [18]


async def test_scripted_delays_are_awaited_without_blocking_the_loop() -> None:
    """A delayed reply streams while other tasks keep running on the same loop."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        payload = {
            "model": "script",
            "prompt_messages": [USER],
            "model_parameters": {"script": [{"content": "slow but steady", "delay_ms": 1}]},
        }
        chunks = await ainvoke(treadle_fake, "model_provider", "fake", "invoke_llm", payload)
    finally:
        done.set()
        await task
    assert text(chunks) == "slow but steady"
    assert ticks > 0


# -- embeddings ----------------------------------------------------------------------------------


def embed(texts: list[str], **fields: Any) -> TextEmbeddingResult:
    payload = {"model": "fake-embedding", "texts": texts, **fields}
    (result,) = invoke(treadle_fake, "model_provider", "fake", "invoke_text_embedding", payload)
    assert isinstance(result, TextEmbeddingResult)
    return result


def test_embeddings_are_deterministic_unit_vectors() -> None:
    """PLUG-MODEL-IFACE (embedding): TextEmbeddingResult{model, embeddings, usage}."""
    texts = ["hello world", "hello world!", "", "hello world"]
    first, second = embed(texts), embed(texts, input_type="query")
    assert first.model == "fake-embedding"
    assert first.embeddings == second.embeddings
    assert [len(vector) for vector in first.embeddings] == [64] * 4
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-12) for v in first.embeddings)
    assert first.embeddings[0] == first.embeddings[3]
    assert first.embeddings[0] != first.embeddings[1]
    assert (first.usage.tokens, first.usage.total_tokens) == (6, 6)
    assert (first.usage.unit_price, first.usage.price_unit, first.usage.total_price) == ("0.0001", "0.001", "0.0000006")


# -- models and credentials ----------------------------------------------------------------------


def test_an_unknown_model_is_not_found() -> None:
    with pytest.raises(PluginNotFound, match="no model 'gpt-4'") as caught:
        llm({"model": "gpt-4", "prompt_messages": [USER]})
    assert caught.value.details["models"] == [
        "echo", "script", "json", "fake-embedding", "fake-rerank", "fake-tts", "fake-speech2text", "fake-moderation"]


def test_a_model_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(PluginInvalidArgument, match="'fake-embedding' is a model of type text-embedding, not llm"):
        llm({"model": "fake-embedding", "prompt_messages": [USER]})
    with pytest.raises(PluginInvalidArgument, match="'echo' is a model of type llm, not text-embedding"):
        embed([], model="echo")


@pytest.mark.parametrize("credentials", [{}, {"api_key": "sk-anything"}, {"script": '["hi"]'}])
def test_valid_credentials_are_accepted(credentials: dict[str, Any]) -> None:
    payload = {"model": "script", "credentials": credentials}
    assert invoke(treadle_fake, "model_provider", "fake", "validate_credentials", payload) == [None]


def test_the_invalid_api_key_is_rejected_everywhere() -> None:
    bad = {"api_key": "invalid"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("validate_credentials", {"credentials": bad}),
        ("invoke_llm", {"model": "echo", "prompt_messages": [USER], "credentials": bad}),
        ("invoke_text_embedding", {"model": "fake-embedding", "texts": ["x"], "credentials": bad}),
        ("invoke_rerank", {"model": "fake-rerank", "query": "x", "docs": ["x"], "credentials": bad}),
        ("invoke_tts", {"model": "fake-tts", "content_text": "x", "credentials": bad}),
        ("invoke_speech2text", {"model": "fake-speech2text", "audio": "eA==", "credentials": bad}),
        ("invoke_moderation", {"model": "fake-moderation", "text": "x", "credentials": bad}),
    ]
    for operation, payload in calls:
        with pytest.raises(PluginInvalidArgument, match="credential 'api_key' was rejected") as caught:
            invoke(treadle_fake, "model_provider", "fake", operation, payload)
        assert caught.value.details == {"field": "credentials.api_key"}
        assert caught.value.plugin == "test-plugin"
        assert caught.value.call == f"model_provider/fake.{operation}"


def test_validating_credentials_checks_the_script_and_the_model() -> None:
    with pytest.raises(PluginInvalidArgument, match=r"credentials\.script\[1\]"):
        invoke(treadle_fake, "model_provider", "fake", "validate_credentials", {"credentials": {"script": [{}, 5]}})
    with pytest.raises(PluginNotFound):
        invoke(treadle_fake, "model_provider", "fake", "validate_credentials", {"model": "nope"})


# -- reasoning -----------------------------------------------------------------------------------


def test_script_reasoning_streams_before_the_content() -> None:
    """LLMDelta.reasoning (reasoning_content): thinking arrives apart from the answer, and is billed."""
    script = [{"reasoning": "The user wants weather.", "content": "It is sunny."}]
    chunks = script_call(script, [USER])
    assert [(c.delta.reasoning, c.delta.message.content) for c in chunks] == [
        ("The ", ""), ("user ", ""), ("wants ", ""), ("weather.", ""), ("", "It "), ("", "is "), ("", "sunny.")]
    usage = chunks[-1].delta.usage
    assert usage is not None and usage.completion_tokens == 7
    [whole] = script_call(script, [USER], stream=False)
    assert (whole.delta.reasoning, whole.delta.message.content) == ("The user wants weather.", "It is sunny.")


def test_reasoning_is_kept_when_a_stop_sequence_cuts_the_content() -> None:
    chunks = script_call([{"reasoning": "think STOP", "content": "one STOP two"}], [USER], stop=["STOP"])
    assert "".join(c.delta.reasoning for c in chunks) == "think STOP"
    assert text(chunks) == "one "


# -- the json model (structured output) ----------------------------------------------------------


def json_call(**payload: Any) -> Any:
    payload.setdefault("prompt_messages", [USER])
    chunks = llm({"model": "json", **payload})
    assert chunks[-1].delta.finish_reason == "stop"
    return json.loads(text(chunks))


SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative"]},
        "score": {"type": "number", "minimum": 0.5, "maximum": 1},
        "count": {"type": "integer", "exclusiveMinimum": 3},
        "tags": {"type": "array", "items": {"type": "string"}},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
        "nickname": {"type": ["string", "null"], "minLength": 10, "maxLength": 12},
        "code": {"type": "string", "maxLength": 2},
        "when": {"type": "string", "format": "date-time"},
        "maybe": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/point"}]},
        "nothing": {"type": "null"},
        "flag": {"type": "boolean"},
        "fixed": {"const": "v1"},
        "step": {"type": "integer", "minimum": 1, "multipleOf": 5},
    },
    "required": ["sentiment", "extra"],
    "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}}},
}
EXPECTED = {
    "sentiment": "positive", "score": 0.5, "count": 4, "tags": ["tags"], "pair": [0, False],
    "nickname": "nicknamexx", "code": "co", "when": "1970-01-01T00:00:00Z", "maybe": {"x": 0}, "nothing": None,
    "flag": False, "fixed": "v1", "step": 5, "extra": "extra",
}


def test_json_model_answers_the_minimal_value_of_the_json_schema_parameter() -> None:
    """NODE-LLM structured output, native path: the json_schema model parameter (JSON text, as Dify sends it)."""
    assert json_call(model_parameters={"response_format": "json_schema", "json_schema": json.dumps(SCHEMA)}) == EXPECTED


@pytest.mark.parametrize(
    "parameters",
    [
        {"json_schema": SCHEMA},
        {"json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}},
    ],
)
def test_json_model_takes_the_schema_as_an_object_or_in_openais_wrapper(parameters: dict[str, Any]) -> None:
    assert json_call(model_parameters=parameters) == EXPECTED


def test_json_model_finds_a_schema_in_the_prompt() -> None:
    """NODE-LLM structured output for models without native support: the schema is in the prompt."""
    system = (
        "Answer in JSON. For example, for {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}} "
        "answer {\"a\": \"x\"}. Here is the JSON schema:\n" + json.dumps(SCHEMA) + "\nNo prose."
    )
    assert json_call(prompt_messages=[{"role": "system", "content": system}, USER]) == EXPECTED


def test_json_model_without_a_schema_wraps_the_question() -> None:
    assert json_call(prompt_messages=[USER, assistant("{}"), {"role": "user", "content": "and {not json"}]) == {
        "text": "and {not json"}


def test_json_model_streams_with_usage_and_prices() -> None:
    chunks = llm({"model": "json", "prompt_messages": [USER], "model_parameters": {"json_schema": SCHEMA}})
    assert len(chunks) > 1
    usage = chunks[-1].delta.usage
    assert usage is not None and usage.completion_tokens == len(text(chunks).split())
    assert usage.total_price != "0"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("{not json", "model_parameters.json_schema is not valid JSON"),
        ("[1]", "model_parameters.json_schema must be a JSON schema object, not list"),
        ({"$ref": "http://example.com/s.json"}, "only local references"),
        ({"$ref": "#/$defs/missing"}, "reference '#/$defs/missing' leads nowhere"),
        ({"type": "object", "properties": {"a": False}}, "json_schema.a: no value fits"),
        ({"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
         "nests more than 32 levels"),
        ({"type": "tuple"}, "unknown type 'tuple'"),
        ({"type": "array", "minItems": "two"}, "json_schema is malformed"),
        ({"type": "object", "properties": ["a"]}, "json_schema is malformed"),
    ],
)
def test_json_model_refuses_schemas_it_cannot_follow(schema: Any, message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message.replace("$", r"\$").replace("[", r"\[")):
        llm({"model": "json", "prompt_messages": [USER], "model_parameters": {"json_schema": schema}})


# -- rerank --------------------------------------------------------------------------------------


def rerank(query: str, docs: list[str], **fields: Any) -> RerankResult:
    (result,) = invoke(treadle_fake, "model_provider", "fake", "invoke_rerank",
                       {"model": "fake-rerank", "query": query, "docs": docs, **fields})
    assert isinstance(result, RerankResult)
    return result


def test_rerank_scores_by_the_share_of_query_words_each_document_has() -> None:
    """PLUG-MODEL-IFACE (rerank): RerankResult{model, docs[{index, text, score}]}, best first."""
    docs = ["Bananas are yellow.", "The red apple.", "An apple pie, red and hot!", "apple"]
    result = rerank("Red apple pie", docs)
    assert result.model == "fake-rerank"
    assert [(d.index, d.text, round(d.score, 4)) for d in result.docs] == [
        (2, docs[2], 1.0), (1, docs[1], 0.6667), (3, docs[3], 0.3333), (0, docs[0], 0.0)]


def test_rerank_applies_the_threshold_then_top_n() -> None:
    docs = ["apple pie", "apple", "pie", "cake"]
    assert [d.index for d in rerank("apple pie", docs, score_threshold=0.5).docs] == [0, 1, 2]
    assert [d.index for d in rerank("apple pie", docs, score_threshold=0.5, top_n=2).docs] == [0, 1]
    assert rerank("", docs).docs[0].score == 0.0
    assert rerank("x", []).docs == []


# -- text to speech and speech to text -----------------------------------------------------------


def tts(content_text: str, **fields: Any) -> list[Any]:
    return invoke(treadle_fake, "model_provider", "fake", "invoke_tts",
                  {"model": "fake-tts", "content_text": content_text, **fields})


def stt(audio: bytes, **fields: Any) -> str:
    payload = {"model": "fake-speech2text", "audio": base64.b64encode(audio).decode(), **fields}
    (result,) = invoke(treadle_fake, "model_provider", "fake", "invoke_speech2text", payload)
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize("content_text", ["Hello, wörld! 👋", "odd", "", "a  b\n c"])
def test_tts_streams_a_valid_wav_whose_samples_are_the_text(content_text: str) -> None:
    """PLUG-MODEL-IFACE (tts): audio streams in chunks; it is a real WAV file any player opens."""
    chunks = tts(content_text)
    assert all(isinstance(c, TTSChunk) and c.mime_type == "audio/wav" for c in chunks)
    assert len(chunks) == 1 + len(content_text.split())  # the header, then a piece per word
    data = b"".join(base64.b64decode(c.audio) for c in chunks)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 1, 8000)
        assert wav.readframes(wav.getnframes()) == content_text.encode()
    assert len(data) % 2 == 0
    assert stt(data) == content_text


def test_tts_voice_is_tagged_and_the_default_is_named_in_the_schema() -> None:
    default = b"".join(base64.b64decode(c.audio) for c in tts("hi"))
    nova = b"".join(base64.b64decode(c.audio) for c in tts("hi", voice="nova"))
    assert b"IART" in default and b"default\0" in default and b"nova\0" in nova
    assert stt(nova) == "hi"


def test_speech2text_describes_audio_it_did_not_make() -> None:
    """A foreign file still gets a deterministic transcript: its size and a hash."""
    mp3 = b"ID3\x04\x00" + bytes(range(200))
    assert stt(mp3, filename="speech.mp3") == stt(mp3) == f"[audio: {len(mp3)} bytes, sha256 {_sha(mp3)[:16]}]"
    foreign_wav = io.BytesIO()
    with wave.open(foreign_wav, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x01" * 100)
    assert stt(foreign_wav.getvalue()).startswith("[audio: ")


@pytest.mark.parametrize(("audio", "message"), [("not base64!", "not valid base64"), ("", "'audio' is empty")])
def test_speech2text_refuses_bad_audio(audio: str, message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message) as caught:
        invoke(treadle_fake, "model_provider", "fake", "invoke_speech2text",
               {"model": "fake-speech2text", "audio": audio})
    assert caught.value.details == {"field": "audio"}


# -- moderation ----------------------------------------------------------------------------------


def moderate(text_: str, credentials: dict[str, Any] | None = None) -> bool:
    payload = {"model": "fake-moderation", "text": text_, "credentials": credentials or {}}
    (result,) = invoke(treadle_fake, "model_provider", "fake", "invoke_moderation", payload)
    assert isinstance(result, bool)
    return result


def test_moderation_flags_the_default_keyword_in_any_case() -> None:
    """PLUG-MODEL-IFACE (moderation): True means the text is flagged."""
    assert moderate("That is FORBIDDEN fruit.") is True
    assert moderate("That is fine.") is False


@pytest.mark.parametrize("keywords", ["spam, Scam\n phishing", ["spam", "scam", "phishing"]])
def test_moderation_keywords_come_from_the_credential(keywords: Any) -> None:
    credentials = {"moderation_keywords": keywords}
    assert moderate("a scammer", credentials) is True
    assert moderate("forbidden", credentials) is False
    assert moderate("anything", {"moderation_keywords": " , "}) is False


def test_moderation_keywords_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(PluginInvalidArgument, match=r"credentials\.moderation_keywords\[1\] must be text"):
        moderate("x", {"moderation_keywords": ["ok", 3]})
    with pytest.raises(PluginInvalidArgument, match="'moderation_keywords' must be a comma-separated text"):
        invoke(treadle_fake, "model_provider", "fake", "validate_credentials",
               {"credentials": {"moderation_keywords": 7}})


# -- through the kernel --------------------------------------------------------------------------


async def test_every_model_type_through_a_plugin_host(tmp_path: Path) -> None:
    """PLUG-REVERSE-MODEL: the KernelClient ainvoke_* methods reach the fake provider in its own host
    process, through the kernel's model manager."""
    groups = [GroupPlan("first-party", False, (PluginSpec("fake"),))]
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        with supervisor.kernel_client(tenant_id="t1") as kernel:
            question = [PromptMessage(role="user", content="How do you feel?")]
            chunks = [c async for c in kernel.ainvoke_llm("fake", "json", question,
                                                          model_parameters={"json_schema": json.dumps(SCHEMA)})]
            script = [{"reasoning": "Thinking.", "content": "Fine."}]
            thought = [c async for c in kernel.ainvoke_llm("fake", "script", question,
                                                           model_parameters={"script": script})]
            embedded = await kernel.ainvoke_text_embedding("fake", "fake-embedding", ["a b"])
            ranked = await kernel.ainvoke_rerank("fake", "fake-rerank", "red apple", ["apple", "red apple"], top_n=1)
            speech = [c async for c in kernel.ainvoke_tts("fake", "fake-tts", "Hello there")]
            heard = await kernel.ainvoke_speech2text(
                "fake", "fake-speech2text", b"".join(base64.b64decode(c.audio) for c in speech), filename="a.wav")
            flagged = await kernel.ainvoke_moderation("fake", "fake-moderation", "forbidden words")
            info = await kernel.adescribe_model("fake", "json")
    assert json.loads(text(chunks)) == EXPECTED
    assert chunks[-1].delta.usage is not None and chunks[-1].delta.usage.currency == "USD"
    assert ("".join(c.delta.reasoning for c in thought), text(thought)) == ("Thinking.", "Fine.")
    assert len(embedded.embeddings[0]) == 64 and embedded.usage.total_price == "0.0000002"
    assert [(d.index, d.score) for d in ranked.docs] == [(1, 1.0)]
    assert all(c.mime_type == "audio/wav" for c in speech) and heard == "Hello there"
    assert flagged is True
    assert info.features == ["structured-output"]
