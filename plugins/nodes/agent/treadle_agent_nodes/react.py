"""The ReAct strategy: the tools are described in the prompt, and the model works in text —
``Thought:``, then an ``Action:`` JSON blob ``{"action": <tool>, "action_input": {...}}``, whose result
comes back as an ``Observation:`` — until it writes ``Final Answer:`` (or the ``Final Answer``
action, or replies without any action).

Each round's reply is cut at ``Observation`` (a stop word), parsed, and either ends the run or runs
one tool; the steps so far go back to the model as its own earlier reply. The last round allowed
offers no tools. The final answer streams as it comes when the model writes ``Final Answer:``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from treadle_sdk.llm import LLMAnswer, MemoryConfig, memory_text
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

from .agent_run import AgentRun, ReadyTool

__all__ = ["STOP_WORD", "FinalAnswerStream", "ReActStep", "parse_react", "react_prompt", "run_react"]

#: Where a reply is cut: the model must not write the tool's result itself.
STOP_WORD = "Observation"

_FINAL = re.compile(r"final[ _]?answer\s*:", re.IGNORECASE)
_ACTION = re.compile(r"action\s*:", re.IGNORECASE)
_THOUGHT = re.compile(r"^\s*thought\s*:\s*", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*\s*$")
_FINAL_ACTIONS = frozenset({"final answer", "final_answer", "finalanswer"})

_PROMPT = """Respond to the human as helpfully and accurately as possible.

{instruction}

You have these tools:

{tools}

To use a tool, write a JSON blob with an "action" key (the tool's name) and an "action_input" key (the
tool's input, an object of its parameters). Valid "action" values: "Final Answer" or {names}.

Write exactly ONE action per blob, like this:

```
{{
  "action": "<tool name>",
  "action_input": {{"<parameter>": "<value>"}}
}}
```

Follow this format:

Question: the question to answer
Thought: what you know so far and what to do next
Action:
```
$JSON_BLOB
```
Observation: the result of the action
... (Thought, Action and Observation may repeat)
Thought: I know what to answer
Final Answer: the answer to the human

Begin! Always write a Thought, then either one Action or the Final Answer. Use a tool when it helps;
answer directly when it does not."""

_ANSWER_NOW = """Respond to the human as helpfully and accurately as possible.

{instruction}

There are no tools to use now: answer with what you know, in this format:

Thought: I know what to answer
Final Answer: the answer to the human"""


def react_prompt(instruction: str, tools: Sequence[ReadyTool]) -> str:
    """The system prompt of a round; without ``tools`` (the last round allowed, or an agent without
    tools) it asks for the final answer."""
    instruction = instruction.strip()
    if not tools:
        return _ANSWER_NOW.format(instruction=instruction).replace("\n\n\n", "\n\n")
    described = json.dumps([tool.prompt_tool().model_dump(mode="json") for tool in tools], ensure_ascii=False)
    names = ", ".join(json.dumps(tool.name) for tool in tools)
    return _PROMPT.format(instruction=instruction, tools=described, names=names).replace("\n\n\n", "\n\n")


@dataclass(frozen=True, slots=True)
class ReActStep:
    """One reply of the model, parsed: its thought, and either a tool action or the final answer."""

    thought: str
    #: The tool to run, or None when the reply is the final answer.
    action: str | None = None
    action_input: Any = None
    final_answer: str | None = None

    def action_text(self) -> str:
        return json.dumps({"action": self.action, "action_input": self.action_input}, ensure_ascii=False)


def _action_blob(text: str) -> tuple[int, int, dict[str, Any]] | None:
    """The first JSON object in ``text`` with an ``action`` key: (start, end, object)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            found, end = decoder.raw_decode(text, start)
        except ValueError:
            found, end = None, start + 1
        if isinstance(found, dict) and isinstance(found.get("action"), str):
            return start, end, found
        start = text.find("{", start + 1)
    return None


def _thought(text: str) -> str:
    """The thought in the text before an action: without its ``Thought:`` and ``Action:`` labels or
    an opening code fence."""
    text = _FENCE.sub("", text.rstrip()).rstrip()
    labels = list(_ACTION.finditer(text))
    if labels and not text[labels[-1].end() :].strip():
        text = text[: labels[-1].start()]
    return _THOUGHT.sub("", text).strip()


def parse_react(text: str) -> ReActStep:
    """A reply as a step. Whichever comes first decides: an action blob (a tool, or the
    ``Final Answer`` action) or a ``Final Answer:`` line; a reply with neither is the answer."""
    blob = _action_blob(text)
    final = _FINAL.search(text)
    if blob is not None and (final is None or blob[0] < final.start()):
        start, _, found = blob
        thought = _thought(text[:start])
        name, given = found["action"], found.get("action_input")
        if name.strip().lower() in _FINAL_ACTIONS:
            answer = given if isinstance(given, str) else json.dumps(given, ensure_ascii=False)
            return ReActStep(thought, final_answer=answer)
        return ReActStep(thought, action=name, action_input={} if given is None else given)
    if final is not None:
        return ReActStep(_thought(text[: final.start()]), final_answer=text[final.end() :].strip())
    stripped = _THOUGHT.sub("", text).strip()
    return ReActStep(stripped, final_answer=stripped)


class FinalAnswerStream:
    """Watches a reply as it streams and passes on what follows ``Final Answer:`` as it comes
    (unless an ``Action:`` came first: then the reply is a tool call and nothing streams)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._buffer = ""
        self._state: Literal["waiting", "streaming", "off"] = "waiting"
        self._sent = 0
        #: What has been passed on.
        self.text = ""

    @property
    def streaming(self) -> bool:
        return self._state == "streaming"

    def feed(self, chunk: str) -> None:
        self._buffer += chunk
        if self._state == "waiting":
            marker = _FINAL.search(self._buffer)
            if marker is None:
                return
            before = self._buffer[: marker.start()]
            if _ACTION.search(before) or _action_blob(before) is not None:
                self._state = "off"
                return
            self._state = "streaming"
            self._sent = marker.end()
        if self._state == "streaming":
            pending = self._buffer[self._sent :]
            self._sent = len(self._buffer)
            if not self.text:
                pending = pending.lstrip()
            if pending:
                self.text += pending
                self._emit(pending)


@dataclass
class _Done:
    step: ReActStep
    observation: str


def _scratchpad(done: Sequence[_Done]) -> str:
    parts = []
    for item in done:
        parts.append(
            f"Thought: {item.step.thought}\nAction:\n```\n{item.step.action_text()}\n```\n"
            f"{STOP_WORD}: {item.observation}\n"
        )
    return "\n".join(parts)


def _messages(
    run: AgentRun,
    system: str,
    history: Sequence[PromptMessage],
    memory: MemoryConfig | None,
    query: str,
    done: Sequence[_Done],
) -> list[PromptMessage]:
    if run.model.mode == "completion":
        # One prompt text: the model continues it after "Thought:".
        past = memory_text(history, memory or MemoryConfig()) if history else ""
        prompt = "\n\n".join(part for part in (system, past) if part)
        prompt += f"\n\nQuestion: {query}\n"
        if done:
            prompt += _scratchpad(done)
        prompt += "Thought:"
        return [PromptMessage(role=PromptMessageRole.USER, content=prompt)]
    messages = [PromptMessage(role=PromptMessageRole.SYSTEM, content=system), *history]
    messages.append(PromptMessage(role=PromptMessageRole.USER, content=query))
    if done:
        messages.append(PromptMessage(role=PromptMessageRole.ASSISTANT, content=_scratchpad(done)))
        messages.append(PromptMessage(role=PromptMessageRole.USER, content="Continue."))
    return messages


def _describe(answer: LLMAnswer) -> dict[str, Any]:
    step = parse_react(answer.text)
    if step.action is None:
        return {"thought": step.thought, "action": "Final Answer", "action_input": step.final_answer}
    return {"thought": step.thought, "action": step.action, "action_input": step.action_input}


async def run_react(
    run: AgentRun,
    *,
    instruction: str,
    history: Sequence[PromptMessage],
    memory: MemoryConfig | None,
    query: str,
) -> str:
    """Run the agent on ``query``; the final answer."""
    stop = run.model.stop()
    if STOP_WORD not in stop:
        stop.append(STOP_WORD)
    done: list[_Done] = []
    while True:
        round_id = run.start_round()
        last = run.rounds >= run.max_iterations
        tools = [] if last else list(run.tools.values())
        messages = _messages(run, react_prompt(instruction, tools), history, memory, query, done)
        stream = FinalAnswerStream(lambda text: run.rt.emit("text", text))
        answer = await run.think(round_id, messages, _describe, stop=stop, on_text=stream.feed)
        step = parse_react(answer.text)
        if step.action is None or last:
            if stream.streaming:
                final = stream.text
            else:
                final = step.final_answer if step.final_answer is not None else step.thought
                if not final:
                    final = f"No final answer within {run.max_iterations} rounds."
                run.rt.emit("text", final)
            run.end_round(round_id, answer.text, [])
            return final
        observation = await run.call_tool(round_id, step.action, step.action_input)
        done.append(_Done(step, observation))
        response = {"tool_call_name": step.action, "tool_call_input": step.action_input, "tool_response": observation}
        run.end_round(round_id, answer.text, [response])
