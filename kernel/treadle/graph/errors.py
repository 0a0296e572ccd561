"""The engine's errors: one for graphs that cannot be built, one for runs that cannot go on."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GraphBuildError", "GraphRunError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: what, and where (node id and the path in the DSL)."""

    message: str
    node_id: str = ""
    path: str = ""
    #: A warning does not stop the graph from running (Dify runs it too), but is likely a mistake.
    warning: bool = False

    def __str__(self) -> str:
        where = ", ".join(part for part in (f"node {self.node_id}" if self.node_id else "", self.path) if part)
        return f"{where}: {self.message}" if where else self.message


class GraphBuildError(ValueError):
    """The graph cannot be compiled; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the workflow graph has {len(problems)} problem(s):\n{lines}")


class GraphRunError(RuntimeError):
    """A run stopped for a reason of the engine's own (a run limit, a stop command)."""

    def __init__(self, message: str, *, error_type: str = "GraphRunError") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
