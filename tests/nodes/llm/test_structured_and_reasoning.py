"""Structured output (NODE-LLM "Structured Output") and reasoning-tag separation (NODE-LLM "Enable
Reasoning Tag Separation"), through real runs."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from treadle.apps import RunRequest
from treadle.plugins import PluginSupervisor
from treadle_llm_nodes.json_text import find_json_object
from treadle_llm_nodes.reasoning import ReasoningStream, ThinkSplitter

from .server import ChatServer
from .support import answer, end, llm, run, script_model, server_model, start

SCHEMA = {
    "type": "object",
    "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}, "score": {"type": "number"}},
    "required": ["sentiment", "score"],
}


def structured(model: dict[str, Any], system: str = "Judge the review.") -> dict[str, Any]:
    return llm(
        model=model,
        structured_output_enabled=True,
        structured_output={"schema": SCHEMA},
        prompt_template=[{"role": "system", "text": system}, {"role": "user", "text": "Great loom!"}],
    )


# -- structured output ---------------------------------------------------------------------------


async def test_a_model_with_native_json_schema_output_gets_the_schema_as_parameters(
    supervisor: PluginSupervisor,
) -> None:
    """The fake ``json`` model lists ``structured-output``: the schema goes as ``json_schema`` (it
    answers the smallest value that fits), and the prompt is left as written."""
    nodes = [start(), structured({"provider": "fake", "name": "json", "mode": "chat"}), end(
        out=["llm", "structured_output"], text=["llm", "text"])]
    done = await run(supervisor, nodes)
    assert done.result.status == "succeeded", done.result.error
    assert done.outputs["out"] == {"sentiment": "positive", "score": 0}
    assert json.loads(done.outputs["text"]) == done.outputs["out"]
    assert [p["text"] for p in done.prompts()] == ["Judge the review.", "Great loom!"]


async def test_native_output_over_the_wire_sends_response_format_json_schema(
    supervisor: PluginSupervisor, server: ChatServer
) -> None:
    server.reply("gpt-native", '{"sentiment": "positive", "score": 0.9}')
    nodes = [start(), structured(server_model("gpt-native", provider="openai_native", temperature=0.2)),
             end(out=["llm", "structured_output"])]
    done = await run(supervisor, nodes)
    assert done.outputs == {"out": {"sentiment": "positive", "score": 0.9}}
    (request,) = server.requests
    wanted = {"type": "json_schema", "json_schema": {"name": "llm_response", "schema": SCHEMA}}
    assert request["response_format"] == wanted
    assert request["temperature"] == 0.2
    assert request["messages"][0] == {"role": "system", "content": "Judge the review."}


async def test_other_models_get_the_schema_in_the_system_prompt_and_fenced_json_is_read(
    supervisor: PluginSupervisor,
) -> None:
    reply = 'Sure!\n```json\n{"sentiment": "negative", "score": "2",}\n```\nAnything else?'
    nodes = [start(), structured(script_model(reply)), end(out=["llm", "structured_output"], text=["llm", "text"])]
    done = await run(supervisor, nodes)
    assert done.outputs == {"out": {"sentiment": "negative", "score": "2"}, "text": reply}
    system, user = done.prompts()
    assert system["role"] == "system"
    assert json.dumps(SCHEMA) in system["text"]
    assert system["text"].endswith("\n\nJudge the review.")
    assert user["text"] == "Great loom!"


async def test_a_user_added_model_is_asked_in_the_prompt(supervisor: PluginSupervisor, server: ChatServer) -> None:
    server.reply("local", '{"sentiment": "positive", "score": 1}')
    nodes = [start(), structured(server_model("local")), end(out=["llm", "structured_output"])]
    done = await run(supervisor, nodes)
    assert done.outputs == {"out": {"sentiment": "positive", "score": 1}}
    (request,) = server.requests
    assert "response_format" not in request
    assert json.dumps(SCHEMA) in request["messages"][0]["content"]


async def test_an_answer_without_json_fails_the_node(supervisor: PluginSupervisor) -> None:
    nodes = [start(), structured(script_model("I would rather not say."))]
    done = await run(supervisor, nodes)
    assert done.result.status == "failed"
    assert done.result.error_type == "LLMNodeError"
    assert "structured output" in done.result.error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('<think>{"draft": true}</think>\n{"a": 2}', {"a": 2}),
        ('Here: {"a": {"b": [1, 2]}} and more {"c": 3}', {"a": {"b": [1, 2]}}),
        ('[{"a": 4}, {"a": 5}]', {"a": 4}),
        ("```\n{'bad': json}\n```\n```json\n{\"a\": 6}\n```", {"a": 6}),
        ('{"a": [1, 2,], "b": 7,}', {"a": [1, 2], "b": 7}),
        ("no json { at all", None),
    ],
)
def test_the_json_object_is_found_in_a_models_answer(text: str, expected: dict[str, Any] | None) -> None:
    assert find_json_object(text) == expected


# -- reasoning -----------------------------------------------------------------------------------------

THINKING = "<think>\nThe user wants a colour.\n</think>\n\nBlue is calm."


def reasoning_app(model: dict[str, Any], reasoning_format: str | None) -> list[dict[str, Any]]:
    extra = {} if reasoning_format is None else {"reasoning_format": reasoning_format}
    return [
        start(),
        llm(model=model, prompt_template=[{"role": "user", "text": "A colour?"}], **extra),
        answer("[{{#llm.text#}}]"),
    ]


async def test_separated_reasoning_leaves_the_text_and_the_stream(supervisor: PluginSupervisor) -> None:
    """``reasoning_format: separated``: ``<think>`` blocks go to ``reasoning_content``; what streams
    is exactly the ``text`` output."""
    done = await run(supervisor, reasoning_app(script_model(THINKING), "separated"), mode="advanced-chat",
                     request=RunRequest(query="q"))
    outputs = done.node("llm").outputs
    assert outputs["text"] == "Blue is calm."
    assert outputs["reasoning_content"] == "The user wants a colour."
    assert done.result.answer == "[Blue is calm.]"
    assert "think" not in "".join(done.chunks())


async def test_tagged_reasoning_is_the_default_and_keeps_the_tags(supervisor: PluginSupervisor) -> None:
    done = await run(supervisor, reasoning_app(script_model(THINKING), None), mode="advanced-chat",
                     request=RunRequest(query="q"))
    outputs = done.node("llm").outputs
    assert outputs["text"] == THINKING
    assert outputs["reasoning_content"] == "The user wants a colour."
    assert done.result.answer == f"[{THINKING}]"


@pytest.mark.parametrize(("reasoning_format", "text"), [
    ("tagged", "<think>\nweighing options\n</think>\nGreen."),
    ("separated", "Green."),
])
async def test_reasoning_the_model_sends_apart_is_tagged_or_kept_out(
    supervisor: PluginSupervisor, reasoning_format: str, text: str
) -> None:
    """Reasoning sent apart from the text (DeepSeek's ``reasoning_content``): a ``<think>`` block of
    the text when tagged, as Dify's providers write it; only ``reasoning_content`` when separated."""
    model = script_model({"reasoning": "weighing options", "content": "Green."})
    done = await run(supervisor, reasoning_app(model, reasoning_format), mode="advanced-chat",
                     request=RunRequest(query="q"))
    outputs = done.node("llm").outputs
    assert (outputs["text"], outputs["reasoning_content"]) == (text, "weighing options")
    assert done.result.answer == f"[{text}]"


def test_think_tags_split_anywhere_across_pieces_are_found() -> None:
    text = "<think>\nLet me see.\n</think>\n\nThe answer is 42.  <THINK depth=2>more</think> Done.\n"
    generator = random.Random(7)
    for _ in range(300):
        cuts = sorted(generator.sample(range(1, len(text)), generator.randint(0, 20)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        for separated in (True, False):
            streamed: list[str] = []
            stream = ReasoningStream(separated, streamed.append)
            for piece in pieces:
                stream.text(piece)
            shown, reasoning = stream.finish()
            assert "".join(streamed) == shown
            assert shown == ("The answer is 42.   Done." if separated else text)
            assert reasoning == "Let me see.\nmore"


def test_an_unclosed_think_block_is_reasoning_and_a_lookalike_tag_is_text() -> None:
    splitter = ThinkSplitter()
    parts = splitter.feed("a <thin") + splitter.feed("k>b") + splitter.flush()
    assert parts == [(False, "a "), (True, "b")]
    splitter = ThinkSplitter()
    assert splitter.feed("x < y") + splitter.flush() == [(False, "x < y")]
