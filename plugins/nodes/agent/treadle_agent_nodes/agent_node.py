"""The agent node (NODE-AGENT): a model that decides which tools to call, round after round, with the
function-calling or the ReAct strategy of Dify's agent strategy plugin (``langgenius/agent/agent``).

Outputs: ``text`` (the final answer, streamed), ``files`` (files the tools made), ``json`` (the agent
log entries — the reasoning trace — followed by the JSON the tools returned), ``usage`` (the model
calls' tokens and price together) and ``iterations`` (rounds run). The log entries also go to the
run's trace as they happen (Dify's ``agent_log`` events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.extensions import NodeType
from treadle_sdk.llm import kernel_of, memory_messages
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, to_text

from .agent_config import STRATEGIES, AgentConfig
from .agent_run import AgentRun, ReadyTool, context_text
from .errors import AgentNodeError, AgentStrategyNotFoundError
from .function_calling import run_function_calling
from .inputs import MISSING
from .react import run_react

__all__ = ["AgentNode", "AgentNodeType"]

#: System variables the node reads besides its parameters (the memory window, the model call's user).
_SYSTEM_SELECTORS: list[Selector] = [("sys", "conversation_id"), ("sys", "user_id")]


def _with_context(instruction: str, context: str) -> str:
    if not context:
        return instruction
    block = f"Use this context where it helps:\n<context>\n{context}\n</context>"
    return f"{instruction}\n\n{block}" if instruction else block


class AgentNode(PreparedNode):
    """An agent node, configured."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.agent = AgentConfig.parse(config)

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys([*self.agent.selectors(), *_SYSTEM_SELECTORS]))

    def _value(self, rt: NodeRuntime, name: str) -> Any:
        given = self.agent.parameters.get(name)
        if given is None:
            return None
        value = given.resolve(rt)
        if value is MISSING:
            raise AgentNodeError(
                f"agent_parameters.{name} reads variable {'.'.join(given.value)}, which does not exist"
            )
        return value

    async def run(self, rt: NodeRuntime) -> NodeResult:
        agent = self.agent
        if agent.strategy is None or agent.model is None:
            raise AgentStrategyNotFoundError(
                f"agent strategy {agent.strategy_name!r} of {agent.strategy_provider or 'no provider'} is not "
                f"available; this server runs the strategies {', '.join(sorted(STRATEGIES))} "
                "(langgenius/agent/agent)"
            )
        kernel = kernel_of(rt)
        query = to_text(self._value(rt, "query"))
        instruction = to_text(self._value(rt, "instruction"))
        iterations = agent.iterations_input()
        max_iterations = agent.max_iterations(None if iterations is None else iterations.resolve(rt))
        system = _with_context(instruction, context_text(self._value(rt, "context")))
        history = await memory_messages(rt, agent.memory)
        tools = [await ReadyTool.prepare(rt, kernel, tool) for tool in agent.tools]
        run = AgentRun(rt, kernel, agent.model, tools, max_iterations)
        try:
            if agent.strategy == "function_calling":
                messages = [PromptMessage(role=PromptMessageRole.SYSTEM, content=system)] if system else []
                messages += [*history, PromptMessage(role=PromptMessageRole.USER, content=query)]
                text = await run_function_calling(run, messages)
            else:
                text = await run_react(run, instruction=system, history=history, memory=agent.memory, query=query)
        except NodeRunError as exc:
            run.log.fail_open(exc.message)
            raise
        usage = run.usage.model_dump(mode="json")
        return NodeResult(
            outputs={
                "text": text,
                "files": run.files,
                "json": [*run.log.entries(), *run.json],
                "usage": usage,
                "iterations": run.rounds,
            },
            inputs={
                "query": query,
                "instruction": instruction,
                "maximum_iterations": max_iterations,
                "tools": [tool.name for tool in tools],
            },
            process_data={
                "agent_strategy_provider_name": agent.strategy_provider,
                "agent_strategy_name": agent.strategy_name,
                "model_provider": agent.model.provider,
                "model_name": agent.model.name,
                "usage": usage,
            },
        )


class AgentNodeType(NodeType):
    """The ``agent`` node type."""

    blocking = False
    schema = NodeTypeSchema(
        name="agent",
        label="Agent",
        description="A model that calls tools on its own, round after round (function calling or ReAct).",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return AgentNode(config)
