"""The fake model provider (treadle_fake), called through the real dispatcher."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import math
from typing import Any

import pytest
import treadle_fake
from treadle_sdk.errors import ErrorCode, PluginInvalidArgument, PluginNotFound
from treadle_sdk.model_runtime import LLMResultChunk, TextEmbeddingResult
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


# -- registration ------------------------------------------------------------------------------


def test_provider_registers_its_models_and_operations() -> None:
    """PLUG-MODEL-PROVIDER-YAML, PLUG-MODEL-ENTITY: one provider, three predefined models."""
    entry = load(treadle_fake).extensions.get("model_provider", "fake")
    assert entry is not None
    assert set(entry.operations) == {"validate_credentials", "invoke_llm", "count_tokens", "invoke_text_embedding"}
    assert entry.schema["supported_model_types"] == ["llm", "text-embedding"]
    models = {m["model"]: m for m in entry.schema["models"]}
    assert {name: m["model_type"] for name, m in models.items()} == {
        "echo": "llm",
        "script": "llm",
        "fake-embedding": "text-embedding",
    }
    assert set(models["script"]["features"]) == {"tool-call", "multi-tool-call", "stream-tool-call"}
    assert [rule["name"] for rule in models["script"]["parameter_rules"]] == ["script", "max_tokens"]


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


@pytest.mark.parametrize("value", [0, -1, 2.5, "ten", True])
def test_max_tokens_must_be_a_positive_whole_number(value: Any) -> None:
    with pytest.raises(PluginInvalidArgument, match="'max_tokens' must be a whole number"):
        llm({"model": "echo", "prompt_messages": [USER], "model_parameters": {"max_tokens": value}})


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


# -- models and credentials ----------------------------------------------------------------------


def test_an_unknown_model_is_not_found() -> None:
    with pytest.raises(PluginNotFound, match="no model 'gpt-4'") as caught:
        llm({"model": "gpt-4", "prompt_messages": [USER]})
    assert caught.value.details["models"] == ["echo", "script", "fake-embedding"]


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
