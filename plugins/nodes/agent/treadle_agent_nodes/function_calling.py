"""The function-calling strategy: the model is offered the tools natively (``tools`` of the call) and
answers with tool calls, which run and go back to it as tool messages, round after round.

The run ends when the model answers without calling a tool. The last round allowed
(``maximum_iterations``) offers no tools, so the model gives its final answer then. A round's text is
the final answer only if the round calls no tool; since a provider may send tool calls after text,
the text of rounds that offer tools goes out when the round ends, and the text of the last round
streams as it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from treadle_sdk.llm import LLMAnswer
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole, ToolCall

from .agent_run import AgentRun

__all__ = ["run_function_calling"]


def _describe(answer: LLMAnswer) -> dict[str, Any]:
    return {
        "output": answer.text,
        "tool_name": ";".join(call.function.name for call in answer.tool_calls),
        "tool_input": [{"name": call.function.name, "args": call.function.arguments} for call in answer.tool_calls],
    }


def _with_ids(calls: Sequence[ToolCall], round_number: int) -> list[ToolCall]:
    """The calls, each with an id (the tool message must name the call it answers)."""
    return [
        call if call.id else call.model_copy(update={"id": f"call_{round_number}_{index}"})
        for index, call in enumerate(calls)
    ]


async def run_function_calling(run: AgentRun, messages: list[PromptMessage]) -> str:
    """Run the agent from ``messages`` (system, history, the query); the final answer."""
    offered = [tool.prompt_tool() for tool in run.tools.values()]
    while True:
        round_id = run.start_round()
        last = run.rounds >= run.max_iterations or not offered

        def stream(text: str) -> None:
            run.rt.emit("text", text)

        answer = await run.think(
            round_id, messages, _describe, tools=() if last else offered, on_text=stream if last else None
        )
        calls = [] if last else _with_ids(answer.tool_calls, run.rounds)
        if not calls:
            if not last and answer.text:
                run.rt.emit("text", answer.text)
            run.end_round(round_id, answer.text, [])
            return answer.text
        messages.append(PromptMessage(role=PromptMessageRole.ASSISTANT, content=answer.text or None, tool_calls=calls))
        responses = []
        for call in calls:
            observation = await run.call_tool(round_id, call.function.name, call.function.arguments)
            messages.append(PromptMessage(role=PromptMessageRole.TOOL, content=observation, tool_call_id=call.id))
            responses.append(
                {"tool_call_id": call.id, "tool_call_name": call.function.name, "tool_response": observation}
            )
        run.end_round(round_id, answer.text, responses)
