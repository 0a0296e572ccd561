"""The workflow engine: DSL to graph, scheduler, variable pool, streaming, events, checkpoints.

This package imports no database, broker, web or configuration module: hosts inject ports
(:class:`~treadle.graph.ports.NodeFactory`, :class:`~treadle.graph.ports.CheckpointStore`).
tests/test_layering.py enforces it.
"""

from .engine import CompiledWorkflow, RunLimits, RunResult, WorkflowRun, compile_workflow
from .errors import GraphBuildError, GraphRunError, Problem
from .graph import Edge, Graph, NodeSpec, RetryPolicy, build_graph
from .ports import Checkpoint, CheckpointStore, MemoryCheckpointStore, NodeFactory
from .variables import VariablePool

__all__ = [
    "Checkpoint",
    "CheckpointStore",
    "CompiledWorkflow",
    "Edge",
    "Graph",
    "GraphBuildError",
    "GraphRunError",
    "MemoryCheckpointStore",
    "NodeFactory",
    "NodeSpec",
    "Problem",
    "RetryPolicy",
    "RunLimits",
    "RunResult",
    "VariablePool",
    "WorkflowRun",
    "build_graph",
    "compile_workflow",
]
