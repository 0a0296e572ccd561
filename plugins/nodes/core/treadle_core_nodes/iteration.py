"""The Iteration node: its sub-graph once per element of an array (NODE-ITERATION).

``iterator_selector`` names the array; each run of the children sees ``item`` and ``index``
(0-based) as ``[iteration_id, "item"]`` and ``[iteration_id, "index"]``; ``output_selector`` names
the variable (inside the sub-graph) collected from each run into ``output``, in input order.

- ``is_parallel`` runs up to ``parallel_nums`` items at once (at most 10), else one after another.
- ``error_handle_mode``: ``terminated`` (default) fails the node at the first failed item;
  ``continue-on-error`` puts ``null`` in a failed item's place; ``remove-abnormal-output`` leaves
  failed items out.
- ``flatten_output`` (default true): when every result is an array, ``output`` is their
  concatenation (``null`` results dropped), as Dify has done since 1.8.1.

An empty or ``null`` array gives ``{"output": []}`` without running the children.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import choice, flag, integer, parse_optional_selector, parse_selector
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

from .selectors import dotted

__all__ = [
    "ERROR_MODES",
    "MAX_PARALLELISM",
    "IterationConfig",
    "IterationError",
    "IterationNode",
    "IterationNodeType",
    "flatten_outputs",
    "parse_iteration",
]

#: The most items a parallel iteration runs at once (NODE-ITERATION).
MAX_PARALLELISM = 10
ERROR_MODES = frozenset({"terminated", "continue-on-error", "remove-abnormal-output"})

_FAILED = object()


class IterationError(NodeRunError):
    """An iteration could not run, or (in ``terminated`` mode) one of its items failed."""

    error_type = "IterationNodeError"


@dataclass(frozen=True, slots=True)
class IterationConfig:
    """An Iteration node's settings."""

    iterator: Selector
    output: Selector | None
    parallelism: int = 1
    error_mode: str = "terminated"
    flatten: bool = True


def parse_iteration(config: Mapping[str, Any]) -> IterationConfig:
    """The settings of an Iteration node's DSL ``data``. ``parallel_nums`` above 10 is read as 10
    (Dify's editor caps it there; the engine never runs more)."""
    parallel = flag(config.get("is_parallel"), "is_parallel")
    parallel_nums = integer(config.get("parallel_nums"), "parallel_nums", MAX_PARALLELISM, minimum=1)
    return IterationConfig(
        iterator=parse_selector(config.get("iterator_selector"), "iterator_selector"),
        output=parse_optional_selector(config.get("output_selector"), "output_selector"),
        parallelism=min(parallel_nums, MAX_PARALLELISM) if parallel else 1,
        error_mode=choice(config.get("error_handle_mode"), "error_handle_mode", ERROR_MODES, "terminated"),
        flatten=flag(config.get("flatten_output"), "flatten_output", True),
    )


def flatten_outputs(outputs: list[Any]) -> list[Any]:
    """One level flatter when every non-null result is an array (nulls dropped); else as is."""
    present = [output for output in outputs if output is not None]
    if not present or not all(isinstance(output, list) for output in present):
        return outputs
    return [element for output in present for element in output]


class IterationNode(PreparedNode):
    """A prepared Iteration node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.iteration = parse_iteration(config)

    def selectors(self) -> list[Selector]:
        """The array; the output variable is read from each run of the children, not from outside."""
        return [self.iteration.iterator]

    async def _one(self, rt: NodeRuntime, index: int, item: Any) -> Any:
        """The result of one item, or ``_FAILED`` when it failed and the error mode goes on."""
        try:
            child = await rt.run_children({"item": item, "index": index})
        except NodeRunError as exc:
            if self.iteration.error_mode == "terminated":
                raise IterationError(f"item {index} failed: {exc.message}") from exc
            return _FAILED
        if self.iteration.output is None:
            return None
        try:
            return child.get(self.iteration.output)
        except VariableNotFound:
            return None

    async def _parallel(self, rt: NodeRuntime, array: list[Any]) -> list[Any]:
        results: list[Any] = [None] * len(array)
        pending: Iterator[tuple[int, Any]] = iter(enumerate(array))

        async def worker() -> None:
            # Workers share one iterator: at most `parallelism` items run at once, started in order.
            for index, item in pending:
                results[index] = await self._one(rt, index, item)

        tasks = [asyncio.create_task(worker()) for _ in range(min(self.iteration.parallelism, len(array)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return results

    async def run(self, rt: NodeRuntime) -> NodeResult:
        iteration = self.iteration
        try:
            array = rt.get(iteration.iterator)
        except VariableNotFound:
            raise IterationError(f"the array to iterate over, {dotted(iteration.iterator)}, does not exist") from None
        if array is None or (isinstance(array, list) and not array):
            return NodeResult({"output": []}, inputs={"iterator_selector": []})
        if not isinstance(array, list):
            raise IterationError(
                f"{dotted(iteration.iterator)} must be an array to iterate over, not {type(array).__name__}"
            )
        if iteration.parallelism > 1 and len(array) > 1:
            results = await self._parallel(rt, array)
        else:
            results = [await self._one(rt, index, item) for index, item in enumerate(array)]
        if iteration.error_mode == "remove-abnormal-output":
            results = [result for result in results if result is not _FAILED]
        else:
            results = [None if result is _FAILED else result for result in results]
        if iteration.flatten:
            results = flatten_outputs(results)
        return NodeResult({"output": results}, inputs={"iterator_selector": array})


class IterationNodeType(NodeType):
    """``iteration``: runs its children once per array element."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="iteration",
        label="Iteration",
        description="Runs its sub-graph once per element of an array, in order or in parallel, and collects "
        "one output per element.",
        container=True,
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return IterationNode(node_id, config)
