"""Dify app DSL files: load (versions 0.1.0 to 0.6.0), validate, normalise, and export back.

A DSL file is YAML (or the console's export, ``{"data": "<yaml>"}`` as JSON)::

    version: 0.5.0
    kind: app
    app: {mode: workflow, name: ..., description: ...}
    dependencies: [{type: marketplace, value: {marketplace_plugin_unique_identifier: ...}}]
    workflow:                       # modes workflow and advanced-chat
      graph: {nodes: [...], edges: [...]}
      environment_variables: [...]  # VAR-ENV
      conversation_variables: [...] # VAR-CONVERSATION (advanced-chat)
      features: {...}
    model_config: {...}             # modes chat, agent-chat, completion, instead of workflow

:func:`load_dsl` parses the file, rewrites legacy shapes into one canonical form (see
:mod:`treadle.graph.dsl_normalize`) and validates it into an :class:`AppDSL`; every problem found is
reported at once in a :class:`DSLError`, each with its DSL path and node id. :func:`dump_dsl` writes an
``AppDSL`` back as YAML that Dify and Treadle both import; loading what it writes gives the same app.

The models keep every field they do not name (the editor's positions, sizes, UI flags, node settings
that the node plugins read), so nothing is lost between import and export.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from .dsl_normalize import normalize_graph
from .errors import Problem

__all__ = [
    "CHAT_APP_MODES",
    "DSL_VERSION",
    "GRAPH_APP_MODES",
    "MAX_DSL_BYTES",
    "OLDEST_DSL_VERSION",
    "AppDSL",
    "AppInfo",
    "AppMode",
    "ConversationVariable",
    "DSLError",
    "DSLGraph",
    "DSLWorkflow",
    "DeclaredDependency",
    "Edge",
    "EnvironmentVariable",
    "Node",
    "NodeData",
    "dump_dsl",
    "load_dsl",
]

#: The DSL version :func:`dump_dsl` writes: the newest Treadle reads, whose shapes the canonical form uses.
DSL_VERSION = "0.6.0"
#: The oldest DSL version there is (Dify reads a file without ``version`` as this one).
OLDEST_DSL_VERSION = "0.1.0"
#: The largest DSL file accepted, as in Dify.
MAX_DSL_BYTES = 10 * 1024 * 1024

AppMode = Literal["workflow", "advanced-chat", "chat", "agent-chat", "completion"]
#: Modes whose app is a workflow graph.
GRAPH_APP_MODES = frozenset({"workflow", "advanced-chat"})
#: Modes whose app is a ``model_config`` (compiled to a graph by ``treadle.apps``).
CHAT_APP_MODES = frozenset({"chat", "agent-chat", "completion"})

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class DSLError(ValueError):
    """A DSL file cannot be loaded. ``problems`` lists every problem found, each with its DSL path
    (``workflow.graph.nodes[3].data.type``) and node id where there is one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        if len(problems) == 1:
            message = f"invalid DSL: {problems[0]}"
        else:
            lines = "\n".join(f"  - {problem}" for problem in problems)
            message = f"invalid DSL, {len(problems)} problems:\n{lines}"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------------------


class _Open(BaseModel):
    """A DSL mapping: the fields Treadle reads, and every other field kept as it came."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class AppInfo(_Open):
    """``app``: what the app is (icons and answer-icon flags are kept as extra fields)."""

    mode: AppMode
    name: str = ""
    description: str = ""


class NodeData(_Open):
    """A node's ``data``: its DSL node ``type`` and ``title``, and the settings of its node type."""

    type: str = Field(min_length=1)
    title: str = ""


class Node(_Open):
    """A node of ``workflow.graph.nodes``. ``parent_id`` (``parentId``) is the iteration or loop it is
    in; ``type`` is the editor's React Flow type (``custom``), not the DSL node type."""

    id: str = Field(min_length=1)
    type: str = "custom"
    data: NodeData
    parent_id: str | None = Field(default=None, alias="parentId")


class Edge(_Open):
    """An edge of ``workflow.graph.edges``, leaving ``source`` by the handle ``source_handle``
    (``source``, ``true``/``false``, a case or class id, ``fail-branch``)."""

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    source_handle: str = Field(default="source", alias="sourceHandle")
    target_handle: str = Field(default="target", alias="targetHandle")
    data: dict[str, Any] = Field(default_factory=dict)


class DSLGraph(_Open):
    """``workflow.graph`` (the editor's ``viewport`` is kept as an extra field)."""

    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)


class EnvironmentVariable(_Open):
    """An environment variable (VAR-ENV): a constant, read as ``{{#env.name#}}``. A ``secret``
    one is left out of exports unless asked for."""

    name: str = Field(min_length=1)
    value_type: Literal["string", "number", "secret"]
    value: Any = ""
    id: str = ""
    description: str = ""


class ConversationVariable(_Open):
    """A conversation variable (VAR-CONVERSATION): its type and the value each conversation starts
    with; read as ``{{#conversation.name#}}``, written by assigners."""

    name: str = Field(min_length=1)
    value_type: Literal[
        "string",
        "number",
        "integer",
        "boolean",
        "object",
        "array[string]",
        "array[number]",
        "array[boolean]",
        "array[object]",
    ]
    value: Any = None
    id: str = ""
    description: str = ""


class DSLWorkflow(_Open):
    """``workflow``: the graph and its variables; ``features`` (opening statement, file upload ...) as
    data for the app layer."""

    graph: DSLGraph
    features: dict[str, Any] = Field(default_factory=dict)
    environment_variables: list[EnvironmentVariable] = Field(default_factory=list)
    conversation_variables: list[ConversationVariable] = Field(default_factory=list)


class DeclaredDependency(_Open):
    """An entry of ``dependencies``: a plugin the exporting Dify had installed (since DSL 0.1.5)."""

    type: Literal["marketplace", "github", "package"]
    value: dict[str, Any] = Field(default_factory=dict)

    @property
    def unique_identifier(self) -> str:
        """``organization/plugin:version@checksum``, or ``""`` if the entry names none."""
        for key in (
            "marketplace_plugin_unique_identifier",
            "github_plugin_unique_identifier",
            "plugin_unique_identifier",
        ):
            if isinstance(self.value.get(key), str):
                return str(self.value[key])
        return ""


class AppDSL(_Open):
    """A whole DSL file, loaded and in canonical form. ``version`` is the version the file declared."""

    version: str
    kind: Literal["app"] = "app"
    app: AppInfo
    dependencies: list[DeclaredDependency] = Field(default_factory=list)
    workflow: DSLWorkflow | None = None
    #: ``model_config`` of chat, agent-chat and completion apps, as data.
    app_model_config: dict[str, Any] | None = Field(default=None, alias="model_config")
    #: Where each node of the graph was in the file (notes, which are dropped, count there).
    _source_indexes: list[int] = PrivateAttr(default_factory=list)

    @property
    def mode(self) -> AppMode:
        return self.app.mode

    def node_path(self, index: int) -> str:
        """The DSL path of ``workflow.graph.nodes[index]`` as the loaded file numbers it (problems
        found later, when the graph is compiled, point there)."""
        indexes = self._source_indexes
        return f"workflow.graph.nodes[{indexes[index] if index < len(indexes) else index}]"


# ---------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = exc.problem or exc.context or "unreadable"
        raise DSLError([Problem(f"invalid YAML{at}{where}: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise DSLError([Problem(f"invalid YAML{where}: {exc}")]) from None


def _parse(text: str) -> Any:
    """The document in ``text``: YAML, or the console's JSON export; ``{"data": "<yaml>"}`` unwrapped."""
    document: Any
    if text.lstrip().startswith("{"):
        try:
            # JSON first: the export escapes emoji as surrogate pairs, which YAML reads as two characters.
            document = json.loads(text)
        except json.JSONDecodeError:
            document = _parse_yaml(text, "")
    else:
        document = _parse_yaml(text, "")
    if isinstance(document, dict) and isinstance(document.get("data"), str) and "app" not in document:
        document = _parse_yaml(document["data"], " (in the export's data)")
    return document


def _read(source: str | bytes | os.PathLike[str]) -> str:
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > MAX_DSL_BYTES:
                raise DSLError([Problem(f"{path} is {size} bytes; a DSL file may have at most {MAX_DSL_BYTES}")])
            source = path.read_bytes()
        except OSError as exc:
            raise DSLError([Problem(f"cannot read {path}: {exc.strerror or exc}")]) from None
    if isinstance(source, bytes):
        if len(source) > MAX_DSL_BYTES:
            raise DSLError([Problem(f"the DSL is {len(source)} bytes; it may have at most {MAX_DSL_BYTES}")])
        try:
            return source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DSLError(
                [Problem(f"the DSL is not UTF-8 text (byte {exc.start} is {source[exc.start]:#04x})")]
            ) from None
    if len(source) > MAX_DSL_BYTES:
        raise DSLError([Problem(f"the DSL is {len(source)} characters; it may have at most {MAX_DSL_BYTES}")])
    return source


def _check_header(document: dict[str, Any], problems: list[Problem]) -> None:
    """Version, kind and mode, defaulted as Dify does; an unsupported one is a problem naming it."""
    version = document.get("version")
    version = OLDEST_DSL_VERSION if version in (None, "") else str(version)
    document["version"] = version
    if not _VERSION.fullmatch(version) or not _version(OLDEST_DSL_VERSION) <= _version(version) <= _version(
        DSL_VERSION
    ):
        problems.append(
            Problem(
                f"DSL version {version!r} is not supported (only {OLDEST_DSL_VERSION} to {DSL_VERSION})", "", "version"
            )
        )
    kind = document.setdefault("kind", "app")
    if kind != "app":
        problems.append(Problem(f"kind {kind!r} is not supported (only app DSL files)", "", "kind"))
    app = document.get("app")
    if not isinstance(app, dict):
        problems.append(Problem("the file has no app section", "", "app"))
        return
    mode = app.get("mode")
    if mode in GRAPH_APP_MODES:
        workflow = document.get("workflow")
        if not isinstance(workflow, dict):
            problems.append(Problem(f"a {mode} app needs a workflow section", "", "workflow"))
        elif not isinstance(workflow.get("graph"), dict):
            problems.append(Problem(f"a {mode} app needs workflow.graph", "", "workflow.graph"))
    elif mode in CHAT_APP_MODES:
        if not isinstance(document.get("model_config"), dict):
            problems.append(Problem(f"a {mode} app needs a model_config section", "", "model_config"))
    else:
        modes = ", ".join(sorted(GRAPH_APP_MODES | CHAT_APP_MODES))
        problems.append(Problem(f"app mode {mode!r} is not supported (only {modes})", "", "app.mode"))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _validation_problems(exc: ValidationError, document: dict[str, Any], origins: list[int]) -> list[Problem]:
    """Pydantic's errors as problems: the path as the file spells it, with the node id."""
    problems: list[Problem] = []
    graph = (document.get("workflow") or {}).get("graph") or {}
    for error in exc.errors():
        loc = list(error["loc"])
        node_id = ""
        if loc[:3] == ["workflow", "graph", "nodes"] and len(loc) > 3 and isinstance(loc[3], int):
            kept = loc[3]
            node = graph["nodes"][kept]
            node_id = str(node.get("id") or "") if isinstance(node, dict) else ""
            loc[3] = origins[kept] if kept < len(origins) else kept
        elif loc[:3] == ["workflow", "graph", "edges"] and len(loc) > 3 and isinstance(loc[3], int):
            edge = graph["edges"][loc[3]]
            node_id = str(edge.get("source") or "") if isinstance(edge, dict) else ""
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        problems.append(Problem(error["msg"], node_id, path))
    return problems


def load_dsl(source: str | bytes | os.PathLike[str]) -> AppDSL:
    """Load a Dify app DSL: YAML text (``str`` or ``bytes``), or the file at a ``Path``; the console
    export ``{"data": "<yaml>"}`` (as JSON or YAML) too. Raise :class:`DSLError` listing every problem.

    Versions 0.1.0 to 0.6.0; a file without ``version`` is 0.1.0 and one without ``kind`` an app, as
    in Dify. Modes workflow and advanced-chat load their graph, normalised
    (:mod:`treadle.graph.dsl_normalize`); chat, agent-chat and completion keep ``model_config``.
    """
    text = _read(source)
    document = _parse(text)
    if not isinstance(document, dict):
        hint = ""
        if isinstance(source, str) and "\n" not in source.strip() and source.strip().endswith((".yml", ".yaml")):
            hint = " (to load a file, pass a pathlib.Path)"
        found = "nothing" if document is None else f"a {type(document).__name__}"
        raise DSLError([Problem(f"a DSL file is a mapping with app, kind and version; this is {found}{hint}")])
    problems: list[Problem] = []
    _check_header(document, problems)
    if problems:
        raise DSLError(problems)
    origins: list[int] = []
    if document["app"]["mode"] in GRAPH_APP_MODES:
        origins = normalize_graph(document["workflow"]["graph"], problems)
    elif not document.get("workflow"):
        # Some exports of model_config apps carry an empty workflow section.
        document.pop("workflow", None)
    if document.get("dependencies") is None:
        document["dependencies"] = []
    try:
        app = AppDSL.model_validate(document)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, document, origins))
        app = None
    if problems or app is None:
        raise DSLError(problems)
    app._source_indexes = origins
    return app


# ---------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes text of several lines as literal blocks (``|``), so code and prompts stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_dsl(app: AppDSL, *, include_secrets: bool = False) -> str:
    """``app`` as DSL YAML of version :data:`DSL_VERSION`, in the canonical form.

    Secret environment variables are written with an empty value, and the ``credential_id`` of tool
    nodes and agent tools is left out, unless ``include_secrets`` (VAR-ENV: Dify asks the same
    question on export).
    """
    body = app.model_dump(mode="json", by_alias=True, exclude_unset=True)
    document: dict[str, Any] = {
        "app": body.pop("app"),
        "dependencies": body.pop("dependencies", []),
        "kind": "app",
        "version": DSL_VERSION,
    }
    body.pop("kind", None)
    body.pop("version", None)
    workflow = body.get("workflow")
    if workflow and not include_secrets:
        for variable in workflow.get("environment_variables", []):
            if variable.get("value_type") == "secret":
                variable["value"] = ""
        # Stored credentials a tool node or an agent's tools use belong to this workspace (as Dify does).
        for node in workflow.get("graph", {}).get("nodes", []):
            data = node.get("data") or {}
            data.pop("credential_id", None)
            tools = ((data.get("agent_parameters") or {}).get("tools") or {}).get("value")
            for tool in tools if isinstance(tools, list) else []:
                if isinstance(tool, dict):
                    tool.pop("credential_id", None)
    document.update(body)
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
