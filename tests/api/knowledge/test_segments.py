"""Chunks and child chunks over HTTP, with the index following every edit (API-CHUNK-CREATE,
API-CHUNK-LIST, API-CHUNK-GET, API-CHUNK-UPDATE, API-CHUNK-DELETE, API-CHILD-CREATE, API-CHILD-LIST,
API-CHILD-UPDATE, API-CHILD-DELETE, KB-CHUNK-EDIT)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from treadle.store import IndexNode

from .conftest import KnowledgeApi

SEGMENT_FIELDS = {
    "id", "position", "document_id", "content", "sign_content", "answer", "word_count", "tokens", "keywords",
    "index_node_id", "index_node_hash", "hit_count", "enabled", "disabled_at", "disabled_by", "status", "created_by",
    "created_at", "updated_at", "updated_by", "indexing_at", "completed_at", "error", "stopped_at", "child_chunks",
    "attachments", "summary",
}


async def _indexed_document(kb: KnowledgeApi, text: str, **fields: Any) -> tuple[str, str]:
    dataset = await kb.dataset()
    made = await kb.text_document(dataset["id"], "Doc", text, **fields)
    (status,) = await kb.indexed(dataset["id"], made["batch"])
    assert status["indexing_status"] == "completed", status
    return dataset["id"], made["document"]["id"]


async def _node_texts(kb: KnowledgeApi, document_id: str) -> list[str]:
    async with kb.api.db.session() as session:
        return sorted(await session.scalars(select(IndexNode.content).where(IndexNode.document_id == document_id)))


async def test_chunks_are_added_edited_disabled_and_deleted_with_the_index_following(kb: KnowledgeApi) -> None:
    dataset_id, document_id = await _indexed_document(kb, "Lunch is at noon.")
    base = f"/datasets/{dataset_id}/documents/{document_id}/segments"
    made = await kb.post(base, {"segments": [{"content": "Parking is behind the office.", "keywords": ["parking"]}]})
    assert made["doc_form"] == "text_model"
    (segment,) = made["data"]
    assert set(segment) == SEGMENT_FIELDS
    assert segment["position"] == 2 and segment["keywords"] == ["parking"]
    assert segment["status"] == "completed"
    assert await _node_texts(kb, document_id) == ["Lunch is at noon.", "Parking is behind the office."]

    edited = await kb.post(f"{base}/{segment['id']}", {"segment": {"content": "Parking is in the basement."}})
    assert edited["data"]["content"] == "Parking is in the basement." and edited["data"]["status"] == "completed"
    assert edited["data"]["index_node_hash"] != segment["index_node_hash"]
    assert await _node_texts(kb, document_id) == ["Lunch is at noon.", "Parking is in the basement."]

    off = await kb.post(f"{base}/{segment['id']}", {"segment": {"enabled": False}})
    assert off["data"]["enabled"] is False and off["data"]["disabled_at"] is not None
    assert await _node_texts(kb, document_id) == ["Lunch is at noon."]
    refused = await kb.client.post(f"{base}/{segment['id']}", headers=kb.headers,
                                   json={"segment": {"content": "while off"}})
    assert refused.status_code == 400
    on = await kb.post(f"{base}/{segment['id']}", {"segment": {"enabled": True}})
    assert on["data"]["enabled"] is True
    assert await _node_texts(kb, document_id) == ["Lunch is at noon.", "Parking is in the basement."]

    listed = await kb.get(base, keyword="basement")
    assert [s["id"] for s in listed["data"]] == [segment["id"]]
    assert set(listed) == {"data", "doc_form", "total", "has_more", "limit", "page"}
    by_status = await kb.client.get(base, headers=kb.headers, params=[("status", "completed")])
    assert by_status.json()["total"] == 2

    deleted = await kb.client.delete(f"{base}/{segment['id']}", headers=kb.headers)
    assert deleted.status_code == 204
    assert await _node_texts(kb, document_id) == ["Lunch is at noon."]
    assert (await kb.client.get(f"{base}/{segment['id']}", headers=kb.headers)).status_code == 404


async def test_chunks_are_added_only_to_an_indexed_enabled_document(kb: KnowledgeApi) -> None:
    dataset_id, document_id = await _indexed_document(kb, "Text.")
    await kb.client.patch(f"/datasets/{dataset_id}/documents/status/disable", headers=kb.headers,
                          json={"document_ids": [document_id]})
    response = await kb.client.post(f"/datasets/{dataset_id}/documents/{document_id}/segments", headers=kb.headers,
                                    json={"segments": [{"content": "more"}]})
    assert response.status_code == 404 and response.json()["message"] == "Document is disabled."


async def test_child_chunks_of_a_parent_child_document(kb: KnowledgeApi) -> None:
    text = "Rooms are booked online.\nKeys are at reception.\n\nThe lift is out of order.\nUse the stairs."
    dataset_id, document_id = await _indexed_document(
        kb, text, doc_form="hierarchical_model",
        process_rule={"mode": "hierarchical", "rules": {
            "segmentation": {"separator": "\n\n", "max_tokens": 500}, "parent_mode": "paragraph",
            "subchunk_segmentation": {"separator": "\n", "max_tokens": 200}}},
    )
    base = f"/datasets/{dataset_id}/documents/{document_id}/segments"
    chunks = await kb.get(base)
    assert chunks["doc_form"] == "hierarchical_model"
    parent = chunks["data"][0]
    assert [c["content"] for c in parent["child_chunks"]] == ["Rooms are booked online.", "Keys are at reception."]
    children = f"{base}/{parent['id']}/child_chunks"
    made = (await kb.post(children, {"content": "Guests sign in."}))["data"]
    assert made["type"] == "custom" and made["position"] == 3
    listed = await kb.get(children)
    assert set(listed) == {"data", "total", "total_pages", "page", "limit"}
    assert listed["total"] == 3 and listed["total_pages"] == 1
    assert "Guests sign in." in await _node_texts(kb, document_id)
    changed = await kb.client.patch(f"{children}/{made['id']}", headers=kb.headers, json={"content": "Guests wait."})
    assert changed.status_code == 200 and changed.json()["data"]["content"] == "Guests wait."
    texts = await _node_texts(kb, document_id)
    assert "Guests wait." in texts and "Guests sign in." not in texts
    assert (await kb.client.delete(f"{children}/{made['id']}", headers=kb.headers)).status_code == 204
    assert "Guests wait." not in await _node_texts(kb, document_id)
    assert (await kb.get(children))["total"] == 2


async def test_child_chunks_need_a_parent_child_document(kb: KnowledgeApi) -> None:
    dataset_id, document_id = await _indexed_document(kb, "Plain text.")
    segment = (await kb.get(f"/datasets/{dataset_id}/documents/{document_id}/segments"))["data"][0]
    response = await kb.client.post(
        f"/datasets/{dataset_id}/documents/{document_id}/segments/{segment['id']}/child_chunks",
        headers=kb.headers, json={"content": "child"},
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"
