"""Compiling a graph: build_graph's problems (each with node id and DSL path), retry limits, node
configuration errors reported by compile_workflow (EXEC-GRAPH, EXEC-RETRY)."""

from __future__ import annotations

import pytest
from treadle.graph import GraphBuildError, Problem, RetryPolicy, build_graph, compile_workflow

from .nodes_for_tests import TestNodeFactory, chain, edge, node


def test_build_graph_indexes_edges_containers_and_roots() -> None:
    graph = build_graph(
        [
            node("start", "start"),
            node("if", "branch", handle="true"),
            node("a", "constant"),
            node("it", "iteration", start_node_id="it-start"),
            node("it-start", "iteration-start", iteration_id="it"),
            node("inner", "constant", iteration_id="it"),
        ],
        [*chain("start", "if"), edge("if", "a", "true"), edge("if", "it", "false"), *chain("it-start", "inner")],
    )
    assert graph.roots[None] == ("start",)
    assert graph.roots["it"] == ("it-start",)
    assert graph.children["it"] == ("it-start", "inner")
    assert {(e.target, e.handle) for e in graph.outgoing["if"]} == {("a", "true"), ("it", "false")}
    assert [e.source for e in graph.incoming["a"]] == ["if"]
    assert graph.scope_of("inner") == "it"


def test_an_edge_saved_twice_counts_once() -> None:
    graph = build_graph([node("start", "start"), node("a", "constant")], [edge("start", "a"), edge("start", "a")])
    assert len(graph.edges) == 1


def test_graph_build_error_lists_every_problem_with_node_and_path() -> None:
    """Dangling edges, a duplicate id, a node without type: all reported at once, each located."""
    with pytest.raises(GraphBuildError) as caught:
        build_graph(
            [node("start", "start"), node("a", "constant"), node("a", "constant"), {"id": "t", "data": {"title": "x"}}],
            [edge("start", "ghost"), edge("nowhere", "a")],
        )
    problems = caught.value.problems
    assert Problem("another node has the same id", "a", "workflow.graph.nodes[2].id") in problems
    assert Problem("the node has no type", "t", "workflow.graph.nodes[3].data.type") in problems
    assert Problem("the edge's target 'ghost' is not a node", "", "workflow.graph.edges[0].target") in problems
    assert Problem("the edge's source 'nowhere' is not a node", "", "workflow.graph.edges[1].source") in problems
    assert len(problems) == 4
    assert "4 problem(s)" in str(caught.value)
    assert "node a, workflow.graph.nodes[2].id: another node has the same id" in str(caught.value)


def test_a_graph_without_start_node_is_refused() -> None:
    with pytest.raises(GraphBuildError) as caught:
        build_graph([node("a", "constant"), node("b", "constant")], chain("a", "b"))
    assert caught.value.problems == [
        Problem("the graph has no start node (start or a trigger)", "", "workflow.graph.nodes")
    ]


def test_edges_across_containers_are_refused() -> None:
    with pytest.raises(GraphBuildError) as caught:
        build_graph(
            [node("start", "start"), node("it", "iteration"), node("inner", "constant", iteration_id="it")],
            [*chain("start", "it"), edge("start", "inner")],
        )
    assert caught.value.problems[0].path == "workflow.graph.edges[1]"
    assert "different containers" in caught.value.problems[0].message


def test_unknown_error_strategy_is_refused() -> None:
    with pytest.raises(GraphBuildError) as caught:
        build_graph([node("start", "start", error_strategy="ignore")], [])
    assert caught.value.problems == [
        Problem("unknown error_strategy 'ignore'", "start", "workflow.graph.nodes[0].data.error_strategy")
    ]


def _retrying(retries: object, interval: object) -> dict[str, object]:
    return node(
        "code",
        "fail",
        retry_config={"retry_enabled": True, "max_retries": retries, "retry_interval": interval},
    )


def test_retry_config_within_limits_becomes_a_policy() -> None:
    """EXEC-RETRY: up to 10 retries, up to 5000 ms apart; the interval is kept in seconds."""
    graph = build_graph([node("start", "start"), _retrying(10, 5000)], chain("start", "code"))
    assert graph.nodes["code"].retry == RetryPolicy(10, 5.0)


def test_disabled_retry_and_zero_retries_mean_no_policy() -> None:
    graph = build_graph(
        [
            node("start", "start"),
            node("a", "fail", retry_config={"retry_enabled": False, "max_retries": 3, "retry_interval": 10}),
            {**_retrying(0, 100), "id": "b"},
        ],
        chain("start", "a", "b"),
    )
    assert graph.nodes["a"].retry is None
    assert graph.nodes["b"].retry is None


@pytest.mark.parametrize(("retries", "interval"), [(11, 100), (3, 5001), (-1, 0), ("many", 0)])
def test_retry_config_beyond_limits_is_a_build_error(retries: object, interval: object) -> None:
    """EXEC-RETRY: more than 10 retries or an interval over 5000 ms is refused, naming the node."""
    with pytest.raises(GraphBuildError) as caught:
        build_graph([node("start", "start"), _retrying(retries, interval)], chain("start", "code"))
    [problem] = caught.value.problems
    assert (problem.node_id, problem.path) == ("code", "workflow.graph.nodes[1].data.retry_config")


def test_node_spec_carries_strategy_defaults_and_timeout() -> None:
    graph = build_graph(
        [
            node("start", "start"),
            node(
                "code",
                "fail",
                error_strategy="default-value",
                default_value=[{"key": "result", "type": "string", "value": "fallback"}],
                timeout=2.5,
            ),
        ],
        chain("start", "code"),
    )
    spec = graph.nodes["code"]
    assert (spec.error_strategy, dict(spec.default_values), spec.timeout) == (
        "default-value",
        {"result": "fallback"},
        2.5,
    )
    with pytest.raises(TypeError):
        spec.data["type"] = "other"  # type: ignore[index]


def test_compile_workflow_reports_unknown_types_and_config_errors_together() -> None:
    """Every node the factory cannot prepare is listed: unknown types (LookupError) at data.type,
    configuration errors (NodeConfigError) at their path inside data."""
    graph = build_graph(
        [
            node("start", "start"),
            node("llm", "llm"),
            node("counter", "needs-count", count=0),
            node("tool", "tool"),
            node("ok", "needs-count", count=3),
        ],
        chain("start", "llm", "counter", "tool", "ok"),
    )
    with pytest.raises(GraphBuildError) as caught:
        compile_workflow(graph, TestNodeFactory())
    assert caught.value.problems == [
        Problem("no node type 'llm'", "llm", "data.type"),
        Problem("must be a positive whole number", "counter", "data.count"),
        Problem("no node type 'tool'", "tool", "data.type"),
    ]


def test_compile_workflow_marks_coroutine_nodes_as_awaiting() -> None:
    graph = build_graph([node("start", "start"), node("w", "work"), node("it", "iteration")], chain("start", "w", "it"))
    compiled = compile_workflow(graph, TestNodeFactory())
    assert compiled.awaiting == {"w", "it"}
