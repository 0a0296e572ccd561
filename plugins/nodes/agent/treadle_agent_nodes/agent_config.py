"""The agent node's DSL, read and checked when the graph is compiled.

Dify writes (``data``)::

    agent_strategy_provider_name: langgenius/agent/agent
    agent_strategy_name: function_calling          # or ReAct
    agent_parameters:
      model: {type: constant, value: {provider, model, model_type, mode, completion_params}}
      tools:
        type: constant
        value:
        - enabled: true
          provider_name: time                      # or langgenius/time/time, or a workspace tool id
          type: builtin                            # the provider type
          tool_name: current_time
          parameters: {timezone: {auto: 1, value: null}}        # auto 0: the node fixes the value
          settings: {format: {value: '%Y-%m-%d %H:%M:%S'}}      # the tool's form parameters
          extra: {description: ''}                 # replaces the tool's description for the model
      instruction: {type: constant, value: ...}
      query: {type: constant, value: '{{#sys.query#}}'}
      maximum_iterations: {type: constant, value: 3}
      context: {type: variable, value: [node, result]}
    memory: {window: {enabled, size}}

Tools without ``enabled: true`` are left out, as in Dify.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from treadle_sdk.llm import MemoryConfig, ModelConfig
from treadle_sdk.nodes import NodeConfigError
from treadle_sdk.templates import Selector

from .calls import ToolRef
from .errors import AgentNodeError
from .inputs import InputValue
from .tool_node import PROVIDER_TYPES

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "MAX_ITERATIONS_LIMIT",
    "STRATEGIES",
    "AgentConfig",
    "AgentTool",
    "Strategy",
    "iterations_of",
]

Strategy = Literal["function_calling", "react"]

#: The strategies implemented here, by their names in a DSL (compared without case).
STRATEGIES: dict[str, Strategy] = {"function_calling": "function_calling", "react": "react"}

#: Rounds an agent runs unless ``maximum_iterations`` says otherwise, and the most it may say
#: (the bounds of Dify's agent strategies).
DEFAULT_MAX_ITERATIONS = 3
MAX_ITERATIONS_LIMIT = 30


def iterations_of(value: Any) -> int:
    """A ``maximum_iterations`` value as a whole number of rounds; raises ``ValueError`` saying why not."""
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number of rounds, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError(f"must be a whole number of rounds, not {value!r}")
    if not 1 <= value <= MAX_ITERATIONS_LIMIT:
        raise ValueError(f"must be between 1 and {MAX_ITERATIONS_LIMIT}, not {value}")
    return value


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NodeConfigError(f"must be an object, not {type(value).__name__}", path)
    return value


def _name(value: Any, path: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise NodeConfigError(f"{what} is required", path)
    return value


def _constant(parameters: Mapping[str, Any], name: str) -> Any:
    """The value of a parameter that must be a constant (the model, the tool list)."""
    given = InputValue.parse(parameters.get(name), f"agent_parameters.{name}")
    if given.type != "constant":
        raise NodeConfigError(f"must be a constant, not a {given.type} input", f"agent_parameters.{name}.type")
    return given.value


def _is_auto(setting: Mapping[str, Any]) -> bool:
    """Whether the model fills a tool parameter (``auto`` 1, the default) or the node fixes it (0)."""
    auto = setting.get("auto", 1)
    return auto not in (0, False, "0")


@dataclass(frozen=True)
class AgentTool:
    """A tool the agent may call, as the node configures it."""

    tool: ToolRef
    #: ``llm``-form parameters the node fixes (``auto: 0``), by name.
    fixed: Mapping[str, InputValue]
    #: The tool's ``form`` parameters (``settings``), by name.
    settings: Mapping[str, InputValue]
    #: What the model is told the tool does, instead of the tool's own description ("" keeps it).
    description: str = ""

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self.tool.tool

    @classmethod
    def parse(cls, data: Any, path: str) -> AgentTool:
        data = _mapping(data, path)
        provider_type = data.get("type") or data.get("provider_type") or "builtin"
        if provider_type not in PROVIDER_TYPES:
            raise NodeConfigError(f"must be one of {', '.join(PROVIDER_TYPES)}, not {provider_type!r}", f"{path}.type")
        credential = data.get("credential_id")
        tool = ToolRef(
            provider=_name(data.get("provider_name") or data.get("provider_id"), f"{path}.provider_name", "a provider"),
            tool=_name(data.get("tool_name"), f"{path}.tool_name", "a tool name"),
            provider_type=str(provider_type),
            credential_id=credential if isinstance(credential, str) and credential else None,
        )
        fixed: dict[str, InputValue] = {}
        parameters = _mapping(data.get("parameters") or {}, f"{path}.parameters")
        for name, setting in parameters.items():
            where = f"{path}.parameters.{name}"
            if not isinstance(setting, Mapping):
                fixed[str(name)] = InputValue.parse(setting, where)
            elif not _is_auto(setting):
                fixed[str(name)] = InputValue.parse(setting.get("value"), f"{where}.value")
        settings: dict[str, InputValue] = {}
        for name, setting in _mapping(data.get("settings") or {}, f"{path}.settings").items():
            where = f"{path}.settings.{name}"
            if isinstance(setting, Mapping) and "value" in setting and "type" not in setting:
                settings[str(name)] = InputValue.parse(setting["value"], f"{where}.value")
            else:
                settings[str(name)] = InputValue.parse(setting, where)
        extra = data.get("extra")
        description = extra.get("description") if isinstance(extra, Mapping) else None
        return cls(tool, fixed, settings, description if isinstance(description, str) else "")

    def selectors(self) -> list[Selector]:
        return [selector for given in (*self.fixed.values(), *self.settings.values()) for selector in given.selectors()]


@dataclass(frozen=True)
class AgentConfig:
    """An agent node, configured."""

    strategy_provider: str
    #: The strategy as the DSL names it (``function_calling``, ``ReAct``, or one not implemented here).
    strategy_name: str
    #: The strategy implemented here that runs the node; None for a strategy this plugin lacks (the
    #: node then fails when it runs, saying so, so that files using it still load).
    strategy: Strategy | None
    parameters: Mapping[str, InputValue]
    model: ModelConfig | None
    tools: tuple[AgentTool, ...]
    memory: MemoryConfig | None

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> AgentConfig:
        name = _name(config.get("agent_strategy_name"), "agent_strategy_name", "an agent strategy name")
        provider = config.get("agent_strategy_provider_name")
        strategy = STRATEGIES.get(name.lower())
        raw = _mapping(config.get("agent_parameters") or {}, "agent_parameters")
        memory = MemoryConfig.parse(config.get("memory"))
        if strategy is None:
            # Another plugin's strategy: its parameters are its own business.
            return cls(str(provider or ""), name, None, {}, None, (), memory)
        parameters = {
            str(key): InputValue.parse(value, f"agent_parameters.{key}")
            for key, value in raw.items()
            if key not in ("model", "tools")
        }
        if "query" not in parameters:
            raise NodeConfigError("the agent needs a query (the task it works on)", "agent_parameters.query")
        iterations = _iterations_input(parameters)
        if iterations is not None and iterations.type == "constant" and not _has_reference(iterations.value):
            try:
                iterations_of(iterations.value)
            except ValueError as exc:
                raise NodeConfigError(str(exc), "agent_parameters.maximum_iterations.value") from None
        if raw.get("model") is None:
            raise NodeConfigError("the agent needs a model", "agent_parameters.model")
        model = _model(_constant(raw, "model"))
        return cls(str(provider or ""), name, strategy, parameters, model, _tools(raw), memory)

    def max_iterations(self, given: Any) -> int:
        """The rounds the agent may run, from the resolved ``maximum_iterations`` (None: the default)."""
        if given is None or given == "":
            return DEFAULT_MAX_ITERATIONS
        try:
            return iterations_of(given)
        except ValueError as exc:
            raise AgentNodeError(f"agent_parameters.maximum_iterations {exc}") from None

    def iterations_input(self) -> InputValue | None:
        """The ``maximum_iterations`` input (``max_iterations`` in some hand-written files)."""
        return _iterations_input(self.parameters)

    def selectors(self) -> list[Selector]:
        found = [selector for given in self.parameters.values() for selector in given.selectors()]
        found.extend(selector for tool in self.tools for selector in tool.selectors())
        return found


def _iterations_input(parameters: Mapping[str, InputValue]) -> InputValue | None:
    return parameters.get("maximum_iterations") or parameters.get("max_iterations")


def _has_reference(value: Any) -> bool:
    return isinstance(value, str) and "{{#" in value


def _model(value: Any) -> ModelConfig:
    path = "agent_parameters.model.value"
    value = _mapping(value, path)
    # The model selector names the model ``model``; llm-family nodes name it ``name``.
    name = value.get("model") or value.get("name")
    return ModelConfig.parse(
        {
            "provider": value.get("provider"),
            "name": name,
            "mode": value.get("mode") or "chat",
            "completion_params": value.get("completion_params") or {},
        },
        path,
    )


def _tools(parameters: Mapping[str, Any]) -> tuple[AgentTool, ...]:
    if parameters.get("tools") is None:
        return ()
    listed = _constant(parameters, "tools")
    if listed is None:
        return ()
    if not isinstance(listed, Sequence) or isinstance(listed, str):
        raise NodeConfigError(f"must be a list of tools, not {type(listed).__name__}", "agent_parameters.tools.value")
    tools: list[AgentTool] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(listed):
        path = f"agent_parameters.tools.value[{index}]"
        if not _mapping(item, path).get("enabled", False):
            continue
        tool = AgentTool.parse(item, path)
        if tool.name in seen:
            raise NodeConfigError(
                f"two enabled tools are named {tool.name!r} (also at tools.value[{seen[tool.name]}]); "
                "the model could not tell them apart",
                f"{path}.tool_name",
            )
        seen[tool.name] = index
        tools.append(tool)
    return tuple(tools)
