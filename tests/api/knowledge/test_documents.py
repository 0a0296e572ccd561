"""Documents over HTTP: created from text and from files, indexed in the background by the real
pipeline (fake embedding model, faiss store, document extractor), polled through indexing-status,
listed by status, read, updated, switched, downloaded and deleted (API-DOC-CREATE-TEXT,
API-DOC-CREATE-FILE, API-DOC-INDEX-STATUS, API-DOC-LIST, API-DOC-GET, API-DOC-DELETE,
API-DOC-UPDATE-TEXT, API-DOC-UPDATE-FILE, API-DOC-STATUS-BATCH, API-DOC-DOWNLOAD, API-DOC-ZIP,
KB-CHUNK-IMMUTABLE)."""

from __future__ import annotations

import io
import json
import zipfile

from .conftest import KnowledgeApi, document_row

HANDBOOK = "Holidays are booked in the staff portal.\nExpenses are paid monthly.\nThe office opens at nine."

DOCUMENT_FIELDS = {
    "id", "position", "data_source_type", "data_source_info", "data_source_detail_dict", "dataset_process_rule_id",
    "name", "created_from", "created_by", "created_at", "tokens", "indexing_status", "error", "enabled",
    "disabled_at", "disabled_by", "archived", "display_status", "word_count", "hit_count", "doc_form",
    "doc_metadata", "summary_index_status", "need_summary",
}
DETAIL_FIELDS = DOCUMENT_FIELDS | {
    "dataset_process_rule", "document_process_rule", "completed_at", "updated_at", "indexing_latency",
    "segment_count", "average_segment_length", "doc_language", "doc_type",
}


async def test_a_text_document_is_indexed_and_its_chunks_listed(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    made = await kb.text_document(dataset["id"], "Handbook", HANDBOOK)
    assert set(made) == {"document", "batch"}
    document = made["document"]
    assert set(document) == DOCUMENT_FIELDS
    assert document["name"] == "Handbook" and document["position"] == 1
    assert document["data_source_type"] == "upload_file" and document["created_from"] == "api"
    assert document["indexing_status"] in ("waiting", "parsing", "cleaning", "splitting", "indexing", "completed")
    (status,) = await kb.indexed(dataset["id"], made["batch"])
    assert status["indexing_status"] == "completed", status
    assert status["id"] == document["id"]
    assert status["total_segments"] >= 1 and status["completed_segments"] == status["total_segments"]
    assert all(isinstance(status[f], int) for f in ("processing_started_at", "completed_at"))
    detail = await kb.get(f"/datasets/{dataset['id']}/documents/{document['id']}")
    assert set(detail) == DETAIL_FIELDS
    assert detail["display_status"] == "available" and detail["segment_count"] == status["total_segments"]
    assert detail["dataset_process_rule"]["mode"] == "automatic"
    chunks = await kb.get(f"/datasets/{dataset['id']}/documents/{document['id']}/segments")
    assert chunks["doc_form"] == "text_model" and chunks["total"] == status["total_segments"]
    text = "\n".join(c["content"] for c in chunks["data"])
    assert "staff portal" in text and "nine" in text
    first = chunks["data"][0]
    one = await kb.get(f"/datasets/{dataset['id']}/documents/{document['id']}/segments/{first['id']}")
    assert one == {"data": first, "doc_form": "text_model"}
    assert first["status"] == "completed" and first["enabled"] is True
    # The first document fixed the dataset's chunk structure and counted its words.
    after = await kb.get(f"/datasets/{dataset['id']}")
    assert after["doc_form"] == "text_model" and after["document_count"] == 1
    assert after["word_count"] == detail["word_count"] > 0
    assert after["total_available_documents"] == 1


async def test_get_document_metadata_modes(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    document = (await kb.text_document(dataset["id"], "Doc", HANDBOOK))["document"]
    path = f"/datasets/{dataset['id']}/documents/{document['id']}"
    only = await kb.get(path, metadata="only")
    assert set(only) == {"id", "doc_type", "doc_metadata"}
    without = await kb.get(path, metadata="without")
    assert "doc_metadata" not in without and "name" in without
    bad = await kb.client.get(path, headers=kb.headers, params={"metadata": "some"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_metadata"


async def test_the_first_document_needs_an_indexing_technique(kb: KnowledgeApi) -> None:
    dataset = await kb.post("/datasets", {"name": "Empty"})
    response = await kb.client.post(f"/datasets/{dataset['id']}/document/create-by-text", headers=kb.headers,
                                    json={"name": "a", "text": "b"})
    assert response.status_code == 400
    assert response.json()["message"] == "indexing_technique is required."


async def test_a_dataset_keeps_the_chunk_structure_of_its_first_document(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    await kb.text_document(dataset["id"], "General", HANDBOOK)
    response = await kb.client.post(f"/datasets/{dataset['id']}/document/create-by-text", headers=kb.headers, json={
        "name": "QA", "text": "q", "doc_form": "qa_model", "process_rule": {"mode": "automatic"},
    })
    assert response.status_code == 400 and response.json()["params"] == "doc_form"


async def test_a_bad_process_rule_names_its_field(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    response = await kb.client.post(f"/datasets/{dataset['id']}/document/create-by-text", headers=kb.headers, json={
        "name": "Doc", "text": "x", "indexing_technique": "economy",
        "process_rule": {"mode": "custom", "rules": {"segmentation": {"separator": "\n", "max_tokens": 99999}}},
    })
    assert response.status_code == 400
    assert response.json()["params"] == "process_rule.rules.segmentation.max_tokens"


async def test_a_file_document_takes_its_settings_as_a_json_string(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    data = json.dumps({"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}})
    response = await kb.client.post(
        f"/datasets/{dataset['id']}/document/create-by-file", headers=kb.headers, data={"data": data},
        files={"file": ("notes.md", b"# Notes\n\nThe canteen serves soup on Fridays.\n", "text/markdown")},
    )
    assert response.status_code == 200, response.text
    made = response.json()
    assert made["document"]["name"] == "notes.md"
    (status,) = await kb.indexed(dataset["id"], made["batch"])
    assert status["indexing_status"] == "completed", status
    chunks = await kb.get(f"/datasets/{dataset['id']}/documents/{made['document']['id']}/segments")
    assert any("soup on Fridays" in c["content"] for c in chunks["data"])
    download = await kb.get(f"/datasets/{dataset['id']}/documents/{made['document']['id']}/download")
    assert "url" in download and made["document"]["data_source_info"]["upload_file_id"] in download["url"]


async def test_create_by_file_reports_its_errors_as_400(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    url = f"/datasets/{dataset['id']}/document/create-by-file"
    data = {"data": json.dumps({"process_rule": {"mode": "automatic"}})}
    wrong_type = await kb.client.post(url, headers=kb.headers, data=data,
                                      files={"file": ("tool.exe", b"MZ", "application/octet-stream")})
    assert wrong_type.status_code == 400 and wrong_type.json()["code"] == "invalid_param"
    assert "File type not allowed" in wrong_type.json()["message"]
    no_rule = await kb.client.post(url, headers=kb.headers, files={"file": ("a.txt", b"text", "text/plain")})
    assert no_rule.status_code == 400 and no_rule.json()["message"] == "process_rule is required."
    no_file = await kb.client.post(url, headers=kb.headers, data=data, files={"other": ("a.txt", b"t", "text/plain")})
    assert no_file.status_code == 400 and no_file.json()["code"] == "no_file_uploaded"
    bad_json = await kb.client.post(url, headers=kb.headers, data={"data": "{nope"},
                                    files={"file": ("a.txt", b"t", "text/plain")})
    assert bad_json.status_code == 400 and bad_json.json()["params"] == "data"


async def test_external_datasets_take_no_documents(kb: KnowledgeApi) -> None:
    from treadle.store import ExternalKnowledgeApi

    async with kb.api.db.session() as session:
        external = ExternalKnowledgeApi(tenant_id=kb.api.tenant_id, name="ext", endpoint="http://127.0.0.1:9",
                                        api_key="sealed")
        session.add(external)
        await session.flush()
        api_id = external.id
    dataset = await kb.post("/datasets", {"name": "Ext", "provider": "external", "external_knowledge_api_id": api_id,
                                          "external_knowledge_id": "kb-1"})
    assert dataset["external_knowledge_info"]["external_knowledge_api_name"] == "ext"
    response = await kb.client.post(f"/datasets/{dataset['id']}/document/create-by-text", headers=kb.headers,
                                    json={"name": "a", "text": "b", "indexing_technique": "economy"})
    assert response.status_code == 400
    assert response.json()["message"] == "External datasets are not supported."


async def test_the_list_filters_by_status_and_keyword_and_status_actions_switch_documents(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    one = await kb.text_document(dataset["id"], "Alpha notes", "alpha " * 20)
    two = await kb.text_document(dataset["id"], "Beta notes", "beta " * 20)
    await kb.indexed(dataset["id"], one["batch"])
    await kb.indexed(dataset["id"], two["batch"])
    base = f"/datasets/{dataset['id']}/documents"
    listed = await kb.get(base)
    assert [d["name"] for d in listed["data"]] == ["Beta notes", "Alpha notes"] and listed["total"] == 2
    assert [d["name"] for d in (await kb.get(base, keyword="alpha"))["data"]] == ["Alpha notes"]
    alpha = one["document"]["id"]
    response = await kb.client.patch(f"{base}/status/disable", headers=kb.headers, json={"document_ids": [alpha]})
    assert response.status_code == 200 and response.json() == {"result": "success"}
    assert [d["name"] for d in (await kb.get(base, status="disabled"))["data"]] == ["Alpha notes"]
    assert [d["name"] for d in (await kb.get(base, status="available"))["data"]] == ["Beta notes"]
    await kb.client.patch(f"{base}/status/archive", headers=kb.headers, json={"document_ids": [alpha]})
    assert [d["display_status"] for d in (await kb.get(base, status="archived"))["data"]] == ["archived"]
    immutable = await kb.client.delete(f"{base}/{alpha}", headers=kb.headers)
    assert immutable.status_code == 403 and immutable.json()["code"] == "archived_document_immutable"
    await kb.client.patch(f"{base}/status/un_archive", headers=kb.headers, json={"document_ids": [alpha]})
    await kb.client.patch(f"{base}/status/enable", headers=kb.headers, json={"document_ids": [alpha]})
    assert (await kb.get(f"{base}/{alpha}"))["display_status"] == "available"
    invalid = await kb.client.patch(f"{base}/status/explode", headers=kb.headers, json={"document_ids": [alpha]})
    assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_action"
    unknown = await kb.client.patch(f"{base}/status/enable", headers=kb.headers,
                                    json={"document_ids": ["00000000-0000-0000-0000-000000000000"]})
    assert unknown.status_code == 404
    bad_status = await kb.client.get(base, headers=kb.headers, params={"status": "sleeping"})
    assert bad_status.status_code == 400


async def test_update_by_text_replaces_the_chunks_and_indexes_again(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    made = await kb.text_document(dataset["id"], "Policy", "The old policy says tea is free.")
    await kb.indexed(dataset["id"], made["batch"])
    document_id = made["document"]["id"]
    no_name = await kb.client.post(f"/datasets/{dataset['id']}/documents/{document_id}/update-by-text",
                                   headers=kb.headers, json={"text": "new"})
    assert no_name.status_code == 400 and no_name.json()["params"] == "name"
    updated = await kb.post(f"/datasets/{dataset['id']}/documents/{document_id}/update-by-text",
                            {"name": "Policy v2", "text": "The new policy says coffee is free."})
    assert updated["document"]["id"] == document_id and updated["document"]["name"] == "Policy v2"
    assert updated["batch"] != made["batch"]
    (status,) = await kb.indexed(dataset["id"], updated["batch"])
    assert status["indexing_status"] == "completed"
    chunks = await kb.get(f"/datasets/{dataset['id']}/documents/{document_id}/segments")
    assert [c["content"] for c in chunks["data"]] == ["The new policy says coffee is free."]
    renamed = await kb.post(f"/datasets/{dataset['id']}/documents/{document_id}/update-by-text", {"name": "Final"})
    assert renamed["document"]["name"] == "Final"
    assert (await document_row(kb.api, document_id)).indexing_status == "completed"  # a rename indexes nothing


async def test_delete_removes_the_document_and_its_chunks(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    made = await kb.text_document(dataset["id"], "Gone", HANDBOOK)
    await kb.indexed(dataset["id"], made["batch"])
    path = f"/datasets/{dataset['id']}/documents/{made['document']['id']}"
    assert (await kb.client.delete(path, headers=kb.headers)).status_code == 204
    assert (await kb.client.get(path, headers=kb.headers)).status_code == 404
    assert (await kb.client.get(f"{path}/segments", headers=kb.headers)).status_code == 404
    assert (await kb.get(f"/datasets/{dataset['id']}"))["document_count"] == 0
    missing = await kb.client.get(f"/datasets/{dataset['id']}/documents/{made['batch']}/indexing-status",
                                  headers=kb.headers)
    assert missing.status_code == 404


async def test_documents_download_as_one_zip(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    one = (await kb.text_document(dataset["id"], "One", "first text"))["document"]
    two = (await kb.text_document(dataset["id"], "Two", "second text"))["document"]
    response = await kb.client.post(f"/datasets/{dataset['id']}/documents/download-zip", headers=kb.headers,
                                    json={"document_ids": [one["id"], two["id"]]})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        contents = {name: archive.read(name).decode() for name in archive.namelist()}
    assert sorted(contents.values()) == ["first text", "second text"]
    assert sorted(contents) == ["One.txt", "Two.txt"]
