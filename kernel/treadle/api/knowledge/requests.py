"""Request bodies and query strings of the Knowledge API, validated as Dify validates them (unknown
fields ignored). A body that does not fit answers ``invalid_param`` naming the field
(:func:`treadle.api.service.requests.parse`); the knowledge operations check what needs the stored
dataset (names taken, chunk structure, process rules, retrieval settings)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...knowledge.datasets import DATASET_DESCRIPTION_MAX, DATASET_NAME_MAX
from ...knowledge.documents import ZIP_MAX_DOCUMENTS
from ...knowledge.tags import TAG_NAME_MAX
from ..service.requests import MAX_PAGE

__all__ = [
    "ChildChunkListQuery",
    "ChildChunkRequest",
    "CreateByTextRequest",
    "DatasetCreateRequest",
    "DatasetListQuery",
    "DatasetUpdateRequest",
    "DocumentData",
    "DocumentGetQuery",
    "DocumentIdsRequest",
    "DocumentListQuery",
    "DocumentMetadataRequest",
    "DocumentsZipRequest",
    "MetadataCreateRequest",
    "MetadataRenameRequest",
    "RetrieveRequest",
    "SegmentListQuery",
    "SegmentUpdateRequest",
    "SegmentsCreateRequest",
    "TagBindRequest",
    "TagCreateRequest",
    "TagIdRequest",
    "TagUnbindRequest",
    "TagUpdateRequest",
    "UpdateByTextRequest",
]

IndexingTechnique = Literal["high_quality", "economy"]
Permission = Literal["only_me", "all_team_members", "partial_members"]
DocForm = Literal["text_model", "hierarchical_model", "qa_model"]
DocumentStatus = Literal["queuing", "indexing", "paused", "error", "available", "disabled", "archived"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Page(_Model):
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    #: API-COMMON-PAGE: 20 by default, the server caps at 100.
    limit: int = Field(default=20, ge=1, le=100)


# -- datasets ------------------------------------------------------------------------------------------


class DatasetCreateRequest(_Model):
    """``POST /datasets`` (API-KB-CREATE)."""

    name: str = Field(min_length=1, max_length=DATASET_NAME_MAX)
    description: str = Field(default="", max_length=DATASET_DESCRIPTION_MAX)
    indexing_technique: IndexingTechnique | None = None
    permission: Permission = "only_me"
    provider: Literal["vendor", "external"] = "vendor"
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model: dict[str, Any] | None = None
    external_knowledge_api_id: str | None = None
    external_knowledge_id: str | None = None
    summary_index_setting: dict[str, Any] | None = None


class DatasetListQuery(_Page):
    """``GET /datasets`` (API-KB-LIST); ``tag_ids`` may repeat, so the route reads it apart."""

    keyword: str = ""
    include_all: bool = False


class PartialMember(_Model):
    user_id: str


class ExternalRetrievalModel(_Model):
    top_k: int = Field(default=2, ge=1, le=10)
    score_threshold: float = Field(default=0.0, ge=0, le=1)
    score_threshold_enabled: bool = False


class DatasetUpdateRequest(_Model):
    """``PATCH /datasets/{dataset_id}`` (API-KB-UPDATE): only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=DATASET_NAME_MAX)
    description: str | None = Field(default=None, max_length=DATASET_DESCRIPTION_MAX)
    indexing_technique: IndexingTechnique | None = None
    permission: Permission | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    retrieval_model: dict[str, Any] | None = None
    partial_member_list: list[PartialMember] | None = None
    external_retrieval_model: ExternalRetrievalModel | None = None
    external_knowledge_id: str | None = None
    external_knowledge_api_id: str | None = None


class RetrieveRequest(_Model):
    """``POST /datasets/{dataset_id}/retrieve`` (API-KB-RETRIEVE); ``query`` is at most 250 characters."""

    query: str
    retrieval_model: dict[str, Any] | None = None
    external_retrieval_model: dict[str, Any] | None = None
    attachment_ids: list[str] | None = None


# -- documents -----------------------------------------------------------------------------------------


class DocumentData(_Model):
    """How a document is processed: the fields create-by-text takes beside ``name`` and ``text``,
    and the JSON string ``data`` of create-by-file (API-DOC-CREATE-TEXT, API-DOC-CREATE-FILE)."""

    indexing_technique: IndexingTechnique | None = None
    doc_form: DocForm | None = None
    doc_language: str | None = None
    process_rule: dict[str, Any] | None = None
    retrieval_model: dict[str, Any] | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None
    original_document_id: str | None = None


class CreateByTextRequest(DocumentData):
    """``POST /datasets/{dataset_id}/document/create-by-text`` (API-DOC-CREATE-TEXT)."""

    name: str = Field(min_length=1)
    text: str = Field(min_length=1)


class UpdateByTextRequest(DocumentData):
    """``POST .../documents/{document_id}/update-by-text`` (API-DOC-UPDATE-TEXT): ``name`` is
    required when ``text`` is given."""

    name: str | None = None
    text: str | None = None


class DocumentListQuery(_Page):
    """``GET /datasets/{dataset_id}/documents`` (API-DOC-LIST)."""

    keyword: str = ""
    status: DocumentStatus | None = None


class DocumentGetQuery(_Model):
    """``GET .../documents/{document_id}`` (API-DOC-GET): ``metadata`` is all, only or without."""

    metadata: str = "all"


class DocumentIdsRequest(_Model):
    """``PATCH /datasets/{dataset_id}/documents/status/{action}`` (API-DOC-STATUS-BATCH)."""

    document_ids: list[str] = Field(min_length=1)


class DocumentsZipRequest(_Model):
    """``POST /datasets/{dataset_id}/documents/download-zip`` (API-DOC-ZIP)."""

    document_ids: list[str] = Field(min_length=1, max_length=ZIP_MAX_DOCUMENTS)


# -- chunks --------------------------------------------------------------------------------------------


class SegmentInput(_Model):
    content: str
    answer: str | None = None
    keywords: list[str] | None = None
    attachment_ids: list[str] | None = None


class SegmentsCreateRequest(_Model):
    """``POST .../documents/{document_id}/segments`` (API-CHUNK-CREATE)."""

    segments: list[SegmentInput] = Field(min_length=1)


class SegmentListQuery(_Page):
    """``GET .../segments`` (API-CHUNK-LIST); ``status`` may repeat, so the route reads it apart."""

    keyword: str = ""


class SegmentChanges(_Model):
    content: str | None = None
    answer: str | None = None
    keywords: list[str] | None = None
    enabled: bool | None = None
    regenerate_child_chunks: bool = False
    attachment_ids: list[str] | None = None
    summary: str | None = None


class SegmentUpdateRequest(_Model):
    """``POST .../segments/{segment_id}`` (API-CHUNK-UPDATE; POST, not PATCH, as in Dify)."""

    segment: SegmentChanges


class ChildChunkRequest(_Model):
    """``POST .../child_chunks`` and ``PATCH .../child_chunks/{child_chunk_id}`` (API-CHILD-*)."""

    content: str = Field(min_length=1)


class ChildChunkListQuery(_Page):
    """``GET .../child_chunks`` (API-CHILD-LIST)."""

    keyword: str = ""


# -- metadata ------------------------------------------------------------------------------------------


class MetadataCreateRequest(_Model):
    """``POST /datasets/{dataset_id}/metadata`` (API-META-CREATE)."""

    type: Literal["string", "number", "time"]
    name: str = Field(min_length=1)


class MetadataRenameRequest(_Model):
    """``PATCH /datasets/{dataset_id}/metadata/{metadata_id}`` (API-META-UPDATE)."""

    name: str = Field(min_length=1)


class MetadataValue(_Model):
    id: str
    name: str
    value: str | int | float | None = None


class MetadataOperation(_Model):
    document_id: str
    metadata_list: list[MetadataValue]
    partial_update: bool = False


class DocumentMetadataRequest(_Model):
    """``POST /datasets/{dataset_id}/documents/metadata`` (API-META-DOC-BATCH)."""

    operation_data: list[MetadataOperation]


# -- tags ----------------------------------------------------------------------------------------------


class TagCreateRequest(_Model):
    """``POST /datasets/tags`` (API-TAG-CREATE)."""

    name: str = Field(min_length=1, max_length=TAG_NAME_MAX)


class TagUpdateRequest(_Model):
    """``PATCH /datasets/tags`` (API-TAG-UPDATE): the tag's id is in the body."""

    tag_id: str
    name: str = Field(min_length=1, max_length=TAG_NAME_MAX)


class TagIdRequest(_Model):
    """``DELETE /datasets/tags`` (API-TAG-DELETE): the tag's id is in the body."""

    tag_id: str


class TagBindRequest(_Model):
    """``POST /datasets/tags/binding`` (API-TAG-BIND)."""

    tag_ids: list[str] = Field(min_length=1)
    target_id: str


class TagUnbindRequest(_Model):
    """``POST /datasets/tags/unbinding`` (API-TAG-UNBIND)."""

    tag_id: str
    target_id: str
