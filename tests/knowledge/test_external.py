"""External knowledge (KB-EXT-API-REGISTER, KB-EXT-KB, KB-EXT-SPEC) against real HTTP servers on
127.0.0.1: calling an external knowledge API (the wire format, its errors, what is done with the
records), keeping the APIs of a workspace (keys sealed and masked, checked when saved), external
datasets in retrieval, and serving our own datasets through the same contract, end to end (our
client against our server)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from support.databases import migrated_database
from support.local_server import LocalServer, closed_port, serving_here
from treadle.api.knowledge.external_contract import external_retrieval
from treadle.config import Settings
from treadle.knowledge.embedding import Embedder
from treadle.knowledge.errors import (
    ExternalKnowledgeApiInUse,
    ExternalKnowledgeApiNotFound,
    ExternalKnowledgeRequestFailed,
    KnowledgeInputError,
)
from treadle.knowledge.external import ExternalKnowledgeApis
from treadle.knowledge.metadata_filter import MetadataFilter
from treadle.knowledge.retrieval import Retriever
from treadle.knowledge.retrieval_model import RetrievalSettings
from treadle.knowledge.vectors import VectorStores
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.store import ApiKey, Database, DatasetQuery, ExternalKnowledgeApi
from treadle.tenancy import ApiKeyKind, SecretCipher, issue_api_key

from .retrieval_rows import add_dataset, add_document, add_tenant, index_vectors

KEY = "ext-secret-key-123"
RECORDS = [
    {"content": "Dify is an LLM app platform.", "score": 0.98, "title": "about.txt", "metadata": {"path": "s3://a"}},
    {"content": "It speaks many formats.", "score": 0.66, "title": "formats.txt", "metadata": {}},
    {"content": "Barely related.", "score": 0.2, "title": "misc.txt"},
]


@dataclass
class ExternalApi:
    """A knowledge service following the contract; ``answer`` says what ``/retrieval`` answers."""

    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    answer: Response | None = None

    async def retrieval(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((dict(request.headers), (await request.json()) if body else None))
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error_code": 1002, "error_msg": "Authorization failed."}, 403)
        if not body:
            return JSONResponse({"error_code": 1000, "error_msg": "no body"}, 400)
        return self.answer or JSONResponse({"records": RECORDS})


@pytest.fixture
def api() -> Any:
    service = ExternalApi()
    app = Starlette(routes=[Route("/kb/retrieval", service.retrieval, methods=["POST"])])
    with LocalServer(app) as server:
        yield service, server.url_for("/kb")


@dataclass
class World:
    db: Database
    apis: ExternalKnowledgeApis
    tenant_id: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with migrated_database(request.param, tmp_path) as db:
        cipher = SecretCipher(server_secret=os.urandom(32))
        yield World(db, ExternalKnowledgeApis(db, cipher), await add_tenant(db))


async def test_a_retrieval_request_follows_the_contract(world: World, api: Any) -> None:
    """KB-EXT-SPEC: POST {endpoint}/retrieval, Bearer key, the body's fields; records in the API's
    order, cut to TopK and the threshold."""
    service, endpoint = api
    condition = MetadataFilter.parse({"conditions": [{"name": "lang", "comparison_operator": "is", "value": "en"}]})
    records = await world.apis.call(endpoint, KEY, "kb-1", "What is Dify?", top_k=5, score_threshold=0.5,
                                    metadata_condition=condition)  # fmt: skip
    headers, body = service.requests[-1]
    assert headers["authorization"] == f"Bearer {KEY}" and headers["content-type"] == "application/json"
    assert body == {
        "knowledge_id": "kb-1", "query": "What is Dify?", "retrieval_setting": {"top_k": 5, "score_threshold": 0.5},
        "metadata_condition": {"logical_operator": "and",
                               "conditions": [{"name": "lang", "comparison_operator": "is", "value": "en"}]},
    }  # fmt: skip
    assert [(r.title, r.score, r.metadata) for r in records] == [("about.txt", 0.98, {"path": "s3://a"}),
                                                                  ("formats.txt", 0.66, {})]  # fmt: skip
    everything = await world.apis.call(endpoint, KEY, "kb-1", "q", top_k=2)
    assert [r.title for r in everything] == ["about.txt", "formats.txt"]
    assert service.requests[-1][1]["retrieval_setting"] == {"top_k": 2, "score_threshold": 0.0}
    assert "metadata_condition" not in service.requests[-1][1]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (JSONResponse({"error_code": 2001, "error_msg": "Knowledge base not found"}, 404),
         "answered 404: error_code 2001: Knowledge base not found"),
        (PlainTextResponse("boom", 500), "answered 500: boom"),
        (PlainTextResponse("not json", 200), "did not answer JSON"),
        (JSONResponse({"results": []}), 'must answer {"records": [...]}'),
        (JSONResponse({"records": [{"content": "x", "score": 1, "metadata": None}]}),
         "records[0]: metadata must be an object, not null"),
        (JSONResponse({"records": [{"content": "x", "score": "high"}]}), "records[0]: score must be a number"),
    ],
)  # fmt: skip
async def test_errors_say_what_the_api_did(world: World, api: Any, answer: Response, message: str) -> None:
    service, endpoint = api
    service.answer = answer
    with pytest.raises(ExternalKnowledgeRequestFailed) as caught:
        await world.apis.call(endpoint, KEY, "kb-1", "q", top_k=3)
    assert message in caught.value.message and endpoint in caught.value.message


async def test_a_refused_key_and_an_unreachable_api(world: World, api: Any) -> None:
    _, endpoint = api
    with pytest.raises(ExternalKnowledgeRequestFailed, match="answered 403: error_code 1002: Authorization failed"):
        await world.apis.call(endpoint, "wrong-key", "kb-1", "q", top_k=3)
    with pytest.raises(ExternalKnowledgeRequestFailed, match="cannot be reached"):
        await world.apis.call(f"http://127.0.0.1:{closed_port()}", KEY, "kb-1", "q", top_k=3)


async def test_apis_are_checked_sealed_masked_and_kept_per_workspace(world: World, api: Any) -> None:
    """KB-EXT-API-REGISTER: saving checks the endpoint with the key; the key is stored sealed and shown masked."""
    service, endpoint = api
    view = await world.apis.create(world.tenant_id, "Wiki", endpoint, KEY, description="our wiki")
    assert service.requests[-1][0]["authorization"] == f"Bearer {KEY}"  # the check, with no body
    assert view.as_dict()["settings"] == {"endpoint": endpoint, "api_key": "ext********23"}
    async with world.db.session() as s:
        row = await s.get(ExternalKnowledgeApi, view.id)
        assert row is not None and KEY not in row.api_key
    with pytest.raises(KnowledgeInputError) as refused:
        await world.apis.create(world.tenant_id, "Bad key", endpoint, "wrong-key")
    assert refused.value.field == "api_key"
    with pytest.raises(KnowledgeInputError) as missing:
        await world.apis.create(world.tenant_id, "Bad path", endpoint + "/nothing", KEY)
    assert missing.value.field == "endpoint"
    with pytest.raises(KnowledgeInputError) as duplicate:
        await world.apis.create(world.tenant_id, "Wiki", endpoint, KEY)
    assert duplicate.value.field == "name"

    renamed = await world.apis.update(world.tenant_id, view.id, name="Wiki 2", api_key=view.api_key)
    assert renamed.name == "Wiki 2"
    dataset = await add_dataset(world.db, world.tenant_id, "External", indexing_technique=None, provider="external",
                                external_knowledge_api_id=view.id, external_knowledge_id="kb-1")  # fmt: skip
    # The masked key kept the real one: retrieval through the API still authenticates.
    assert [r.title for r in await world.apis.retrieve(dataset, "q", top_k=1)] == ["about.txt"]
    listed = await world.apis.list(world.tenant_id)
    assert [(v.name, v.dataset_bindings) for v in listed] == [("Wiki 2", ((dataset.id, "External"),))]
    assert await world.apis.use_count(world.tenant_id, view.id) == 1
    with pytest.raises(ExternalKnowledgeApiInUse):
        await world.apis.delete(world.tenant_id, view.id)
    other = await add_tenant(world.db, "Other")
    with pytest.raises(ExternalKnowledgeApiNotFound):
        await world.apis.get(other, view.id)


async def test_external_datasets_in_retrieval(world: World, api: Any, tmp_path: Path) -> None:
    """KB-EXT-KB: an external dataset is retrieved through its API with its own TopK and threshold."""
    _, endpoint = api
    view = await world.apis.create(world.tenant_id, "Wiki", endpoint, KEY)
    dataset = await add_dataset(
        world.db, world.tenant_id, "External", indexing_technique=None, provider="external",
        external_knowledge_api_id=view.id, external_knowledge_id="kb-1",
        external_retrieval_model={"top_k": 3, "score_threshold": 0.5, "score_threshold_enabled": True},
    )  # fmt: skip
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=[]) as supervisor:
        async with Retriever(world.db, VectorStores(supervisor, Settings.load(home=tmp_path)),
                             Embedder(world.db, supervisor), supervisor, world.apis) as retriever:  # fmt: skip
            found = await retriever.retrieve(world.tenant_id, [dataset.id], "What is Dify?", source="app",
                                             app_id="app-1")  # fmt: skip
    assert [c.as_api_record() for c in found] == [
        {"content": r["content"], "title": r["title"], "score": r["score"], "metadata": r["metadata"]}
        for r in RECORDS[:2]
    ]
    resource = found[0].as_retriever_resource(1)
    assert (resource["document_name"], resource["data_source_type"], resource["segment_id"]) == (
        "about.txt", "external", None)
    async with world.db.session() as s:
        logged = [(q.dataset_id, q.source, q.source_app_id) for q in await s.scalars(select(DatasetQuery))]
    assert logged == [(dataset.id, "app", "app-1")]


async def test_our_datasets_serve_the_contract(world: World, tmp_path: Path) -> None:
    """The other direction: POST /retrieval on our side answers the contract for one of our datasets,
    opened by a knowledge key; our own client reads it as any external API."""
    issued = issue_api_key(ApiKeyKind.DATASET)
    async with world.db.session() as s:
        s.add(ApiKey(tenant_id=world.tenant_id, type="dataset", token_hash=issued.digest, prefix=issued.display))
    settings = Settings.load(home=tmp_path)
    groups = [GroupPlan("inline", True, (PluginSpec("fake"), PluginSpec("faiss-store")))]
    async with PluginSupervisor(settings, groups=groups) as supervisor:
        vectors, embedder = VectorStores(supervisor, settings), Embedder(world.db, supervisor)
        dataset = await add_dataset(world.db, world.tenant_id, "Ours",
                                    retrieval_model=RetrievalSettings(search_method="full_text_search").as_dict())
        rows = await add_document(world.db, dataset, "ours.md", ["Treadle speaks Dify formats.", "Unrelated text."],
                                  doc_metadata={"lang": "en"})  # fmt: skip
        await index_vectors(world.db, vectors, embedder, dataset, rows)
        hidden = await add_dataset(world.db, world.tenant_id, "No API", enable_api=False)
        app = Starlette(routes=[Route("/v1/retrieval", external_retrieval, methods=["POST"])])
        retriever = Retriever(world.db, vectors, embedder, supervisor)
        app.state.service = SimpleNamespace(db=world.db, knowledge=SimpleNamespace(retriever=retriever))
        async with retriever, serving_here(app) as url:
            endpoint = url + "/v1"
            records = await world.apis.call(endpoint, issued.token, dataset.id, "Dify formats", top_k=1)
            assert len(records) == 1 and records[0].content == "Treadle speaks Dify formats."
            assert records[0].title == "ours.md" and records[0].score > 0
            assert records[0].metadata["segment_id"] == rows.segment_ids[0]
            assert records[0].metadata["doc_metadata"] == {"lang": "en"}
            no_match = MetadataFilter.parse({"conditions": [{"name": "lang", "comparison_operator": "is",
                                                             "value": "fr"}]})  # fmt: skip
            assert await world.apis.call(endpoint, issued.token, dataset.id, "Dify formats", top_k=1,
                                         metadata_condition=no_match) == []  # fmt: skip
            for token, knowledge_id, expected in (
                ("app-" + "x" * 24, dataset.id, "error_code 1002"),
                (issued.token, hidden.id, "error_code 2001"),
                (issued.token, "no-such-dataset", "error_code 2001"),
            ):
                with pytest.raises(ExternalKnowledgeRequestFailed, match=expected):
                    await world.apis.call(endpoint, token, knowledge_id, "q", top_k=1)
            with pytest.raises(ExternalKnowledgeRequestFailed, match=r"answered 400: error_code 1000: .*top_k"):
                await world.apis.call(endpoint, issued.token, dataset.id, "q", top_k=500)
            async with httpx.AsyncClient() as client:
                malformed = await client.post(endpoint + "/retrieval", headers={"Authorization": issued.token}, json={})
            assert malformed.status_code == 403 and malformed.json()["error_code"] == 1001


async def test_given_settings_win_over_the_external_datasets_own(world: World, api: Any, tmp_path: Path) -> None:
    """A hit test's or an app's TopK and threshold replace the dataset's own (API-KB-RETRIEVE
    ``external_retrieval_model``)."""
    service, endpoint = api
    view = await world.apis.create(world.tenant_id, "Wiki", endpoint, KEY)
    dataset = await add_dataset(
        world.db, world.tenant_id, "External", indexing_technique=None, provider="external",
        external_knowledge_api_id=view.id, external_knowledge_id="kb-1",
        external_retrieval_model={"top_k": 1, "score_threshold": 0.9, "score_threshold_enabled": True},
    )  # fmt: skip
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=[]) as supervisor, \
            Retriever(world.db, VectorStores(supervisor, Settings.load(home=tmp_path)),
                      Embedder(world.db, supervisor), supervisor, world.apis) as retriever:  # fmt: skip
        own = await retriever.retrieve(world.tenant_id, [dataset.id], "q")
        assert [c.title for c in own] == ["about.txt"]
        assert service.requests[-1][1]["retrieval_setting"] == {"top_k": 1, "score_threshold": 0.9}
        given = await retriever.retrieve(world.tenant_id, [dataset.id], "q", RetrievalSettings(top_k=3))
        assert [c.title for c in given] == ["about.txt", "formats.txt", "misc.txt"]
        assert service.requests[-1][1]["retrieval_setting"] == {"top_k": 3, "score_threshold": 0.0}
