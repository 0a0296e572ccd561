"""Node types for the engine, from plugins: inline ones are called directly, the others through
their plugin host with the variables they read sent along."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.errors import PluginError, PluginNotFound
from treadle_sdk.extensions import ExtensionKind, NodeEvent, NodeType
from treadle_sdk.nodes import NodeResult, NodeRunError, NodeRuntime, PreparedNode

from ..graph.graph import NodeSpec
from .inline import InlineKernelClient
from .supervisor import PluginSupervisor

__all__ = ["PluginNodeFactory", "RemoteNode"]


class RemoteNode(PreparedNode):
    """A node whose type lives in a plugin host: each run is one ``run`` call to that host."""

    def __init__(self, supervisor: PluginSupervisor, spec: NodeSpec) -> None:
        self.supervisor = supervisor
        self.spec = spec
        self.config: Mapping[str, Any] = spec.data
        # What the config references, plus the run's system variables, which node types read
        # without naming them (memory reads sys.conversation_id, vision defaults to sys.files).
        self._selectors = list(dict.fromkeys([*self.selectors(), *SYSTEM_SELECTORS]))

    async def run(self, rt: NodeRuntime) -> NodeResult:
        variables = []
        for selector in self._selectors:
            value = rt.get_or(selector, _MISSING)
            if value is not _MISSING:
                variables.append([list(selector), value])
        payload = {"node_id": self.spec.id, "config": dict(self.spec.data), "variables": variables}
        # The node's own kernel calls are made for the run's workspace, one level deeper.
        tenant_id, depth = "", 0
        if isinstance(rt.kernel, InlineKernelClient):
            scope = rt.kernel.scope()
            tenant_id, depth = scope.tenant_id, scope.depth + 1
        result: NodeResult | None = None
        try:
            async for event in self.supervisor.invoke(
                ExtensionKind.NODE_TYPE, self.spec.type, "run", payload, tenant_id=tenant_id, depth=depth
            ):
                assert isinstance(event, NodeEvent)
                if event.type == "chunk" and event.variable is not None:
                    rt.emit(event.variable, event.chunk or "")
                elif event.type == "assign" and event.selector is not None:
                    rt.assign(event.selector, event.value)
                elif event.type == "log" and isinstance(event.value, dict):
                    rt.log(event.value)
                elif event.type == "result":
                    result = NodeResult(
                        outputs=event.outputs or {},
                        handle=event.handle or "source",
                        inputs=event.inputs,
                        process_data=event.process_data,
                    )
        except PluginError as exc:
            error_type = str(exc.details.get("error_type") or type(exc).__name__)
            raise NodeRunError(exc.message, error_type=error_type) from exc
        if result is None:
            raise NodeRunError(f"node type {self.spec.type!r} ended without a result", error_type="MalformedNodeResult")
        return result


_MISSING = object()

#: The system variables sent to every node run in a plugin host (VAR-SYS-WORKFLOW, VAR-SYS-CHATFLOW).
SYSTEM_SELECTORS: tuple[tuple[str, str], ...] = tuple(
    ("sys", name)
    for name in (
        "user_id", "app_id", "workflow_id", "workflow_run_id", "timestamp", "files",
        "query", "conversation_id", "dialogue_count",
    )
)


class PluginNodeFactory:
    """Prepares the nodes of a graph with the node types the supervisor's plugins registered."""

    def __init__(self, supervisor: PluginSupervisor) -> None:
        self.supervisor = supervisor

    def prepare(self, spec: NodeSpec) -> PreparedNode:
        try:
            entry = self.supervisor.extension(ExtensionKind.NODE_TYPE, spec.type)
        except PluginNotFound as exc:
            available = ", ".join(exc.details.get("available", [])) or "none"
            raise LookupError(
                f"no installed plugin provides node type {spec.type!r} (node types available: {available})"
            ) from None
        if isinstance(entry.extension, NodeType):
            return entry.extension.prepare(spec.id, dict(spec.data))
        return RemoteNode(self.supervisor, spec)
