"""The llm-family nodes of the shared Dify DSL corpus: every one prepares, and a chatflow built of
them (llm2o1.yml: LLM with memory and vision, a parameter extractor, an iteration of LLMs) runs on
the fake provider through the model mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from treadle.apps import MemoryConversationHistory, RunRequest, WorkflowApp
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.graph.events import Event, NodeSucceeded
from treadle.models import ModelMapping
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_llm_nodes import node_types

from .support import ServerCredentials

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "dify-dsl"
TYPES = {node_type.name: node_type for node_type in node_types()}

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared corpus is not at {CORPUS}")


def corpus_nodes() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in sorted(CORPUS.glob("*.yml")):
        workflow = (yaml.safe_load(path.read_text()) or {}).get("workflow") or {}
        for dsl_node in (workflow.get("graph") or {}).get("nodes", []):
            data = dsl_node.get("data") or {}
            if data.get("type") in TYPES:
                yield path.name, str(dsl_node["id"]), data


NODES = list(corpus_nodes()) if CORPUS.is_dir() else []


def test_the_corpus_has_nodes_of_every_type() -> None:
    assert {data["type"] for _, _, data in NODES} == set(TYPES)
    assert len(NODES) >= 70


@pytest.mark.parametrize(("file", "node_id", "data"), NODES, ids=[f"{f}:{n}" for f, n, _ in NODES])
def test_every_corpus_node_prepares(file: str, node_id: str, data: dict[str, Any]) -> None:
    """NODE-LLM, NODE-PARAMETER-EXTRACTOR, NODE-QUESTION-CLASSIFIER: Dify's exports as they are."""
    prepared = TYPES[data["type"]].prepare(node_id, dict(data))
    assert prepared.selectors()


async def test_llm2o1_runs_two_turns_on_the_fake_provider(tmp_path: Path) -> None:
    """Every model of the file is mapped to the fake ``script`` model, whose one scripted reply is
    JSON: the LLM nodes answer it, the parameter extractor reads its steps, the iteration runs an LLM
    (after a code node) for each, and the second turn reads the first from memory."""
    steps = {"steps": [{"name": "Read", "content": "read it"}, {"name": "Solve", "content": "solve it"}]}
    history = MemoryConversationHistory()
    plugins = (PluginSpec("core-nodes"), PluginSpec("llm-nodes"), PluginSpec("fake"), PluginSpec("code-node"))
    supervisor = PluginSupervisor(
        Settings.load(home=tmp_path),
        groups=[GroupPlan("inline", True, plugins)],
        model_mapping=ModelMapping({"*": "fake:script"}),
        history=history,
    )
    credentials = ServerCredentials("http://unused.invalid")
    credentials.fake = {"script": [json.dumps(steps), json.dumps(steps)]}
    supervisor.models.credentials = credentials
    async with supervisor:
        app = WorkflowApp.from_dsl(load_dsl(CORPUS / "llm2o1.yml"), PluginNodeFactory(supervisor))
        answers = []
        for query in ("How many legs do 3 spiders have?", "And 4?"):
            events: list[Event] = []
            with supervisor.kernel_client(tenant_id="t1") as kernel:
                result = await app.run(
                    RunRequest(query=query, conversation_id="c1"), on_event=events.append, kernel=kernel
                )
            assert result.status == "succeeded", f"{result.error_type}: {result.error} (node {result.failed_node})"
            history.append("t1", "c1", query, result.answer)
            answers.append(result.answer)
            extracted = [e for e in events if isinstance(e, NodeSucceeded) and e.node_type == "parameter-extractor"]
            assert extracted[0].outputs["steps"] == steps["steps"]
            assert extracted[0].outputs["__is_success"] == 1
    first_llm = next(e for e in events if isinstance(e, NodeSucceeded) and e.node_id == "llm")
    assert first_llm.process_data is not None
    roles = [p["role"] for p in first_llm.process_data["prompts"]]
    assert roles == ["system", "user", "assistant", "user"]  # the first turn, remembered
    assert json.dumps(steps, ensure_ascii=False) in answers[1]
