"""Times workflow graphs on Dify's engine, graphon: the baseline of bench/engine.py.

    <graphon venv>/bin/python bench/graphon_runner.py < cases.json > timings.json

Runs in graphon's own virtual environment (Python 3.12), so it imports nothing from Treadle. It
reads ``{"cases": [{"name", "graph": {"nodes", "edges"}, "warmup", "repeats"}]}`` on stdin: Dify
DSL graphs whose node types are ``start``, ``end`` (graphon's own nodes) and ``trivial``, a node
defined here that outputs ``{"value": 1}``. It prints, as JSON, for each case the seconds of every
timed run, split into ``build`` (the variable pool, runtime state and ``Graph.init``, which graphon
needs afresh for every run: its node objects hold the run's state) and ``run`` (``GraphEngine``
built and its event stream drained), plus the versions used.

This is how Dify drives the engine (api/core/workflow/workflow_entry.py: ``Graph.init`` with a
node factory bound to a fresh ``GraphRuntimeState``, then ``GraphEngine`` with an in-memory
command channel), less its layers (execution limits, LLM quota, observability), which would only
add to graphon's time; GraphEngineConfig is the default (1 to 5 worker threads).

One change to the interpreter: graphon finds the paths from the root to each End node recursively,
one stack frame per node, so a 1000-node chain needs more than Python's default recursion limit of
1000 (``RECURSION_LIMIT``).
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Mapping
from typing import Any

from graphon.entities.base_node_data import BaseNodeData
from graphon.entities.graph_config import NodeConfigDict
from graphon.entities.graph_init_params import GraphInitParams
from graphon.enums import WorkflowNodeExecutionStatus
from graphon.graph.graph import Graph
from graphon.graph_engine.command_channels import InMemoryChannel
from graphon.graph_engine.graph_engine import GraphEngine
from graphon.graph_events.graph import GraphRunSucceededEvent
from graphon.node_events.base import NodeRunResult
from graphon.nodes.base.node import Node
from graphon.nodes.end.end_node import EndNode
from graphon.nodes.start.start_node import StartNode
from graphon.runtime.graph_runtime_state import GraphRuntimeState
from graphon.runtime.variable_pool import VariablePool

RECURSION_LIMIT = 10_000


class TrivialNodeData(BaseNodeData):
    type: str = "trivial"


class TrivialNode(Node[TrivialNodeData]):
    """Outputs ``value = 1``; reads nothing."""

    node_type = "trivial"

    @classmethod
    def version(cls) -> str:
        return "1"

    def _run(self) -> NodeRunResult:
        return NodeRunResult(status=WorkflowNodeExecutionStatus.SUCCEEDED, outputs={"value": 1})


NODE_CLASSES: dict[str, type[Node[Any]]] = {"start": StartNode, "end": EndNode, "trivial": TrivialNode}


class BenchNodeFactory:
    """graphon's ``NodeFactory`` protocol: node objects bound to one run's init params and state."""

    def __init__(self, init_params: GraphInitParams, state: GraphRuntimeState) -> None:
        self.init_params = init_params
        self.state = state

    def create_node(self, node_config: NodeConfigDict) -> Node[Any]:
        data = node_config["data"]
        node_type = data.type if isinstance(data, BaseNodeData) else data["type"]
        cls = NODE_CLASSES[node_type]
        return cls(
            id=node_config["id"],
            config=node_config,
            graph_init_params=self.init_params,
            graph_runtime_state=self.state,
        )


def run_once(graph_config: Mapping[str, Any], root: str) -> tuple[float, float, dict[str, Any]]:
    started = time.perf_counter()
    state = GraphRuntimeState(variable_pool=VariablePool(), start_at=started)
    init_params = GraphInitParams(workflow_id="bench", graph_config=graph_config, run_context={}, call_depth=0)
    graph = Graph.init(
        graph_config=graph_config, node_factory=BenchNodeFactory(init_params, state), root_node_id=root
    )
    built = time.perf_counter()
    engine = GraphEngine(workflow_id="bench", graph=graph, graph_runtime_state=state, command_channel=InMemoryChannel())
    events = list(engine.run())
    last = events[-1] if events else None
    finished = time.perf_counter()
    if not isinstance(last, GraphRunSucceededEvent):
        raise RuntimeError(f"graphon run did not succeed: {last!r}")
    return built - started, finished - built, dict(last.outputs)


def main() -> None:
    request = json.load(sys.stdin)
    sys.setrecursionlimit(RECURSION_LIMIT)
    results: dict[str, Any] = {}
    for case in request["cases"]:
        graph = case["graph"]
        root = next(n["id"] for n in graph["nodes"] if n["data"]["type"] == "start")
        outputs: dict[str, Any] = {}
        gc.collect()  # garbage of the previous case is not this case's cost
        for _ in range(case["warmup"]):
            run_once(graph, root)
        build, run = [], []
        for _ in range(case["repeats"]):
            b, r, outputs = run_once(graph, root)
            build.append(b)
            run.append(r)
        results[case["name"]] = {"build_s": build, "run_s": run, "outputs": outputs}
    json.dump(
        {
            "python": platform.python_version(),
            "graphon": importlib.metadata.version("graphon"),
            "pydantic": importlib.metadata.version("pydantic"),
            "recursion_limit": RECURSION_LIMIT,
            "cases": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
