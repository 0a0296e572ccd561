"""The Knowledge API in process: the real application over a migrated database, plugins inline
(the fake models, the faiss store and the document extractor, so documents are really indexed),
and a knowledge key of the workspace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.knowledge import knowledge_key
from support.service_api import INLINE_PLUGINS, ServiceApi, service_api
from treadle.store import Document

KNOWLEDGE_PLUGINS = (*INLINE_PLUGINS, "faiss-store", "doc-extractor")
#: The fake provider's embedding model (no credentials needed).
EMBEDDING = {"embedding_model_provider": "fake", "embedding_model": "fake-embedding"}


@dataclass
class KnowledgeApi:
    """The running API and a knowledge key's Authorization header."""

    api: ServiceApi
    headers: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    async def ok(self, call: Awaitable[httpx.Response], status: int = 200) -> Any:
        response = await call
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.ok(self.client.get(path, headers=self.headers, params=params))

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        return await self.ok(self.client.post(path, headers=self.headers, json=body), status)

    async def dataset(self, name: str = "Handbook", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "indexing_technique": "high_quality", **EMBEDDING, **fields}
        created: dict[str, Any] = await self.post("/datasets", body)
        return created

    async def text_document(self, dataset_id: str, name: str, text: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "text": text, "indexing_technique": "high_quality",
                "process_rule": {"mode": "automatic"}, **fields}
        made: dict[str, Any] = await self.post(f"/datasets/{dataset_id}/document/create-by-text", body)
        return made

    async def indexed(self, dataset_id: str, batch: str) -> list[dict[str, Any]]:
        """Wait until every document of ``batch`` has finished indexing (completed or error); their status."""
        for _ in range(600):
            status = await self.get(f"/datasets/{dataset_id}/documents/{batch}/indexing-status")
            if all(item["indexing_status"] in ("completed", "error") for item in status["data"]):
                return list(status["data"])
            await asyncio.sleep(0.05)
        raise AssertionError(f"batch {batch} did not finish indexing: {status}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def kb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KnowledgeApi]:
    async with service_api(tmp_path, backend=request.param, plugins=KNOWLEDGE_PLUGINS) as api:
        yield KnowledgeApi(api, {"Authorization": f"Bearer {await knowledge_key(api.db, api.tenant_id)}"})


async def document_row(api: ServiceApi, document_id: str) -> Document:
    async with api.db.session() as session:
        found = await session.get(Document, document_id)
    assert found is not None
    return found

