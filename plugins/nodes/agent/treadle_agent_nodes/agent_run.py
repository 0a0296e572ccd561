"""What both agent strategies work with: the tools made ready for one run, the model calls and tool
calls of the run (each traced in the agent log), and what they add up to (usage, files, json)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.context import KernelClient
from treadle_sdk.llm import LLMAnswer, ModelConfig, add_usage, call_llm
from treadle_sdk.model_runtime import LLMUsage, PromptMessage, PromptMessageTool
from treadle_sdk.nodes import NodeRunError, NodeRuntime
from treadle_sdk.schemas import ToolSchema
from treadle_sdk.templates import to_text

from .agent_config import AgentTool
from .agent_log import AgentLog, usage_metadata
from .errors import ToolNodeError, ToolParameterError
from .inputs import MISSING
from .messages import observation_of
from .parameters import check_parameters, json_schema_of, model_parameters

__all__ = ["AgentRun", "ReadyTool", "context_text"]


def context_text(value: Any) -> str:
    """An agent's ``context`` as text: knowledge retrieval results (objects with ``content``) one per
    line, anything else as it reads in text."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, list):
        return "\n".join(
            str(item["content"]) if isinstance(item, Mapping) and "content" in item else to_text(item) for item in value
        )
    return to_text(value)


@dataclass
class ReadyTool:
    """A tool of the agent, described by its provider and with its preset values resolved."""

    config: AgentTool
    schema: ToolSchema
    #: The values the node gives (settings and fixed parameters), by name.
    preset: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def prepare(cls, rt: NodeRuntime, kernel: KernelClient, config: AgentTool) -> ReadyTool:
        schema = await config.tool.describe(kernel)
        preset: dict[str, Any] = {}
        for given in (config.settings, config.fixed):
            for name, value in given.items():
                resolved = value.resolve(rt)
                if resolved is not MISSING and resolved is not None:
                    preset[name] = resolved
        return cls(config, schema, preset)

    @property
    def name(self) -> str:
        return self.config.name

    def model_parameter_names(self) -> list[str]:
        return [param.name for param in model_parameters(self.schema, self.config.fixed.keys())]

    def prompt_tool(self) -> PromptMessageTool:
        """The tool as the model is offered it: the parameters it fills, as a JSON schema."""
        description = (
            self.config.description
            or self.schema.llm_description
            or self.schema.description.get("en_US")
            or next(iter(self.schema.description.values()), "")
        )
        parameters = model_parameters(self.schema, self.config.fixed.keys())
        return PromptMessageTool(name=self.name, description=description, parameters=json_schema_of(parameters))

    def arguments(self, given: Any) -> dict[str, Any]:
        """The model's arguments as an object: JSON text is parsed; plain text goes to the tool's one
        parameter when it has exactly one the model fills."""
        if isinstance(given, str):
            try:
                given = json.loads(given) if given.strip() else {}
            except ValueError:
                names = self.model_parameter_names()
                if len(names) != 1:
                    raise ToolParameterError(
                        f"the arguments for tool {self.name!r} are not a JSON object: {given!r}"
                    ) from None
                given = {names[0]: given}
        if not isinstance(given, Mapping):
            names = self.model_parameter_names()
            if len(names) != 1 or isinstance(given, list):
                raise ToolParameterError(f"the arguments for tool {self.name!r} must be a JSON object, not {given!r}")
            given = {names[0]: given}
        return dict(given)


Describe = Callable[[LLMAnswer], Mapping[str, Any]]


class AgentRun:
    """One run of an agent node."""

    def __init__(
        self, rt: NodeRuntime, kernel: KernelClient, model: ModelConfig, tools: Iterable[ReadyTool], max_iterations: int
    ) -> None:
        self.rt = rt
        self.kernel = kernel
        self.model = model
        self.tools = {tool.name: tool for tool in tools}
        self.max_iterations = max_iterations
        self.log = AgentLog(rt)
        self.usage = LLMUsage()
        self.files: list[dict[str, Any]] = []
        self.json: list[Any] = []
        #: Rounds run so far.
        self.rounds = 0
        self._round_usage = LLMUsage()

    def start_round(self) -> str:
        self.rounds += 1
        self._round_usage = LLMUsage()
        return self.log.start(f"ROUND {self.rounds}")

    def end_round(self, round_id: str, llm_response: str, tool_responses: list[dict[str, Any]]) -> None:
        output = {"llm_response": llm_response, "tool_responses": tool_responses}
        self.log.end(round_id, data={"output": output}, **usage_metadata(self._round_usage))

    async def think(
        self,
        round_id: str,
        messages: Sequence[PromptMessage],
        describe: Describe,
        *,
        tools: Sequence[PromptMessageTool] = (),
        stop: Sequence[str] | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> LLMAnswer:
        """One model call, traced as ``<model> Thought`` with what ``describe`` makes of the answer."""
        entry = self.log.start(f"{self.model.name} Thought", parent=round_id, provider=self.model.provider)
        try:
            answer = await call_llm(self.rt, self.model, messages, tools=tools, stop=stop, on_text=on_text)
        except NodeRunError as exc:
            self.log.end(entry, status="error", error=exc.message)
            raise
        self.usage = add_usage(self.usage, answer.usage)
        self._round_usage = add_usage(self._round_usage, answer.usage)
        self.log.end(entry, data=describe(answer), provider=self.model.provider, **usage_metadata(answer.usage))
        return answer

    async def call_tool(self, round_id: str, name: str, arguments: Any) -> str:
        """Run the tool the model asked for; what the model is told it gave. A failure (no such
        tool, bad arguments, the tool's own error) is told to the model, not raised, so that it can
        correct itself."""
        ready = self.tools.get(name)
        entry = self.log.start(
            f"CALL {name}", parent=round_id, provider=ready.config.tool.provider if ready is not None else ""
        )
        args: Any = arguments
        try:
            if ready is None:
                offered = ", ".join(self.tools) or "none"
                raise ToolNodeError(f"there is no tool named {name!r} (the tools are: {offered})")
            args = ready.arguments(arguments)
            parameters = check_parameters(ready.schema, {**args, **ready.preset})
            output = await ready.config.tool.invoke(self.kernel, parameters, log_parent=entry)
        except ToolNodeError as exc:
            observation = f"Error: {exc.message}"
            data = {"tool_name": name, "tool_call_args": args, "output": observation}
            self.log.end(entry, status="error", data=data, error=exc.message)
            return observation
        for tool_entry in output.logs:
            self.log.add(tool_entry)
        self.files.extend(output.files)
        self.json.extend(output.json)
        observation = observation_of(output)
        self.log.end(entry, data={"tool_name": name, "tool_call_args": parameters, "output": observation})
        return observation
