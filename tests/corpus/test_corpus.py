"""Every Dify DSL file of the shared corpus imports, compiles against the installed plugins (or fails
with the specific "needs plugin" error), and every file that needs no LLM, tools, knowledge base or
network runs to completion (issue 3, deliverable 5). The session ends with a pass table."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from treadle.apps import RunRequest, WorkflowApp, check_dsl
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

from .conftest import record

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dify-dsl"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text()) if CORPUS.is_dir() else {"files": []}
FILES = {entry["name"]: entry for entry in MANIFEST["files"]}

#: Node types that later issues bring (models and tools: issue 4; knowledge: issue 6). A file may
#: miss these and still pass this issue's import check.
LATER_NODE_TYPES = frozenset(
    {"llm", "tool", "agent", "question-classifier", "parameter-extractor", "knowledge-retrieval"}
)

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
