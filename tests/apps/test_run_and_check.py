"""``treadle run`` and ``treadle check`` on DSL files (issue 3, deliverable 4), through the real
plugins: core control-flow nodes inline, the rest in the first-party host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from treadle.cli import main

START = {"id": "start", "data": {"type": "start", "title": "Start", "variables": [
    {"variable": "name", "label": "Name", "type": "text-input", "required": True, "max_length": 20},
    {"variable": "count", "label": "Count", "type": "number", "required": False},
]}}


def edge(source: str, target: str, handle: str = "source") -> dict[str, str]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "sourceHandle": handle,
            "targetHandle": "target"}


def write_app(tmp_path: Path, mode: str, nodes: list[dict], edges: list[dict], **workflow: object) -> Path:
    document = {
        "version": "0.5.0",
        "kind": "app",
        "app": {"mode": mode, "name": f"test {mode}"},
        "workflow": {"graph": {"nodes": nodes, "edges": edges}, "features": {}, **workflow},
    }
    path = tmp_path / "app.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    return tmp_path / "home"


def branching_workflow(tmp_path: Path) -> Path:
    nodes = [
        START,
        {"id": "check", "data": {"type": "if-else", "title": "Long?", "cases": [{
            "case_id": "true", "logical_operator": "and",
            "conditions": [{"variable_selector": ["start", "name"], "comparison_operator": "start with",
                            "value": "T", "varType": "string"}]}]}},
        {"id": "yes", "data": {"type": "template-transform", "title": "Yes", "template": "Hello {{ who }}!",
                               "variables": [{"variable": "who", "value_selector": ["start", "name"]}]}},
        {"id": "no", "data": {"type": "template-transform", "title": "No", "template": "Bye {{ who }}.",
                              "variables": [{"variable": "who", "value_selector": ["start", "name"]}]}},
        {"id": "join", "data": {"type": "variable-aggregator", "title": "Join", "output_type": "string",
                                "variables": [["yes", "output"], ["no", "output"]]}},
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
            {"variable": "greeting", "value_selector": ["join", "output"]},
            {"variable": "env", "value_selector": ["env", "SITE"]}]}},
    ]
    edges = [edge("start", "check"), edge("check", "yes", "true"), edge("check", "no", "false"),
             edge("yes", "join"), edge("no", "join"), edge("join", "end")]
    return write_app(tmp_path, "workflow", nodes, edges,
                     environment_variables=[{"name": "SITE", "value_type": "string", "value": "treadle.dev"}])


@pytest.mark.parametrize(("name", "greeting"), [("Treadle", "Hello Treadle!"), ("Dify", "Bye Dify.")])
def test_run_prints_status_and_outputs_as_json(tmp_path: Path, name: str, greeting: str) -> None:
    result = CliRunner().invoke(main, ["run", str(branching_workflow(tmp_path)), "--input", f"name={name}", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "succeeded"
    assert body["outputs"] == {"greeting": greeting, "env": "treadle.dev"}
    assert body["error"] is None
    assert "answer" not in body  # workflows have outputs, chatflows an answer


def test_run_fails_with_exit_1_and_the_error_when_an_input_is_invalid(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", str(branching_workflow(tmp_path)), "--input", "name=" + "x" * 30, "--json"]
    )
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["status"] == "failed"
    assert body["failed_node"] == "start"
    assert "name" in body["error"] and "20" in body["error"]


def test_run_streams_events(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(branching_workflow(tmp_path)), "-i", "name=Tom", "--stream"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "RunStarted"
    assert any(line.startswith("started   yes (template-transform") for line in lines)
    assert not any(line.startswith("started   no ") for line in lines)  # the untaken branch is skipped
    assert "status: succeeded" in lines


def test_chatflow_answer_streams_in_template_order(tmp_path: Path) -> None:
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
        {"id": "upper", "data": {"type": "template-transform", "title": "Upper", "template": "{{ q | upper }}",
                                 "variables": [{"variable": "q", "value_selector": ["sys", "query"]}]}},
        {"id": "answer", "data": {"type": "answer", "title": "Answer",
                                  "answer": "You said {{#sys.query#}}; loudly: {{#upper.output#}}"}},
    ]
    path = write_app(tmp_path, "advanced-chat", nodes, [edge("start", "upper"), edge("upper", "answer")])
    result = CliRunner().invoke(main, ["run", str(path), "--query", "hi there", "--json", "--stream"])
    assert result.exit_code == 0, result.output
    *event_lines, final = result.output.splitlines()
    chunks = [json.loads(line)["text"] for line in event_lines if json.loads(line)["event"] == "StreamChunk"]
    assert "".join(chunks) == "You said hi there; loudly: HI THERE"
    assert chunks[0] == "You said "  # literals go out before the nodes they wait for have finished
    assert json.loads(final)["answer"] == "You said hi there; loudly: HI THERE"


def test_check_reports_every_problem_with_node_id_and_path(tmp_path: Path) -> None:
    nodes = [
        START,
        {"id": "mystery", "data": {"type": "no-such-node", "title": "?"}},
        {"id": "tpl", "data": {"type": "template-transform", "title": "T", "template": "{{ x }}",
                               "variables": [{"variable": "x", "value_selector": ["ghost", "value"]}]}},
        {"id": "bad-if", "data": {"type": "if-else", "title": "Bad", "cases": "not a list"}},
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
            {"variable": "o", "value_selector": ["tpl", "output"]}]}},
    ]
    edges = [edge("start", "mystery"), edge("mystery", "tpl"), edge("tpl", "bad-if"), edge("bad-if", "end", "true")]
    path = write_app(tmp_path, "workflow", nodes, edges)
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["nodes"] == 5 and report["edges"] == 4
    assert report["missing_plugins"] == ["node type no-such-node"]
    by_node = {(p["node_id"], p["path"]): p["message"] for p in report["problems"]}
    assert "no installed plugin provides node type 'no-such-node'" in by_node[("mystery",
                                                                              "workflow.graph.nodes[1].data.type")]
    assert "there is no node 'ghost'" in by_node[("tpl", "workflow.graph.nodes[2].data")]
    assert any(node == "bad-if" and path.startswith("workflow.graph.nodes[3].data.cases") for node, path in by_node)


def test_check_finds_dangling_edges_before_compiling(tmp_path: Path) -> None:
    path = write_app(tmp_path, "workflow", [START], [edge("start", "nowhere")])
    report = json.loads(CliRunner().invoke(main, ["check", str(path), "--json"]).output)
    assert report["ok"] is False
    assert report["problems"] == [{"message": "the edge's target 'nowhere' is not a node", "node_id": "",
                                   "path": "workflow.graph.edges[0].target"}]


def test_check_of_a_good_file_is_ok(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(branching_workflow(tmp_path))])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("ok")


def test_check_of_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("app:\n  mode: workflow\n  name: [unclosed\n")
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert result.exit_code == 1
    message = json.loads(result.output)["problems"][0]["message"]
    assert "line" in message


def openai_chatflow(tmp_path: Path) -> Path:
    """A chatflow written for OpenAI: its LLM node names langgenius/openai/openai and gpt-4o."""
    llm = {"id": "llm", "data": {
        "type": "llm", "title": "LLM",
        "model": {"provider": "langgenius/openai/openai", "name": "gpt-4o", "mode": "chat", "completion_params": {}},
        "prompt_template": [{"role": "user", "text": "{{#sys.query#}}"}],
        "context": {"enabled": False}, "vision": {"enabled": False},
    }}
    answer = {"id": "answer", "data": {"type": "answer", "title": "Answer", "answer": "{{#llm.text#}}"}}
    start = {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}}
    return write_app(tmp_path, "advanced-chat", [start, llm, answer], [edge("start", "llm"), edge("llm", "answer")])


def test_run_maps_the_dsls_models_to_an_installed_provider(tmp_path: Path) -> None:
    """Issue 4, deliverable 7: ``--models fake:echo`` runs a DSL written for OpenAI on the fake
    provider's echo model (NODE-LLM)."""
    result = CliRunner().invoke(
        main, ["run", str(openai_chatflow(tmp_path)), "--query", "hello there", "--models", "fake:echo", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "succeeded"
    assert body["answer"] == "hello there"


def test_run_maps_single_providers_and_the_config_file_maps_too(tmp_path: Path, home: Path) -> None:
    """``SOURCE=TARGET`` rules, and ``[models] map`` in treadle.toml, which --models overrides."""
    path = openai_chatflow(tmp_path)
    result = CliRunner().invoke(
        main, ["run", str(path), "--query", "one", "--models", "openai:gpt-4o=fake:echo", "--json"]
    )
    assert json.loads(result.output)["answer"] == "one", result.output
    home.mkdir(parents=True, exist_ok=True)
    (home / "treadle.toml").write_text('[models]\nmap = { openai = "fake:echo" }\n')
    result = CliRunner().invoke(main, ["run", str(path), "--query", "two", "--json"])
    assert json.loads(result.output)["answer"] == "two", result.output
    result = CliRunner().invoke(main, ["run", str(path), "--query", "x", "--models", "openai=nowhere", "--json"])
    body = json.loads(result.output)
    assert body["status"] == "failed"
    sent = "model mapping sends 'langgenius/openai/openai' to provider 'nowhere', which is not installed"
    assert sent in body["error"]


def test_run_without_a_mapping_names_the_missing_provider(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(openai_chatflow(tmp_path)), "--query", "hi", "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.output)
    assert body["status"] == "failed"
    assert body["failed_node"] == "llm"
    assert "model provider 'langgenius/openai/openai' (model 'gpt-4o') is not installed" in body["error"]
    assert "--models PROVIDER[:MODEL]" in body["error"]


def test_check_compiles_a_model_config_app(tmp_path: Path) -> None:
    """A chat app's model_config compiles to a graph of installed node types (APP-* modes); a field
    that cannot be used is named by its DSL path."""
    config = {
        "model": {"provider": "fake", "name": "echo", "mode": "chat", "completion_params": {}},
        "pre_prompt": "You answer in one line.",
        "user_input_form": [],
    }
    document = {"version": "0.5.0", "kind": "app", "app": {"mode": "chat", "name": "a chat app"},
                "model_config": config}
    path = tmp_path / "chat.yml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert report["ok"] is True
    assert (report["nodes"], report["edges"]) == (3, 2)

    document["model_config"] = {**config, "agent_mode": {"enabled": True, "strategy": "nonsense", "tools": []}}
    document["app"]["mode"] = "agent-chat"
    path.write_text(yaml.safe_dump(document))
    report = json.loads(CliRunner().invoke(main, ["check", str(path), "--json"]).output)
    assert report["ok"] is False
    assert any(p["path"].startswith("model_config.agent_mode") for p in report["problems"]), report["problems"]
