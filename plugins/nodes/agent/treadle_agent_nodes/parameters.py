"""Tool parameters checked against the tool's schema before the call (NODE-TOOL ``ToolParameterError``),
and the JSON schema of the parameters a model fills (function calling).

Checking is the SDK's :func:`~treadle_sdk.extensions.validate_tool_parameters` — the same rules the
tool provider applies — so a value that passes here passes there; its refusals become
:class:`ToolParameterError` naming the parameter and the tool.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import validate_tool_parameters
from treadle_sdk.schemas import ToolParameter, ToolParameterForm, ToolParameterType, ToolSchema
from treadle_sdk.templates import to_text

from .errors import ToolParameterError

__all__ = ["check_parameters", "json_schema_of", "model_parameters"]

#: Parameters a model cannot fill (it has no file, model, app or tool list to give).
_NOT_FOR_MODELS = frozenset(
    {
        ToolParameterType.FILE,
        ToolParameterType.FILES,
        ToolParameterType.MODEL_SELECTOR,
        ToolParameterType.APP_SELECTOR,
        ToolParameterType.TOOLS_SELECTOR,
    }
)
_TEXT = frozenset({ToolParameterType.STRING, ToolParameterType.SECRET_INPUT})


def check_parameters(tool: ToolSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` checked and coerced against ``tool``'s parameters; defaults fill empty ones.

    Names the tool does not have are left out, as Dify does (a DSL may keep parameters of an older
    version of the tool). An object or a list given for a text parameter reads as its JSON text, as
    it would in a template.
    """
    given: dict[str, Any] = {}
    for param in tool.parameters:
        if param.name not in values:
            continue
        value = values[param.name]
        given[param.name] = to_text(value) if param.type in _TEXT and isinstance(value, dict | list) else value
    try:
        return validate_tool_parameters(tool, given)
    except PluginInvalidArgument as exc:
        parameter = exc.details.get("parameter")
        raise ToolParameterError(exc.message, parameter=parameter if isinstance(parameter, str) else "") from None


def model_parameters(tool: ToolSchema, fixed: Collection[str] = ()) -> list[ToolParameter]:
    """The parameters a model fills: ``llm``-form ones the node does not fix, that a model can give."""
    return [
        param
        for param in tool.parameters
        if param.form == ToolParameterForm.LLM and param.name not in fixed and param.type not in _NOT_FOR_MODELS
    ]


def _json_type(param: ToolParameter) -> dict[str, Any]:
    if param.type == ToolParameterType.NUMBER:
        schema: dict[str, Any] = {"type": "integer" if param.precision == 0 else "number"}
        if param.min is not None:
            schema["minimum"] = param.min
        if param.max is not None:
            schema["maximum"] = param.max
        return schema
    if param.type == ToolParameterType.BOOLEAN:
        return {"type": "boolean"}
    if param.type == ToolParameterType.SELECT:
        return {"type": "string", "enum": [option.value for option in param.options]}
    if param.type == ToolParameterType.OBJECT:
        return {"type": "object"}
    if param.type == ToolParameterType.ARRAY:
        return {"type": "array"}
    if param.type == ToolParameterType.ANY:
        return {}
    return {"type": "string"}


def json_schema_of(parameters: list[ToolParameter]) -> dict[str, Any]:
    """The JSON schema of the arguments a model gives for ``parameters``."""
    properties: dict[str, Any] = {}
    for param in parameters:
        schema = _json_type(param)
        description = param.llm_description or (param.human_description or {}).get("en_US") or ""
        if description:
            schema["description"] = description
        properties[param.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": [param.name for param in parameters if param.required],
    }
