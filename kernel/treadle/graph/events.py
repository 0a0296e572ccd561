"""The typed events of a run, in the order they happen (the API maps them to Dify's SSE events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AgentLog",
    "ContainerNext",
    "Event",
    "NodeException",
    "NodeFailed",
    "NodeRetrying",
    "NodeStarted",
    "NodeSucceeded",
    "RunFailed",
    "RunPaused",
    "RunStarted",
    "RunStopped",
    "RunSucceeded",
    "StreamChunk",
]


@dataclass(slots=True)
class Event:
    """Base of all run events; ``run_id`` is set on every one."""

    run_id: str


@dataclass(slots=True)
class RunStarted(Event):
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunSucceeded(Event):
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    elapsed: float = 0.0


@dataclass(slots=True)
class RunFailed(Event):
    error: str = ""
    error_type: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    elapsed: float = 0.0


@dataclass(slots=True)
class RunStopped(Event):
    reason: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    elapsed: float = 0.0


@dataclass(slots=True)
class RunPaused(Event):
    reason: str = ""
    checkpoint_id: str = ""


@dataclass(slots=True)
class NodeStarted(Event):
    node_id: str = ""
    node_type: str = ""
    title: str = ""
    #: The order in which nodes started (1, 2, ...).
    index: int = 0
    #: The container run this execution belongs to: (container node id, iteration index), if any.
    scope: tuple[str, int] | None = None


@dataclass(slots=True)
class NodeSucceeded(Event):
    node_id: str = ""
    node_type: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    handle: str = "source"
    inputs: dict[str, Any] | None = None
    process_data: dict[str, Any] | None = None
    elapsed: float = 0.0
    scope: tuple[str, int] | None = None


@dataclass(slots=True)
class NodeException(Event):
    """The node failed, and its error strategy (default value or fail branch) let the run go on."""

    node_id: str = ""
    node_type: str = ""
    error: str = ""
    error_type: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    handle: str = "source"
    elapsed: float = 0.0
    scope: tuple[str, int] | None = None


@dataclass(slots=True)
class NodeFailed(Event):
    node_id: str = ""
    node_type: str = ""
    error: str = ""
    error_type: str = ""
    elapsed: float = 0.0
    scope: tuple[str, int] | None = None


@dataclass(slots=True)
class NodeRetrying(Event):
    node_id: str = ""
    node_type: str = ""
    attempt: int = 0
    error: str = ""
    scope: tuple[str, int] | None = None


@dataclass(slots=True)
class StreamChunk(Event):
    """A piece of text of an Answer (chatflow) or End (workflow) output, in template order."""

    node_id: str = ""
    text: str = ""
    #: The variable the text came from, when it is a variable's value (not a template literal).
    selector: tuple[str, ...] | None = None


@dataclass(slots=True)
class ContainerNext(Event):
    """An iteration item or loop round starts."""

    node_id: str = ""
    index: int = 0


@dataclass(slots=True)
class AgentLog(Event):
    """A step of a node's own work (an agent's rounds and tool calls): Dify's ``agent_log`` event."""

    node_id: str = ""
    node_type: str = ""
    #: ``id``, ``label``, ``parent_id``, ``status``, ``data``, ``metadata``, ``error`` as the node sent them.
    entry: dict[str, Any] = field(default_factory=dict)
    scope: tuple[str, int] | None = None
