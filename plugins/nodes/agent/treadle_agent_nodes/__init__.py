"""The tool node and the agent node.

Registers two node types: ``tool`` (NODE-TOOL), which runs one tool through the kernel's tool path,
and ``agent`` (NODE-AGENT), a model that calls tools on its own with the function-calling or the
ReAct strategy. Both read Dify's DSL shapes (see :mod:`.tool_node` and :mod:`.agent_config`) and
reach models and tools only through the run's kernel client.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .agent_config import DEFAULT_MAX_ITERATIONS, MAX_ITERATIONS_LIMIT, STRATEGIES, AgentConfig, AgentTool
from .agent_log import AgentLog
from .agent_node import AgentNode, AgentNodeType
from .calls import ToolRef
from .errors import (
    AgentNodeError,
    AgentStrategyNotFoundError,
    ToolFileError,
    ToolInvokeError,
    ToolNodeError,
    ToolParameterError,
    ToolProviderNotFoundError,
)
from .inputs import InputValue
from .messages import ToolOutput, file_from_url, observation_of
from .parameters import check_parameters, json_schema_of
from .react import FinalAnswerStream, ReActStep, parse_react, react_prompt
from .tool_node import PROVIDER_TYPES, ToolNode, ToolNodeType

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "MAX_ITERATIONS_LIMIT",
    "PROVIDER_TYPES",
    "STRATEGIES",
    "AgentConfig",
    "AgentLog",
    "AgentNode",
    "AgentNodeError",
    "AgentNodeType",
    "AgentStrategyNotFoundError",
    "AgentTool",
    "FinalAnswerStream",
    "InputValue",
    "ReActStep",
    "ToolFileError",
    "ToolInvokeError",
    "ToolNode",
    "ToolNodeError",
    "ToolNodeType",
    "ToolOutput",
    "ToolParameterError",
    "ToolProviderNotFoundError",
    "ToolRef",
    "check_parameters",
    "file_from_url",
    "json_schema_of",
    "node_types",
    "observation_of",
    "parse_react",
    "react_prompt",
    "register_node_types",
]


def node_types() -> list[NodeType]:
    """One instance of every node type this plugin offers."""
    return [ToolNodeType(), AgentNodeType()]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register the ``tool`` and ``agent`` node types."""
    for node_type in node_types():
        register(node_type)
