"""The code node: Python 3 and JavaScript in a sandbox process with no network and resource limits.

Registers the ``code`` node type (NODE-CODE). The code runs with Dify's ``main()`` contract in a
fresh, jailed process per run (see :mod:`treadle_code_node.sandbox` and the README beside this
package); its outputs are checked against the node's declared outputs.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import NodeType
from treadle_sdk.hookspecs import hookimpl

from .errors import CodeExecutionError, CodeNodeError, DepthLimitError, OutputValidationError, SandboxLimitExceeded
from .node import LANGUAGES, CodeNode, CodeNodeType, CodeVariable
from .outputs import OUTPUT_TYPES, OutputChecker, OutputSpec, parse_outputs
from .sandbox import Sandbox
from .settings import CodeSettings, OutputLimits, SandboxLimits

__all__ = [
    "LANGUAGES",
    "OUTPUT_TYPES",
    "CodeExecutionError",
    "CodeNode",
    "CodeNodeError",
    "CodeNodeType",
    "CodeSettings",
    "CodeVariable",
    "DepthLimitError",
    "OutputChecker",
    "OutputLimits",
    "OutputSpec",
    "OutputValidationError",
    "Sandbox",
    "SandboxLimitExceeded",
    "SandboxLimits",
    "parse_outputs",
    "register_node_types",
]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register the ``code`` node type, with limits from the environment."""
    register(CodeNodeType())
