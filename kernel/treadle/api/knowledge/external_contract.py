"""Our datasets served as an external knowledge API (KB-EXT-SPEC, the other direction): another
Dify (or Treadle) registers ``https://<treadle>/v1`` as an external knowledge API with one of our
knowledge keys, and sends ``POST /retrieval`` with the id of one of our datasets as ``knowledge_id``.

Request: ``Authorization: Bearer <knowledge key>``, ``{knowledge_id, query, retrieval_setting{top_k,
score_threshold}, metadata_condition?}``. Answer: ``{records: [{content, score, title, metadata}]}``,
searched with the dataset's own retrieval settings and the caller's TopK and threshold. Errors are
the contract's ``{error_code, error_msg}``: 1001 (403) for an Authorization header that is not
``Bearer <key>``, 1002 (403) for a key that is not a valid knowledge key, 2001 (404) for a dataset
the key's workspace does not have (or that has its API access switched off), and 400 with code 1000
for a body that does not follow the contract; 5001 when the retrieval itself fails (a model is
missing or failed). A ``score_threshold`` of 0 means no threshold, as the contract sends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...knowledge.errors import KnowledgeError, KnowledgeInputError
from ...knowledge.metadata_filter import MetadataFilter
from ...knowledge.retrieval import Retriever
from ...knowledge.retrieval_model import RetrievalSettings
from ...store import Database, Dataset, SqlApiKeyRecords
from ...tenancy import ApiKeyKind, InvalidApiKey, authenticate_api_key, bearer_token
from ..service.state import service_state

__all__ = ["MAX_TOP_K", "answer_external_retrieval", "external_retrieval"]

#: The most records one request may ask for.
MAX_TOP_K = 100
_INVALID_HEADER, _AUTH_FAILED, _NOT_FOUND, _INVALID_BODY, _RETRIEVAL_FAILED = 1001, 1002, 2001, 1000, 5001


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error_code": code, "error_msg": message}


async def answer_external_retrieval(
    db: Database, retriever: Retriever, authorization: str | None, body: Any
) -> tuple[int, dict[str, Any]]:
    """The status and JSON body answering one ``POST /retrieval``."""
    try:
        token = bearer_token(authorization)
    except InvalidApiKey as exc:
        return _error(403, _INVALID_HEADER, f"Invalid Authorization header format: {exc}")
    try:
        key = await authenticate_api_key(token, SqlApiKeyRecords(db), kind=ApiKeyKind.DATASET)
    except InvalidApiKey:
        return _error(403, _AUTH_FAILED, "Authorization failed. Please check your API key.")
    try:
        knowledge_id, query, top_k, threshold, condition = _request(body)
    except KnowledgeInputError as exc:
        return _error(400, _INVALID_BODY, f"{exc.field}: {exc.message}" if exc.field else exc.message)
    async with db.session() as session:
        dataset = await session.scalar(select(Dataset).where(
            Dataset.id == knowledge_id, Dataset.tenant_id == key.tenant_id, Dataset.provider == "vendor",
            Dataset.enable_api.is_(True),
        ))  # fmt: skip
    if dataset is None:
        return _error(404, _NOT_FOUND, f"The knowledge {knowledge_id!r} does not exist.")
    settings = RetrievalSettings.parse(dataset.retrieval_model)
    if dataset.retrieval_model is None and dataset.indexing_technique == "economy":
        settings = RetrievalSettings(search_method="keyword_search")
    settings = settings.with_limits(top_k=top_k, score_threshold=threshold)
    try:
        chunks = await retriever.retrieve(key.tenant_id, [dataset.id], query, settings, metadata_condition=condition,
                                          source="api")  # fmt: skip
    except KnowledgeError as exc:
        return _error(exc.status if 400 <= exc.status < 600 else 500, _RETRIEVAL_FAILED, exc.message)
    records = [
        {
            "content": chunk.content, "score": chunk.score, "title": chunk.title,
            "metadata": {
                "dataset_id": chunk.dataset_id, "dataset_name": chunk.dataset_name,
                "document_id": chunk.document.id if chunk.document else None,
                "segment_id": chunk.segment.id if chunk.segment else None,
                "segment_position": chunk.segment.position if chunk.segment else None,
                "doc_metadata": dict(chunk.document.doc_metadata or {}) if chunk.document else {},
            },
        }
        for chunk in chunks
    ]  # fmt: skip
    return 200, {"records": records}


def _request(body: Any) -> tuple[str, str, int, float, MetadataFilter | None]:
    if not isinstance(body, Mapping):
        raise KnowledgeInputError("the body must be a JSON object")
    knowledge_id, query = body.get("knowledge_id"), body.get("query")
    if not isinstance(knowledge_id, str) or not knowledge_id:
        raise KnowledgeInputError("a string is required", "knowledge_id")
    if not isinstance(query, str) or not query.strip():
        raise KnowledgeInputError("a non-empty string is required", "query")
    setting = body.get("retrieval_setting")
    if not isinstance(setting, Mapping):
        raise KnowledgeInputError("an object {top_k, score_threshold} is required", "retrieval_setting")
    top_k = setting.get("top_k")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise KnowledgeInputError(f"a whole number from 1 to {MAX_TOP_K} is required", "retrieval_setting.top_k")
    threshold = setting.get("score_threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise KnowledgeInputError("a number from 0 to 1 is required", "retrieval_setting.score_threshold")
    condition = MetadataFilter.parse(body.get("metadata_condition"))
    return knowledge_id, query, top_k, float(threshold), condition


async def external_retrieval(request: Request) -> Response:
    """``POST /retrieval``: the external knowledge API contract over this server's datasets."""
    state = service_state(request)
    runtime = state.knowledge
    if runtime is None:
        return JSONResponse({"error_code": 5003, "error_msg": "This server does not serve knowledge bases."}, 503)
    try:
        body = await request.json()
    except ValueError:
        body = None
    status, answer = await answer_external_retrieval(
        state.db, runtime.retriever, request.headers.get("authorization"), body
    )
    return JSONResponse(answer, status)
