"""The Parameter Extractor node (NODE-PARAMETER-EXTRACTOR): a model reads a text and reports the
values of named, typed parameters.

DSL: ``query`` (the selector of the text), ``model``, ``parameters: [{name, type, description,
required, options}]``, ``instruction`` (may reference variables), ``reasoning_mode``
(``function_call``: the model calls one tool, ``extract_parameters``, whose arguments are the
values; ``prompt``: the model is asked for a JSON object), ``memory`` and ``vision``. A model that
cannot call tools (its features name neither ``tool-call`` nor ``multi-tool-call``), and any
completion model, is asked in ``prompt`` mode.

Types: ``string``, ``number``, ``boolean`` (``bool``), ``select`` (a string among ``options``),
``object``, ``array[string]``, ``array[number]``, ``array[boolean]``, ``array[object]``,
``array[any]``. Values are coerced to their type where that is unambiguous (``"42"`` to a number,
``"true"`` to a boolean, a number to a string, JSON text to an object or array).

Outputs: every parameter (a missing or invalid one takes its type's empty value: ``""``, ``0``,
``false``, ``{}``, ``[]``), ``__is_success`` (1, or 0 when a required parameter is missing or a
value is invalid), ``__reason`` (why not, else None) and ``__usage``. Model errors fail the node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, flag, items, mapping, parse_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.llm import MemoryConfig, ModelConfig, call_llm, describe_model, prompts_for_saving
from treadle_sdk.model_runtime import PromptMessageTool
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, find_selectors, to_text

from .files import VisionConfig
from .json_text import find_json_object
from .prompting import SYSTEM_SELECTORS, Capabilities, history_text, task_messages
from .task_prompts import (
    EXTRACTOR_FUNCTION_SYSTEM,
    EXTRACTOR_FUNCTION_USER,
    EXTRACTOR_PROMPT_SYSTEM,
    EXTRACTOR_PROMPT_USER,
    EXTRACTOR_TOOL,
    EXTRACTOR_TOOL_DESCRIPTION,
    extra_blocks,
)

__all__ = ["PARAMETER_TYPES", "Parameter", "ParameterExtractorNode", "ParameterExtractorNodeType"]

#: DSL type -> (JSON Schema type, element type for arrays).
PARAMETER_TYPES: dict[str, tuple[str, str | None]] = {
    "string": ("string", None),
    "select": ("string", None),
    "number": ("number", None),
    "boolean": ("boolean", None),
    "bool": ("boolean", None),
    "object": ("object", None),
    "array[string]": ("array", "string"),
    "array[number]": ("array", "number"),
    "array[boolean]": ("array", "boolean"),
    "array[object]": ("array", "object"),
    "array[any]": ("array", "any"),
}

_EMPTY: dict[str, Any] = {"string": "", "number": 0, "boolean": False}


class _Invalid(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter to extract."""

    name: str
    type: str
    element: str | None
    description: str = ""
    required: bool = False
    options: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.options:
            schema["enum"] = list(self.options)
        if self.element is not None and self.element != "any":
            schema["items"] = {"type": self.element}
        return schema

    def empty(self) -> Any:
        if self.type == "array":
            return []
        if self.type == "object":
            return {}
        return _EMPTY[self.type]

    def coerce(self, value: Any) -> Any:
        """The value in this parameter's type; :class:`_Invalid` says why it cannot be."""
        if self.type == "array":
            if isinstance(value, str):
                value = _json_or(value, value)
            if not isinstance(value, list):
                raise _Invalid(f"expected an array, not {_kind(value)}")
            if self.element in (None, "any"):
                return value
            coerced = []
            for index, item in enumerate(value):
                try:
                    coerced.append(_scalar(str(self.element), item))
                except _Invalid as exc:
                    raise _Invalid(f"item {index}: {exc}") from None
            return coerced
        coerced = _scalar(self.type, value)
        if self.options and coerced not in self.options:
            raise _Invalid(f"{coerced!r} is not one of the options {', '.join(self.options)}")
        return coerced


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _json_or(textual: str, default: Any) -> Any:
    try:
        return json.loads(textual)
    except ValueError:
        return default


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return to_text(value)
    elif kind == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            number = _json_or(value.strip(), None)
            if isinstance(number, int | float) and not isinstance(number, bool):
                return number
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "yes", "no", "1", "0"}:
            return value.strip().lower() in {"true", "yes", "1"}
    elif kind == "object":
        if isinstance(value, str):
            value = _json_or(value, value)
        if isinstance(value, dict):
            return value
    raise _Invalid(f"expected a {kind}, not {_kind(value)} ({value!r})")


def _parameters(config: Mapping[str, Any]) -> tuple[Parameter, ...]:
    found: list[Parameter] = []
    seen: set[str] = set()
    for i, item in enumerate(items(config.get("parameters"), "parameters")):
        path = f"parameters[{i}]"
        entry = mapping(item, path)
        name = text(entry.get("name"), f"{path}.name").strip()
        if not name:
            raise NodeConfigError("a parameter needs a name", f"{path}.name")
        if name.startswith("__"):
            raise NodeConfigError(f"{name!r}: names starting with '__' are the node's own outputs", f"{path}.name")
        if name in seen:
            raise NodeConfigError(f"the parameter {name!r} is declared twice", f"{path}.name")
        seen.add(name)
        kind = text(entry.get("type"), f"{path}.type", "string").strip().lower()
        if kind not in PARAMETER_TYPES:
            listed = ", ".join(PARAMETER_TYPES)
            raise NodeConfigError(f"{kind!r} is not a parameter type (types: {listed})", f"{path}.type")
        listed_options = items(entry.get("options"), f"{path}.options")
        options = tuple(text(option, f"{path}.options[{j}]") for j, option in enumerate(listed_options))
        json_type, element = PARAMETER_TYPES[kind]
        found.append(
            Parameter(
                name=name,
                type=json_type,
                element=element,
                description=text(entry.get("description"), f"{path}.description"),
                required=flag(entry.get("required"), f"{path}.required"),
                options=options if json_type == "string" else (),
            )
        )
    if not found:
        raise NodeConfigError("give at least one parameter to extract", "parameters")
    return tuple(found)


class ParameterExtractorNode(PreparedNode):
    """A prepared parameter-extractor node (see the module docstring)."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.query = parse_selector(config.get("query"), "query")
        self.model = ModelConfig.parse(config.get("model"))
        self.parameters = _parameters(config)
        self.instruction = text(config.get("instruction"), "instruction")
        self.reasoning_mode = choice(
            config.get("reasoning_mode"), "reasoning_mode", ("function_call", "prompt"), "function_call"
        )
        self.memory = MemoryConfig.parse(config.get("memory"))
        self.vision = VisionConfig.parse(config.get("vision"))
        self.schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.parameters},
            "required": [p.name for p in self.parameters if p.required],
        }

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys([self.query, *find_selectors(self.config), *SYSTEM_SELECTORS]))

    async def run(self, rt: NodeRuntime) -> NodeResult:
        capabilities = Capabilities.of(await describe_model(rt, self.model))
        use_tool = self.reasoning_mode == "function_call" and capabilities.tool_calls and self.model.mode == "chat"
        query = to_text(rt.get_or(self.query))
        instruction = rt.render(self.instruction)
        blocks = extra_blocks(instruction, await history_text(rt, self.memory))
        schema_text = json.dumps(self.schema, ensure_ascii=False)
        if use_tool:
            system = EXTRACTOR_FUNCTION_SYSTEM.format(**blocks)
            user = EXTRACTOR_FUNCTION_USER.format(text=query)
        else:
            system = EXTRACTOR_PROMPT_SYSTEM.format(**blocks)
            user = EXTRACTOR_PROMPT_USER.format(schema=schema_text, text=query)
        files = self.vision.files(rt)
        messages = task_messages(self.model.mode, system, user, self.vision.images(files), capabilities)
        tools = [PromptMessageTool(name=EXTRACTOR_TOOL, description=EXTRACTOR_TOOL_DESCRIPTION, parameters=self.schema)]
        answer = await call_llm(rt, self.model, messages, tools=tools if use_tool else (), stream=False)

        tool_call = next((call for call in answer.tool_calls if call.function.name == EXTRACTOR_TOOL), None)
        if tool_call is None and answer.tool_calls:
            tool_call = answer.tool_calls[0]
        found = find_json_object(tool_call.function.arguments) if tool_call is not None else None
        if found is None:
            found = find_json_object(answer.text)
        outputs, errors = self._values(found)
        usage = answer.usage.model_dump(mode="json")
        outputs.update({"__is_success": 0 if errors else 1, "__reason": "; ".join(errors) or None, "__usage": usage})
        process_data = {
            "model_mode": self.model.mode,
            "reasoning_mode": "function_call" if use_tool else "prompt",
            "prompts": prompts_for_saving(self.model.mode, messages),
            "usage": usage,
            "function": tools[0].model_dump(mode="json") if use_tool else {},
            "tool_call": tool_call.model_dump(mode="json") if tool_call is not None else None,
            "llm_text": answer.text,
            "model_provider": self.model.provider,
            "model_name": self.model.name,
        }
        inputs = {
            "query": query,
            "files": [dict(file) for file in files],
            "parameters": [p.json_schema() | {"name": p.name, "required": p.required} for p in self.parameters],
            "instruction": instruction,
        }
        return NodeResult(outputs, inputs=inputs, process_data=process_data)

    def _values(self, found: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """Each parameter's value (or its empty value) and what was wrong."""
        if found is None:
            empty = {p.name: p.empty() for p in self.parameters}
            return empty, ["the model's answer holds no JSON object with the parameters"]
        values: dict[str, Any] = {}
        errors: list[str] = []
        for parameter in self.parameters:
            raw = found.get(parameter.name)
            if raw is None:
                if parameter.required:
                    errors.append(f"parameter {parameter.name} is required but the model did not find it")
                values[parameter.name] = parameter.empty()
                continue
            try:
                values[parameter.name] = parameter.coerce(raw)
            except _Invalid as exc:
                errors.append(f"parameter {parameter.name}: {exc}")
                values[parameter.name] = parameter.empty()
        return values, errors


class ParameterExtractorNodeType(NodeType):
    """``parameter-extractor``: a model fills in typed parameters from a text."""

    blocking = False
    schema = NodeTypeSchema(
        name="parameter-extractor",
        label="Parameter Extractor",
        description=(
            "Has a model read a text and report typed parameters (by a tool call or as JSON), "
            "with __is_success and __reason saying whether every required one was found."
        ),
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return ParameterExtractorNode(node_id, config)
