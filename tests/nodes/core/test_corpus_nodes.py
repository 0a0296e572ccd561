"""Every control-flow node of the Dify DSL corpus (../shared/corpus/dify-dsl) prepares: the node
configurations Dify exports are read as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import CORE_TYPES, node_type

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dify-dsl"

#: libyaml's loader when PyYAML has it: the corpus is large and the pure-Python loader slow.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def corpus_nodes() -> list[Any]:
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        try:
            document = yaml.load(text, Loader=_LOADER) or {}
        except yaml.YAMLError:  # libyaml refuses a few characters the pure-Python loader accepts
            document = yaml.safe_load(text) or {}
        graph = (document.get("workflow") or {}).get("graph") or {}
        for node in graph.get("nodes") or []:
            data = node.get("data") or {}
            if data.get("type") in CORE_TYPES:
                found.append(pytest.param(node["id"], data, id=f"{path.stem}:{node['id']}"))
    return found


NODES = corpus_nodes()


@pytest.mark.skipif(not NODES, reason=f"the DSL corpus is not at {CORPUS}")
@pytest.mark.parametrize(("node_id", "data"), NODES)
def test_corpus_node_prepares(node_id: str, data: dict[str, Any]) -> None:
    prepared = node_type(data["type"]).prepare(node_id, data)
    assert prepared.config is data


@pytest.mark.skipif(not NODES, reason=f"the DSL corpus is not at {CORPUS}")
def test_the_corpus_has_every_common_type() -> None:
    types = {param.values[1]["type"] for param in NODES}
    assert {
        "start",
        "end",
        "answer",
        "if-else",
        "template-transform",
        "assigner",
        "iteration",
        "loop",
        "list-operator",
        "variable-aggregator",
    } <= types
