"""The LLM node's context (NODE-LLM "Context"): a Knowledge Retrieval result or a text, given to the
prompt as ``{{#context#}}``, with the retrieved chunks kept as citations.

A retrieval result is a list of chunks ``{content, title, metadata: {...}}`` (strings are taken as
they are). The context text is each chunk's ``summary`` (when it has one) and ``content``, one per
line. Chunks whose ``metadata._source`` is ``knowledge`` become retriever resources, the citations
Dify shows under an answer (``retriever_resources`` in message metadata): position, dataset and
document, segment, score and counts, content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from treadle_sdk.nodes import NodeRunError

from .files import is_file

__all__ = ["Context", "read_context"]

#: Retriever resource field <- chunk metadata key (Dify's citation shape).
_RESOURCE_FIELDS = {
    "position": "position",
    "dataset_id": "dataset_id",
    "dataset_name": "dataset_name",
    "document_id": "document_id",
    "document_name": "document_name",
    "data_source_type": "data_source_type",
    "segment_id": "segment_id",
    "retriever_from": "retriever_from",
    "score": "score",
    "hit_count": "segment_hit_count",
    "word_count": "segment_word_count",
    "segment_position": "segment_position",
    "index_node_hash": "segment_index_node_hash",
    "page": "page",
    "doc_metadata": "doc_metadata",
}


@dataclass(slots=True)
class Context:
    """The context text and the citations it came with."""

    text: str = ""
    retriever_resources: list[dict[str, Any]] = field(default_factory=list)


def _resource(chunk: Mapping[str, Any]) -> dict[str, Any] | None:
    metadata = chunk.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("_source") != "knowledge":
        return None
    resource = {name: metadata.get(key) for name, key in _RESOURCE_FIELDS.items()}
    resource["content"] = chunk.get("content")
    if chunk.get("summary"):
        resource["summary"] = chunk.get("summary")
    return resource


def read_context(value: Any, where: str) -> Context | None:
    """The context a variable's value gives: a text as it is, a list of chunks joined (see the
    module docstring); None for anything else (a number, a file: Dify ignores those too). A chunk
    object without ``content`` is an error naming ``where``."""
    if isinstance(value, str):
        return Context(value)
    if not isinstance(value, list):
        return None
    lines: list[str] = []
    resources: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            lines.append(item)
        elif is_file(item) or item is None:
            continue
        elif isinstance(item, Mapping) and isinstance(item.get("content"), str):
            if isinstance(item.get("summary"), str) and item["summary"]:
                lines.append(item["summary"])
            lines.append(item["content"])
            resource = _resource(item)
            if resource is not None:
                resources.append(resource)
        else:
            raise NodeRunError(
                f"{where}[{index}]: a context item must be a text or a retrieved chunk with 'content', "
                f"not {type(item).__name__}",
                error_type="InvalidContextStructureError",
            )
    return Context("\n".join(lines).strip(), resources)
