"""What every app is, whatever its mode: loaded from a DSL, run with a :class:`RunRequest`."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..graph import NodeFactory, RunLimits, RunResult, WorkflowRun
    from ..graph.dsl import AppDSL
    from ..graph.engine import EventSink
    from .features import AppFeatures
    from .workflow import RunRequest

__all__ = ["App"]


class App(abc.ABC):
    """An app of any of the five modes, compiled to a graph for the engine.

    ``App.from_dsl`` gives the class that runs the DSL's mode: :class:`~treadle.apps.WorkflowApp`
    (workflow, advanced-chat) or :class:`~treadle.apps.ModelConfigApp` (chat, agent-chat, completion).
    """

    mode: str
    app_id: str
    features: AppFeatures

    @classmethod
    def from_dsl(cls, app: AppDSL, factory: NodeFactory, *, app_id: str = "") -> App:
        """The app a loaded DSL describes, of the class for its mode."""
        from .chat import ModelConfigApp
        from .workflow import WorkflowApp

        runner: type[App] = WorkflowApp if app.workflow is not None else ModelConfigApp
        return runner.from_dsl(app, factory, app_id=app_id)

    @property
    @abc.abstractmethod
    def is_chat(self) -> bool:
        """Whether a run is a turn of a conversation (it has a query and memory)."""

    @abc.abstractmethod
    def new_run(
        self,
        request: RunRequest,
        *,
        run_id: str | None = None,
        limits: RunLimits | None = None,
        on_event: EventSink | None = None,
        kernel: Any = None,
    ) -> WorkflowRun:
        """A run of the app, ready to start (its events go to ``on_event``)."""

    @abc.abstractmethod
    async def run(
        self,
        request: RunRequest,
        *,
        limits: RunLimits | None = None,
        on_event: EventSink | None = None,
        kernel: Any = None,
    ) -> RunResult:
        """Run the app to its end."""
