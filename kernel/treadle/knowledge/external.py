"""External knowledge APIs (KB-EXT-API-REGISTER, KB-EXT-KB, KB-EXT-SPEC): a workspace's registered
endpoints, and retrieval from an external dataset through one.

The wire contract is Dify's: ``POST {endpoint}/retrieval`` with ``Authorization: Bearer <key>`` and
``{knowledge_id, query, retrieval_setting{top_k, score_threshold}, metadata_condition?}``; the answer
is HTTP 200 with ``{records: [{content, score, title, metadata}]}`` where ``metadata`` is an object.
Any other status is an error, reported with the body's ``error_code``/``error_msg`` when it has them.
Records are kept in the order the API gives, cut to ``top_k`` and to the score threshold (an API
may not apply them itself).

Keys are sealed with the workspace cipher and shown masked. Saving an API first checks that its
endpoint answers, as Dify does: a request with the key and no body must not be refused for the key
(401/403), be missing (404) or fail (5xx, no connection).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..store import Database, Dataset, ExternalKnowledgeApi
from ..tenancy import SecretCipher
from .errors import (
    ExternalKnowledgeApiInUse,
    ExternalKnowledgeApiNotFound,
    ExternalKnowledgeRequestFailed,
    KnowledgeInputError,
)
from .metadata_filter import MetadataFilter

__all__ = ["ExternalKnowledgeApiView", "ExternalKnowledgeApis", "ExternalRecord", "retrieval_url"]

#: Seconds to connect to an external knowledge API, and to wait for its answer.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
_MAX_NAME = 100


def retrieval_url(endpoint: str) -> str:
    """Where retrievals go: the endpoint with ``/retrieval`` appended (KB-EXT-API-REGISTER)."""
    return endpoint.rstrip("/") + "/retrieval"


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * 8}{key[-2:]}" if len(key) > 8 else "*" * len(key)


def _context(api_id: str) -> str:
    return f"external_knowledge_apis/{api_id}/api_key"


@dataclass(frozen=True, slots=True)
class ExternalRecord:
    """One record an external knowledge API answered."""

    content: str
    score: float
    title: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ExternalKnowledgeApiView:
    """A registered API as the console shows it: the key masked, and the datasets bound to it."""

    id: str
    tenant_id: str
    name: str
    description: str
    endpoint: str
    api_key: str
    created_by: str | None
    created_at: datetime
    dataset_bindings: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Dify's shape of an external knowledge API."""
        return {
            "id": self.id, "tenant_id": self.tenant_id, "name": self.name, "description": self.description,
            "settings": {"endpoint": self.endpoint, "api_key": self.api_key},
            "dataset_bindings": [{"id": i, "name": n} for i, n in self.dataset_bindings],
            "created_by": self.created_by, "created_at": int(self.created_at.timestamp()),
        }  # fmt: skip


class ExternalKnowledgeApis:
    """The external knowledge APIs of every workspace of ``db``, and retrieval through them."""

    def __init__(
        self, db: Database, cipher: SecretCipher, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.db = db
        self.cipher = cipher
        self._transport = transport

    # -- retrieval ---------------------------------------------------------------------------------------

    async def retrieve(
        self,
        dataset: Dataset,
        query: str,
        *,
        top_k: int,
        score_threshold: float | None = None,
        metadata_condition: MetadataFilter | None = None,
    ) -> list[ExternalRecord]:
        """The records the external dataset's API answers for ``query`` (KB-EXT-SPEC)."""
        if not dataset.external_knowledge_api_id or not dataset.external_knowledge_id:
            raise ExternalKnowledgeRequestFailed(
                f"dataset {dataset.id} is external but has no external knowledge API or knowledge id"
            )
        async with self.db.session() as session:
            row = await _row(session, dataset.tenant_id, dataset.external_knowledge_api_id)
            endpoint, sealed = row.endpoint, row.api_key
        key = self.cipher.decrypt(dataset.tenant_id, sealed, context=_context(row.id))
        return await self.call(
            endpoint, key, dataset.external_knowledge_id, query, top_k=top_k, score_threshold=score_threshold,
            metadata_condition=metadata_condition,
        )  # fmt: skip

    async def call(
        self,
        endpoint: str,
        api_key: str,
        knowledge_id: str,
        query: str,
        *,
        top_k: int,
        score_threshold: float | None = None,
        metadata_condition: MetadataFilter | None = None,
    ) -> list[ExternalRecord]:
        """One retrieval request to ``endpoint``; its records, at most ``top_k``, none under the threshold."""
        url = retrieval_url(endpoint)
        body: dict[str, Any] = {
            "knowledge_id": knowledge_id,
            "query": query,
            # A switched-off threshold is sent as 0.0: everything up to TopK comes back (KB-EXT-KB).
            "retrieval_setting": {"top_k": top_k, "score_threshold": score_threshold or 0.0},
        }
        if metadata_condition is not None:
            body["metadata_condition"] = metadata_condition.as_dict()
        response = await self._post(url, api_key, body)
        if response.status_code != 200:
            raise ExternalKnowledgeRequestFailed(_failure(url, response))
        try:
            answer = response.json()
        except ValueError:
            raise ExternalKnowledgeRequestFailed(f"the external knowledge API at {url} did not answer JSON") from None
        records = _records(url, answer)
        if score_threshold:
            records = [record for record in records if record.score >= score_threshold]
        return records[:top_k]

    async def _post(self, url: str, api_key: str, body: Mapping[str, Any] | None) -> httpx.Response:
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        headers = {"Authorization": f"Bearer {api_key}"}
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                if body is None:
                    return await client.post(url, headers=headers)
                return await client.post(url, json=dict(body), headers=headers)
        except httpx.HTTPError as exc:
            raise ExternalKnowledgeRequestFailed(
                f"the external knowledge API at {url} cannot be reached: {exc or type(exc).__name__}"
            ) from None

    # -- managing ----------------------------------------------------------------------------------------

    async def create(
        self, tenant_id: str, name: str, endpoint: str, api_key: str, *, description: str = "",
        created_by: str | None = None,
    ) -> ExternalKnowledgeApiView:  # fmt: skip
        """Register an API once its endpoint answers (see the module docstring)."""
        name, endpoint = _checked(name, endpoint, api_key)
        await self.check(endpoint, api_key)
        row = ExternalKnowledgeApi(
            tenant_id=tenant_id, name=name, description=description, endpoint=endpoint, api_key="",
            created_by=created_by,
        )  # fmt: skip
        try:
            async with self.db.session() as session:
                session.add(row)
                await session.flush()
                row.api_key = self.cipher.encrypt(tenant_id, api_key, context=_context(row.id))
        except IntegrityError:
            raise KnowledgeInputError(f"an external knowledge API named {name!r} exists already", "name") from None
        return _view(row, api_key)

    async def update(
        self, tenant_id: str, api_id: str, *, name: str | None = None, endpoint: str | None = None,
        api_key: str | None = None, description: str | None = None,
    ) -> ExternalKnowledgeApiView:  # fmt: skip
        """Change an API; a masked ``api_key`` (as it is shown) keeps the stored key."""
        async with self.db.session() as session:
            row = await _row(session, tenant_id, api_id)
            current = self.cipher.decrypt(tenant_id, row.api_key, context=_context(row.id))
            old_name, old_endpoint = row.name, row.endpoint
        key = current if api_key is None or api_key == _mask(current) else api_key
        new_name, new_endpoint = _checked(name or old_name, endpoint or old_endpoint, key)
        if (new_endpoint, key) != (old_endpoint, current):
            await self.check(new_endpoint, key)
        try:
            async with self.db.session() as session:
                row = await _row(session, tenant_id, api_id)
                row.name, row.endpoint = new_name, new_endpoint
                if description is not None:
                    row.description = description
                row.api_key = self.cipher.encrypt(tenant_id, key, context=_context(row.id))
                bindings = await _bindings(session, tenant_id, api_id)
        except IntegrityError:
            raise KnowledgeInputError(f"an external knowledge API named {new_name!r} exists already", "name") from None
        return _view(row, key, bindings)

    async def list(self, tenant_id: str) -> list[ExternalKnowledgeApiView]:
        """The workspace's APIs, newest first, keys masked."""
        async with self.db.session() as session:
            rows = list(await session.scalars(
                select(ExternalKnowledgeApi).where(ExternalKnowledgeApi.tenant_id == tenant_id)
                .order_by(ExternalKnowledgeApi.created_at.desc(), ExternalKnowledgeApi.id)
            ))  # fmt: skip
            views = []
            for row in rows:
                key = self.cipher.decrypt(tenant_id, row.api_key, context=_context(row.id))
                views.append(_view(row, key, await _bindings(session, tenant_id, row.id)))
        return views

    async def get(self, tenant_id: str, api_id: str) -> ExternalKnowledgeApiView:
        async with self.db.session() as session:
            row = await _row(session, tenant_id, api_id)
            bindings = await _bindings(session, tenant_id, api_id)
        return _view(row, self.cipher.decrypt(tenant_id, row.api_key, context=_context(row.id)), bindings)

    async def delete(self, tenant_id: str, api_id: str) -> None:
        """Remove an API; refused (:class:`ExternalKnowledgeApiInUse`) while a dataset uses it."""
        async with self.db.session() as session:
            row = await _row(session, tenant_id, api_id)
            bindings = await _bindings(session, tenant_id, api_id)
            if bindings:
                raise ExternalKnowledgeApiInUse(api_id, [dataset_id for dataset_id, _ in bindings])
            await session.delete(row)

    async def use_count(self, tenant_id: str, api_id: str) -> int:
        """How many datasets use the API."""
        async with self.db.session() as session:
            await _row(session, tenant_id, api_id)
            count = await session.scalar(select(func.count()).select_from(Dataset).where(
                Dataset.tenant_id == tenant_id, Dataset.external_knowledge_api_id == api_id))  # fmt: skip
        return int(count or 0)

    async def check(self, endpoint: str, api_key: str) -> None:
        """Raise :class:`KnowledgeInputError` (field ``endpoint``) unless the endpoint answers a keyed
        request without refusing the key, being missing or failing."""
        url = retrieval_url(endpoint)
        try:
            response = await self._post(url, api_key, None)
        except ExternalKnowledgeRequestFailed as exc:
            raise KnowledgeInputError(exc.message, "endpoint") from None
        if response.status_code in (401, 403):
            raise KnowledgeInputError(f"{url} refused the API key ({response.status_code})", "api_key")
        if response.status_code == 404 or response.status_code >= 500:
            raise KnowledgeInputError(f"{url} answered {response.status_code}: {_failure(url, response)}", "endpoint")


# -- helpers ------------------------------------------------------------------------------------------


def _failure(url: str, response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and ("error_code" in body or "error_msg" in body):
        return (f"the external knowledge API at {url} answered {response.status_code}: "
                f"error_code {body.get('error_code')}: {body.get('error_msg')}")  # fmt: skip
    return f"the external knowledge API at {url} answered {response.status_code}: {response.text[:200]}"


def _records(url: str, answer: Any) -> list[ExternalRecord]:
    if not isinstance(answer, Mapping) or not isinstance(answer.get("records"), list):
        raise ExternalKnowledgeRequestFailed(f"the external knowledge API at {url} must answer {{\"records\": [...]}}")
    records = []
    for index, raw in enumerate(answer["records"]):
        where = f"the external knowledge API at {url}, records[{index}]"
        if not isinstance(raw, Mapping):
            raise ExternalKnowledgeRequestFailed(f"{where} is not an object")
        metadata = raw.get("metadata", {})
        if not isinstance(metadata, Mapping):
            shown = "null" if metadata is None else type(metadata).__name__
            raise ExternalKnowledgeRequestFailed(f"{where}: metadata must be an object, not {shown}")
        score = raw.get("score", 0.0)
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise ExternalKnowledgeRequestFailed(f"{where}: score must be a number, not {score!r}")
        content, title = raw.get("content", ""), raw.get("title", "")
        if not isinstance(content, str) or not isinstance(title, str):
            raise ExternalKnowledgeRequestFailed(f"{where}: content and title must be strings")
        records.append(ExternalRecord(content, float(score), title, dict(metadata)))
    return records


def _checked(name: str, endpoint: str, api_key: str) -> tuple[str, str]:
    name, endpoint = name.strip(), endpoint.strip()
    if not name or len(name) > _MAX_NAME:
        raise KnowledgeInputError(f"name: 1 to {_MAX_NAME} characters", "name")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise KnowledgeInputError(f"endpoint: an http(s) URL, not {endpoint!r}", "endpoint")
    if not api_key:
        raise KnowledgeInputError("api_key is required", "api_key")
    return name, endpoint


async def _row(session: Any, tenant_id: str, api_id: str) -> ExternalKnowledgeApi:
    row: ExternalKnowledgeApi | None = await session.scalar(select(ExternalKnowledgeApi).where(
        ExternalKnowledgeApi.id == api_id, ExternalKnowledgeApi.tenant_id == tenant_id))  # fmt: skip
    if row is None:
        raise ExternalKnowledgeApiNotFound(api_id)
    return row


async def _bindings(session: Any, tenant_id: str, api_id: str) -> tuple[tuple[str, str], ...]:
    rows = await session.execute(
        select(Dataset.id, Dataset.name)
        .where(Dataset.tenant_id == tenant_id, Dataset.external_knowledge_api_id == api_id)
        .order_by(Dataset.name)
    )
    return tuple((dataset_id, name) for dataset_id, name in rows)


def _view(
    row: ExternalKnowledgeApi, key: str, bindings: tuple[tuple[str, str], ...] = ()
) -> ExternalKnowledgeApiView:
    return ExternalKnowledgeApiView(
        row.id, row.tenant_id, row.name, row.description, row.endpoint, _mask(key), row.created_by, row.created_at,
        bindings,
    )  # fmt: skip
