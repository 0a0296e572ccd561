"""The runtime's errors: one small hierarchy, each saying what was wrong and where."""

from __future__ import annotations

from collections.abc import Sequence

from ..graph.errors import Problem

__all__ = ["AppImportError", "AppManagerError", "AppModeError", "AppNotFound", "WorkspaceNotFound"]


class AppManagerError(Exception):
    """Base of the errors of app management (import, publish, export, keys)."""


class AppNotFound(AppManagerError, LookupError):
    """No app (or version) with this id in the workspace; another workspace's app is not found either."""

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"{kind} {record_id!r} not found")


class WorkspaceNotFound(AppManagerError, LookupError):
    """The workspace named (by id or name) does not exist, or the database has none yet."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AppImportError(AppManagerError, ValueError):
    """A DSL cannot become an app; ``problems`` says where, each with its DSL path and node id.

    ``source`` is where the DSL came from (a file name), or ``""`` for text.
    """

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = f"{head}cannot import: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"{head}cannot import, {len(self.problems)} problems:\n{lines}"
        super().__init__(message)


class AppModeError(AppManagerError, ValueError):
    """The operation does not apply to an app of this mode (chat, agent-chat and completion apps
    have a ``model_config`` and no workflow versions)."""

    def __init__(self, app_id: str, mode: str, operation: str) -> None:
        self.app_id = app_id
        self.mode = mode
        self.operation = operation
        super().__init__(
            f"app {app_id!r} is a {mode} app: {operation} applies to workflow and advanced-chat apps only "
            "(a model_config app runs its saved model_config)"
        )
