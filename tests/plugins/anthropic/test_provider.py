"""The anthropic provider against a local server speaking the Messages API wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import treadle_anthropic
from support.local_server import closed_port
from treadle_sdk.context import CallContext
from treadle_sdk.dispatch import Dispatcher
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_errors import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)
from treadle_sdk.model_runtime import LLMResultChunk
from treadle_sdk.registry import Registry
from treadle_sdk.testing import MemoryKernel, ainvoke, load

from .server import (
    AnthropicServer,
    Reply,
    error_reply,
    message_end,
    message_json,
    message_start,
    sse,
    sse_reply,
    text_block,
    text_stream,
    thinking_block,
    tool_block,
)

KEY = "sk-ant-test-secret-0123456789"
MODEL = "claude-sonnet-4-5"
USER = {"role": "user", "content": "What is the weather in Paris?"}


@pytest.fixture
async def server() -> AsyncIterator[AnthropicServer]:
    srv = AnthropicServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def plugin() -> AsyncIterator[Registry]:
    registry = load(treadle_anthropic)
    try:
        yield registry
    finally:
        entry = registry.extensions.get("model_provider", "anthropic")
        assert entry is not None and isinstance(entry.extension, treadle_anthropic.AnthropicModelProvider)
        await entry.extension.http.aclose()


def credentials(url: str) -> dict[str, str]:
    return {"anthropic_api_key": KEY, "anthropic_api_url": url}


async def call(plugin: Registry, url: str, operation: str = "invoke_llm", **payload: Any) -> list[Any]:
    payload.setdefault("model", MODEL)
    payload.setdefault("credentials", credentials(url))
    if operation != "validate_credentials":
        payload.setdefault("prompt_messages", [USER])
    return await ainvoke(plugin, "model_provider", "anthropic", operation, payload)


def text(chunks: list[LLMResultChunk]) -> str:
    return "".join(chunk.delta.message.content for chunk in chunks)


async def test_streamed_text_arrives_delta_by_delta_with_usage_on_the_last_chunk(plugin, server) -> None:
    server.replies.append(text_stream("Hel", "lo, ", "wörld", "!"))
    chunks = await call(plugin, server.url)
    assert [c.delta.message.content for c in chunks[:-1]] == ["Hel", "lo, ", "wörld", "!"]
    assert text(chunks) == "Hello, wörld!"
    last = chunks[-1].delta
    assert last.finish_reason == "stop" and last.message.tool_calls == []
    assert all(c.delta.usage is None and c.delta.finish_reason is None for c in chunks[:-1])
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (12, 7, 19)
    # claude-sonnet-4-5 costs $3 / $15 per million tokens.
    assert last.usage.prompt_price == "0.0000360" and last.usage.completion_price == "0.0001050"
    assert last.usage.total_price == "0.0001410" and last.usage.latency > 0
    assert [c.delta.index for c in chunks] == list(range(len(chunks)))


async def test_text_is_yielded_before_the_stream_ends(plugin, server) -> None:
    reply = sse_reply([message_start(), *text_block(0, "first", "second"), *message_end()], size=10_000)
    # One write per event: hold the stream after the first text delta until the client has it.
    reply.parts = [event for event in reply.parts[0].split(b"\n\n") if event]
    reply.parts = [event + b"\n\n" for event in reply.parts]
    reply.hold_after = 3
    server.replies.append(reply)
    stream = _stream(plugin, server.url)
    first = await asyncio.wait_for(anext(stream), timeout=5)
    assert first.delta.message.content == "first" and not reply.release.is_set()
    reply.release.set()
    rest = [chunk async for chunk in stream]
    assert text(rest) == "second" and rest[-1].delta.finish_reason == "stop"


async def test_streamed_tool_use_accumulates_input_json_fragments(plugin, server) -> None:
    server.replies.append(sse_reply([
        message_start(),
        *tool_block(0, "toolu_01", "weather", "", '{"ci', 'ty": "Pa', 'ris"}'),
        *message_end("tool_use"),
    ], size=11))
    chunks = await call(plugin, server.url, tools=[{"name": "weather", "parameters": {"type": "object"}}])
    last = chunks[-1].delta
    assert last.finish_reason == "tool_calls"
    [tool_call] = last.message.tool_calls
    assert (tool_call.id, tool_call.function.name) == ("toolu_01", "weather")
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}


async def test_text_then_two_tool_calls(plugin, server) -> None:
    server.replies.append(sse_reply([
        message_start(),
        *text_block(0, "Let me ", "check."),
        *tool_block(1, "toolu_a", "weather", '{"city":', ' "Paris"}'),
        *tool_block(2, "toolu_b", "clock", '{"timezone": "Europe/Paris"}'),
        *message_end("tool_use", 40),
    ]))
    chunks = await call(plugin, server.url)
    assert text(chunks) == "Let me check."
    calls = chunks[-1].delta.message.tool_calls
    assert [(c.id, c.function.name) for c in calls] == [("toolu_a", "weather"), ("toolu_b", "clock")]
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Paris"}, {"timezone": "Europe/Paris"}]
    assert chunks[-1].delta.usage is not None and chunks[-1].delta.usage.completion_tokens == 40


async def test_tool_call_without_input_has_empty_object_arguments(plugin, server) -> None:
    server.replies.append(sse_reply([message_start(), *tool_block(0, "toolu_x", "now"), *message_end("tool_use")]))
    [chunk] = await call(plugin, server.url)
    assert chunk.delta.message.tool_calls[0].function.arguments == "{}"


async def test_non_streaming_answer_is_one_chunk(plugin, server) -> None:
    server.replies.append(message_json([
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Paris"}},
    ], stop_reason="tool_use"))
    [chunk] = await call(plugin, server.url, stream=False)
    assert chunk.delta.message.content == "Checking."
    assert chunk.delta.finish_reason == "tool_calls"
    assert json.loads(chunk.delta.message.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert chunk.delta.usage is not None and chunk.delta.usage.total_tokens == 29
    assert "stream" not in server.received[0].body


@pytest.mark.parametrize(("stop_reason", "finish"), [("max_tokens", "length"), ("stop_sequence", "stop")])
async def test_stop_reasons_map_to_finish_reasons(plugin, server, stop_reason, finish) -> None:
    server.replies.append(sse_reply([message_start(), *text_block(0, "a"), *message_end(stop_reason)]))
    chunks = await call(plugin, server.url)
    assert chunks[-1].delta.finish_reason == finish


async def test_request_shape(plugin, server) -> None:
    server.replies.append(text_stream("ok"))
    png = "data:image/png;base64,iVBORw0KGgo="
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Look:"},
        {"role": "user", "content": [{"type": "text", "data": "this"}, {"type": "image", "data": png},
                                     {"type": "image", "data": "https://example.com/cat.jpg"}]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "function": {"name": "weather", "arguments": '{"city": "Paris"}'}},
            {"id": "toolu_2", "function": {"name": "clock", "arguments": ""}},
        ]},
        {"role": "tool", "content": "18°C", "tool_call_id": "toolu_1"},
        {"role": "tool", "content": "14:00", "tool_call_id": "toolu_2"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    await call(
        plugin, server.url, prompt_messages=messages, stop=["END"], user="u-1",
        model_parameters={"temperature": 0.2, "top_k": 5, "ignored": 1},
        tools=[{"name": "weather", "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    )
    [request] = server.received
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert body["system"] == "You are terse.\n\nAnswer in French."
    assert body["model"] == MODEL and body["stream"] is True
    assert body["max_tokens"] == 4096 and body["temperature"] == 0.2 and body["top_k"] == 5
    assert "ignored" not in body and "top_p" not in body
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-1"}
    assert body["tools"] == [{"name": "weather", "description": "Weather by city",
                              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    first, second, third = body["messages"]
    assert first["content"] == [
        {"type": "text", "text": "Look:"},
        {"type": "text", "text": "this"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]
    assert second["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "clock", "input": {}},
    ]
    assert third["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "14:00"},
        {"type": "text", "text": "And tomorrow?"},
    ]


@pytest.mark.parametrize(("status", "kind", "error"), [
    (400, "invalid_request_error", InvokeBadRequestError),
    (401, "authentication_error", InvokeAuthorizationError),
    (403, "permission_error", InvokeAuthorizationError),
    (404, "not_found_error", InvokeBadRequestError),
    (413, "request_too_large", InvokeBadRequestError),
    (429, "rate_limit_error", InvokeRateLimitError),
    (500, "api_error", InvokeServerUnavailableError),
    (529, "overloaded_error", InvokeServerUnavailableError),
])
async def test_error_statuses_map_to_invoke_errors(plugin, server, status, kind, error) -> None:
    server.replies.append(error_reply(status, kind, f"the {kind} message"))
    with pytest.raises(error) as caught:
        await call(plugin, server.url)
    assert type(caught.value) is error
    assert f"the {kind} message" in str(caught.value) and str(status) in str(caught.value)
    assert caught.value.details["error_type"] == error.error_type
    assert KEY not in str(caught.value) and KEY not in json.dumps(caught.value.details)


async def test_rate_limit_carries_retry_after(plugin, server) -> None:
    server.replies.append(error_reply(429, "rate_limit_error", "slow down", **{"retry-after": "17"}))
    with pytest.raises(InvokeRateLimitError) as caught:
        await call(plugin, server.url)
    assert caught.value.retry_after == 17.0 and caught.value.details["retry_after"] == 17.0


async def test_a_key_echoed_by_the_server_is_redacted(plugin, server) -> None:
    server.replies.append(error_reply(401, "authentication_error", f"invalid x-api-key {KEY}"))
    with pytest.raises(InvokeAuthorizationError) as caught:
        await call(plugin, server.url)
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert server.received[0].headers["x-api-key"] == KEY


async def test_error_event_mid_stream_raises_the_mapped_error(plugin, server) -> None:
    server.replies.append(sse_reply([
        message_start(), *text_block(0, "partial"),
        sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]))
    seen: list[Any] = []
    with pytest.raises(InvokeServerUnavailableError, match="Overloaded"):
        async for item in _stream(plugin, server.url):
            seen.append(item)
    assert text(seen) == "partial"


async def _stream(plugin: Registry, url: str) -> AsyncIterator[LLMResultChunk]:
    # The dispatcher directly (ainvoke collects), to see chunks as they come and before an error.
    with ThreadPoolExecutor(max_workers=1) as executor:
        ctx = CallContext(plugin="", call="model_provider/anthropic.invoke_llm", tenant_id="t",
                          kernel=MemoryKernel(asyncio.get_running_loop()), deadline=None)
        payload = {"model": MODEL, "credentials": credentials(url), "prompt_messages": [USER]}
        async for item in Dispatcher(plugin.extensions, executor).invoke(
            "model_provider", "anthropic", "invoke_llm", payload, ctx
        ):
            yield item


async def test_stream_cut_before_message_stop_is_an_error(plugin, server) -> None:
    server.replies.append(sse_reply([message_start(), *text_block(0, "half")]))
    with pytest.raises(InvokeServerUnavailableError, match="before message_stop"):
        await call(plugin, server.url)


async def test_connection_refused(plugin) -> None:
    port = closed_port()
    with pytest.raises(InvokeConnectionError) as caught:
        await call(plugin, f"http://127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in str(caught.value) and KEY not in str(caught.value)


async def test_missing_key_is_an_invalid_argument(plugin, server) -> None:
    with pytest.raises(PluginInvalidArgument, match="anthropic_api_key"):
        await call(plugin, server.url, credentials={"anthropic_api_url": server.url})
    assert server.received == []


async def test_client_is_reused_across_calls(plugin, server) -> None:
    server.replies += [text_stream("a"), text_stream("b")]
    await call(plugin, server.url)
    entry = plugin.extensions.get("model_provider", "anthropic")
    assert entry is not None
    first = entry.extension.http._client()
    await call(plugin, server.url)
    assert entry.extension.http._client() is first


async def test_validate_credentials_makes_a_one_token_call(plugin, server) -> None:
    server.replies.append(message_json([{"type": "text", "text": "p"}], stop_reason="max_tokens"))
    assert await call(plugin, server.url, "validate_credentials", model="") == [None]
    [request] = server.received
    assert request.body["max_tokens"] == 1 and request.body["model"] == "claude-3-5-haiku-latest"


async def test_validate_credentials_failure_says_why_without_the_key(plugin, server) -> None:
    server.replies.append(error_reply(401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(CredentialsValidateFailedError, match="invalid x-api-key") as caught:
        await call(plugin, server.url, "validate_credentials")
    assert KEY not in str(caught.value)
    assert isinstance(caught.value, InvokeError)


async def test_count_tokens_uses_the_count_tokens_endpoint(plugin, server) -> None:
    server.replies.append(Reply(parts=[b'{"input_tokens": 42}'], headers={"content-type": "application/json"}))
    assert await call(plugin, server.url, "count_tokens",
                      prompt_messages=[{"role": "system", "content": "Be brief."}, USER]) == [42]
    [request] = server.received
    assert request.path == "/v1/messages/count_tokens"
    assert request.body["system"] == "Be brief." and "max_tokens" not in request.body


async def test_count_tokens_estimates_when_the_endpoint_is_missing(plugin, server) -> None:
    server.replies.append(error_reply(404, "not_found_error", "Not Found"))
    [tokens] = await call(plugin, server.url, "count_tokens")
    assert 5 <= tokens <= 40


async def test_count_tokens_passes_other_errors_on(plugin, server) -> None:
    server.replies.append(error_reply(401, "authentication_error", "bad key"))
    with pytest.raises(InvokeAuthorizationError):
        await call(plugin, server.url, "count_tokens")


def test_schema_describes_the_models() -> None:
    schema = treadle_anthropic.AnthropicModelProvider.schema
    assert [c.variable for c in schema.provider_credential_schema] == ["anthropic_api_key", "anthropic_api_url"]
    for model in schema.models:
        assert model.model_properties["context_size"] == 200000
        assert {"vision", "tool-call", "multi-tool-call", "stream-tool-call", "agent-thought"} <= set(model.features)
        [max_tokens] = [r for r in model.parameter_rules if r.name == "max_tokens"]
        assert max_tokens.required and max_tokens.default == 4096
        # PLUG-MODEL-PARAM-RULE: the templates are expanded into full rules.
        [temperature] = [r for r in model.parameter_rules if r.name == "temperature"]
        assert (temperature.label, temperature.type, temperature.max) == (
            {"en_US": "Temperature", "zh_Hans": "温度"}, "float", 1)
    thinking = {m.model: "thinking" in [r.name for r in m.parameter_rules] for m in schema.models}
    assert thinking == {"claude-sonnet-4-5": True, "claude-opus-4-1": True, "claude-haiku-4-5": True,
                        "claude-3-7-sonnet-latest": True, "claude-3-5-haiku-latest": False}


# -- extended thinking and tool choice -----------------------------------------------------------


async def test_thinking_streams_as_reasoning_before_the_answer(plugin, server) -> None:
    """LLMDelta.reasoning: thinking_delta events arrive apart from the text; the signature is not shown."""
    server.replies.append(sse_reply([
        message_start(), *thinking_block(0, "Paris is in ", "France."), *text_block(1, "It is ", "sunny."),
        *message_end(),
    ], size=17))
    chunks = await call(plugin, server.url, model_parameters={"thinking": True, "max_tokens": 2048})
    assert [(c.delta.reasoning, c.delta.message.content) for c in chunks[:-1]] == [
        ("Paris is in ", ""), ("France.", ""), ("", "It is "), ("", "sunny.")]
    assert chunks[-1].delta.finish_reason == "stop" and chunks[-1].delta.reasoning == ""


async def test_thinking_request_shape(plugin, server) -> None:
    """The budget goes as thinking.budget_tokens; temperature and top_k, which the API refuses with
    thinking, are left out, and top_p only stays from 0.95 up."""
    server.replies += [text_stream("ok"), text_stream("ok")]
    await call(plugin, server.url, model_parameters={
        "thinking": True, "thinking_budget": 2000, "max_tokens": 8000, "temperature": 0.3, "top_k": 4, "top_p": 0.5})
    body = server.received[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 8000
    assert not {"temperature", "top_k", "top_p"} & set(body)
    await call(plugin, server.url, model_parameters={"thinking": True, "top_p": 0.97})
    body = server.received[1].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024} and body["top_p"] == 0.97


async def test_thinking_off_sends_no_thinking(plugin, server) -> None:
    server.replies.append(text_stream("ok"))
    await call(plugin, server.url, model_parameters={"thinking": False, "temperature": 0.3})
    body = server.received[0].body
    assert "thinking" not in body and body["temperature"] == 0.3


async def test_non_streamed_thinking(plugin, server) -> None:
    server.replies.append(message_json([
        {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "encrypted"},
        {"type": "text", "text": "Sunny."},
    ]))
    [chunk] = await call(plugin, server.url, stream=False, model_parameters={"thinking": True})
    assert (chunk.delta.reasoning, chunk.delta.message.content) == ("Let me see.", "Sunny.")


@pytest.mark.parametrize(("parameters", "message"), [
    ({"thinking": True, "thinking_budget": 4096}, r"thinking_budget must be at least 1024 and less than max_tokens"),
    ({"thinking": True, "thinking_budget": 512}, r"model_parameters.thinking_budget must be at least 1024"),
    ({"thinking": "yes"}, r"model_parameters.thinking must be true or false"),
    ({"temperature": 1.5}, r"model_parameters.temperature must be at most 1"),
    ({"max_tokens": 100_000}, r"model_parameters.max_tokens must be at most 64000"),
])
async def test_parameters_are_checked_against_the_models_rules(plugin, server, parameters, message) -> None:
    with pytest.raises(PluginInvalidArgument, match=message):
        await call(plugin, server.url, model_parameters=parameters)
    assert server.received == []


async def test_a_model_not_in_the_list_gets_its_parameters_unchecked(plugin, server) -> None:
    server.replies.append(text_stream("ok"))
    await call(plugin, server.url, model="claude-future-9", model_parameters={"temperature": 1.5})
    assert server.received[0].body["temperature"] == 1.5


WEATHER = {"name": "weather", "parameters": {"type": "object"}}


@pytest.mark.parametrize(("choice", "sent"), [
    ("auto", {"type": "auto"}), ("any", {"type": "any"}), ("none", {"type": "none"}),
    ("weather", {"type": "tool", "name": "weather"}),
])
async def test_tool_choice(plugin, server, choice, sent) -> None:
    server.replies.append(text_stream("ok"))
    await call(plugin, server.url, tools=[WEATHER], model_parameters={"tool_choice": choice})
    assert server.received[0].body["tool_choice"] == sent


async def test_tool_choice_without_tools_is_not_sent(plugin, server) -> None:
    server.replies.append(text_stream("ok"))
    await call(plugin, server.url, model_parameters={"tool_choice": "any"})
    assert "tool_choice" not in server.received[0].body


@pytest.mark.parametrize(("parameters", "message"), [
    ({"tool_choice": "clock"}, r"must be 'auto', 'any', 'none' or the name of an offered tool \('weather'\)"),
    ({"tool_choice": "any", "thinking": True}, "forces a tool call, which extended thinking does not allow"),
])
async def test_tool_choice_mistakes_are_named(plugin, server, parameters, message) -> None:
    with pytest.raises(PluginInvalidArgument, match=message) as caught:
        await call(plugin, server.url, tools=[WEATHER], model_parameters=parameters)
    assert caught.value.details["field"] == "model_parameters.tool_choice"
