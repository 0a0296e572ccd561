"""A local server that answers OpenAI's chat-completions wire format like a tool-using model would.

It reads the conversation it is sent and decides what to do next, as a real model does; the model
name picks its behaviour:

- ``fc`` (function calling): asked "what is the current year plus 10?", it calls ``current_time``,
  then ``eval_expression`` with the year it read in that tool's result, then answers with the result
  of the calculation. Tool calls stream in fragments, as OpenAI sends them.
- ``fc-typo``: calls ``eval_expression`` with a malformed expression, then answers with the error it
  was told.
- ``react``: the same task in text, ReAct style (``Thought:`` / ``Action:`` JSON blob / ``Final
  Answer:``), with the steps so far read from the ``Observation:`` lines it is sent. It writes on
  past its action as careless models do; the ``stop`` words cut the reply, as OpenAI's server does.
- ``react-unknown-tool``: asks for a tool it was not offered, then answers with the error it was told.

The ReAct models read a chat (system prompt, messages) or, for completion models, one prompt text.

Every request body is kept in ``requests``; the tool results the model read are in ``seen``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.local_server import LocalServer

API_KEY = "sk-agent-test-0123456789"

#: Usage each answer reports.
PROMPT_TOKENS, COMPLETION_TOKENS = 11, 7

_YEAR = re.compile(r"\b(\d{4})\b")
_OBSERVATION = re.compile(r"^Observation: (.*)$", re.MULTILINE)


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


_USAGE = {"id": "c1", "object": "chat.completion.chunk", "choices": [],
          "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}}


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def text_stream(text: str) -> list[str]:
    events = [_sse(_chunk({"role": "assistant", "content": ""}))]
    events += [_sse(_chunk({"content": piece})) for piece in _pieces(text, 5)]
    events += [_sse(_chunk({}, "stop")), _sse(_USAGE), "data: [DONE]\n\n"]
    return events


def tool_call_stream(call_id: str, name: str, arguments: dict[str, Any]) -> list[str]:
    """A tool call as OpenAI streams it: the name first, then the arguments in fragments."""
    events = [_sse(_chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}))]
    events += [_sse(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
               for piece in _pieces(json.dumps(arguments), 6)]
    events += [_sse(_chunk({}, "tool_calls")), _sse(_USAGE), "data: [DONE]\n\n"]
    return events


async def _slowly(events: list[str]) -> AsyncIterator[bytes]:
    for event in events:
        yield event.encode()
        await asyncio.sleep(0)


class AgentModelServer(LocalServer):
    """Chat completions answered like a tool-using model; ``url`` is the ``/v1`` base URL."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        #: (model, tool name or "observation", text) of every tool result the model was sent.
        self.seen: list[tuple[str, str, str]] = []
        super().__init__(Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])]))
        self.url = self.url_for("/v1")

    def clear(self) -> None:
        self.requests.clear()
        self.seen.clear()

    async def chat(self, request: Request) -> Response:
        body: dict[str, Any] = json.loads(await request.body())
        self.requests.append(body)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": {"message": "Incorrect API key provided", "type": "auth"}}, 401)
        if not body.get("stream"):
            return JSONResponse({"error": {"message": "this test model only streams", "type": "test"}}, 400)
        model = body["model"]
        if model.startswith("fc"):
            events = self._function_calling(model, body)
        elif model.startswith("react"):
            events = text_stream(self._react(model, body))
        else:
            return JSONResponse({"error": {"message": f"no test model {model!r}", "type": "test"}}, 404)
        return StreamingResponse(_slowly(events), media_type="text/event-stream")

    # -- function calling ----------------------------------------------------------------------

    def _function_calling(self, model: str, body: dict[str, Any]) -> list[str]:
        messages = body["messages"]
        offered = {tool["function"]["name"] for tool in body.get("tools", [])}
        called = {
            call["id"]: call["function"]["name"]
            for message in messages
            if message["role"] == "assistant"
            for call in message.get("tool_calls") or []
        }
        results = [(called.get(m["tool_call_id"], "?"), m["content"]) for m in messages if m["role"] == "tool"]
        for name, content in results:
            self.seen.append((model, name, content))
        round_number = len(results) + 1
        if model == "fc-typo" and not results:
            return tool_call_stream("call_typo", "eval_expression", {"expression": "2025 +* 10"})
        if results and results[-1][1].startswith("Error:"):
            return text_stream(f"The calculator refused: {results[-1][1]}")
        if not results:
            if "current_time" in offered:
                return tool_call_stream(f"call_{round_number}", "current_time", {"timezone": "UTC"})
            return text_stream("I have no tool to find the time.")
        name, content = results[-1]
        if name == "current_time":
            year = _YEAR.search(content)
            if year is None:
                return text_stream("The time tool gave no year.")
            if "eval_expression" in offered:
                expression = {"expression": f"{year.group(1)} + 10"}
                return tool_call_stream(f"call_{round_number}", "eval_expression", expression)
            return text_stream(f"It is {year.group(1)}, but I may not calculate any more.")
        return text_stream(f"The current year plus 10 is {content.splitlines()[0]}.")

    # -- ReAct ---------------------------------------------------------------------------------

    def _react(self, model: str, body: dict[str, Any]) -> str:
        messages = body["messages"]
        if messages[0]["role"] == "system":
            system = messages[0]["content"]
            rest = "\n".join(str(m["content"]) for m in messages[1:])
        else:
            # A completion model's one prompt: the instructions, then the question and the steps.
            system, _, rest = messages[0]["content"].rpartition("\nQuestion: ")
        observations = _OBSERVATION.findall(rest)
        for observation in observations:
            self.seen.append((model, "observation", observation))
        offered = {name for name in ("current_time", "eval_expression") if f'"name": "{name}"' in system}
        if observations and observations[-1].startswith("Error:"):
            reply = f"Thought: That did not work.\nFinal Answer: The tool failed: {observations[-1]}"
        elif model == "react-unknown-tool" and not observations:
            reply = _action("I will look at the weather.", "weather", {"city": "Paris"})
        elif len(observations) >= 2:
            reply = f"Thought: I know the answer now.\nFinal Answer: The current year plus 10 is {observations[1]}."
        elif not offered:
            known = f"the year is {observations[0][:4]}" if observations else "I know nothing yet"
            reply = f"Thought: No tools are left.\nFinal Answer: I ran out of steps; {known}."
        elif not observations:
            reply = _action("I need the current time first.", "current_time", {"timezone": "UTC"})
        else:
            year = _YEAR.search(observations[0])
            assert year is not None, observations
            reply = _action(f"The year is {year.group(1)}; now I add 10.", "eval_expression",
                            {"expression": f"{year.group(1)} + 10"})
        for stop in body.get("stop") or []:
            if stop in reply:
                reply = reply[: reply.index(stop)]
        return reply


def _action(thought: str, name: str, arguments: dict[str, Any]) -> str:
    # A careless model writes on after its action, inventing the observation: the stop word cuts it.
    blob = json.dumps({"action": name, "action_input": arguments})
    return f"Thought: {thought}\nAction:\n```json\n{blob}\n```\nObservation: 1999-01-01 00:00:00\nThought: Done."
