"""``treadle check``: everything wrong with a DSL file, found without running it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from treadle_sdk.errors import PluginNotFound
from treadle_sdk.extensions import ExtensionKind

from ..graph import GraphBuildError, Problem, build_graph, compile_workflow
from ..graph.check import unresolved_references
from ..graph.dsl import CHAT_APP_MODES, AppDSL, DSLError, load_dsl
from ..graph.dsl_dependencies import dependencies
from ..plugins.node_factory import PluginNodeFactory
from ..plugins.supervisor import PluginSupervisor
from .model_config import ModelConfigError, compile_model_config
from .workflow import WORKFLOW_MODES

__all__ = ["CheckReport", "check_dsl"]

_REQUIRED_KINDS = {"tool_provider": ExtensionKind.TOOL_PROVIDER, "model_provider": ExtensionKind.MODEL_PROVIDER}


@dataclass
class CheckReport:
    """What ``treadle check`` found: ``ok`` when the file loads, compiles and has every plugin."""

    file: str
    ok: bool = True
    app: dict[str, Any] = field(default_factory=dict)
    nodes: int = 0
    edges: int = 0
    plugins_needed: list[str] = field(default_factory=list)
    missing_plugins: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    #: Likely mistakes that do not stop the app from running.
    warnings: list[dict[str, str]] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        entry = {"message": problem.message, "node_id": problem.node_id, "path": problem.path}
        if problem.warning:
            self.warnings.append(entry)
            return
        self.ok = False
        self.problems.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in_file(app: AppDSL, problem: Problem, positions: dict[str, int]) -> Problem:
    """The problem with its path made absolute in the DSL file."""
    if problem.path.startswith("workflow.") or not problem.node_id or problem.node_id not in positions:
        return problem
    base = app.node_path(positions[problem.node_id])
    path = f"{base}.{problem.path}" if problem.path else base
    return Problem(problem.message, problem.node_id, path, warning=problem.warning)


def check_dsl(path: Path, supervisor: PluginSupervisor) -> CheckReport:
    """Load, build and compile ``path`` against the plugins of ``supervisor`` (which must be started)."""
    report = CheckReport(file=str(path))
    try:
        app = load_dsl(path)
    except DSLError as exc:
        for problem in exc.problems:
            report.add(problem)
        return report
    report.app = {"name": app.app.name, "mode": app.mode, "version": app.version}

    for requirement in dependencies(app):
        kind = _REQUIRED_KINDS.get(requirement.kind)
        if kind is None:
            continue
        label = f"{requirement.kind.replace('_', ' ')} {requirement.plugin_id}/{requirement.provider}"
        report.plugins_needed.append(label)
        try:
            supervisor.extension(kind, requirement.provider)
        except PluginNotFound:
            report.missing_plugins.append(label)
            where = ", ".join(requirement.paths) or "dependencies"
            report.add(Problem(f"needs plugin: {label} is not installed (used at {where})",
                               requirement.node_ids[0] if requirement.node_ids else ""))

    if app.mode in CHAT_APP_MODES and app.app_model_config is not None:
        return _check_model_config(app, app.app_model_config, supervisor, report)
    if app.workflow is None or app.mode not in WORKFLOW_MODES:
        return report
    positions = {node.id: index for index, node in enumerate(app.workflow.graph.nodes)}
    report.nodes = len(app.workflow.graph.nodes)
    report.edges = len(app.workflow.graph.edges)
    try:
        graph = build_graph(
            [node.model_dump(by_alias=True) for node in app.workflow.graph.nodes],
            [edge.model_dump(by_alias=True) for edge in app.workflow.graph.edges],
        )
    except GraphBuildError as exc:
        for problem in exc.problems:
            report.add(_in_file(app, problem, positions))
        return report
    for problem in unresolved_references(
        graph,
        environment={var.name for var in app.workflow.environment_variables},
        conversation={var.name for var in app.workflow.conversation_variables},
    ):
        report.add(_in_file(app, problem, positions))
    try:
        compile_workflow(graph, PluginNodeFactory(supervisor))
    except GraphBuildError as exc:
        for problem in exc.problems:
            if problem.path == "data.type":
                label = f"node type {graph.nodes[problem.node_id].type}"
                if label not in report.missing_plugins:
                    report.missing_plugins.append(label)
            report.add(_in_file(app, problem, positions))
    return report


def _check_model_config(
    app: AppDSL, config: dict[str, Any], supervisor: PluginSupervisor, report: CheckReport
) -> CheckReport:
    """A chat, agent-chat or completion app: its ``model_config`` compiles to a graph, and that graph
    to the installed node types (problems name the ``model_config`` field, not generated nodes)."""
    try:
        nodes, edges = compile_model_config(app.mode, config)
    except ModelConfigError as exc:
        report.add(Problem(exc.reason, path=exc.path))
        return report
    report.nodes, report.edges = len(nodes), len(edges)
    try:
        compile_workflow(build_graph(nodes, edges), PluginNodeFactory(supervisor))
    except GraphBuildError as exc:
        for problem in exc.problems:
            report.add(Problem(f"the app's {problem.node_id or 'graph'} node: {problem.message}", path="model_config"))
    return report
