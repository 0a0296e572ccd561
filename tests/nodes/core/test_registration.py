"""The plugin as the kernel loads it: one node type per DSL type, containers marked, and a node run
through the ``run`` operation (the out-of-process path) behaves as when prepared inline."""

from __future__ import annotations

import importlib.metadata
import inspect

import treadle_core_nodes
from treadle_sdk.testing import invoke, load

from .support import CORE_TYPES, node_type, prepare


def test_hook_register_node_types_registers_every_control_flow_type() -> None:
    """One NodeType per DSL node type, registered through the plugin's hook."""
    assert set(load(treadle_core_nodes).extensions.names("node_type")) == CORE_TYPES


def test_only_iteration_and_loop_are_containers() -> None:
    containers = {name for name in CORE_TYPES if node_type(name).schema.container}
    assert containers == {"iteration", "loop"}


def test_only_containers_run_as_coroutines() -> None:
    """Plain nodes run as plain functions (the engine calls them without a task); containers await."""
    configs = {
        "iteration": {"iterator_selector": ["a", "b"], "output_selector": ["c", "d"]},
        "list-operator": {"variable": ["a", "b"]},
    }
    for name in CORE_TYPES:
        prepared = prepare(name, configs.get(name, {}))
        assert inspect.iscoroutinefunction(prepared.run) is (name in {"iteration", "loop"}), name


def test_the_entry_point_names_the_package() -> None:
    [entry] = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "core-nodes"]
    assert entry.value == "treadle_core_nodes"


def test_a_node_runs_through_the_run_operation() -> None:
    """The same node run out of process: variables arrive with the call, chunks and the result return."""
    config = {"type": "answer", "answer": "Hello {{#start.name#}}"}
    payload = {"node_id": "a1", "config": config, "variables": [[["start", "name"], "Ada"]]}
    events = invoke(treadle_core_nodes, "node_type", "answer", "run", payload)
    assert [(e.type, e.chunk) for e in events if e.type == "chunk"] == [("chunk", "Hello Ada")]
    assert events[-1].outputs == {"answer": "Hello Ada", "files": []}


def test_an_if_else_runs_through_the_run_operation_and_returns_its_handle() -> None:
    config = {
        "type": "if-else",
        "cases": [
            {
                "case_id": "big",
                "conditions": [{"variable_selector": ["start", "n"], "comparison_operator": ">", "value": "10"}],
            }
        ],
    }
    payload = {"node_id": "c", "config": config, "variables": [[["start", "n"], 11]]}
    [result] = invoke(treadle_core_nodes, "node_type", "if-else", "run", payload)
    assert result.handle == "big"
