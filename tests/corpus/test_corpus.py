"""Every Dify DSL file of the shared corpus imports, compiles against the installed plugins (or fails
with the specific "needs plugin" error); every file that needs no LLM, tools, knowledge base or
network runs to completion (issue 3, deliverable 5); and every workflow or chatflow that needs only
models and built-in tools runs to completion on the ``fake`` provider, its providers mapped there
(issue 4, acceptance 1). The session ends with a pass table."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from support.corpus_table import record
from treadle.apps import App, ModelConfigApp, RunRequest, WorkflowApp, check_dsl
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.models import ModelMapping
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dify-dsl"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text()) if CORPUS.is_dir() else {"files": []}
FILES = {entry["name"]: entry for entry in MANIFEST["files"]}

#: Node types that later issues bring. A file may miss these and still pass the import check (none
#: left: issue 6 brought ``knowledge-retrieval``).
LATER_NODE_TYPES: frozenset[str] = frozenset()

#: Inputs for the files that run, as a user would give them.
RUN_INPUTS: dict[str, dict[str, Any]] = {
    "json-repair": {"llm_string": '{"name": "treadle", "tags": ["a", "b",], "ok": True'},
    "file-read": {
        "File": {
            "dify_model_identity": "__dify__file__",
            "type": "document",
            "transfer_method": "remote_url",
            "remote_url": "https://example.com/report.csv",
            "filename": "report.csv",
            "extension": ".csv",
            "mime_type": "text/csv",
            "size": 2048,
        }
    },
    "schedule-trigger-test": {},
}


def runnable(entry: dict[str, Any]) -> bool:
    needs = entry["needs"]
    return not (needs["llm"] or needs["tools"] or needs["knowledge_base"] or needs["network"])


#: Built-in tool providers that ship with Treadle and need no network.
OFFLINE_TOOL_PROVIDERS = frozenset({"time", "maths", "json_process", "text", "regex"})


def _shipped_offline(tool: str) -> bool:
    """``builtin:time/current_time`` and ``builtin:langgenius/time/time/current_time`` name a
    built-in tool of provider ``time``."""
    kind, _, path = tool.partition(":")
    parts = path.split("/")
    provider = parts[2] if len(parts) == 4 else parts[0]
    return kind == "builtin" and provider in OFFLINE_TOOL_PROVIDERS


def runs_on_models(entry: dict[str, Any]) -> bool:
    """A workflow or chatflow that needs models and, at most, built-in tools that need no network
    (its only network use): it runs with every model mapped to the fake provider. Chat, agent-chat
    and completion apps (``model_config``) compile to graphs with the app runtime (issue 5)."""
    needs = entry["needs"]
    if not needs["llm"] or needs["knowledge_base"] or entry["app_mode"] not in ("workflow", "advanced-chat"):
        return False
    tools = needs["tools"]
    if not all(_shipped_offline(tool) for tool in tools):
        return False
    return not needs["network"] or bool(tools)


def _file(data: bytes, filename: str, mime_type: str, kind: str = "document") -> dict[str, Any]:
    """A file value as the Service API hands it over (NODE-START file inputs), its bytes in a data: URL."""
    url = f"data:{mime_type};base64,{base64.b64encode(data).decode()}"
    return {
        "dify_model_identity": "__dify__file__",
        "type": kind,
        "transfer_method": "remote_url",
        "remote_url": url,
        "url": url,
        "filename": filename,
        "extension": "." + filename.rsplit(".", 1)[1],
        "mime_type": mime_type,
        "size": len(data),
    }


#: A 1x1 PNG, and a short text document.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
# Chinese text for Chinese apps: its full-width punctuation is meant.
_AUDIT = "第一条 审计意见：应收账款确认不及时。\n第二条 整改：按月对账。".encode()  # noqa: RUF001


@dataclass(frozen=True)
class ModelRun:
    """How a file that needs models is run: inputs, the chat message and files, and the fake model its
    models map to. ``script`` (the fake ``script`` model's replies) stands in for a model where the
    flow parses what the model writes (a code node reading JSON out of the answer)."""

    inputs: dict[str, Any] = field(default_factory=dict)
    query: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    model: str = "echo"
    script: list[Any] | None = None


MODEL_RUNS: dict[str, ModelRun] = {
    "seo-slug-generator": ModelRun({"title": "How to brew green tea at home"}),
    "python-coding-prompt": ModelRun(query="Write a function that reverses a list"),
    "translation-workflow": ModelRun(
        {
            "target_lang": "English",
            "source_text": "春眠不觉晓，处处闻啼鸟。",  # noqa: RUF001 (a Chinese poem, punctuation and all)
            "source_lang": "Chinese",
            "country": "",
        }
    ),
    "form-chat-demo": ModelRun(query='{"username": "svcvit", "password": "x"}'),
    "llm-siege-game": ModelRun(query="开始游戏"),
    "llm2o1": ModelRun(query="How many r are in strawberry?"),
    "whole-book-translation": ModelRun({"input_text": "Chapter one. It was a bright cold day in April."}),
    # A code node reads the outline as a ```json fenced list of chapters out of the model's answer.
    # The outline's prompt ends with an assistant message, so the script answers it with reply 1;
    # the lesson writer's prompt has none and gets reply 0.
    "dify-course-demo": ModelRun(
        {"course_name": "Python basics"},
        model="script",
        script=[
            "A lesson on the topic.",
            '```json\n[{"chapter": "第1章", "title": "Basics", "contents": ["1.1 Variables", "1.2 Loops"]}]\n```',
        ],
    ),
    # A code node reads a JSON object with the couplet out of the model's answer.
    "spring-couplet": ModelRun(
        {"theme": "新春", "count": "七言"},
        model="script",
        script=['{"banner": "春回大地", "top": "红梅含苞傲冬雪", "bottom": "绿柳吐絮迎新春"}'],
    ),
    "xiashuo-xinyu-v2": ModelRun(query="今天心情不好"),
    "memory-test": ModelRun(query="我叫小明"),
    "prompt-generator-chatflow": ModelRun({"prompt": "写一首诗", "prompttype": "通用优化"}, query="go"),
    "invoice-extract-aggregator": ModelRun(
        {"file": _file(_PNG, "invoice.png", "image/png", "image")}, query="提取发票信息"
    ),
    "finetune-corpus-builder": ModelRun({"attachments": [_file(_AUDIT, "notes.txt", "text/plain")], "trigger": "go"}),
    # Its LLM node has structured output on: the fake json model answers to the schema.
    "audit-opinion-handling": ModelRun(
        query="处理审计意见", files=[_file(_AUDIT, "audit.txt", "text/plain")], model="json"
    ),
}


if not FILES and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI needs the shared DSL corpus at {CORPUS}")
pytestmark = pytest.mark.skipif(not FILES, reason=f"the shared corpus is not at {CORPUS}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def supervisor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PluginSupervisor]:
    settings = Settings.load(home=tmp_path_factory.mktemp("corpus-home"))
    async with PluginSupervisor(settings) as running:
        yield running


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.asyncio(loop_scope="module")
async def test_imports_and_compiles_or_names_the_missing_plugin(name: str, supervisor: PluginSupervisor) -> None:
    entry = FILES[name]
    record(name, "version", entry["dsl_version"])
    record(name, "mode", entry["app_mode"])
    app = load_dsl(CORPUS / entry["file"])
    record(name, "import", "ok")
    assert app.mode == entry["app_mode"]
    report = check_dsl(CORPUS / entry["file"], supervisor)
    structural = [
        p for p in report.problems
        if not p["message"].startswith("needs plugin:") and "no installed plugin provides node type" not in p["message"]
    ]
    missing_now = [
        m for m in report.missing_plugins
        if m.startswith("node type ") and m.removeprefix("node type ") not in LATER_NODE_TYPES
    ]
    record(name, "check", "ok" if report.ok else f"needs {', '.join(report.missing_plugins) or 'fixes'}")
    assert structural == [], f"{name}: problems other than missing plugins: {structural}"
    assert missing_now == [], f"{name}: node types this issue must provide are missing: {missing_now}"
    if not runnable(entry):
        record(name, "run", "-")


@pytest.mark.parametrize("name", sorted(n for n, e in FILES.items() if runnable(e)))
@pytest.mark.asyncio(loop_scope="module")
async def test_files_needing_no_llm_tools_or_network_run_to_completion(
    name: str, supervisor: PluginSupervisor
) -> None:
    entry = FILES[name]
    app = WorkflowApp.from_dsl(load_dsl(CORPUS / entry["file"]), PluginNodeFactory(supervisor))
    result = await app.run(RunRequest(inputs=RUN_INPUTS[name]))
    record(name, "run", result.status if result.status == "succeeded" else f"{result.status}: {result.error}")
    assert result.status == "succeeded", f"{name}: {result.error_type}: {result.error} (node {result.failed_node})"


def test_the_model_tier_is_the_files_that_need_only_models_and_built_in_tools() -> None:
    """The table of inputs covers exactly the files :func:`runs_on_models` picks."""
    assert sorted(MODEL_RUNS) == sorted(name for name, entry in FILES.items() if runs_on_models(entry))


@pytest.mark.parametrize("name", sorted(n for n, e in FILES.items() if runs_on_models(e)))
@pytest.mark.asyncio(loop_scope="module")
async def test_files_needing_only_models_and_built_in_tools_run_on_the_fake_provider(
    name: str, supervisor: PluginSupervisor
) -> None:
    """Issue 4, acceptance 1: every provider the file names maps to the fake provider (NODE-LLM,
    NODE-PARAMETER-EXTRACTOR, NODE-QUESTION-CLASSIFIER, NODE-TOOL), and the run completes."""
    entry, case = FILES[name], MODEL_RUNS[name]
    tenant = f"corpus-{name}"
    if case.script is not None:
        await supervisor.model_settings.save_credentials(tenant, "fake", {"script": json.dumps(case.script)})
    supervisor.models.mapping = ModelMapping({"*": f"fake:{case.model}"})
    app = WorkflowApp.from_dsl(load_dsl(CORPUS / entry["file"]), PluginNodeFactory(supervisor))
    request = RunRequest(inputs=case.inputs, query=case.query, files=case.files, conversation_id=f"{name}-1")
    with supervisor.kernel_client(tenant_id=tenant) as kernel:
        result = await app.run(request, kernel=kernel)
    status = result.status if result.status == "succeeded" else f"{result.status}: {result.error}"
    record(name, "run", f"{status} (fake:{case.model})")
    assert result.status == "succeeded", f"{name}: {result.error_type}: {result.error} (node {result.failed_node})"
    if app.is_chat:
        assert result.answer, f"{name}: the chatflow answered nothing"


#: Chat, agent-chat and completion apps (``model_config``) that run on the fake provider, and why the
#: others cannot: their agents call tools Treadle does not ship.
MODEL_CONFIG_RUNS: dict[str, ModelRun] = {
    "zhouyi-master-chat": ModelRun(query="帮我算一卦"),
    "code-converter-completion": ModelRun({"Target_code": "Python", "default_input": "console.log('hi')"}),
}
MODEL_CONFIG_SKIPS = {
    "ai-agent-basic": "its agent's tools include siliconflow flux, searxng search and audio tts/asr, not shipped",
    "pdf-translate-react-agent": (
        "its agent's tools are those of an MCP server (pdftranslate-mcp-server) it reaches over the network"
    ),
}


def test_every_model_config_file_runs_or_says_why_not() -> None:
    modes = ("chat", "agent-chat", "completion")
    model_config_files = sorted(name for name, entry in FILES.items() if entry["app_mode"] in modes)
    assert model_config_files == sorted([*MODEL_CONFIG_RUNS, *MODEL_CONFIG_SKIPS])


@pytest.mark.parametrize("name", sorted(MODEL_CONFIG_RUNS))
@pytest.mark.asyncio(loop_scope="module")
async def test_model_config_apps_run_on_the_fake_provider(name: str, supervisor: PluginSupervisor) -> None:
    """Issue 5: chat and completion apps compile to start → llm → answer and run to completion with
    their model mapped to the fake provider, which echoes the prompt's last user message."""
    entry, case = FILES[name], MODEL_CONFIG_RUNS[name]
    supervisor.models.mapping = ModelMapping({"*": f"fake:{case.model}"})
    app = App.from_dsl(load_dsl(CORPUS / entry["file"]), PluginNodeFactory(supervisor))
    assert isinstance(app, ModelConfigApp) and app.mode == entry["app_mode"]
    request = RunRequest(inputs=case.inputs, query=case.query, conversation_id=f"{name}-1")
    with supervisor.kernel_client(tenant_id=f"corpus-{name}") as kernel:
        result = await app.run(request, kernel=kernel)
    status = result.status if result.status == "succeeded" else f"{result.status}: {result.error}"
    record(name, "run", f"{status} (fake:{case.model})")
    assert result.status == "succeeded", f"{name}: {result.error_type}: {result.error} (node {result.failed_node})"
    assert result.answer, f"{name}: the app answered nothing"
