"""The openai_compat provider against a real local server speaking OpenAI's wire format."""

from __future__ import annotations

import base64
import io
import json
import wave
from typing import Any

import pytest
import treadle_openai_compat
from support.local_server import closed_port
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
from treadle_sdk.model_runtime import LLMResultChunk, TTSChunk
from treadle_sdk.registry import Registry
from treadle_sdk.testing import ainvoke, load

from .server import API_KEY, OpenAIServer, speech_bytes

USER = {"role": "user", "content": "Say hello"}


def creds(server: OpenAIServer, **extra: Any) -> dict[str, Any]:
    return {"endpoint_url": server.url, "api_key": API_KEY, **extra}


async def llm(registry: Registry, server: OpenAIServer, **payload: Any) -> list[LLMResultChunk]:
    payload.setdefault("credentials", creds(server))
    payload.setdefault("prompt_messages", [USER])
    return await ainvoke(registry, "model_provider", "openai_compat", "invoke_llm", payload)


def test_registers_through_the_entry_point_module() -> None:
    registry = load(treadle_openai_compat)
    assert registry.extensions.get("model_provider", "openai_compat") is not None


async def test_streams_text_from_oddly_split_sse(registry: Registry, server: OpenAIServer) -> None:
    chunks = await llm(registry, server, model="text")
    assert "".join(c.delta.message.content for c in chunks) == "Hello, world"
    assert len(chunks) == 5  # four deltas and the final chunk
    final = chunks[-1].delta
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (11, 7, 18)
    [request] = server.requests
    assert request["body"]["stream"] is True
    assert request["body"]["stream_options"] == {"include_usage": True}
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"


async def test_estimates_usage_when_the_server_sends_none(registry: Registry, server: OpenAIServer) -> None:
    chunks = await llm(registry, server, model="no-usage")
    usage = chunks[-1].delta.usage
    assert usage is not None
    assert usage.completion_tokens == 3  # "Hello, world" at about four characters a token
    assert usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_assembles_streamed_tool_call_fragments(registry: Registry, server: OpenAIServer) -> None:
    tools = [{"name": "weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}}]
    chunks = await llm(registry, server, model="tools", tools=tools)
    assert chunks[0].delta.message.content == "Checking."
    assert all(not c.delta.message.tool_calls for c in chunks[:-1])
    final = chunks[-1].delta
    assert final.finish_reason == "tool_calls"
    calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in final.message.tool_calls]
    assert calls == [("call_a", "weather", {"city": "Paris"}), ("call_b", "clock", {"tz": "UTC"})]
    sent = server.requests[0]["body"]["tools"]
    assert sent == [{"type": "function", "function": {"name": "weather", "description": "Weather",
                                                      "parameters": {"type": "object", "properties": {}}}}]


async def test_non_streaming_answer_is_one_chunk(registry: Registry, server: OpenAIServer) -> None:
    [chunk] = await llm(registry, server, model="text", stream=False)
    assert chunk.delta.message.content == '{"answer": 42}'
    assert chunk.delta.finish_reason == "stop"
    assert chunk.system_fingerprint == "fp_1"
    assert chunk.delta.usage is not None and chunk.delta.usage.total_tokens == 8
    assert "stream_options" not in server.requests[0]["body"]


async def test_non_streaming_tool_calls(registry: Registry, server: OpenAIServer) -> None:
    [chunk] = await llm(registry, server, model="tools", stream=False)
    [call] = chunk.delta.message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == ("call_x", "weather", '{"city": "Oslo"}')
    assert chunk.delta.finish_reason == "tool_calls"


async def test_sends_vision_tool_history_and_parameters(registry: Registry, server: OpenAIServer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "data": "What is this?"},
                                     {"type": "image", "data": "data:image/png;base64,AAAA", "detail": "high"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "function": {"name": "look", "arguments": '{"x": 1}'}}]},
        {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
    ]
    parameters = {"temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "presence_penalty": 0.1,
                  "frequency_penalty": 0.3, "stop": ["END"]}
    await llm(registry, server, model="text", prompt_messages=messages, model_parameters=parameters,
              stop=["\n\n"], stream=False)
    body = server.requests[0]["body"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": '{"x": 1}'}}]},
        {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
    ]
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty")} == {
        "temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "presence_penalty": 0.1, "frequency_penalty": 0.3}
    assert body["stop"] == ["\n\n", "END"]


async def test_passes_json_schema_response_format(registry: Registry, server: OpenAIServer) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    await llm(registry, server, model="text", stream=False,
              model_parameters={"response_format": "json_schema", "json_schema": json.dumps(schema)})
    assert server.requests[0]["body"]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


async def test_embeddings_keep_input_order_across_batches(registry: Registry, server: OpenAIServer) -> None:
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    [result] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_text_embedding",
                             {"model": "emb", "credentials": creds(server, max_chunks="2"), "texts": texts})
    assert result.embeddings == [[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0], [5.0, 0.0]]
    assert result.usage.total_tokens == 10
    assert [r["body"]["input"] for r in server.requests] == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]]


async def test_rerank_sorts_filters_and_cuts(registry: Registry, server: OpenAIServer) -> None:
    docs = ["first", "second", "third", "fourth"]
    [result] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_rerank",
                             {"model": "rr", "credentials": creds(server), "query": "q", "docs": docs,
                              "score_threshold": 0.4, "top_n": 3})
    assert [(d.index, d.text, d.score) for d in result.docs] == [(0, "first", 0.9), (1, "second", 0.7),
                                                                 (2, "third", 0.5)]
    assert server.requests[0]["body"] == {"model": "rr", "query": "q", "documents": docs, "top_n": 3}
    [filtered] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_rerank",
                               {"model": "rr", "credentials": creds(server), "query": "q", "docs": docs,
                                "score_threshold": 0.6})
    assert [d.index for d in filtered.docs] == [0, 1]


@pytest.mark.parametrize(
    ("model", "error_type"),
    [
        ("error-400", InvokeBadRequestError), ("error-404", InvokeBadRequestError),
        ("error-422", InvokeBadRequestError), ("error-401", InvokeAuthorizationError),
        ("error-403", InvokeAuthorizationError), ("error-429", InvokeRateLimitError),
        ("error-500", InvokeServerUnavailableError), ("error-503", InvokeServerUnavailableError),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_maps_http_errors(registry: Registry, server: OpenAIServer, model: str,
                                error_type: type[InvokeError], stream: bool) -> None:
    with pytest.raises(error_type) as caught:
        await llm(registry, server, model=model, stream=stream)
    assert f"{model} as asked" in caught.value.message
    assert caught.value.details["error_type"] == error_type.error_type
    assert API_KEY not in str(caught.value) and API_KEY not in json.dumps(caught.value.to_dict(), default=str)
    if model == "error-429":
        assert caught.value.retry_after == 7.0


async def test_refused_key_never_appears_in_the_error(registry: Registry, server: OpenAIServer) -> None:
    wrong = "sk-wrong-key-abcdef"
    with pytest.raises(InvokeAuthorizationError) as caught:
        await llm(registry, server, model="text", credentials={"endpoint_url": server.url, "api_key": wrong})
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {wrong}"
    assert "Incorrect API key" in caught.value.message
    assert wrong not in str(caught.value) and wrong not in json.dumps(caught.value.to_dict(), default=str)


async def test_connection_refused(registry: Registry) -> None:
    port = closed_port()
    credentials = {"endpoint_url": f"http://127.0.0.1:{port}/v1", "api_key": API_KEY}
    with pytest.raises(InvokeConnectionError) as caught:
        await ainvoke(registry, "model_provider", "openai_compat", "invoke_llm",
                      {"model": "text", "credentials": credentials, "prompt_messages": [USER]})
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(("model", "model_type", "path"), [
    ("", "", "/v1/models"), ("text", "llm", "/v1/chat/completions"),
    ("emb", "text-embedding", "/v1/embeddings"), ("rr", "rerank", "/v1/rerank"),
    ("tts-1", "tts", "/v1/audio/speech"), ("whisper-1", "speech2text", "/v1/audio/transcriptions"),
    ("omni-moderation-latest", "moderation", "/v1/moderations"),
])
async def test_validate_credentials_accepts_good_ones(registry: Registry, server: OpenAIServer, model: str,
                                                      model_type: str, path: str) -> None:
    await ainvoke(registry, "model_provider", "openai_compat", "validate_credentials",
                  {"model": model, "model_type": model_type, "credentials": creds(server)})
    assert server.requests[0]["path"] == path
    if model_type == "llm":
        assert server.requests[0]["body"]["max_tokens"] == 1


@pytest.mark.parametrize("model", ["", "text"])
async def test_validate_credentials_refuses_a_bad_key(registry: Registry, server: OpenAIServer, model: str) -> None:
    wrong = "sk-wrong-key-abcdef"
    with pytest.raises(CredentialsValidateFailedError) as caught:
        await ainvoke(registry, "model_provider", "openai_compat", "validate_credentials",
                      {"model": model, "model_type": "llm",
                       "credentials": {"endpoint_url": server.url, "api_key": wrong}})
    assert "Incorrect API key" in caught.value.message
    assert wrong not in json.dumps(caught.value.to_dict(), default=str)


async def test_validate_credentials_refuses_a_missing_endpoint(registry: Registry) -> None:
    with pytest.raises(CredentialsValidateFailedError, match="endpoint_url"):
        await ainvoke(registry, "model_provider", "openai_compat", "validate_credentials",
                      {"credentials": {"api_key": API_KEY}})


# -- reasoning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["reasoning", "reasoning-alt"])
async def test_reasoning_content_deltas_become_llm_delta_reasoning(registry: Registry, server: OpenAIServer,
                                                                   model: str) -> None:
    """LLMDelta.reasoning: DeepSeek/vLLM ``delta.reasoning_content`` (or ``delta.reasoning``) kept apart
    from the answer."""
    chunks = await llm(registry, server, model=model)
    assert [(c.delta.reasoning, c.delta.message.content) for c in chunks[:-1]] == [
        ("Think", ""), ("ing...", ""), ("", "Four"), ("", ".")]
    assert [c.delta.index for c in chunks] == [0, 1, 2, 3, 4]
    assert chunks[-1].delta.finish_reason == "stop"


async def test_non_streamed_reasoning_content(registry: Registry, server: OpenAIServer) -> None:
    [chunk] = await llm(registry, server, model="reasoning", stream=False)
    assert (chunk.delta.reasoning, chunk.delta.message.content) == ("2 + 2 is 4.", "Four.")


# -- completion mode -----------------------------------------------------------------------------


async def test_completion_mode_streams_from_the_completions_endpoint(registry: Registry,
                                                                     server: OpenAIServer) -> None:
    """A model whose credential ``mode`` is ``completion`` is served by ``POST /completions`` with a ``prompt``."""
    messages = [{"role": "system", "content": "Tell a story."}, {"role": "user", "content": "Once"}]
    chunks = await llm(registry, server, model="davinci", credentials=creds(server, mode="completion"),
                       prompt_messages=messages, model_parameters={"max_tokens": 3, "temperature": 0.5},
                       stop=["\n"], user="u-1")
    assert "".join(c.delta.message.content for c in chunks) == "Once upon a time"
    final = chunks[-1].delta
    assert final.finish_reason == "length"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens) == (4, 3)
    [request] = server.requests
    assert request["path"] == "/v1/completions"
    assert request["body"] == {"model": "davinci", "prompt": "Tell a story.\n\nOnce", "stream": True,
                               "max_tokens": 3, "temperature": 0.5, "stop": ["\n"],
                               "stream_options": {"include_usage": True}, "user": "u-1"}


async def test_completion_mode_without_streaming(registry: Registry, server: OpenAIServer) -> None:
    [chunk] = await llm(registry, server, model="davinci", credentials=creds(server, mode="completion"),
                        stream=False)
    assert chunk.delta.message.content == " upon a time"
    assert chunk.delta.finish_reason == "stop"
    assert chunk.delta.usage is not None and chunk.delta.usage.total_tokens == 7
    assert server.requests[0]["body"]["prompt"] == "Say hello"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"tools": [{"name": "weather"}]}, "is in completion mode .* which cannot call tools"),
        ({"prompt_messages": [{"role": "user", "content": [{"type": "image", "data": "https://x/y.png"}]}]},
         r"prompt_messages\[0\] holds an image"),
        ({"credentials": {"mode": "edit"}}, "credential 'mode' must be 'chat' or 'completion', not 'edit'"),
    ],
)
async def test_completion_mode_refuses_what_it_cannot_send(registry: Registry, server: OpenAIServer,
                                                           payload: dict[str, Any], message: str) -> None:
    payload = dict(payload)
    credentials = creds(server, **{"mode": "completion", **payload.pop("credentials", {})})
    with pytest.raises(PluginInvalidArgument, match=message):
        await llm(registry, server, model="davinci", credentials=credentials, **payload)
    assert server.requests == []


# -- text to speech ------------------------------------------------------------------------------


async def tts(registry: Registry, server: OpenAIServer, **payload: Any) -> list[TTSChunk]:
    payload.setdefault("model", "tts-1")
    payload.setdefault("credentials", creds(server))
    return await ainvoke(registry, "model_provider", "openai_compat", "invoke_tts", payload)


async def test_tts_streams_the_audio_speech_answer(registry: Registry, server: OpenAIServer) -> None:
    """PLUG-MODEL-IFACE (tts): ``POST /audio/speech``; the bytes stream back as they arrive."""
    chunks = await tts(registry, server, content_text="Hello there", voice="nova", format="opus")
    assert len(chunks) > 1
    assert all(c.mime_type == "audio/ogg" for c in chunks)
    body = {"model": "tts-1", "input": "Hello there", "voice": "nova", "response_format": "opus"}
    assert b"".join(base64.b64decode(c.audio) for c in chunks) == speech_bytes(body)
    assert server.requests[0]["body"] == body


async def test_tts_defaults_voice_and_format(registry: Registry, server: OpenAIServer) -> None:
    chunks = await tts(registry, server, content_text="Hi")
    assert server.requests[0]["body"] == {"model": "tts-1", "input": "Hi", "voice": "alloy", "response_format": "mp3"}
    assert chunks[0].mime_type == "audio/mpeg"
    await tts(registry, server, content_text="Hi", credentials=creds(server, default_voice="shimmer"))
    assert server.requests[1]["body"]["voice"] == "shimmer"


async def test_tts_mime_type_falls_back_to_the_format(registry: Registry, server: OpenAIServer) -> None:
    chunks = await tts(registry, server, model="untyped-speech", content_text="Hi", format="flac")
    assert {c.mime_type for c in chunks} == {"audio/flac"}


async def test_tts_refuses_empty_text_and_maps_errors(registry: Registry, server: OpenAIServer) -> None:
    with pytest.raises(PluginInvalidArgument, match="'content_text' is empty"):
        await tts(registry, server, content_text="  ")
    with pytest.raises(InvokeRateLimitError) as caught:
        await tts(registry, server, model="error-429", content_text="Hi")
    assert caught.value.retry_after == 7.0


# -- speech to text ------------------------------------------------------------------------------


def a_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x01\x02" * 400)
    return out.getvalue()


async def test_speech2text_posts_the_file_as_multipart_form_data(registry: Registry, server: OpenAIServer) -> None:
    """PLUG-MODEL-IFACE (speech2text): ``POST /audio/transcriptions`` multipart; the answer's ``text``."""
    audio = a_wav()
    [text] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_speech2text",
                           {"model": "whisper-1", "credentials": creds(server, endpoint_model_name="whisper-large"),
                            "audio": base64.b64encode(audio).decode(), "filename": "note.wav", "language": "fr"})
    assert text == f"heard {len(audio)} bytes of note.wav (audio/x-wav) in fr"
    [request] = server.requests
    assert request["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["body"] == {"model": "whisper-large", "response_format": "json", "language": "fr"}
    assert request["files"]["file"]["data"] == audio


async def test_speech2text_uses_the_given_mime_type(registry: Registry, server: OpenAIServer) -> None:
    [text] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_speech2text",
                           {"model": "whisper-1", "credentials": creds(server), "audio": "AAAA",
                            "filename": "clip", "mime_type": "audio/webm"})
    assert text == "heard 3 bytes of clip (audio/webm)"


@pytest.mark.parametrize(("audio", "message"), [("not base64!", "not valid base64"), ("", "'audio' is empty")])
async def test_speech2text_refuses_bad_audio(registry: Registry, server: OpenAIServer, audio: str,
                                             message: str) -> None:
    with pytest.raises(PluginInvalidArgument, match=message):
        await ainvoke(registry, "model_provider", "openai_compat", "invoke_speech2text",
                      {"model": "whisper-1", "credentials": creds(server), "audio": audio})
    assert server.requests == []


# -- moderation ----------------------------------------------------------------------------------


async def moderate(registry: Registry, server: OpenAIServer, text: str, model: str = "omni-moderation-latest") -> bool:
    [flagged] = await ainvoke(registry, "model_provider", "openai_compat", "invoke_moderation",
                              {"model": model, "credentials": creds(server), "text": text})
    assert isinstance(flagged, bool)
    return flagged


async def test_moderation_answers_whether_the_text_is_flagged(registry: Registry, server: OpenAIServer) -> None:
    """PLUG-MODEL-IFACE (moderation): ``POST /moderations``; True means flagged."""
    assert await moderate(registry, server, "I will kill the process") is True
    assert await moderate(registry, server, "Have a nice day") is False
    assert server.requests[0]["body"] == {"model": "omni-moderation-latest", "input": ["I will kill the process"]}


async def test_long_texts_are_moderated_in_pieces(registry: Registry, server: OpenAIServer) -> None:
    """2000 characters an input, 32 inputs a request; the first flagged request ends it."""
    text = "a" * 2000 * 33 + "kill" + "b" * 2000 * 40
    assert await moderate(registry, server, text) is True
    assert [len(r["body"]["input"]) for r in server.requests] == [32, 32]
    assert "".join("".join(r["body"]["input"]) for r in server.requests) == text[: 2000 * 64]
    assert await moderate(registry, server, "") is False
    assert len(server.requests) == 2


async def test_moderation_errors_are_mapped(registry: Registry, server: OpenAIServer) -> None:
    with pytest.raises(InvokeServerUnavailableError):
        await moderate(registry, server, "x", model="error-503")
