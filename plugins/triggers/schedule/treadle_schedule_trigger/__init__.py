"""The schedule trigger (NODE-TRIGGER-SCHEDULE): the ``trigger-schedule`` start node.

A workflow that starts with this node is started by its schedule; run by hand ("Run this step"),
it starts at once. The node has no output variables: the run's ``sys.timestamp`` is the time it
started. Firing runs on the schedule is the job of the trigger service, which comes with the
triggers work; this node type checks the schedule's configuration and lets such workflows import
and run.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk import NodeType, hookimpl

from .node import ScheduleTriggerNode

__all__ = ["ScheduleTriggerNode", "register_node_types"]


@hookimpl
def register_node_types(register: Callable[[NodeType], None]) -> None:
    register(ScheduleTriggerNode())
