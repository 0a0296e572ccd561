"""Workflow and chatflow (advanced-chat) apps: a DSL graph compiled once, run with inputs.

The app layer puts the run's inputs where the nodes expect them: raw user inputs as the Start
node's values (the Start node checks and returns them), ``sys`` variables, ``env`` constants and
``conversation`` variables (VAR-SYS-WORKFLOW, VAR-SYS-CHATFLOW, VAR-ENV, VAR-CONVERSATION).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.context import KernelClient

from ..graph import (
    CompiledWorkflow,
    NodeFactory,
    RunLimits,
    RunResult,
    VariablePool,
    WorkflowRun,
    build_graph,
    compile_workflow,
)
from ..graph.dsl import AppDSL
from ..graph.engine import EventSink
from .app import App
from .features import AppFeatures

__all__ = ["CONVERSATION_MODES", "WORKFLOW_MODES", "RunRequest", "WorkflowApp"]

WORKFLOW_MODES = frozenset({"workflow", "advanced-chat"})
#: Modes whose runs are turns of a conversation (``sys.query``, memory, conversation variables).
CONVERSATION_MODES = frozenset({"advanced-chat", "chat", "agent-chat"})


@dataclass
class RunRequest:
    """One run of an app: user inputs, and for chatflows the message and conversation."""

    inputs: dict[str, Any] = field(default_factory=dict)
    query: str | None = None
    files: list[Any] = field(default_factory=list)
    user_id: str = ""
    conversation_id: str = ""
    dialogue_count: int = 0
    #: The conversation's variables; the run assigns into this dict (None: the DSL defaults).
    conversation: dict[str, Any] | None = None


def _typed(value_type: str, value: Any) -> Any:
    if value_type == "number" and isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return value
    return value


class WorkflowApp(App):
    """A workflow or chatflow app, compiled against the installed node types."""

    #: The modes this class runs.
    MODES: frozenset[str] = WORKFLOW_MODES

    def __init__(
        self,
        *,
        mode: str,
        nodes: Sequence[Mapping[str, Any]],
        edges: Sequence[Mapping[str, Any]],
        factory: NodeFactory,
        app_id: str = "",
        environment_variables: Sequence[Mapping[str, Any]] = (),
        conversation_variables: Sequence[Mapping[str, Any]] = (),
        features: Mapping[str, Any] | None = None,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"a {type(self).__name__}'s mode is {' or '.join(sorted(self.MODES))}, not {mode!r}")
        self.mode = mode
        #: Opening statement, follow-ups, moderation, file upload ... (``workflow.features``).
        self.features = AppFeatures.parse(features or {})
        self.app_id = app_id or str(uuid.uuid4())
        self.workflow_id = str(uuid.uuid4())
        self.compiled: CompiledWorkflow = compile_workflow(build_graph(nodes, edges), factory)
        self.environment = {
            str(var["name"]): _typed(str(var.get("value_type", "string")), var.get("value"))
            for var in environment_variables
            if isinstance(var, Mapping) and var.get("name")
        }
        self.conversation_defaults = {
            str(var["name"]): var.get("value")
            for var in conversation_variables
            if isinstance(var, Mapping) and var.get("name")
        }
        graph = self.compiled.graph
        starts = [node_id for node_id in graph.roots.get(None, ()) if graph.nodes[node_id].type == "start"]
        self.start_node = starts[0] if starts else None

    @classmethod
    def from_dsl(cls, app: AppDSL, factory: NodeFactory, *, app_id: str = "") -> WorkflowApp:
        """The app a loaded DSL describes (modes workflow and advanced-chat)."""
        if app.workflow is None or app.mode not in WORKFLOW_MODES:
            raise ValueError(f"a {app.mode!r} app has no workflow graph to run as a workflow app")
        graph = app.workflow.graph
        return cls(
            mode=app.mode,
            nodes=[node.model_dump(by_alias=True) for node in graph.nodes],
            edges=[edge.model_dump(by_alias=True) for edge in graph.edges],
            factory=factory,
            app_id=app_id,
            environment_variables=[var.model_dump() for var in app.workflow.environment_variables],
            conversation_variables=[var.model_dump() for var in app.workflow.conversation_variables],
            features=app.workflow.features,
        )

    @property
    def is_chat(self) -> bool:
        return self.mode in CONVERSATION_MODES

    def new_run(
        self,
        request: RunRequest,
        *,
        run_id: str | None = None,
        limits: RunLimits | None = None,
        on_event: EventSink | None = None,
        kernel: KernelClient | None = None,
    ) -> WorkflowRun:
        if self.features.file_upload is not None:
            self.features.file_upload.check(request.files)
        run_id = run_id or str(uuid.uuid4())
        system: dict[str, Any] = {
            "user_id": request.user_id,
            "app_id": self.app_id,
            "workflow_id": self.workflow_id,
            "workflow_run_id": run_id,
            "timestamp": int(time.time()),
            "files": list(request.files),
        }
        if self.is_chat:
            system.update(
                query=request.query or "",
                conversation_id=request.conversation_id,
                dialogue_count=request.dialogue_count,
            )
        conversation = request.conversation
        if conversation is None:
            conversation = {name: _copy(value) for name, value in self.conversation_defaults.items()}
        pool = VariablePool.for_run(system=system, environment=self.environment, conversation=conversation)
        if self.start_node is not None:
            pool.set_outputs(self.start_node, dict(request.inputs))
        return WorkflowRun(self.compiled, pool, run_id=run_id, limits=limits, on_event=on_event, kernel=kernel)

    async def run(
        self,
        request: RunRequest,
        *,
        limits: RunLimits | None = None,
        on_event: EventSink | None = None,
        kernel: KernelClient | None = None,
    ) -> RunResult:
        return await self.new_run(request, limits=limits, on_event=on_event, kernel=kernel).run()


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
