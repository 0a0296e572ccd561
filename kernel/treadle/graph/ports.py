"""What the engine needs from its host, as small interfaces: node preparation and checkpoints.

The engine imports no database, broker or plugin machinery; the application layer passes these in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from treadle_sdk.nodes import PreparedNode

from .graph import NodeSpec

__all__ = ["Checkpoint", "CheckpointStore", "MemoryCheckpointStore", "NodeFactory"]


class NodeFactory(Protocol):
    """Turns a node of the graph into something the engine can run (whatever plugin provides it)."""

    def prepare(self, spec: NodeSpec) -> PreparedNode:
        """Raise ``NodeConfigError`` for a bad configuration, ``LookupError`` for an unknown type."""
        ...


@dataclass
class Checkpoint:
    """A run's state between two nodes: enough to carry on where it stopped.

    ``version`` guards against reading a checkpoint written by an engine of another shape.
    """

    run_id: str
    status: str
    variables: dict[str, dict[str, Any]]
    remaining: dict[str, int]
    taken: list[str]
    ready: list[str]
    done: list[str]
    outputs: dict[str, Any]
    answer: str
    steps: int
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class CheckpointStore(Protocol):
    async def save(self, checkpoint: Checkpoint) -> None: ...

    async def load(self, run_id: str) -> Checkpoint | None: ...


class MemoryCheckpointStore:
    """Checkpoints in a dict (a deep copy each, so later changes to the run do not leak in)."""

    def __init__(self) -> None:
        self._items: dict[str, Checkpoint] = {}

    async def save(self, checkpoint: Checkpoint) -> None:
        self._items[checkpoint.run_id] = copy.deepcopy(checkpoint)

    async def load(self, run_id: str) -> Checkpoint | None:
        found = self._items.get(run_id)
        return copy.deepcopy(found) if found is not None else None
