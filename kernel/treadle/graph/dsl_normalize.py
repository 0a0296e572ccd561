"""Legacy shapes of Dify's ``workflow.graph``, turned into one canonical form before validation.

Dify's editor has saved the same things in several shapes over DSL versions 0.1.0 to 0.6.0, and
hand-written files leave out what the editor always writes. :func:`normalize_graph` rewrites a
parsed graph in place so the engine and the node plugins see one shape (each step below says which):

- note nodes are dropped (:func:`drop_notes`);
- ids and selectors are strings (:func:`stringify_ids`);
- every node has a React Flow ``type`` (:func:`complete_node_type`);
- every edge has ``sourceHandle``, ``targetHandle`` and an ``id`` (:func:`complete_edges`);
- assigner v1 becomes assigner v2 (:func:`upgrade_assigner`);
- if-else's single condition list becomes one case (:func:`upgrade_if_else`);
- tool providers are plugin-qualified (:func:`qualify_tool_provider`);
- each node inside an iteration or loop names it consistently (:func:`reconcile_containers`).

Problems are collected, not raised, so one load reports all of them; their paths use the node's
index in the file as written (notes included), which is what its author sees.
"""

from __future__ import annotations

from typing import Any

from treadle_sdk.nodes import SOURCE_HANDLE

from .errors import Problem
from .provider_ids import parse_provider_id

__all__ = [
    "CONTAINER_KEYS",
    "NOTE_NODE_TYPE",
    "PLUGIN_TOOL_PROVIDER_TYPES",
    "TARGET_HANDLE",
    "complete_edges",
    "complete_node_type",
    "drop_notes",
    "normalize_graph",
    "qualify_tool_provider",
    "reconcile_containers",
    "stringify_ids",
    "upgrade_assigner",
    "upgrade_if_else",
]

#: The handle of an edge's target end (nodes have one input).
TARGET_HANDLE = "target"

#: The editor's React Flow node type of a note.
NOTE_NODE_TYPE = "custom-note"
#: The React Flow node type by DSL node type, for files that leave it out.
_UI_NODE_TYPES = {"iteration-start": "custom-iteration-start", "loop-start": "custom-loop-start"}
_UI_DEFAULT_NODE_TYPE = "custom"

#: Keys inside node data whose value is a node id (or a branch handle that must match an edge's).
_ID_KEYS = frozenset({"iteration_id", "loop_id", "start_node_id", "case_id"})
#: Lists whose items' ``id`` is a branch handle (if-else cases, question-classifier classes).
_HANDLE_LISTS = frozenset({"cases", "classes"})

#: The container node types, with the data keys that name a child's container and flag it.
CONTAINER_KEYS = {"iteration": ("iteration_id", "isInIteration"), "loop": ("loop_id", "isInLoop")}

#: Assigner v1 ``write_mode`` values; v2 spells each as an operation of the same name.
_ASSIGNER_V1_MODES = ("over-write", "append", "clear")

#: Tool provider types whose providers come from plugins (``api``, ``workflow`` and ``mcp`` tools are
#: the workspace's own, named by an id of the workspace).
PLUGIN_TOOL_PROVIDER_TYPES = frozenset({"builtin", "plugin"})


def _node_path(index: int) -> str:
    return f"workflow.graph.nodes[{index}]"


def _as_id(value: Any) -> Any:
    """A number written where an id belongs (``id: 1718...`` unquoted in YAML) as the string it is."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def drop_notes(nodes: list[Any]) -> tuple[list[Any], list[int]]:
    """Note nodes (React Flow ``type: custom-note``, ``data.type: ""``) are canvas comments, not part
    of the flow: drop them. Returns the kept nodes and the index each had in the file."""
    kept: list[Any] = []
    origins: list[int] = []
    for index, node in enumerate(nodes):
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("type") == NOTE_NODE_TYPE or (isinstance(data, dict) and data.get("type") == ""):
                continue
        kept.append(node)
        origins.append(index)
    return kept, origins


def _stringify_data(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list) and (key == "selector" or key.endswith("_selector")):
                value[key] = [_as_id(part) for part in item]
            elif key in _ID_KEYS:
                value[key] = _as_id(item)
            else:
                if key in _HANDLE_LISTS and isinstance(item, list):
                    for entry in item:
                        if isinstance(entry, dict) and "id" in entry:
                            entry["id"] = _as_id(entry["id"])
                _stringify_data(item)
    elif isinstance(value, list):
        for item in value:
            _stringify_data(item)


def stringify_ids(nodes: list[Any], edges: list[Any]) -> None:
    """Node ids, ``parentId``, edge ends and handles, container ids and every selector
    (``value_selector``, ``variable_selector``, ``*_selector``) are strings, as VAR-REF-SYNTAX
    selectors are; YAML reads the editor's unquoted numeric ids (``1718...``) as numbers."""
    for node in nodes:
        if isinstance(node, dict):
            for key in ("id", "parentId"):
                if key in node:
                    node[key] = _as_id(node[key])
            _stringify_data(node.get("data"))
    for edge in edges:
        if isinstance(edge, dict):
            for key in ("id", "source", "target", "sourceHandle", "targetHandle"):
                if key in edge:
                    edge[key] = _as_id(edge[key])
            _stringify_data(edge.get("data"))


def complete_node_type(node: dict[str, Any]) -> None:
    """A node without a React Flow ``type`` (hand-written files) gets the editor's: ``custom``, or
    ``custom-iteration-start`` / ``custom-loop-start`` for container start nodes."""
    if not node.get("type"):
        data = node.get("data")
        data_type = data.get("type") if isinstance(data, dict) else None
        node["type"] = _UI_NODE_TYPES.get(str(data_type), _UI_DEFAULT_NODE_TYPE)


def complete_edges(edges: list[Any]) -> None:
    """An edge without ``sourceHandle`` leaves by the ordinary handle ``source``; without
    ``targetHandle`` it enters by ``target``; without ``id`` it gets the editor's
    ``{source}-{sourceHandle}-{target}-{targetHandle}``; without ``data``, an empty mapping."""
    for edge in edges:
        if not isinstance(edge, dict):
            continue
        if edge.get("sourceHandle") in (None, ""):
            edge["sourceHandle"] = SOURCE_HANDLE
        if edge.get("targetHandle") in (None, ""):
            edge["targetHandle"] = TARGET_HANDLE
        if edge.get("data") is None:
            edge["data"] = {}
        if not edge.get("id"):
            ends = (edge.get("source"), edge["sourceHandle"], edge.get("target"), edge["targetHandle"])
            edge["id"] = "-".join(str(end) for end in ends)


def upgrade_assigner(data: dict[str, Any], node_id: str, path: str, problems: list[Problem]) -> None:
    """Assigner v1 (one write: ``assigned_variable_selector``, ``write_mode`` over-write / append /
    clear, ``input_variable_selector``) becomes v2 (``version: "2"``, ``items: [{variable_selector,
    input_type, operation, value}]``) with the same effect (NODE-VAR-ASSIGNER). Over-write and append
    read the input variable (``input_type: variable``, ``value`` its selector); clear reads nothing
    (``input_type: constant``, ``value: null``)."""
    if data.get("type") != "assigner":
        return
    if str(data.get("version", "1")) == "2":
        data["version"] = "2"
        for item in data.get("items") or []:
            if isinstance(item, dict) and item.get("input_type") == "variable" and isinstance(item.get("value"), list):
                item["value"] = [_as_id(part) for part in item["value"]]
        return
    mode = data.pop("write_mode", "over-write")
    target = data.pop("assigned_variable_selector", None) or []
    source = data.pop("input_variable_selector", None) or []
    if mode not in _ASSIGNER_V1_MODES:
        modes = ", ".join(_ASSIGNER_V1_MODES)
        problems.append(Problem(f"write_mode {mode!r} is none of {modes}", node_id, f"{path}.data.write_mode"))
        return
    items = []
    if target:
        reads = mode != "clear"
        items.append(
            {
                "variable_selector": target,
                "input_type": "variable" if reads else "constant",
                "operation": mode,
                "value": source if reads else None,
            }
        )
    data["version"] = "2"
    data["items"] = items


def upgrade_if_else(data: dict[str, Any]) -> None:
    """If-else before cases (one ``logical_operator`` and ``conditions`` list, handles ``true`` and
    ``false``) becomes one case with ``case_id: "true"``, so its edges keep their handles
    (NODE-IFELSE)."""
    if data.get("type") != "if-else" or data.get("cases") or "conditions" not in data:
        return
    data["cases"] = [
        {
            "case_id": "true",
            "logical_operator": data.pop("logical_operator", "and"),
            "conditions": data.pop("conditions") or [],
        }
    ]


def qualify_tool_provider(data: dict[str, Any], node_id: str, path: str, problems: list[Problem]) -> None:
    """A plugin tool's provider is named ``organization/plugin/provider`` in ``provider_id`` and
    ``provider_name``, and its plugin in ``plugin_id``: pre-plugin files say ``time`` where Dify now
    reads ``langgenius/time/time`` (see :func:`~treadle.graph.provider_ids.parse_provider_id`). Tools
    of the workspace (``provider_type`` api, workflow, mcp) keep their ids."""
    if data.get("type") != "tool" or data.get("provider_type", "builtin") not in PLUGIN_TOOL_PROVIDER_TYPES:
        return
    named = data.get("provider_id") or data.get("provider_name")
    key = "provider_id" if data.get("provider_id") else "provider_name"
    if not isinstance(named, str) or not named:
        problems.append(Problem("a tool node needs a provider_id", node_id, f"{path}.data.provider_id"))
        return
    try:
        provider = parse_provider_id(named, "tool")
    except ValueError as exc:
        problems.append(Problem(str(exc), node_id, f"{path}.data.{key}"))
        return
    data["provider_id"] = data["provider_name"] = str(provider)
    data["plugin_id"] = provider.plugin_id


def reconcile_containers(nodes: list[Any], edges: list[Any], origins: list[int], problems: list[Problem]) -> None:
    """Each node inside an iteration or loop names its direct container the same way everywhere:
    ``parentId``, ``data.iteration_id`` or ``data.loop_id`` (the one matching the container's type),
    and ``data.isInIteration`` or ``data.isInLoop`` true.

    Files name it in any of these places (container start nodes only by ``parentId``; some edges
    carry ``data.iteration_id``). ``parentId`` is the direct container; an ``iteration_id`` or
    ``loop_id`` may also name one of its ancestors (a node in an iteration in a loop). A node flagged
    as inside a container that no key or edge names, a container that is no iteration or loop node,
    and two names that disagree are problems.
    """
    by_id = {node["id"]: node for node in nodes if isinstance(node, dict) and isinstance(node.get("id"), str)}

    def container_of(node_id: str) -> str | None:
        node = by_id.get(node_id)
        if node is None:
            return None
        data = node.get("data")
        data = data if isinstance(data, dict) else {}
        named = node.get("parentId") or data.get("iteration_id") or data.get("loop_id")
        return named if isinstance(named, str) and named else None

    def ancestors(node_id: str) -> list[str]:
        chain: list[str] = []
        current = container_of(node_id)
        while current is not None and current not in chain:
            chain.append(current)
            current = container_of(current)
        return chain

    def report(message: str, node_id: str, path: str) -> None:
        problems.append(Problem(message, node_id, path))

    hints: dict[str, str] = {}
    for edge in edges:
        data = edge.get("data") if isinstance(edge, dict) else None
        if isinstance(data, dict):
            hint = data.get("iteration_id") or data.get("loop_id")
            if isinstance(hint, str) and hint:
                for end in (edge.get("source"), edge.get("target")):
                    if isinstance(end, str):
                        hints.setdefault(end, hint)

    for index, node in zip(origins, nodes, strict=True):
        if not isinstance(node, dict) or not isinstance(node.get("data"), dict) or not isinstance(node.get("id"), str):
            continue
        node_id, data, path = node["id"], node["data"], _node_path(index)
        if node.get("parentId") in (None, ""):
            node.pop("parentId", None)
        claims = [
            (f"{path}.{where}", value)
            for where, value in (
                ("parentId", node.get("parentId")),
                ("data.iteration_id", data.get("iteration_id")),
                ("data.loop_id", data.get("loop_id")),
            )
            if value not in (None, "")
        ]
        if claims:
            direct = str(claims[0][1])
            if len(claims) > 1 and "parentId" not in claims[0][0]:
                # iteration_id and loop_id both given: the direct container is the one inside the other.
                first, second = str(claims[0][1]), str(claims[1][1])
                direct = second if first in ancestors(second) else first
            allowed = {direct, *ancestors(direct)}
            stray = [(where, value) for where, value in claims if value not in allowed]
            if stray:
                named = ", ".join(f"{where.removeprefix(path + '.')} = {value!r}" for where, value in claims)
                report(f"the node names containers that disagree ({named})", node_id, stray[0][0])
                continue
            where = claims[0][0]
        elif data.get("isInIteration") is True or data.get("isInLoop") is True:
            hint = hints.get(node_id)
            if hint is None:
                flag = "isInIteration" if data.get("isInIteration") is True else "isInLoop"
                report(
                    "the node is flagged as inside a container, but nothing names it", node_id, f"{path}.data.{flag}"
                )
                continue
            direct, where = hint, f"{path}.data"
        else:
            continue
        parent = by_id.get(direct)
        parent_type = parent["data"].get("type") if parent and isinstance(parent.get("data"), dict) else None
        if direct == node_id:
            report("the node names itself as its container", node_id, where)
        elif parent is None:
            report(f"its container {direct!r} is not a node of the graph", node_id, where)
        elif parent_type not in CONTAINER_KEYS:
            report(f"its container {direct!r} is a {parent_type!r} node, not an iteration or loop", node_id, where)
        else:
            id_key, flag = CONTAINER_KEYS[parent_type]
            node["parentId"] = direct
            data[id_key] = direct
            data[flag] = True
            for other_key, other_flag in CONTAINER_KEYS.values():
                if other_key != id_key and data.get(other_key) == direct:
                    # The container named under the other kind's key (an iteration_id naming a loop).
                    del data[other_key]
                    if other_flag in data:
                        data[other_flag] = False


def normalize_graph(graph: dict[str, Any], problems: list[Problem]) -> list[int]:
    """Rewrite ``graph`` (the parsed ``workflow.graph``) into the canonical form, in place; add what
    cannot be made sense of to ``problems``. Returns, for each node kept, its index in the file."""
    nodes = graph.get("nodes")
    edges = graph.get("edges")
    # Empty lists are written as nothing at all by some hand-written files.
    nodes = graph["nodes"] = [] if nodes is None else nodes
    edges = graph["edges"] = [] if edges is None else edges
    if not isinstance(nodes, list) or not isinstance(edges, list):
        return list(range(len(nodes))) if isinstance(nodes, list) else []

    nodes, origins = drop_notes(nodes)
    graph["nodes"] = nodes
    stringify_ids(nodes, edges)
    complete_edges(edges)
    for index, node in zip(origins, nodes, strict=True):
        if not isinstance(node, dict):
            continue
        complete_node_type(node)
        data = node.get("data")
        if not isinstance(data, dict):
            continue
        node_id, path = str(node.get("id", "")), _node_path(index)
        upgrade_assigner(data, node_id, path, problems)
        upgrade_if_else(data)
        qualify_tool_provider(data, node_id, path, problems)
    reconcile_containers(nodes, edges, origins, problems)
    return origins
