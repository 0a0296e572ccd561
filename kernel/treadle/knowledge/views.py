"""The Knowledge API's shapes of datasets, documents, chunks, child chunks, metadata fields and tags,
field for field as Dify's marshallers send them (DATASET-OBJ, API-DOC-GET, API-DOC-INDEX-STATUS,
API-CHUNK-GET, API-CHILD-LIST, API-META-LIST, API-TAG-LIST). Timestamps are Unix seconds.

Pure functions of rows: what they need beyond a row (counts, tags, the metadata fields) is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..store import ChildChunk, Dataset, DatasetMetadataField, DatasetProcessRule, Document, DocumentSegment, Tag
from .retrieval_model import RetrievalSettings, SearchMethod

__all__ = [
    "BUILT_IN_FIELDS",
    "BUILT_IN_ID",
    "DISPLAY_STATUSES",
    "IN_PROGRESS",
    "child_chunk_view",
    "dataset_view",
    "default_retrieval_model",
    "display_status",
    "document_view",
    "indexing_status_view",
    "process_rule_view",
    "segment_view",
    "tag_view",
    "timestamp",
]

#: The built-in metadata fields (KB-METADATA-BUILTIN), by name, with their types.
BUILT_IN_FIELDS: tuple[tuple[str, str], ...] = (
    ("document_name", "string"),
    ("uploader", "string"),
    ("upload_date", "time"),
    ("last_update_date", "time"),
    ("source", "string"),
)
#: The id Dify shows for a built-in field's value in a document's ``doc_metadata``.
BUILT_IN_ID = "built-in"
#: The steps a document is in while it is being indexed.
IN_PROGRESS = ("parsing", "cleaning", "splitting", "indexing")
#: ``display_status`` values, which are also the ``status`` filter of the document list (API-DOC-LIST).
DISPLAY_STATUSES = ("queuing", "paused", "indexing", "error", "available", "disabled", "archived")


def timestamp(value: datetime | None) -> int | None:
    """Unix seconds, or None."""
    return int(value.timestamp()) if value is not None else None


def default_retrieval_model(indexing_technique: str | None) -> dict[str, Any]:
    """The retrieval settings of a dataset that has none of its own: Dify's defaults, with keyword
    search for an economical dataset (RETRIEVAL-MODEL)."""
    method: SearchMethod = "keyword_search" if indexing_technique == "economy" else "semantic_search"
    return RetrievalSettings(search_method=method).as_dict()


def tag_view(tag: Tag, binding_count: int | None = None) -> dict[str, Any]:
    """A knowledge tag (API-TAG-LIST); ``binding_count`` only where the list shows it."""
    view: dict[str, Any] = {"id": tag.id, "name": tag.name, "type": tag.type}
    if binding_count is not None:
        view["binding_count"] = binding_count
    return view


def dataset_view(
    dataset: Dataset,
    *,
    document_count: int,
    available_document_count: int,
    word_count: int,
    app_count: int,
    tags: Sequence[Tag],
    fields: Sequence[DatasetMetadataField],
    author_name: str | None,
    external_api: Mapping[str, Any] | None = None,
    embedding_available: bool = True,
) -> dict[str, Any]:
    """DATASET-OBJ."""
    external_info = None
    if dataset.provider == "external":
        external_info = {
            "external_knowledge_id": dataset.external_knowledge_id,
            "external_knowledge_api_id": dataset.external_knowledge_api_id,
            "external_knowledge_api_name": (external_api or {}).get("name"),
            "external_knowledge_api_endpoint": (external_api or {}).get("endpoint"),
        }
    return {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description,
        "provider": dataset.provider,
        "permission": dataset.permission,
        "data_source_type": dataset.data_source_type,
        "indexing_technique": dataset.indexing_technique,
        "app_count": app_count,
        "document_count": document_count,
        "word_count": word_count,
        "created_by": dataset.created_by,
        "author_name": author_name,
        "created_at": timestamp(dataset.created_at),
        "updated_by": dataset.updated_by,
        "updated_at": timestamp(dataset.updated_at),
        "embedding_model": dataset.embedding_model,
        "embedding_model_provider": dataset.embedding_model_provider,
        "embedding_available": embedding_available,
        "retrieval_model_dict": dataset.retrieval_model or default_retrieval_model(dataset.indexing_technique),
        "summary_index_setting": dataset.summary_index_setting,
        "tags": [tag_view(tag) for tag in tags],
        "doc_form": dataset.doc_form,
        "external_knowledge_info": external_info,
        "external_retrieval_model": dataset.external_retrieval_model,
        "doc_metadata": [{"id": f.id, "name": f.name, "type": f.type} for f in fields],
        "built_in_field_enabled": dataset.built_in_field_enabled,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": dataset.icon_info,
        "is_published": False,
        "total_documents": document_count,
        "total_available_documents": available_document_count,
        "enable_api": dataset.enable_api,
        "is_multimodal": False,
    }


def display_status(document: Document) -> str:
    """What the console shows of a document (API-DOC-LIST ``status``): queuing, paused, indexing,
    error, available, disabled or archived."""
    status = document.indexing_status
    if document.is_paused and status not in ("completed", "error"):
        return "paused"
    if status == "waiting":
        return "queuing"
    if status in IN_PROGRESS:
        return "indexing"
    if status == "error":
        return "error"
    if document.archived:
        return "archived"
    return "available" if document.enabled else "disabled"


def _metadata_values(document: Document, fields: Sequence[DatasetMetadataField],
                     built_in_enabled: bool) -> list[dict[str, Any]]:
    """A document's metadata as Dify lists it: each custom field it has a value for, then the
    built-in fields when they are on."""
    values = document.doc_metadata or {}
    listed = [
        {"id": field.id, "name": field.name, "type": field.type, "value": values[field.name]}
        for field in fields if field.name in values
    ]
    if built_in_enabled:
        listed += [
            {"id": BUILT_IN_ID, "name": name, "type": kind, "value": values.get(name)}
            for name, kind in BUILT_IN_FIELDS
        ]
    return listed


def process_rule_view(rule: DatasetProcessRule | None) -> dict[str, Any] | None:
    """A process rule as the API shows it: ``{id, dataset_id, mode, rules}``."""
    if rule is None:
        return None
    return {"id": rule.id, "dataset_id": rule.dataset_id, "mode": rule.mode, "rules": rule.rules}


def document_view(
    document: Document,
    *,
    fields: Sequence[DatasetMetadataField] = (),
    built_in_enabled: bool = False,
    detail: bool = False,
    process_rule: DatasetProcessRule | None = None,
    segment_count: int = 0,
    metadata: str = "all",
) -> dict[str, Any]:
    """A document (API-DOC-LIST item; with ``detail``, API-DOC-GET). ``metadata`` is the detail's
    ``all`` / ``only`` (id, doc_type and doc_metadata alone) / ``without`` (all but those)."""
    doc_metadata = _metadata_values(document, fields, built_in_enabled)
    if detail and metadata == "only":
        return {"id": document.id, "doc_type": document.doc_type, "doc_metadata": doc_metadata}
    view: dict[str, Any] = {
        "id": document.id,
        "position": document.position,
        "data_source_type": document.data_source_type,
        "data_source_info": document.data_source_info,
        "data_source_detail_dict": _data_source_detail(document),
        "dataset_process_rule_id": document.dataset_process_rule_id,
        "name": document.name,
        "created_from": document.created_from,
        "created_by": document.created_by,
        "created_at": timestamp(document.created_at),
        "tokens": document.tokens,
        "indexing_status": document.indexing_status,
        "error": document.error,
        "enabled": document.enabled,
        "disabled_at": timestamp(document.disabled_at),
        "disabled_by": document.disabled_by,
        "archived": document.archived,
        "display_status": display_status(document),
        "word_count": document.word_count,
        "hit_count": document.hit_count,
        "doc_form": document.doc_form,
        "doc_metadata": doc_metadata,
        "summary_index_status": None,
        "need_summary": False,
    }
    if not detail:
        return view
    rule = process_rule_view(process_rule)
    view.update({
        "dataset_process_rule": rule,
        "document_process_rule": rule,
        "completed_at": timestamp(document.completed_at),
        "updated_at": timestamp(document.updated_at),
        "indexing_latency": document.indexing_latency,
        "segment_count": segment_count,
        "average_segment_length": (document.word_count // segment_count) if segment_count else 0,
        "doc_language": document.doc_language,
        "doc_type": document.doc_type,
    })
    if metadata == "without":
        view.pop("doc_type")
        view.pop("doc_metadata")
    return view


def _data_source_detail(document: Document) -> dict[str, Any]:
    info = document.data_source_info or {}
    if document.data_source_type == "upload_file" and info.get("upload_file_id"):
        return {"upload_file": {"id": info["upload_file_id"], "name": info.get("name", document.name),
                                "size": info.get("size"), "extension": info.get("extension"),
                                "mime_type": info.get("mime_type")}}
    return {}


def indexing_status_view(document: Document, *, completed_segments: int, total_segments: int) -> dict[str, Any]:
    """One document of ``GET .../documents/{batch}/indexing-status`` (API-DOC-INDEX-STATUS)."""
    status = document.indexing_status
    if document.is_paused and status not in ("completed", "error"):
        status = "paused"
    return {
        "id": document.id,
        "indexing_status": status,
        "processing_started_at": timestamp(document.processing_started_at),
        "parsing_completed_at": timestamp(document.parsing_completed_at),
        "cleaning_completed_at": timestamp(document.cleaning_completed_at),
        "splitting_completed_at": timestamp(document.splitting_completed_at),
        "completed_at": timestamp(document.completed_at),
        "paused_at": timestamp(document.paused_at),
        "error": document.error,
        "stopped_at": timestamp(document.stopped_at),
        "completed_segments": completed_segments,
        "total_segments": total_segments,
    }


def child_chunk_view(child: ChildChunk) -> dict[str, Any]:
    """A child chunk (API-CHILD-LIST)."""
    return {
        "id": child.id,
        "segment_id": child.segment_id,
        "content": child.content,
        "position": child.position,
        "word_count": child.word_count,
        "type": child.type,
        "created_at": timestamp(child.created_at),
        "updated_at": timestamp(child.updated_at),
    }


def segment_view(segment: DocumentSegment, children: Sequence[ChildChunk] = ()) -> dict[str, Any]:
    """A chunk (API-CHUNK-GET ``data``)."""
    return {
        "id": segment.id,
        "position": segment.position,
        "document_id": segment.document_id,
        "content": segment.content,
        "sign_content": segment.content,
        "answer": segment.answer,
        "word_count": segment.word_count,
        "tokens": segment.tokens,
        "keywords": list(segment.keywords or []),
        "index_node_id": segment.index_node_id,
        "index_node_hash": segment.index_node_hash,
        "hit_count": segment.hit_count,
        "enabled": segment.enabled,
        "disabled_at": timestamp(segment.disabled_at),
        "disabled_by": segment.disabled_by,
        "status": segment.status,
        "created_by": segment.created_by,
        "created_at": timestamp(segment.created_at),
        "updated_at": timestamp(segment.updated_at),
        "updated_by": segment.updated_by,
        "indexing_at": timestamp(segment.indexing_at),
        "completed_at": timestamp(segment.completed_at),
        "error": segment.error,
        "stopped_at": timestamp(segment.stopped_at),
        "child_chunks": [child_chunk_view(child) for child in children],
        "attachments": [],
        "summary": segment.summary,
    }
