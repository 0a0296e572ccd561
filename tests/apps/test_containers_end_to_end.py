"""Containers with the real core node types through ``treadle run``: an iteration nested in a loop,
loop variables written by an assigner inside the loop, a break condition (NODE-LOOP, NODE-ITERATION,
NODE-VAR-ASSIGNER)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from treadle.cli import main

from .test_run_and_check import edge, write_app


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path / "home"))


def nested_app(tmp_path: Path, *, parallel: bool) -> Path:
    loop_children = [
        {"id": "loop-start", "parentId": "loop", "data": {"type": "loop-start", "title": "", "loop_id": "loop"}},
        {"id": "iter", "parentId": "loop", "data": {
            "type": "iteration", "title": "Each word", "loop_id": "loop",
            "iterator_selector": ["start", "data", "words"], "output_selector": ["shout", "output"],
            "output_type": "array[string]", "is_parallel": parallel, "parallel_nums": 3,
            "error_handle_mode": "terminated", "start_node_id": "iter-start"}},
        {"id": "iter-start", "parentId": "iter", "data": {"type": "iteration-start", "title": "",
                                                          "iteration_id": "iter"}},
        {"id": "shout", "parentId": "iter", "data": {
            "type": "template-transform", "title": "Shout", "iteration_id": "iter",
            "template": "{{ round }}:{{ word | upper }}#{{ index }}",
            "variables": [{"variable": "word", "value_selector": ["iter", "item"]},
                          {"variable": "index", "value_selector": ["iter", "index"]},
                          {"variable": "round", "value_selector": ["loop", "rounds"]}]}},
        {"id": "collect", "parentId": "loop", "data": {
            "type": "assigner", "title": "Collect", "version": "2", "loop_id": "loop",
            "items": [
                {"variable_selector": ["loop", "shouted"], "input_type": "variable", "operation": "extend",
                 "value": ["iter", "output"]},
                {"variable_selector": ["loop", "rounds"], "input_type": "constant", "operation": "+=", "value": 1},
            ]}},
    ]
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": [
            {"variable": "data", "label": "Data", "type": "json_object", "required": True}]}},
        {"id": "loop", "data": {
            "type": "loop", "title": "Three rounds", "start_node_id": "loop-start", "loop_count": 10,
            "logical_operator": "and", "error_handle_mode": "terminated",
            "loop_variables": [
                {"label": "shouted", "var_type": "array[string]", "value_type": "constant", "value": []},
                {"label": "rounds", "var_type": "number", "value_type": "constant", "value": 0},
            ],
            "break_conditions": [{"variable_selector": ["loop", "rounds"], "comparison_operator": "≥",
                                  "value": "3", "varType": "number"}]}},
        *loop_children,
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
            {"variable": "shouted", "value_selector": ["loop", "shouted"]},
            {"variable": "rounds", "value_selector": ["loop", "rounds"]}]}},
    ]
    edges = [edge("start", "loop"), edge("loop", "end"), edge("loop-start", "iter"), edge("iter", "collect"),
             edge("iter-start", "shout")]
    return write_app(tmp_path, "workflow", nodes, edges)


@pytest.mark.parametrize("parallel", [False, True])
def test_iteration_nested_in_a_loop(tmp_path: Path, parallel: bool) -> None:
    path = nested_app(tmp_path, parallel=parallel)
    inputs = '{"data": {"words": ["a", "b", "c"]}}'
    result = CliRunner().invoke(main, ["run", str(path), "--inputs-json", inputs, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["outputs"]["rounds"] == 3
    assert body["outputs"]["shouted"] == [
        f"{round_}:{word}#{index}" for round_ in range(3) for index, word in enumerate("ABC")
    ]
