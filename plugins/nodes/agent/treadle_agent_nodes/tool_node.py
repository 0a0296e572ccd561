"""The tool node (NODE-TOOL): runs one tool of a plugin, a custom OpenAPI tool, a workflow tool or an
MCP tool, with parameters from the node's configuration.

The DSL (``data``) names the tool by ``provider_id`` (or ``provider_name``), ``provider_type``
(``builtin``, ``plugin``, ``api``, ``workflow``, ``mcp``) and ``tool_name``. ``tool_parameters`` maps
parameter names to ``{type, value}`` inputs (:mod:`.inputs`); ``tool_configurations`` holds the
preset (``form``) parameters, as bare values (before tool node version 2) or as ``{type, value}``.
``credential_id`` picks one of the workspace's credentials for the provider.

Outputs: ``text``, ``files``, ``json`` and the tool's variables (:mod:`.messages`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .calls import ToolRef, kernel_for_tools
from .errors import ToolParameterError
from .inputs import MISSING, InputValue
from .parameters import check_parameters

__all__ = ["PROVIDER_TYPES", "ToolNode", "ToolNodeType"]

#: Dify's tool provider types.
PROVIDER_TYPES = ("builtin", "plugin", "api", "workflow", "mcp")


def _text_field(data: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    raise NodeConfigError(f"a tool node needs {' or '.join(repr(n) for n in names)}", names[0])


def _inputs(data: Mapping[str, Any], key: str) -> dict[str, InputValue]:
    raw = data.get(key) or {}
    if not isinstance(raw, Mapping):
        raise NodeConfigError("must be an object of parameter names and values", key)
    return {str(name): InputValue.parse(value, f"{key}.{name}") for name, value in raw.items()}


@dataclass(frozen=True)
class ToolNode(PreparedNode):
    """A tool node, configured."""

    config: Mapping[str, Any]
    tool: ToolRef
    #: The parameters the node gives (``tool_parameters``), by name.
    parameters: Mapping[str, InputValue]
    #: The preset parameters (``tool_configurations``), by name; ``parameters`` win over them.
    configurations: Mapping[str, InputValue]

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> ToolNode:
        provider_type = config.get("provider_type") or "builtin"
        if provider_type not in PROVIDER_TYPES:
            raise NodeConfigError(f"must be one of {', '.join(PROVIDER_TYPES)}, not {provider_type!r}", "provider_type")
        credential = config.get("credential_id")
        if credential is not None and not isinstance(credential, str):
            raise NodeConfigError(f"must be a credential id, not {credential!r}", "credential_id")
        tool = ToolRef(
            provider=_text_field(config, "provider_id", "provider_name"),
            tool=_text_field(config, "tool_name"),
            provider_type=str(provider_type),
            credential_id=credential or None,
        )
        return cls(config, tool, _inputs(config, "tool_parameters"), _inputs(config, "tool_configurations"))

    def selectors(self) -> list[Selector]:
        found: list[Selector] = []
        for value in (*self.configurations.values(), *self.parameters.values()):
            found.extend(value.selectors())
        return list(dict.fromkeys(found))

    def _values(self, rt: NodeRuntime, required: set[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for source in (self.configurations, self.parameters):
            for name, given in source.items():
                value = given.resolve(rt)
                if value is MISSING:
                    if name in required:
                        raise ToolParameterError(
                            f"parameter {name!r} of tool {self.tool.tool!r} reads variable "
                            f"{'.'.join(given.value)}, which does not exist",
                            parameter=name,
                        )
                    continue
                values[name] = value
        return values

    async def run(self, rt: NodeRuntime) -> NodeResult:
        kernel = kernel_for_tools(rt)
        schema = await self.tool.describe(kernel)
        required = {param.name for param in schema.parameters if param.required}
        parameters = check_parameters(schema, self._values(rt, required))
        output = await self.tool.invoke(kernel, parameters, emit=rt.emit)
        for entry in output.logs:
            rt.log(entry)
        tool_info = {
            "provider_type": self.tool.provider_type,
            "provider_id": self.tool.provider,
            "tool_name": self.tool.tool,
            "plugin_unique_identifier": self.config.get("plugin_unique_identifier"),
        }
        return NodeResult(outputs=output.outputs(), inputs=parameters, process_data={"tool_info": tool_info})


class ToolNodeType(NodeType):
    """The ``tool`` node type."""

    blocking = False
    schema = NodeTypeSchema(
        name="tool",
        label="Tool",
        description="Runs one tool: a plugin tool, a custom OpenAPI tool, a workflow tool or an MCP tool.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return ToolNode.parse(config)
