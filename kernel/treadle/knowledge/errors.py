"""The errors of knowledge bases: one small hierarchy, each error saying what was wrong and where.

The Knowledge API maps them to Dify's documented ``{code, message, status}`` answers through
``code`` and ``status``; the CLI prints the message.
"""

from __future__ import annotations

__all__ = [
    "ArchivedDocumentImmutable",
    "ChildChunkNotFound",
    "DatasetInUse",
    "DatasetNameDuplicate",
    "DatasetNotFound",
    "DatasetNotInitialized",
    "DocumentIndexing",
    "DocumentNotFound",
    "ExternalKnowledgeApiInUse",
    "ExternalKnowledgeApiNotFound",
    "ExternalKnowledgeRequestFailed",
    "InvalidAction",
    "KnowledgeError",
    "KnowledgeInputError",
    "KnowledgeNotFound",
    "MetadataFieldNotFound",
    "ModelNotConfigured",
    "ModelRequestFailed",
    "SegmentNotFound",
    "TagNotFound",
]


class KnowledgeError(Exception):
    """Base of every knowledge error. ``code`` and ``status`` are the API's answer for it."""

    code = "knowledge_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KnowledgeInputError(KnowledgeError, ValueError):
    """A request or setting that cannot be used; ``field`` is its path
    (``process_rule.rules.segmentation.max_tokens``)."""

    code = "invalid_param"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class KnowledgeNotFound(KnowledgeError, LookupError):
    code = "not_found"
    status = 404


class DatasetNotFound(KnowledgeNotFound):
    def __init__(self, dataset_id: str) -> None:
        super().__init__("Dataset not found.")
        self.dataset_id = dataset_id


class DocumentNotFound(KnowledgeNotFound):
    def __init__(self, document_id: str) -> None:
        super().__init__("Document not found.")
        self.document_id = document_id


class SegmentNotFound(KnowledgeNotFound):
    def __init__(self, segment_id: str) -> None:
        super().__init__("Segment not found.")
        self.segment_id = segment_id


class DatasetNameDuplicate(KnowledgeError):
    code = "dataset_name_duplicate"
    status = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"The dataset name {name!r} already exists. Please modify your dataset name.")
        self.name = name


class DatasetInUse(KnowledgeError):
    code = "dataset_in_use"
    status = 409

    def __init__(self, dataset_id: str, app_ids: list[str]) -> None:
        super().__init__(f"The dataset is being used by {len(app_ids)} app(s). Please remove it from them first.")
        self.dataset_id = dataset_id
        self.app_ids = app_ids


class DocumentIndexing(KnowledgeError):
    code = "document_indexing"

    def __init__(self, document_id: str) -> None:
        super().__init__("The document is being processed and cannot be edited.")
        self.document_id = document_id


class ArchivedDocumentImmutable(KnowledgeError):
    code = "archived_document_immutable"
    status = 403

    def __init__(self, document_id: str) -> None:
        super().__init__("The archived document is not editable.")
        self.document_id = document_id


class DatasetNotInitialized(KnowledgeError):
    code = "dataset_not_initialized"

    def __init__(self, dataset_id: str) -> None:
        super().__init__("The dataset is still being initialized or indexing. Please wait a moment.")
        self.dataset_id = dataset_id


class ModelNotConfigured(KnowledgeError):
    """The embedding (or rerank) model a dataset needs is not set up for the workspace."""

    code = "provider_not_initialize"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ChildChunkNotFound(KnowledgeNotFound):
    def __init__(self, child_chunk_id: str) -> None:
        super().__init__("Child chunk not found.")
        self.child_chunk_id = child_chunk_id


class MetadataFieldNotFound(KnowledgeNotFound):
    def __init__(self, metadata_id: str) -> None:
        super().__init__("Metadata not found.")
        self.metadata_id = metadata_id


class TagNotFound(KnowledgeNotFound):
    def __init__(self, tag_id: str) -> None:
        super().__init__("Tag not found.")
        self.tag_id = tag_id


class InvalidAction(KnowledgeError):
    """An action word in a path that is not one of the route's (``enable``, ``disable`` ...)."""

    code = "invalid_action"

    def __init__(self, action: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"Invalid action {action!r}: use one of {', '.join(allowed)}.")
        self.action = action


class ModelRequestFailed(KnowledgeError):
    """A model (embedding, rerank) was there but failed; the message carries the provider's."""

    code = "completion_request_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ExternalKnowledgeApiNotFound(KnowledgeNotFound):
    def __init__(self, api_id: str) -> None:
        super().__init__("External knowledge API not found.")
        self.api_id = api_id


class ExternalKnowledgeApiInUse(KnowledgeError):
    """An external knowledge API that datasets still use cannot be deleted."""

    code = "external_knowledge_api_in_use"
    status = 409

    def __init__(self, api_id: str, dataset_ids: list[str]) -> None:
        super().__init__(f"The external knowledge API is used by {len(dataset_ids)} dataset(s); delete them first.")
        self.api_id = api_id
        self.dataset_ids = dataset_ids


class ExternalKnowledgeRequestFailed(KnowledgeError):
    """An external knowledge API could not be reached or answered outside the contract (KB-EXT-SPEC)."""

    code = "external_knowledge_request_failed"
    status = 502
