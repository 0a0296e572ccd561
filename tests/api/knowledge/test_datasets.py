"""Datasets over HTTP with a knowledge key: create, list (keyword, tags, pages), get, update, delete,
the documented errors, and the key's scope (API-KB-CREATE, API-KB-LIST, API-KB-GET, API-KB-UPDATE,
API-KB-DELETE, DATASET-OBJ, API-COMMON-AUTH, API-COMMON-ERR)."""

from __future__ import annotations

from typing import Any

from support.service_api import ServiceApi
from treadle.store import App

from .conftest import KnowledgeApi

DATASET_FIELDS = {
    "id", "name", "description", "provider", "permission", "data_source_type", "indexing_technique", "app_count",
    "document_count", "word_count", "created_by", "author_name", "created_at", "updated_by", "updated_at",
    "embedding_model", "embedding_model_provider", "embedding_available", "retrieval_model_dict",
    "summary_index_setting", "tags", "doc_form", "external_knowledge_info", "external_retrieval_model",
    "doc_metadata", "built_in_field_enabled", "pipeline_id", "runtime_mode", "chunk_structure", "icon_info",
    "is_published", "total_documents", "total_available_documents", "enable_api", "is_multimodal",
}


async def test_a_dataset_is_created_with_dify_defaults_and_every_documented_field(kb: KnowledgeApi) -> None:
    made = await kb.dataset("Handbook", description="Staff handbook")
    assert set(made) == DATASET_FIELDS
    assert made["name"] == "Handbook" and made["description"] == "Staff handbook"
    assert made["permission"] == "only_me" and made["provider"] == "vendor"
    assert made["indexing_technique"] == "high_quality"
    assert (made["embedding_model_provider"], made["embedding_model"]) == ("fake", "fake-embedding")
    assert made["document_count"] == 0 and made["word_count"] == 0 and made["app_count"] == 0
    assert made["retrieval_model_dict"]["search_method"] == "semantic_search"
    assert made["retrieval_model_dict"]["top_k"] == 3
    assert made["created_by"] and made["author_name"]
    assert isinstance(made["created_at"], int)
    assert await kb.get(f"/datasets/{made['id']}") == made


async def test_an_empty_dataset_may_leave_the_technique_for_its_first_document(kb: KnowledgeApi) -> None:
    made = await kb.post("/datasets", {"name": "Later"})
    assert made["indexing_technique"] is None and made["embedding_model"] is None


async def test_names_are_unique_in_a_workspace_and_at_most_40_characters(kb: KnowledgeApi) -> None:
    await kb.dataset("Same")
    again = await kb.client.post("/datasets", headers=kb.headers, json={"name": "Same"})
    assert again.status_code == 409
    assert again.json()["code"] == "dataset_name_duplicate"
    long = await kb.client.post("/datasets", headers=kb.headers, json={"name": "x" * 41})
    assert long.status_code == 400 and long.json()["code"] == "invalid_param"
    assert long.json()["params"] == "name"


async def test_high_quality_without_any_embedding_model_is_provider_not_initialize(kb: KnowledgeApi) -> None:
    response = await kb.client.post("/datasets", headers=kb.headers,
                                    json={"name": "No model", "indexing_technique": "high_quality"})
    assert response.status_code == 400
    assert response.json()["code"] == "provider_not_initialize"


async def test_bad_retrieval_settings_name_the_field(kb: KnowledgeApi) -> None:
    response = await kb.client.post("/datasets", headers=kb.headers, json={
        "name": "Bad", "retrieval_model": {"search_method": "semantic_search", "top_k": 50},
    })
    assert response.status_code == 400
    assert response.json()["params"] == "retrieval_model.top_k"


async def test_the_list_pages_and_filters_by_keyword_and_tag(kb: KnowledgeApi) -> None:
    ids = [(await kb.dataset(f"Set {n}"))["id"] for n in range(5)]
    page = await kb.get("/datasets", page=1, limit=2)
    assert (page["total"], page["has_more"], page["limit"], page["page"]) == (5, True, 2, 1)
    assert [d["id"] for d in page["data"]] == ids[::-1][:2]  # newest first
    last = await kb.get("/datasets", page=3, limit=2)
    assert [d["id"] for d in last["data"]] == [ids[0]] and last["has_more"] is False
    assert [d["name"] for d in (await kb.get("/datasets", keyword="set 3"))["data"]] == ["Set 3"]
    tag = await kb.post("/datasets/tags", {"name": "hr"})
    await kb.post("/datasets/tags/binding", {"tag_ids": [tag["id"]], "target_id": ids[1]}, status=204)
    tagged = await kb.get("/datasets", tag_ids=tag["id"])
    assert [d["id"] for d in tagged["data"]] == [ids[1]]
    assert tagged["data"][0]["tags"] == [{"id": tag["id"], "name": "hr", "type": "knowledge"}]
    over = await kb.client.get("/datasets", headers=kb.headers, params={"limit": 101})
    assert over.status_code == 400


async def test_update_changes_only_what_is_sent(kb: KnowledgeApi) -> None:
    made = await kb.dataset("Before", description="keep me")
    response = await kb.client.patch(f"/datasets/{made['id']}", headers=kb.headers, json={
        "name": "After", "permission": "all_team_members",
        "retrieval_model": {"search_method": "hybrid_search", "reranking_enable": False, "top_k": 5,
                            "score_threshold_enabled": True, "score_threshold": 0.2},
    })
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "After" and updated["description"] == "keep me"
    assert updated["permission"] == "all_team_members"
    assert updated["retrieval_model_dict"]["search_method"] == "hybrid_search"
    assert updated["retrieval_model_dict"]["top_k"] == 5
    other = await kb.dataset("Other")
    clash = await kb.client.patch(f"/datasets/{other['id']}", headers=kb.headers, json={"name": "After"})
    assert clash.status_code == 409


async def test_delete_answers_204_then_the_dataset_is_not_found(kb: KnowledgeApi) -> None:
    made = await kb.dataset("Doomed")
    deleted = await kb.client.delete(f"/datasets/{made['id']}", headers=kb.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    missing = await kb.client.get(f"/datasets/{made['id']}", headers=kb.headers)
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Dataset not found.", "status": 404}


async def test_a_dataset_an_app_retrieves_from_cannot_be_deleted(kb: KnowledgeApi) -> None:
    made = await kb.dataset("In use")
    app_id = await _app_with_dataset(kb.api, made["id"])
    refused = await kb.client.delete(f"/datasets/{made['id']}", headers=kb.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "dataset_in_use"
    assert (await kb.get(f"/datasets/{made['id']}"))["app_count"] == 1
    await _drop_app(kb.api, app_id)
    assert (await kb.client.delete(f"/datasets/{made['id']}", headers=kb.headers)).status_code == 204


async def _app_with_dataset(api: ServiceApi, dataset_id: str) -> str:
    """A chat app whose model config retrieves from the dataset (``dataset_configs``), as Dify stores it."""
    config = {"dataset_configs": {"retrieval_model": "multiple",
                                  "datasets": {"datasets": [{"dataset": {"enabled": True, "id": dataset_id}}]}}}
    async with api.db.session() as session:
        app = App(tenant_id=api.tenant_id, mode="chat", name="Uses the dataset", model_config=config)
        session.add(app)
        await session.flush()
        return app.id


async def _drop_app(api: ServiceApi, app_id: str) -> None:
    async with api.db.session() as session:
        app = await session.get(App, app_id)
        assert app is not None
        await session.delete(app)


async def test_an_app_key_does_not_open_the_knowledge_api_nor_a_knowledge_key_an_app(kb: KnowledgeApi) -> None:
    await kb.api.add_app("chat", CHAT)
    response = await kb.client.get("/datasets", headers=kb.api.auth("chat"))
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    refused = await kb.client.get("/parameters", headers=kb.headers)
    assert refused.status_code == 401
    missing = await kb.client.get("/datasets")
    assert missing.status_code == 401


async def test_the_available_models_of_a_type_are_listed(kb: KnowledgeApi) -> None:
    found: dict[str, Any] = await kb.get("/workspaces/current/models/model-types/text-embedding")
    fake = next(p for p in found["data"] if p["provider"] == "fake")
    assert "fake-embedding" in [m["model"] for m in fake["models"]]
    assert all(m["model_type"] == "text-embedding" for p in found["data"] for m in p["models"])
    bad = await kb.client.get("/workspaces/current/models/model-types/nonsense", headers=kb.headers)
    assert bad.status_code == 400


CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chat}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: ""
  user_input_form: []
"""



async def test_the_indexing_technique_is_fixed_once_documents_exist(kb: KnowledgeApi) -> None:
    made = await kb.dataset("Fixed")
    await kb.text_document(made["id"], "Doc", "text")
    response = await kb.client.patch(f"/datasets/{made['id']}", headers=kb.headers,
                                     json={"indexing_technique": "economy"})
    assert response.status_code == 400 and response.json()["params"] == "indexing_technique"
    members = await kb.client.patch(f"/datasets/{made['id']}", headers=kb.headers, json={
        "permission": "partial_members", "partial_member_list": [{"user_id": "u-1"}]})
    assert members.status_code == 200 and members.json()["permission"] == "partial_members"
