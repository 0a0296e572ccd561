"""The Knowledge API's rows of the Service API's OpenAPI document (spec section 1.2, "Knowledge API"):
datasets, documents, chunks, child chunks, metadata, tags and the model list, with Dify's response
shapes (DATASET-OBJ, API-DOC-GET, API-CHUNK-GET ...). The same bearer scheme carries the workspace's
knowledge key (``dataset-…``) here.

:data:`KNOWLEDGE_OPERATIONS` and :data:`KNOWLEDGE_SCHEMAS` are added to the service document's table.
"""

from __future__ import annotations

from ...store import SEGMENT_STATUSES
from ..knowledge.models import MODEL_TYPES
from ..knowledge.requests import (
    ChildChunkListQuery,
    ChildChunkRequest,
    CreateByTextRequest,
    DatasetCreateRequest,
    DatasetListQuery,
    DatasetUpdateRequest,
    DocumentGetQuery,
    DocumentIdsRequest,
    DocumentListQuery,
    DocumentMetadataRequest,
    DocumentsZipRequest,
    MetadataCreateRequest,
    MetadataRenameRequest,
    RetrieveRequest,
    SegmentListQuery,
    SegmentsCreateRequest,
    SegmentUpdateRequest,
    TagBindRequest,
    TagCreateRequest,
    TagIdRequest,
    TagUnbindRequest,
    TagUpdateRequest,
    UpdateByTextRequest,
)
from .builder import (
    ANY,
    BOOL,
    INT,
    JSON,
    NUM,
    OBJECT,
    STR,
    TIMESTAMP,
    UUID,
    Body,
    Operation,
    arr,
    enum,
    nullable,
    obj,
    ref,
)

__all__ = ["KNOWLEDGE_OPERATIONS", "KNOWLEDGE_SCHEMAS"]

_TS = nullable(TIMESTAMP)
_NSTR = nullable(STR)

_TAG = obj({"id": STR, "name": STR, "type": STR, "binding_count": {"type": ["integer", "string"]}},
           optional=("binding_count",), description="A knowledge tag (API-TAG-LIST).")

_DATASET = obj({
    "id": UUID,
    "name": STR,
    "description": _NSTR,
    "provider": enum("vendor", "external"),
    "permission": enum("only_me", "all_team_members", "partial_members"),
    "data_source_type": _NSTR,
    "indexing_technique": nullable(enum("high_quality", "economy")),
    "app_count": INT,
    "document_count": INT,
    "word_count": INT,
    "created_by": _NSTR,
    "author_name": _NSTR,
    "created_at": TIMESTAMP,
    "updated_by": _NSTR,
    "updated_at": TIMESTAMP,
    "embedding_model": _NSTR,
    "embedding_model_provider": _NSTR,
    "embedding_available": nullable(BOOL),
    "retrieval_model_dict": OBJECT,
    "summary_index_setting": nullable(OBJECT),
    "tags": arr(obj({"id": STR, "name": STR, "type": STR})),
    "doc_form": _NSTR,
    "external_knowledge_info": nullable(OBJECT),
    "external_retrieval_model": nullable(OBJECT),
    "doc_metadata": arr(obj({"id": STR, "name": STR, "type": STR})),
    "built_in_field_enabled": BOOL,
    "pipeline_id": _NSTR,
    "runtime_mode": _NSTR,
    "chunk_structure": _NSTR,
    "icon_info": nullable(OBJECT),
    "is_published": BOOL,
    "total_documents": INT,
    "total_available_documents": INT,
    "enable_api": BOOL,
    "is_multimodal": BOOL,
}, description="A knowledge base (DATASET-OBJ).")

_DOC_METADATA = arr(obj({"id": STR, "name": STR, "type": STR, "value": ANY}))

_DOCUMENT_PROPERTIES: dict[str, JSON] = {
    "id": UUID,
    "position": INT,
    "data_source_type": STR,
    "data_source_info": nullable(OBJECT),
    "data_source_detail_dict": nullable(OBJECT),
    "dataset_process_rule_id": _NSTR,
    "name": STR,
    "created_from": STR,
    "created_by": _NSTR,
    "created_at": TIMESTAMP,
    "tokens": INT,
    "indexing_status": enum("waiting", "parsing", "cleaning", "splitting", "indexing", "completed", "error"),
    "error": _NSTR,
    "enabled": BOOL,
    "disabled_at": _TS,
    "disabled_by": _NSTR,
    "archived": BOOL,
    "display_status": enum("queuing", "paused", "indexing", "error", "available", "disabled", "archived"),
    "word_count": INT,
    "hit_count": INT,
    "doc_form": STR,
    "doc_metadata": _DOC_METADATA,
    "summary_index_status": _NSTR,
    "need_summary": nullable(BOOL),
}
_DOCUMENT = obj(_DOCUMENT_PROPERTIES, description="A document (API-DOC-LIST).")
_DETAIL_PROPERTIES: dict[str, JSON] = {
    **_DOCUMENT_PROPERTIES,
    "dataset_process_rule": nullable(OBJECT),
    "document_process_rule": nullable(OBJECT),
    "completed_at": _TS,
    "updated_at": TIMESTAMP,
    "indexing_latency": nullable(NUM),
    "segment_count": INT,
    "average_segment_length": INT,
    "doc_language": _NSTR,
    "doc_type": _NSTR,
}
_DOCUMENT_DETAIL = obj(
    _DETAIL_PROPERTIES, optional=[name for name in _DETAIL_PROPERTIES if name != "id"],
    description="A document in full (API-DOC-GET); `metadata=only` sends id, doc_type and doc_metadata alone, "
                "`metadata=without` all but those two.",
)
_CREATED = obj({"document": ref("KnowledgeDocument"), "batch": STR},
               description="The new document and its upload batch; indexing runs in the background.")

_INDEXING_STATUS = obj({
    "id": UUID,
    "indexing_status": enum("waiting", "parsing", "cleaning", "splitting", "indexing", "completed", "error",
                            "paused"),
    "processing_started_at": _TS,
    "parsing_completed_at": _TS,
    "cleaning_completed_at": _TS,
    "splitting_completed_at": _TS,
    "completed_at": _TS,
    "paused_at": _TS,
    "error": _NSTR,
    "stopped_at": _TS,
    "completed_segments": INT,
    "total_segments": INT,
})

_CHILD_CHUNK = obj({
    "id": UUID,
    "segment_id": UUID,
    "content": STR,
    "position": INT,
    "word_count": INT,
    "type": enum("automatic", "custom"),
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
}, description="A child chunk (API-CHILD-LIST).")

_SEGMENT = obj({
    "id": UUID,
    "position": INT,
    "document_id": UUID,
    "content": STR,
    "sign_content": STR,
    "answer": _NSTR,
    "word_count": INT,
    "tokens": INT,
    "keywords": arr(STR),
    "index_node_id": _NSTR,
    "index_node_hash": _NSTR,
    "hit_count": INT,
    "enabled": BOOL,
    "disabled_at": _TS,
    "disabled_by": _NSTR,
    "status": enum(*SEGMENT_STATUSES),
    "created_by": _NSTR,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "updated_by": _NSTR,
    "indexing_at": _TS,
    "completed_at": _TS,
    "error": _NSTR,
    "stopped_at": _TS,
    "child_chunks": arr(ref("ChildChunk")),
    "attachments": arr(OBJECT),
    "summary": _NSTR,
}, description="A chunk of a document (API-CHUNK-GET).")

_PAGE_FIELDS: dict[str, JSON] = {"total": INT, "has_more": BOOL, "limit": INT, "page": INT}

_FIELD = obj({"id": UUID, "name": STR, "type": enum("string", "number", "time")},
             description="A metadata field (API-META-CREATE).")

_RECORD = obj({
    "segment": OBJECT,
    "child_chunks": nullable(arr(OBJECT)),
    "score": nullable(NUM),
    "tsne_position": ANY,
    "files": arr(ANY),
    "content": STR,
    "title": STR,
    "metadata": nullable(OBJECT),
}, optional=("segment", "child_chunks", "score", "tsne_position", "files", "content", "title", "metadata"),
   description="A retrieved chunk with its document (`segment.document`), or an external dataset's "
               "`{content, title, score, metadata}`.")

_MODEL = obj({
    "model": STR,
    "label": OBJECT,
    "model_type": STR,
    "features": arr(STR),
    "fetch_from": STR,
    "model_properties": OBJECT,
    "deprecated": BOOL,
    "status": STR,
    "load_balancing_enabled": BOOL,
})

KNOWLEDGE_SCHEMAS: dict[str, JSON] = {
    "Dataset": _DATASET,
    "DatasetPage": obj({"data": arr(ref("Dataset")), **_PAGE_FIELDS}, description="Datasets (API-KB-LIST)."),
    "KnowledgeDocument": _DOCUMENT,
    "KnowledgeDocumentDetail": _DOCUMENT_DETAIL,
    "KnowledgeDocumentPage": obj({"data": arr(ref("KnowledgeDocument")), **_PAGE_FIELDS},
                                 description="Documents (API-DOC-LIST)."),
    "DocumentCreated": _CREATED,
    "IndexingStatus": obj({"data": arr(_INDEXING_STATUS)}, description="A batch's documents (API-DOC-INDEX-STATUS)."),
    "ChildChunk": _CHILD_CHUNK,
    "Segment": _SEGMENT,
    "SegmentPage": obj({"data": arr(ref("Segment")), "doc_form": STR, **_PAGE_FIELDS},
                       description="Chunks (API-CHUNK-LIST)."),
    "SegmentDetail": obj({"data": ref("Segment"), "doc_form": STR}),
    "SegmentsCreated": obj({"data": arr(ref("Segment")), "doc_form": STR}),
    "ChildChunkDetail": obj({"data": ref("ChildChunk")}),
    "ChildChunkPage": obj({"data": arr(ref("ChildChunk")), "total": INT, "total_pages": INT, "page": INT,
                           "limit": INT}, description="Child chunks (API-CHILD-LIST)."),
    "MetadataField": _FIELD,
    "MetadataFieldList": obj({
        "doc_metadata": arr(obj({"id": UUID, "name": STR, "type": STR, "count": INT})),
        "built_in_field_enabled": BOOL,
    }, description="A dataset's metadata fields (API-META-LIST)."),
    "BuiltInFields": obj({"fields": arr(obj({"name": STR, "type": STR}))}),
    "KnowledgeTag": _TAG,
    "DatasetTags": obj({"data": arr(obj({"id": STR, "name": STR})), "total": INT}),
    "RetrievalResult": obj({"query": obj({"content": STR}), "records": arr(_RECORD)},
                           description="Retrieved chunks (API-KB-RETRIEVE)."),
    "ModelList": obj({"data": arr(obj({
        "provider": STR, "label": OBJECT, "icon_small": _NSTR, "icon_large": _NSTR, "status": STR,
        "models": arr(_MODEL),
    }))}, description="Available models of a type (API-MODELS)."),
    "DownloadUrl": obj({"url": STR}),
}

# -- the table --------------------------------------------------------------------------------------

_DS = {"dataset_id": {**UUID, "description": "A dataset (knowledge base) id."}}
_DOC = {**_DS, "document_id": {**UUID, "description": "A document id."}}
_SEG = {**_DOC, "segment_id": {**UUID, "description": "A chunk id."}}
_CHILD = {**_SEG, "child_chunk_id": {**UUID, "description": "A child chunk id."}}
_RESULT = Body("Done: `{result: \"success\"}`.", json=ref("Result"))
_NONE = Body("Done; no content.")
_FILE_FORM: JSON = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The document (txt, md, html, pdf, docx ...)."},
        "data": {"type": "string", "description": "A JSON object as a string: indexing_technique, doc_form, "
                                                  "doc_language, process_rule, retrieval_model, embedding_model, "
                                                  "embedding_model_provider."},
    },
}
_PAGE_DOC = "/datasets/{dataset_id}/documents/{document_id}"
_SEGMENTS = _PAGE_DOC + "/segments"


def _by_text(path: str, operation_id: str, summary: str, spec: str, body: type, note: str = "") -> Operation:
    return Operation("POST", path, operation_id, summary, "Documents",
                     Body("The document and its batch.", json=ref("DocumentCreated")), spec=(spec,), body=body,
                     path_params=_DOC if "{document_id}" in path else _DS, errors=(403, 404), description=note)


def _by_file(path: str, operation_id: str, summary: str, spec: str, note: str = "") -> Operation:
    return Operation("POST", path, operation_id, summary, "Documents",
                     Body("The document and its batch.", json=ref("DocumentCreated")), spec=(spec,), form=_FILE_FORM,
                     path_params=_DOC if "{document_id}" in path else _DS, errors=(403, 404), description=note)


_ALIAS = "The same operation under the path older Dify clients use."

KNOWLEDGE_OPERATIONS: tuple[Operation, ...] = (
    # Datasets
    Operation("POST", "/datasets", "createDataset", "Create an empty knowledge base", "Knowledge bases",
              Body("The dataset.", json=ref("Dataset")), spec=("API-KB-CREATE",), body=DatasetCreateRequest,
              errors=(409,)),
    Operation("GET", "/datasets", "listDatasets", "List knowledge bases", "Knowledge bases",
              Body("A page of datasets.", json=ref("DatasetPage")), spec=("API-KB-LIST",), query=DatasetListQuery,
              params={"tag_ids": {**arr(STR), "description": "Only datasets with one of these tags."}}),
    Operation("GET", "/datasets/{dataset_id}", "getDataset", "A knowledge base", "Knowledge bases",
              Body("The dataset.", json=ref("Dataset")), spec=("API-KB-GET",), path_params=_DS, errors=(403,)),
    Operation("PATCH", "/datasets/{dataset_id}", "updateDataset", "Update a knowledge base", "Knowledge bases",
              Body("The dataset.", json=ref("Dataset")), spec=("API-KB-UPDATE",), body=DatasetUpdateRequest,
              path_params=_DS, errors=(403, 409)),
    Operation("DELETE", "/datasets/{dataset_id}", "deleteDataset", "Delete a knowledge base", "Knowledge bases",
              _NONE, spec=("API-KB-DELETE",), status=204, path_params=_DS, errors=(409,)),
    Operation("POST", "/datasets/{dataset_id}/retrieve", "retrieveChunks", "Retrieve chunks (test retrieval)",
              "Knowledge bases", Body("The chunks.", json=ref("RetrievalResult")), spec=("API-KB-RETRIEVE",),
              body=RetrieveRequest, path_params=_DS, errors=(403,)),
    Operation("POST", "/datasets/{dataset_id}/hit-testing", "hitTesting", "Hit testing", "Knowledge bases",
              Body("The chunks.", json=ref("RetrievalResult")), spec=("API-KB-RETRIEVE", "KB-TEST-RETRIEVAL"),
              body=RetrieveRequest, path_params=_DS, errors=(403,),
              description="Retrieve, recorded as a hit test rather than an API retrieval."),
    # Documents
    _by_text("/datasets/{dataset_id}/document/create-by-text", "createDocumentByText", "Create a document from text",
             "API-DOC-CREATE-TEXT", CreateByTextRequest),
    _by_text("/datasets/{dataset_id}/document/create_by_text", "createDocumentByTextLegacy",
             "Create a document from text (older path)", "API-DOC-CREATE-TEXT", CreateByTextRequest, _ALIAS),
    _by_file("/datasets/{dataset_id}/document/create-by-file", "createDocumentByFile", "Create a document from a file",
             "API-DOC-CREATE-FILE"),
    _by_file("/datasets/{dataset_id}/document/create_by_file", "createDocumentByFileLegacy",
             "Create a document from a file (older path)", "API-DOC-CREATE-FILE", _ALIAS),
    Operation("GET", "/datasets/{dataset_id}/documents", "listDocuments", "List documents", "Documents",
              Body("A page of documents.", json=ref("KnowledgeDocumentPage")), spec=("API-DOC-LIST",),
              query=DocumentListQuery, path_params=_DS),
    Operation("GET", _PAGE_DOC, "getDocument", "A document", "Documents",
              Body("The document.", json=ref("KnowledgeDocumentDetail")), spec=("API-DOC-GET",),
              query=DocumentGetQuery, path_params=_DOC, errors=(403,)),
    Operation("DELETE", _PAGE_DOC, "deleteDocument", "Delete a document", "Documents", _NONE,
              spec=("API-DOC-DELETE",), status=204, path_params=_DOC, errors=(403,)),
    Operation("GET", _PAGE_DOC + "/download", "downloadDocument", "A signed URL of a document's file", "Documents",
              Body("The URL.", json=ref("DownloadUrl")), spec=("API-DOC-DOWNLOAD",), path_params=_DOC,
              errors=(403,)),
    Operation("POST", "/datasets/{dataset_id}/documents/download-zip", "downloadDocumentsZip",
              "Download documents as a ZIP archive", "Documents",
              Body("The archive.", media=("application/zip",)), spec=("API-DOC-ZIP",), body=DocumentsZipRequest,
              path_params=_DS, errors=(403,)),
    Operation("GET", "/datasets/{dataset_id}/documents/{batch}/indexing-status", "getIndexingStatus",
              "Indexing status of a batch", "Documents", Body("The batch's documents.", json=ref("IndexingStatus")),
              spec=("API-DOC-INDEX-STATUS",), path_params={**_DS, "batch": {**STR, "description": "A batch id."}}),
    _by_text(_PAGE_DOC + "/update-by-text", "updateDocumentByText", "Update a document with text",
             "API-DOC-UPDATE-TEXT", UpdateByTextRequest),
    _by_text(_PAGE_DOC + "/update_by_text", "updateDocumentByTextLegacy", "Update a document with text (older path)",
             "API-DOC-UPDATE-TEXT", UpdateByTextRequest, _ALIAS),
    _by_file(_PAGE_DOC + "/update-by-file", "updateDocumentByFile", "Update a document with a file",
             "API-DOC-UPDATE-FILE"),
    _by_file(_PAGE_DOC + "/update_by_file", "updateDocumentByFileLegacy", "Update a document with a file (older path)",
             "API-DOC-UPDATE-FILE", _ALIAS),
    Operation("PATCH", "/datasets/{dataset_id}/documents/status/{action}", "updateDocumentStatus",
              "Enable, disable, archive or un-archive documents", "Documents", _RESULT,
              spec=("API-DOC-STATUS-BATCH",), body=DocumentIdsRequest,
              path_params={**_DS, "action": enum("enable", "disable", "archive", "un_archive")}, errors=(403,)),
    # Chunks
    Operation("POST", _SEGMENTS, "createSegments", "Add chunks", "Chunks",
              Body("The new chunks.", json=ref("SegmentsCreated")), spec=("API-CHUNK-CREATE",),
              body=SegmentsCreateRequest, path_params=_DOC),
    Operation("GET", _SEGMENTS, "listSegments", "List chunks", "Chunks",
              Body("A page of chunks.", json=ref("SegmentPage")), spec=("API-CHUNK-LIST",), query=SegmentListQuery,
              params={"status": {**arr(enum(*SEGMENT_STATUSES)), "description": "Only chunks in these statuses."}},
              path_params=_DOC),
    Operation("GET", _SEGMENTS + "/{segment_id}", "getSegment", "A chunk", "Chunks",
              Body("The chunk.", json=ref("SegmentDetail")), spec=("API-CHUNK-GET",), path_params=_SEG),
    Operation("POST", _SEGMENTS + "/{segment_id}", "updateSegment", "Update a chunk", "Chunks",
              Body("The chunk.", json=ref("SegmentDetail")), spec=("API-CHUNK-UPDATE",), body=SegmentUpdateRequest,
              path_params=_SEG),
    Operation("DELETE", _SEGMENTS + "/{segment_id}", "deleteSegment", "Delete a chunk", "Chunks", _NONE,
              spec=("API-CHUNK-DELETE",), status=204, path_params=_SEG),
    Operation("POST", _SEGMENTS + "/{segment_id}/child_chunks", "createChildChunk", "Add a child chunk", "Chunks",
              Body("The child chunk.", json=ref("ChildChunkDetail")), spec=("API-CHILD-CREATE",),
              body=ChildChunkRequest, path_params=_SEG),
    Operation("GET", _SEGMENTS + "/{segment_id}/child_chunks", "listChildChunks", "List child chunks", "Chunks",
              Body("A page of child chunks.", json=ref("ChildChunkPage")), spec=("API-CHILD-LIST",),
              query=ChildChunkListQuery, path_params=_SEG),
    Operation("PATCH", _SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}", "updateChildChunk",
              "Update a child chunk", "Chunks", Body("The child chunk.", json=ref("ChildChunkDetail")),
              spec=("API-CHILD-UPDATE",), body=ChildChunkRequest, path_params=_CHILD),
    Operation("DELETE", _SEGMENTS + "/{segment_id}/child_chunks/{child_chunk_id}", "deleteChildChunk",
              "Delete a child chunk", "Chunks", _NONE, spec=("API-CHILD-DELETE",), status=204, path_params=_CHILD),
    # Metadata
    Operation("POST", "/datasets/{dataset_id}/metadata", "createMetadataField", "Create a metadata field",
              "Metadata", Body("The field.", json=ref("MetadataField")), spec=("API-META-CREATE",), status=201,
              body=MetadataCreateRequest, path_params=_DS),
    Operation("GET", "/datasets/{dataset_id}/metadata", "listMetadataFields", "List metadata fields", "Metadata",
              Body("The fields.", json=ref("MetadataFieldList")), spec=("API-META-LIST",), path_params=_DS),
    Operation("PATCH", "/datasets/{dataset_id}/metadata/{metadata_id}", "renameMetadataField",
              "Rename a metadata field", "Metadata", Body("The field.", json=ref("MetadataField")),
              spec=("API-META-UPDATE",), body=MetadataRenameRequest, path_params={**_DS, "metadata_id": UUID}),
    Operation("DELETE", "/datasets/{dataset_id}/metadata/{metadata_id}", "deleteMetadataField",
              "Delete a metadata field", "Metadata", _NONE, spec=("API-META-DELETE",), status=204,
              path_params={**_DS, "metadata_id": UUID}),
    Operation("GET", "/datasets/{dataset_id}/metadata/built-in", "getBuiltInMetadataFields",
              "The built-in metadata fields", "Metadata", Body("The fields.", json=ref("BuiltInFields")),
              spec=("API-META-BUILTIN",), path_params=_DS),
    Operation("POST", "/datasets/{dataset_id}/metadata/built-in/{action}", "toggleBuiltInMetadataFields",
              "Switch the built-in metadata fields on or off", "Metadata", _RESULT,
              spec=("API-META-BUILTIN-TOGGLE",), path_params={**_DS, "action": enum("enable", "disable")}),
    Operation("POST", "/datasets/{dataset_id}/documents/metadata", "updateDocumentMetadata",
              "Set documents' metadata values", "Metadata", _RESULT, spec=("API-META-DOC-BATCH",),
              body=DocumentMetadataRequest, path_params=_DS),
    # Tags
    Operation("POST", "/datasets/tags", "createKnowledgeTag", "Create a knowledge tag", "Tags",
              Body("The tag.", json=ref("KnowledgeTag")), spec=("API-TAG-CREATE",), body=TagCreateRequest),
    Operation("GET", "/datasets/tags", "listKnowledgeTags", "List knowledge tags", "Tags",
              Body("The tags.", json=arr(ref("KnowledgeTag"))), spec=("API-TAG-LIST",)),
    Operation("PATCH", "/datasets/tags", "updateKnowledgeTag", "Rename a knowledge tag", "Tags",
              Body("The tag.", json=ref("KnowledgeTag")), spec=("API-TAG-UPDATE",), body=TagUpdateRequest,
              errors=(404,)),
    Operation("DELETE", "/datasets/tags", "deleteKnowledgeTag", "Delete a knowledge tag", "Tags", _NONE,
              spec=("API-TAG-DELETE",), status=204, body=TagIdRequest, errors=(404,)),
    Operation("POST", "/datasets/tags/binding", "bindKnowledgeTags", "Tag a knowledge base", "Tags", _NONE,
              spec=("API-TAG-BIND",), status=204, body=TagBindRequest, errors=(404,)),
    Operation("POST", "/datasets/tags/unbinding", "unbindKnowledgeTag", "Untag a knowledge base", "Tags", _NONE,
              spec=("API-TAG-UNBIND",), status=204, body=TagUnbindRequest, errors=(404,)),
    Operation("GET", "/datasets/{dataset_id}/tags", "getDatasetTags", "A knowledge base's tags", "Tags",
              Body("The tags.", json=ref("DatasetTags")), spec=("API-TAG-OF-KB",), path_params=_DS),
    # Models
    Operation("GET", "/workspaces/current/models/model-types/{model_type}", "listAvailableModels",
              "Available models of a type", "Models", Body("The providers and their models.", json=ref("ModelList")),
              spec=("API-MODELS",), path_params={"model_type": enum(*MODEL_TYPES)}),
)
