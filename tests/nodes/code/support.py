"""Helpers of the code node tests: nodes prepared from DSL data with the default limits (whatever
the environment says), and a small in-memory :class:`NodeRuntime`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from treadle_code_node import CodeNode, CodeNodeType, CodeSettings
from treadle_sdk.nodes import NodeRunError, NodeRuntime, VariableNotFound

SETTINGS = CodeSettings()
NODE_TYPE = CodeNodeType(SETTINGS)


class DictRuntime(NodeRuntime):
    """Variables in a dict keyed by selector; a code node emits and assigns nothing."""

    def __init__(self, variables: Mapping[tuple[str, ...], Any] | None = None, node_id: str = "code") -> None:
        self.node_id = node_id
        self.variables = dict(variables or {})

    def get(self, selector: Sequence[str]) -> Any:
        try:
            return self.variables[tuple(selector)]
        except KeyError:
            raise VariableNotFound(selector) from None

    def emit(self, variable: str, chunk: str) -> None:
        raise AssertionError("a code node streams nothing")

    def assign(self, selector: Sequence[str], value: Any) -> None:
        raise NodeRunError("a code node assigns nothing")


def data(
    code: str,
    *,
    language: str = "python3",
    outputs: Mapping[str, str] | None = None,
    inputs: Sequence[str] = (),
    limits: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A code node's DSL ``data``: ``outputs`` maps names to types, each input reads ``start.NAME``."""
    config: dict[str, Any] = {
        "type": "code",
        "title": "Code",
        "code": code,
        "code_language": language,
        "variables": [{"variable": name, "value_selector": ["start", name]} for name in inputs],
        "outputs": {name: {"type": kind, "children": None} for name, kind in (outputs or {}).items()},
    }
    if limits is not None:
        config["limits"] = limits
    return config


def prepare(code: str, node_type: CodeNodeType = NODE_TYPE, **kwargs: Any) -> CodeNode:
    return node_type.prepare("code", data(code, **kwargs))


async def run(
    code: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    node_type: CodeNodeType = NODE_TYPE,
    **kwargs: Any,
) -> dict[str, Any]:
    """Prepare a node and run it once with ``inputs`` (the values of ``start.NAME``); its outputs."""
    inputs = dict(inputs or {})
    node = prepare(code, node_type, inputs=list(inputs), **kwargs)
    result = await node.run(DictRuntime({("start", name): value for name, value in inputs.items()}))
    return result.outputs
