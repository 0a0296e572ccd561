"""The Dify DSL loader: every file of the public corpus, each legacy shape it normalises, each error it
reports, export and round trip (VAR-REF-SYNTAX, VAR-ENV, VAR-CONVERSATION, NODE-VAR-ASSIGNER,
NODE-IFELSE, NODE-TOOL, NODE-ITERATION, NODE-LOOP)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from treadle.graph.dsl import DSL_VERSION, MAX_DSL_BYTES, AppDSL, DSLError, Node, dump_dsl, load_dsl
from treadle.graph.dsl_dependencies import PluginRequirement, dependencies
from treadle.graph.errors import Problem
from treadle.graph.provider_ids import ProviderId, parse_provider_id, plugin_id_of_identifier

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dify-dsl"


def corpus_entries() -> list[Any]:
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"the Dify DSL corpus is not at {CORPUS}"))]
    files = json.loads(manifest.read_text())["files"]
    return [pytest.param(entry, id=entry["file"]) for entry in files]


CORPUS_ENTRIES = corpus_entries()


def test_the_corpus_covers_every_version_and_mode() -> None:
    """The corpus is what makes the corpus tests worth having: all DSL versions in use, all modes."""
    entries = [param.values[0] for param in CORPUS_ENTRIES if param.values[0] is not None]
    if not entries:
        pytest.skip(f"the Dify DSL corpus is not at {CORPUS}")
    assert {e["dsl_version"] for e in entries} >= {"0.1.0", "0.1.2", "0.1.5", "0.2.0", "0.3.0", "0.4.0", "0.5.0"}
    assert {e["app_mode"] for e in entries} == {"workflow", "advanced-chat", "chat", "agent-chat", "completion"}
    assert any(e["wrapped_json_export"] for e in entries)


def graph_of(app: AppDSL) -> dict[str, Any]:
    assert app.workflow is not None
    return app.workflow.graph.model_dump(by_alias=True)


def load(text: str) -> AppDSL:
    return load_dsl(textwrap.dedent(text))


def problems_of(text: str | bytes | Path) -> list[Problem]:
    with pytest.raises(DSLError) as caught:
        load_dsl(textwrap.dedent(text) if isinstance(text, str) else text)
    return caught.value.problems


# -- the corpus ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORPUS_ENTRIES)
def test_corpus_file_loads_with_the_manifest_counts(entry: dict[str, Any]) -> None:
    app = load_dsl(CORPUS / entry["file"])
    assert (app.version, app.mode, app.app.name) == (entry["dsl_version"], entry["app_mode"], entry["app_name"])
    if app.workflow is None:
        assert entry["node_types"] == {"(model_config)": 1}
        assert app.app_model_config is not None and "model" in app.app_model_config
        return
    notes = entry["node_types"].get("note", 0)
    graph = app.workflow.graph
    assert (len(graph.nodes), len(graph.edges)) == (entry["node_count"] - notes, entry["edge_count"])
    assert {n.data.type for n in graph.nodes} == set(entry["node_types"]) - {"note"}


@pytest.mark.parametrize("entry", CORPUS_ENTRIES)
def test_corpus_file_round_trips(entry: dict[str, Any]) -> None:
    """import → export → import gives the same graph (nodes, their data, edges), the same variables
    and model_config; exporting again writes the same text."""
    first = load_dsl(CORPUS / entry["file"])
    text = dump_dsl(first, include_secrets=True)
    second = load_dsl(text)
    assert second.version == DSL_VERSION
    assert second.app == first.app
    assert second.dependencies == first.dependencies
    assert second.app_model_config == first.app_model_config
    if first.workflow is not None:
        assert second.workflow is not None
        assert graph_of(second) == graph_of(first)
        assert second.workflow.environment_variables == first.workflow.environment_variables
        assert second.workflow.conversation_variables == first.workflow.conversation_variables
        assert second.workflow.features == first.workflow.features
    assert dump_dsl(second, include_secrets=True) == text


def _manifest_requirements(entry: dict[str, Any]) -> set[tuple[str, str]]:
    """The manifest's plugin tools (``builtin:provider/tool``, ``builtin:org/plugin/provider/tool``)
    and agent strategies as (kind, plugin id)."""
    wanted = set()
    for tool in entry["needs"]["tools"]:
        kind, _, name = tool.partition(":")
        provider = name.rsplit("/", 1)[0]
        if kind == "builtin":
            wanted.add(("tool_provider", parse_provider_id(provider).plugin_id))
        elif kind == "agent-strategy":
            wanted.add(("agent_strategy", parse_provider_id(provider).plugin_id))
    return wanted


@pytest.mark.parametrize("entry", CORPUS_ENTRIES)
def test_corpus_file_dependencies_match_the_manifest(entry: dict[str, Any]) -> None:
    """Every plugin tool and agent strategy the manifest lists is a requirement, and every declared
    plugin is listed with its identifier."""
    found = dependencies(load_dsl(CORPUS / entry["file"]))
    listed = {(r.kind, r.plugin_id) for r in found if r.kind in ("tool_provider", "agent_strategy")}
    assert listed == _manifest_requirements(entry)
    identifiers = {r.identifier for r in found if r.identifier}
    assert identifiers == set(entry["plugin_dependencies"])


# -- sources ------------------------------------------------------------------------------------------

MINIMAL = """\
version: 0.1.5
kind: app
app:
  mode: workflow
  name: Minimal
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: []}
    - id: end
      data: {type: end, title: End, outputs: []}
    edges:
    - {id: e1, source: start, target: end, sourceHandle: source, targetHandle: target}
"""


def test_load_from_text_bytes_and_a_path(tmp_path: Path) -> None:
    path = tmp_path / "app.yml"
    path.write_text(MINIMAL)
    for source in (MINIMAL, MINIMAL.encode(), b"\xef\xbb\xbf" + MINIMAL.encode(), path):
        app = load_dsl(source)
        assert (app.app.name, [n.id for n in graph_of_nodes(app)]) == ("Minimal", ["start", "end"])


def graph_of_nodes(app: AppDSL) -> list[Node]:
    assert app.workflow is not None
    return app.workflow.graph.nodes


def test_load_the_console_export_wrapper_as_json_and_as_yaml() -> None:
    """The console's export is ``{"data": "<yaml>"}``; as JSON it escapes emoji as surrogate pairs."""
    yaml_text = MINIMAL.replace("name: Minimal", "name: Minimal 🤖")
    as_json = json.dumps({"data": yaml_text})
    assert "\\ud83e\\udd16" in as_json
    as_yaml = yaml.safe_dump({"data": yaml_text}, allow_unicode=True)
    for wrapped in (as_json, as_yaml):
        assert load_dsl(wrapped).app.name == "Minimal 🤖"


def test_a_file_without_version_or_kind_is_an_app_of_version_0_1_0() -> None:
    app = load_dsl("\n".join(line for line in MINIMAL.splitlines() if not line.startswith(("version", "kind"))))
    assert (app.version, app.kind) == ("0.1.0", "app")


def test_a_model_config_app_keeps_its_config_as_data() -> None:
    app = load(
        """\
        version: 0.1.5
        app: {mode: chat, name: Chat}
        model_config:
          model: {provider: openai, name: gpt-4o, mode: chat, completion_params: {}}
          pre_prompt: You are helpful.
          user_input_form: []
        """
    )
    assert app.workflow is None
    assert app.app_model_config == {
        "model": {"provider": "openai", "name": "gpt-4o", "mode": "chat", "completion_params": {}},
        "pre_prompt": "You are helpful.",
        "user_input_form": [],
    }
    assert "model_config:\n  model:" in dump_dsl(app)


def test_fields_the_models_do_not_name_are_kept() -> None:
    app = load(MINIMAL.replace("name: Minimal", "name: Minimal\n  icon: 🤖\n  use_icon_as_answer_icon: false"))
    assert app.app.model_dump(by_alias=True)["icon"] == "🤖"
    start = graph_of_nodes(app)[0]
    assert start.data.model_dump()["variables"] == []


# -- normalisation ------------------------------------------------------------------------------------


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None, **extra: Any) -> str:
    document = {
        "version": "0.1.5",
        "kind": "app",
        "app": {"mode": "advanced-chat", "name": "Test"},
        "workflow": {"graph": {"nodes": nodes, "edges": edges or []}, **extra},
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def node(node_id: Any, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "custom", "data": {"type": node_type, "title": str(node_id), **data}}


def data_of(app: AppDSL, node_id: str) -> dict[str, Any]:
    [found] = [n for n in graph_of_nodes(app) if n.id == node_id]
    return found.data.model_dump(by_alias=True)


NOTE = {"id": "note1", "type": "custom-note", "data": {"type": "", "title": "", "text": "{}", "theme": "blue"}}


def test_note_nodes_are_dropped() -> None:
    """By React Flow type ``custom-note``, or by ``data.type`` "" (NOTE-style nodes of any UI type)."""
    untyped_note = {"id": "note2", "type": "custom", "data": {"type": "", "title": ""}}
    app = load_dsl(workflow([NOTE, node("start", "start"), untyped_note]))
    assert [n.id for n in graph_of_nodes(app)] == ["start"]
    assert "note" not in dump_dsl(app)


def test_problem_paths_count_the_notes_as_the_file_does() -> None:
    [problem] = problems_of(workflow([NOTE, node("start", "start"), {"id": "bad", "data": {"title": "?"}}]))
    assert (problem.path, problem.node_id, problem.message) == (
        "workflow.graph.nodes[2].data.type",
        "bad",
        "Field required",
    )
    app = load_dsl(workflow([NOTE, node("start", "start"), NOTE, node("end", "end")]))
    assert [app.node_path(0), app.node_path(1)] == ["workflow.graph.nodes[1]", "workflow.graph.nodes[3]"]


def test_ids_and_selectors_are_strings() -> None:
    """Unquoted numeric ids (YAML numbers) in nodes, edges, containers, handles and selectors."""
    text = textwrap.dedent(
        """\
        version: 0.1.2
        app: {mode: advanced-chat, name: Numbers}
        workflow:
          graph:
            nodes:
            - id: 1718000000001
              data: {type: start, title: Start, variables: []}
            - id: 1718000000002
              data:
                type: if-else
                title: If
                cases:
                - case_id: 1
                  logical_operator: and
                  conditions: [{variable_selector: [1718000000001, x], comparison_operator: is, value: "1"}]
            - id: 1718000000003
              data:
                type: question-classifier
                title: Classes
                query_variable_selector: [sys, query]
                classes: [{id: 1, name: one}, {id: 2, name: two}]
            - id: 1718000000004
              data: {type: iteration, title: It, start_node_id: 1718000000005, iterator_selector: [1718000000001, xs]}
            - id: 1718000000005
              parentId: 1718000000004
              data: {type: iteration-start, title: ''}
            - id: 1718000000006
              data:
                type: answer
                title: Answer
                answer: '{{#1718000000001.x#}}'
                variables: [{value_selector: [1718000000001, x], variable: x}]
            edges:
            - {source: 1718000000001, target: 1718000000002}
            - {source: 1718000000002, sourceHandle: 1, target: 1718000000003}
        """
    )
    app = load_dsl(text)
    assert [n.id for n in graph_of_nodes(app)][:2] == ["1718000000001", "1718000000002"]
    assert data_of(app, "1718000000002")["cases"][0]["case_id"] == "1"
    assert data_of(app, "1718000000002")["cases"][0]["conditions"][0]["variable_selector"] == ["1718000000001", "x"]
    assert [c["id"] for c in data_of(app, "1718000000003")["classes"]] == ["1", "2"]
    iteration = data_of(app, "1718000000004")
    assert (iteration["start_node_id"], iteration["iterator_selector"]) == ("1718000000005", ["1718000000001", "xs"])
    assert graph_of_nodes(app)[4].parent_id == "1718000000004"
    assert data_of(app, "1718000000006")["variables"][0]["value_selector"] == ["1718000000001", "x"]
    assert app.workflow is not None
    edges = app.workflow.graph.edges
    assert [(e.source, e.source_handle, e.target) for e in edges] == [
        ("1718000000001", "source", "1718000000002"),
        ("1718000000002", "1", "1718000000003"),
    ]


def test_edges_get_their_handles_an_id_and_data() -> None:
    """A missing ``sourceHandle`` is ``source``, ``targetHandle`` is ``target``; the id is the editor's
    ``{source}-{sourceHandle}-{target}-{targetHandle}``."""
    app = load_dsl(
        workflow(
            [node("a", "start"), node("b", "if-else", cases=[]), node("c", "end"), node("d", "end")],
            [
                {"source": "a", "target": "b"},
                {"source": "b", "sourceHandle": "true", "target": "c", "sourceHandle_extra": 1},
                {"id": "kept", "source": "b", "sourceHandle": None, "target": "d", "data": None},
            ],
        )
    )
    assert app.workflow is not None
    dumped = [e.model_dump(by_alias=True) for e in app.workflow.graph.edges]
    assert [(e["id"], e["sourceHandle"], e["targetHandle"], e["data"]) for e in dumped] == [
        ("a-source-b-target", "source", "target", {}),
        ("b-true-c-target", "true", "target", {}),
        ("kept", "source", "target", {}),
    ]
    assert dumped[1]["sourceHandle_extra"] == 1


def test_nodes_without_a_react_flow_type_get_the_editors() -> None:
    bare = [{"id": "s", "data": {"type": "start"}}, {"id": "l", "data": {"type": "loop-start"}}]
    bare.append({"id": "i", "data": {"type": "iteration-start"}})
    app = load_dsl(workflow(bare))
    assert [n.type for n in graph_of_nodes(app)] == ["custom", "custom-loop-start", "custom-iteration-start"]


@pytest.mark.parametrize(
    ("write_mode", "item"),
    [
        (
            "over-write",
            {"input_type": "variable", "operation": "over-write", "value": ["1731378644337", "user_token"]},
        ),
        ("append", {"input_type": "variable", "operation": "append", "value": ["1731378644337", "user_token"]}),
        ("clear", {"input_type": "constant", "operation": "clear", "value": None}),
    ],
)
def test_assigner_v1_becomes_v2(write_mode: str, item: dict[str, Any]) -> None:
    """NODE-VAR-ASSIGNER: one v1 write is one v2 item with the same effect."""
    v1 = node(
        "assign",
        "assigner",
        assigned_variable_selector=["conversation", "user_token"],
        input_variable_selector=[1731378644337, "user_token"],
        write_mode=write_mode,
    )
    data = data_of(load_dsl(workflow([node("start", "start"), v1])), "assign")
    assert data == {
        "type": "assigner",
        "title": "assign",
        "version": "2",
        "items": [{"variable_selector": ["conversation", "user_token"], **item}],
    }


def test_assigner_v1_without_a_target_has_no_items() -> None:
    data = data_of(load_dsl(workflow([node("assign", "assigner", write_mode="over-write")])), "assign")
    assert (data["version"], data["items"]) == ("2", [])


def test_assigner_v2_is_kept_with_its_selectors_as_strings() -> None:
    items = [
        {"variable_selector": ["conversation", "n"], "input_type": "variable", "operation": "+=", "value": [17, "n"]},
        {"variable_selector": ["conversation", "s"], "input_type": "constant", "operation": "set", "value": 5},
    ]
    data = data_of(load_dsl(workflow([node("assign", "assigner", version=2, items=items)])), "assign")
    assert data["version"] == "2"
    assert [i["value"] for i in data["items"]] == [["17", "n"], 5]


def test_an_unknown_assigner_v1_write_mode_is_a_problem() -> None:
    v1 = node("assign", "assigner", assigned_variable_selector=["conversation", "x"], write_mode="overwrite")
    [problem] = problems_of(workflow([node("start", "start"), v1]))
    assert problem == Problem(
        "write_mode 'overwrite' is none of over-write, append, clear",
        "assign",
        "workflow.graph.nodes[1].data.write_mode",
    )


def test_if_else_before_cases_becomes_one_case() -> None:
    """NODE-IFELSE: the old single condition list branches by ``true``/``false``, like a case with
    ``case_id: "true"`` and the else branch."""
    conditions = [{"variable_selector": ["start", "x"], "comparison_operator": "is", "value": "1"}]
    old = node("if", "if-else", logical_operator="or", conditions=conditions)
    data = data_of(load_dsl(workflow([old])), "if")
    assert data == {
        "type": "if-else",
        "title": "if",
        "cases": [{"case_id": "true", "logical_operator": "or", "conditions": conditions}],
    }


@pytest.mark.parametrize(
    ("given", "provider_id", "plugin_id"),
    [
        ({"provider_id": "time", "provider_name": "time"}, "langgenius/time/time", "langgenius/time"),
        ({"provider_name": "time"}, "langgenius/time/time", "langgenius/time"),
        ({"provider_id": "langgenius/time/time"}, "langgenius/time/time", "langgenius/time"),
        ({"provider_id": "hjlarry/small_pay/small_pay"}, "hjlarry/small_pay/small_pay", "hjlarry/small_pay"),
        ({"provider_id": "jina", "provider_type": "builtin"}, "langgenius/jina_tool/jina", "langgenius/jina_tool"),
        ({"provider_id": "tavily", "provider_type": "plugin"}, "langgenius/tavily/tavily", "langgenius/tavily"),
    ],
)
def test_plugin_tool_providers_are_qualified(given: dict[str, Any], provider_id: str, plugin_id: str) -> None:
    """NODE-TOOL: pre-plugin names, and the plugin-qualified form, become one (plugin_id, provider)."""
    tool = node("tool", "tool", tool_name="current_time", **{"provider_type": "builtin", **given})
    data = data_of(load_dsl(workflow([tool])), "tool")
    assert (data["provider_id"], data["provider_name"], data["plugin_id"]) == (provider_id, provider_id, plugin_id)


@pytest.mark.parametrize("provider_type", ["api", "workflow", "mcp"])
def test_workspace_tools_keep_their_provider_ids(provider_type: str) -> None:
    tool = node("tool", "tool", provider_type=provider_type, provider_id="6c1c7d0e-Abc", tool_name="t")
    data = data_of(load_dsl(workflow([tool])), "tool")
    assert data["provider_id"] == "6c1c7d0e-Abc" and "plugin_id" not in data


@pytest.mark.parametrize(
    ("given", "path", "message"),
    [
        ({"provider_id": "Time Tools"}, "provider_id", "'Time Tools' is not a provider id"),
        ({"provider_name": "a/b"}, "provider_name", "'a/b' is not a provider id"),
        ({}, "provider_id", "a tool node needs a provider_id"),
    ],
)
def test_a_tool_without_a_provider_id_is_a_problem(given: dict[str, Any], path: str, message: str) -> None:
    [problem] = problems_of(workflow([node("tool", "tool", provider_type="builtin", **given)]))
    assert (problem.node_id, problem.path) == ("tool", f"workflow.graph.nodes[0].data.{path}")
    assert problem.message.startswith(message)


def container_app(*children: dict[str, Any], edges: list[dict[str, Any]] | None = None) -> AppDSL:
    nodes = [node("start", "start"), node("it", "iteration"), node("lp", "loop"), *children]
    return load_dsl(workflow(nodes, edges))


def membership(app: AppDSL, node_id: str) -> tuple[Any, ...]:
    [found] = [n for n in graph_of_nodes(app) if n.id == node_id]
    data = found.data.model_dump()
    keys = ("iteration_id", "isInIteration", "loop_id", "isInLoop")
    return (found.parent_id, *(data.get(key) for key in keys))


def test_container_children_name_their_container_everywhere() -> None:
    """NODE-ITERATION, NODE-LOOP: by ``parentId`` alone (container start nodes), by ``iteration_id``
    or ``loop_id`` alone, or by a flag and an edge inside the container."""
    app = container_app(
        {"id": "it-start", "parentId": "it", "type": "custom-iteration-start", "data": {"type": "iteration-start"}},
        node("in-it", "code", iteration_id="it"),
        node("in-lp", "code", loop_id="lp", isInIteration=False),
        node("flagged", "code", isInLoop=True),
        edges=[{"source": "in-lp", "target": "flagged", "data": {"loop_id": "lp", "isInLoop": True}}],
    )
    assert membership(app, "it-start") == ("it", "it", True, None, None)
    assert membership(app, "in-it") == ("it", "it", True, None, None)
    assert membership(app, "in-lp") == ("lp", None, False, "lp", True)
    assert membership(app, "flagged") == ("lp", None, None, "lp", True)
    assert membership(app, "start") == (None, None, None, None, None)


def test_a_container_named_under_the_other_kinds_key_is_moved_to_its_own() -> None:
    app = container_app(node("c", "code", iteration_id="lp", isInIteration=True))
    assert membership(app, "c") == ("lp", None, False, "lp", True)


def test_a_node_in_an_iteration_in_a_loop_may_name_both() -> None:
    app = load_dsl(
        workflow(
            [
                node("lp", "loop"),
                {**node("it", "iteration", loop_id="lp"), "parentId": "lp"},
                node("deep", "code", iteration_id="it", loop_id="lp"),
                {**node("deeper", "code", loop_id="lp", isInIteration=True), "parentId": "it"},
            ]
        )
    )
    assert membership(app, "it") == ("lp", None, None, "lp", True)
    assert membership(app, "deep") == ("it", "it", True, "lp", None)
    assert membership(app, "deeper") == ("it", "it", True, "lp", None)


@pytest.mark.parametrize(
    ("child", "path", "message"),
    [
        (
            {**node("c", "code", iteration_id="it"), "parentId": "lp"},
            "workflow.graph.nodes[3].data.iteration_id",
            "the node names containers that disagree (parentId = 'lp', data.iteration_id = 'it')",
        ),
        (
            node("c", "code", iteration_id="gone"),
            "workflow.graph.nodes[3].data.iteration_id",
            "its container 'gone' is not a node of the graph",
        ),
        (
            {**node("c", "code"), "parentId": "start"},
            "workflow.graph.nodes[3].parentId",
            "its container 'start' is a 'start' node, not an iteration or loop",
        ),
        (
            node("c", "code", isInIteration=True),
            "workflow.graph.nodes[3].data.isInIteration",
            "the node is flagged as inside a container, but nothing names it",
        ),
        (
            node("c", "code", loop_id="c"),
            "workflow.graph.nodes[3].data.loop_id",
            "the node names itself as its container",
        ),
    ],
)
def test_container_membership_that_makes_no_sense_is_a_problem(child: dict[str, Any], path: str, message: str) -> None:
    nodes = [node("start", "start"), node("it", "iteration"), node("lp", "loop"), child]
    [problem] = problems_of(workflow(nodes))
    assert problem == Problem(message, "c", path)


# -- errors -------------------------------------------------------------------------------------------


def test_bad_yaml_gives_line_and_column() -> None:
    [problem] = problems_of("version: 0.1.5\napp:\n  mode: workflow\n  name: [unclosed\nkind: app\n")
    assert problem.message.startswith("invalid YAML at line 5, column 5:")


def test_bad_yaml_inside_the_export_wrapper_says_so() -> None:
    [problem] = problems_of(json.dumps({"data": "app:\n  mode: workflow\n bad: indent\n"}))
    assert problem.message.startswith("invalid YAML at line 3, column 2 (in the export's data):")


@pytest.mark.parametrize(
    ("version", "shown"),
    [("0.7.0", "'0.7.0'"), ("1.0.0", "'1.0.0'"), ("0.0.9", "'0.0.9'"), ("latest", "'latest'"), (0.5, "'0.5'")],
)
def test_an_unsupported_version_is_named(version: Any, shown: str) -> None:
    document = yaml.safe_load(MINIMAL)
    document["version"] = version
    [problem] = problems_of(yaml.safe_dump(document))
    assert problem == Problem(f"DSL version {shown} is not supported (only 0.1.0 to 0.6.0)", "", "version")


@pytest.mark.parametrize("version", ["0.1.0", "0.1.3", "0.6.0"])
def test_versions_at_the_ends_of_the_range_load(version: str) -> None:
    assert load_dsl(MINIMAL.replace("version: 0.1.5", f"version: {version}")).version == version


@pytest.mark.parametrize("mode", ["rag-pipeline", "agent", None])
def test_an_unsupported_mode_is_named(mode: Any) -> None:
    document = yaml.safe_load(MINIMAL)
    document["app"]["mode"] = mode
    [problem] = problems_of(yaml.safe_dump(document))
    assert problem.path == "app.mode"
    assert problem.message == (
        f"app mode {mode!r} is not supported (only advanced-chat, agent-chat, chat, completion, workflow)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "rag_pipeline"}, [Problem("kind 'rag_pipeline' is not supported (only app DSL files)", "", "kind")]),
        ({"app": None}, [Problem("the file has no app section", "", "app")]),
        ({"workflow": None}, [Problem("a workflow app needs a workflow section", "", "workflow")]),
        ({"workflow": {"features": {}}}, [Problem("a workflow app needs workflow.graph", "", "workflow.graph")]),
        (
            {"app": {"mode": "completion"}},
            [Problem("a completion app needs a model_config section", "", "model_config")],
        ),
    ],
)
def test_a_missing_or_wrong_section_is_named(change: dict[str, Any], expected: list[Problem]) -> None:
    document = {**yaml.safe_load(MINIMAL), **change}
    assert problems_of(yaml.safe_dump(document)) == expected


def test_every_problem_is_reported_at_once_with_its_path_and_node() -> None:
    text = workflow(
        [
            node("start", "start"),
            {"id": "untyped", "data": {"title": "x"}},
            {"id": "", "data": {"type": "end"}},
            {"id": "str-data", "data": "not a mapping"},
            node("tool", "tool", provider_type="builtin", provider_id="Bad Id"),
        ],
        [{"source": "start"}],
        environment_variables=[{"name": "KEY", "value_type": "password", "value": "x"}],
        conversation_variables=[{"name": "", "value_type": "array[file]"}],
    )
    with pytest.raises(DSLError) as caught:
        load_dsl(text)
    found = [(p.path, p.node_id) for p in caught.value.problems]
    assert found == [
        ("workflow.graph.nodes[4].data.provider_id", "tool"),
        ("workflow.graph.nodes[1].data.type", "untyped"),
        ("workflow.graph.nodes[2].id", ""),
        ("workflow.graph.nodes[3].data", "str-data"),
        ("workflow.graph.edges[0].target", "start"),
        ("workflow.environment_variables[0].value_type", ""),
        ("workflow.conversation_variables[0].name", ""),
        ("workflow.conversation_variables[0].value_type", ""),
    ]
    message = str(caught.value)
    assert message.startswith("invalid DSL, 8 problems:\n  - node tool, workflow.graph.nodes[4].data.provider_id: ")
    assert isinstance(caught.value, ValueError)


def test_a_single_problem_reads_as_one_line() -> None:
    with pytest.raises(DSLError, match=r"^invalid DSL: version: DSL version '9\.9\.9' is not supported"):
        load_dsl(MINIMAL.replace("0.1.5", "9.9.9"))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "a DSL file is a mapping with app, kind and version; this is nothing"),
        ("- a\n- b\n", "a DSL file is a mapping with app, kind and version; this is a list"),
        (
            "apps/translate.yml",
            "a DSL file is a mapping with app, kind and version; this is a str (to load a file, pass a pathlib.Path)",
        ),
        (b"version: 0.1.5\nname: caf\xe9\n", "the DSL is not UTF-8 text (byte 24 is 0xe9)"),
    ],
)
def test_what_is_no_dsl_at_all_says_what_it_is(source: str | bytes, message: str) -> None:
    assert problems_of(source) == [Problem(message)]


def test_an_unreadable_or_oversized_file_is_a_problem(tmp_path: Path) -> None:
    [missing] = problems_of(tmp_path / "missing.yml")
    assert missing.message.startswith(f"cannot read {tmp_path / 'missing.yml'}: ")
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_DSL_BYTES + 1))
    assert problems_of(big) == [
        Problem(f"{big} is {MAX_DSL_BYTES + 1} bytes; a DSL file may have at most {MAX_DSL_BYTES}")
    ]


# -- export -------------------------------------------------------------------------------------------

ENVIRONMENT = [
    {"id": "e1", "name": "API_KEY", "value_type": "secret", "value": "sk-123", "description": ""},
    {"id": "e2", "name": "top_n", "value_type": "number", "value": 50, "description": ""},
]


def test_secret_environment_variables_are_blanked_unless_asked_for() -> None:
    """VAR-ENV: a secret's value leaves only when the exporter asks for it; other variables always."""
    app = load_dsl(workflow([node("start", "start")], environment_variables=ENVIRONMENT))

    def exported(text: str) -> list[Any]:
        again = load_dsl(text).workflow
        assert again is not None
        return [v.value for v in again.environment_variables]

    assert exported(dump_dsl(app)) == ["", 50]
    assert exported(dump_dsl(app, include_secrets=True)) == ["sk-123", 50]
    assert app.workflow is not None and app.workflow.environment_variables[0].value == "sk-123"


def test_export_writes_the_current_version_and_readable_blocks() -> None:
    code = "def main(x):\n    return {'y': x}\n"
    text = dump_dsl(load_dsl(workflow([node("start", "start"), node("code", "code", code=code)])))
    document = yaml.safe_load(text)
    assert list(document) == ["app", "dependencies", "kind", "version", "workflow"]
    assert (document["kind"], document["version"]) == ("app", DSL_VERSION)
    assert "code: |\n" in text
    assert document["workflow"]["graph"]["nodes"][1]["data"]["code"] == code


def test_export_of_an_app_built_in_code() -> None:
    app = AppDSL.model_validate(
        {
            "version": DSL_VERSION,
            "app": {"mode": "workflow", "name": "Built"},
            "workflow": {
                "graph": {
                    "nodes": [{"id": "s", "data": {"type": "start"}}, {"id": "e", "data": {"type": "end"}}],
                    "edges": [{"id": "s-e", "source": "s", "target": "e"}],
                }
            },
        }
    )
    again = load_dsl(dump_dsl(app))
    assert again.workflow is not None
    assert [(e.source, e.source_handle, e.target_handle) for e in again.workflow.graph.edges] == [
        ("s", "source", "target")
    ]
    assert [n.type for n in again.workflow.graph.nodes] == ["custom", "custom"]


# -- provider ids and dependencies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("time", "tool", ProviderId("langgenius", "time", "time")),
        ("siliconflow", "tool", ProviderId("langgenius", "siliconflow_tool", "siliconflow")),
        ("siliconflow", "model", ProviderId("langgenius", "siliconflow", "siliconflow")),
        ("google", "model", ProviderId("langgenius", "gemini", "google")),
        ("google", "tool", ProviderId("langgenius", "google", "google")),
        ("langgenius/openai/openai", "model", ProviderId("langgenius", "openai", "openai")),
        (
            "afeaad50-3ca8-4d6b-8e95-ca6993bb2951/agent/agent",
            "tool",
            ProviderId("afeaad50-3ca8-4d6b-8e95-ca6993bb2951", "agent", "agent"),
        ),
    ],
)
def test_parse_provider_id(value: str, kind: Any, expected: ProviderId) -> None:
    parsed = parse_provider_id(value, kind)
    assert parsed == expected
    assert str(parsed) == f"{expected.organization}/{expected.plugin}/{expected.provider}"
    assert parsed.plugin_id == f"{expected.organization}/{expected.plugin}"


@pytest.mark.parametrize("value", ["", "Open AI", "a/b", "a/b/c/d", "UPPER"])
def test_parse_provider_id_refuses_what_is_none(value: str) -> None:
    with pytest.raises(ValueError, match="is not a provider id"):
        parse_provider_id(value)


def test_plugin_id_of_identifier() -> None:
    assert plugin_id_of_identifier("langgenius/openai:0.0.23@5b670a") == "langgenius/openai"
    assert plugin_id_of_identifier("langgenius/openai") == "langgenius/openai"


def test_dependencies_of_a_graph() -> None:
    """Tool nodes, llm-family models, knowledge retrieval's models, agent nodes, and declared plugins;
    one entry per provider with every node that needs it."""
    nodes = [
        node("start", "start"),
        node("llm1", "llm", model={"provider": "openai", "name": "gpt-4o"}),
        node("llm2", "llm", model={"provider": "langgenius/openai/openai", "name": "gpt-4o"}),
        node("qc", "question-classifier", model={"provider": "google", "name": "gemini"}),
        node("pe", "parameter-extractor", model={"provider": "", "name": ""}),
        node("t1", "tool", provider_type="builtin", provider_id="time", tool_name="current_time"),
        node("t2", "tool", provider_type="api", provider_id="uuid-of-a-custom-tool", tool_name="x"),
        node(
            "kr1",
            "knowledge-retrieval",
            retrieval_mode="multiple",
            multiple_retrieval_config={"reranking_mode": "reranking_model", "reranking_model": {"provider": "cohere"}},
        ),
        node(
            "kr2",
            "knowledge-retrieval",
            retrieval_mode="multiple",
            multiple_retrieval_config={
                "reranking_mode": "weighted_score",
                "weights": {"vector_setting": {"embedding_provider_name": "langgenius/ollama/ollama"}},
            },
        ),
        node(
            "kr3",
            "knowledge-retrieval",
            retrieval_mode="single",
            single_retrieval_config={"model": {"provider": "zhipuai"}},
        ),
        node(
            "agent",
            "agent",
            agent_strategy_provider_name="langgenius/agent/agent",
            agent_parameters={
                "model": {"type": "constant", "value": {"provider": "langgenius/anthropic/anthropic"}},
                "tools": {
                    "type": "constant",
                    "value": [
                        {"provider_name": "langgenius/tavily/tavily", "tool_name": "search", "type": "builtin",
                         "enabled": True},
                        # Off, and (below) off by default: the agent node leaves both out.
                        {"provider_name": "duckduckgo", "tool_name": "search", "enabled": False},
                        {"provider_name": "wikipedia", "tool_name": "search"},
                        {"provider_name": "mcp-server-id", "tool_name": "x", "type": "mcp"},
                    ],
                },
            },
        ),
    ]
    document = yaml.safe_load(workflow(nodes))
    document["dependencies"] = [
        {"type": "marketplace", "value": {"marketplace_plugin_unique_identifier": "langgenius/openai:0.0.23@abc"}},
        {"type": "github", "value": {"github_plugin_unique_identifier": "acme/unused:1.0.0@def", "repo": "acme/x"}},
        {"type": "package", "value": {"plugin_unique_identifier": "langgenius/time:0.0.1@123"}},
    ]
    found = dependencies(load_dsl(yaml.safe_dump(document)))
    assert [(r.kind, r.plugin_id, r.provider, r.identifier, r.node_ids) for r in found] == [
        ("agent_strategy", "langgenius/agent", "agent", None, ("agent",)),
        ("model_provider", "langgenius/anthropic", "anthropic", None, ("agent",)),
        ("model_provider", "langgenius/cohere", "cohere", None, ("kr1",)),
        ("model_provider", "langgenius/gemini", "google", None, ("qc",)),
        ("model_provider", "langgenius/ollama", "ollama", None, ("kr2",)),
        ("model_provider", "langgenius/openai", "openai", "langgenius/openai:0.0.23@abc", ("llm1", "llm2")),
        ("model_provider", "langgenius/zhipuai", "zhipuai", None, ("kr3",)),
        ("plugin", "acme/unused", "", "acme/unused:1.0.0@def", ()),
        ("tool_provider", "langgenius/tavily", "tavily", None, ("agent",)),
        ("tool_provider", "langgenius/time", "time", "langgenius/time:0.0.1@123", ("t1",)),
    ]
    openai = found[5]
    assert openai.paths == (
        "workflow.graph.nodes[1].data.model.provider",
        "workflow.graph.nodes[2].data.model.provider",
    )
    assert found[7].paths == ("dependencies[1]",)


def test_dependencies_of_a_model_config_app() -> None:
    app = load(
        """\
        version: 0.1.5
        app: {mode: agent-chat, name: Agent}
        model_config:
          model: {provider: google, name: gemini-pro}
          dataset_configs:
            reranking_enable: true
            reranking_model: {reranking_provider_name: langgenius/cohere/cohere, reranking_model_name: rerank}
          agent_mode:
            tools:
            - {provider_type: builtin, provider_id: siliconflow, tool_name: flux, enabled: true}
            - {provider_type: builtin, provider_id: audio, tool_name: tts, enabled: false}
            - {provider_type: builtin, provider_id: webscraper, tool_name: scrape, isDeleted: true}
            - {provider_type: mcp, provider_id: pdf-server, tool_name: translate}
        """
    )
    assert dependencies(app) == [
        PluginRequirement(
            "model_provider",
            "langgenius/cohere",
            "cohere",
            paths=("model_config.dataset_configs.reranking_model.reranking_provider_name",),
        ),
        PluginRequirement("model_provider", "langgenius/gemini", "google", paths=("model_config.model.provider",)),
        PluginRequirement(
            "tool_provider",
            "langgenius/siliconflow_tool",
            "siliconflow",
            paths=("model_config.agent_mode.tools[0].provider_id",),
        ),
    ]
