"""The code node through the plugin's wire path (NODE-CODE): registered by its hook and run with
the ``run`` operation as a plugin host runs it, the variables it reads sent along."""

from __future__ import annotations

from typing import Any

import pytest
import treadle_code_node
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument
from treadle_sdk.extensions import NodeEvent
from treadle_sdk.testing import invoke, load

from .support import data

pytestmark = pytest.mark.usefixtures("sandbox")


def run_payload(config: dict[str, Any], variables: list[Any] | None = None) -> dict[str, Any]:
    return {"node_id": "code", "config": config, "variables": variables or []}


def test_the_plugin_registers_the_code_node_type() -> None:
    registry = load(treadle_code_node)
    assert registry.extensions.names("node_type") == ["code"]


def test_python_runs_over_the_wire() -> None:
    config = data("def main(a, b):\n    return {'sum': a + b}\n", inputs=["a", "b"], outputs={"sum": "number"})
    events = invoke(
        treadle_code_node, "node_type", "code", "run", run_payload(config, [[["start", "a"], 2], [["start", "b"], 40]])
    )
    assert events == [NodeEvent(type="result", outputs={"sum": 42}, handle="source", inputs={"a": 2, "b": 40})]


@pytest.mark.usefixtures("nodejs")
def test_javascript_runs_over_the_wire() -> None:
    config = data(
        "function main({a}) {\n  return {twice: a + a};\n}\n",
        language="javascript",
        inputs=["a"],
        outputs={"twice": "string"},
    )
    [event] = invoke(treadle_code_node, "node_type", "code", "run", run_payload(config, [[["start", "a"], "ab"]]))
    assert event.outputs == {"twice": "abab"}


def test_a_failure_keeps_its_error_type_across_the_wire() -> None:
    config = data("def main():\n    return {'n': 'three'}\n", outputs={"n": "number"})
    with pytest.raises(PluginFailed) as caught:
        invoke(treadle_code_node, "node_type", "code", "run", run_payload(config))
    assert caught.value.details["error_type"] == "OutputValidationError"
    assert "'n' must be a number, not string" in str(caught.value)

    config = data("def main():\n    return {'n': 1 // 0}\n", outputs={"n": "number"})
    with pytest.raises(
        PluginFailed, match=r"ZeroDivisionError: integer division or modulo by zero \(line 2\)"
    ) as caught:
        invoke(treadle_code_node, "node_type", "code", "run", run_payload(config))
    assert caught.value.details["error_type"] == "CodeNodeError"


def test_invalid_configuration_is_an_invalid_argument_with_its_path() -> None:
    config = data("def main():\n    return {}\n", outputs={"n": "decimal"})
    with pytest.raises(PluginInvalidArgument) as caught:
        invoke(treadle_code_node, "node_type", "code", "run", run_payload(config))
    assert caught.value.details["path"] == "outputs.n.type"
