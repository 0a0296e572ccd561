"""Inline dispatchers trial-encode a result as JSON only where its type leaves room for values JSON
cannot carry (``Any`` somewhere inside it); typed results such as streamed LLM chunks skip it."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel
from treadle_sdk.extensions import json_closed, operation_specs
from treadle_sdk.model_runtime import LLMResultChunk, RerankResult


class Open(BaseModel):
    value: Any


class Nested(BaseModel):
    items: list[Open]


@pytest.mark.parametrize(
    ("tp", "closed"),
    [
        (str, True),
        (bool, True),
        (None, True),
        (LLMResultChunk, True),
        (RerankResult, True),
        (list[int] | None, True),
        (dict[str, float], True),
        (Literal["a", "b"], True),
        (Any, False),
        (Open, False),
        (Nested, False),
        (list, False),
        (dict[str, Any], False),
    ],
)
def test_json_closed(tp: Any, closed: bool) -> None:
    assert json_closed(tp) is closed


def test_model_results_are_closed_and_tool_messages_are_not() -> None:
    models = operation_specs("model_provider")
    assert all(spec.json_closed for spec in models.values())  # type: ignore[attr-defined]
    assert not operation_specs("tool_provider")["invoke_tool"].json_closed  # type: ignore[attr-defined]
    assert not operation_specs("node_type")["run"].json_closed  # type: ignore[attr-defined]
