"""Metadata fields and knowledge tags over HTTP (API-META-CREATE, API-META-LIST, API-META-UPDATE,
API-META-DELETE, API-META-BUILTIN, API-META-BUILTIN-TOGGLE, API-META-DOC-BATCH, API-TAG-CREATE,
API-TAG-LIST, API-TAG-UPDATE, API-TAG-DELETE, API-TAG-BIND, API-TAG-UNBIND, API-TAG-OF-KB,
KB-METADATA-FIELDS, KB-METADATA-BUILTIN)."""

from __future__ import annotations

from .conftest import KnowledgeApi, document_row


async def test_metadata_fields_and_document_values(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    base = f"/datasets/{dataset['id']}"
    document = (await kb.text_document(dataset["id"], "Doc", "text"))["document"]
    author = await kb.post(f"{base}/metadata", {"type": "string", "name": "author"}, status=201)
    year = await kb.post(f"{base}/metadata", {"type": "number", "name": "year"}, status=201)
    assert set(author) == {"id", "name", "type"} and author["type"] == "string"
    taken = await kb.client.post(f"{base}/metadata", headers=kb.headers, json={"type": "string", "name": "author"})
    assert taken.status_code == 400
    built_in_name = await kb.client.post(f"{base}/metadata", headers=kb.headers,
                                         json={"type": "string", "name": "document_name"})
    assert built_in_name.status_code == 400
    await kb.post(f"{base}/documents/metadata", {"operation_data": [{
        "document_id": document["id"],
        "metadata_list": [{"id": author["id"], "name": "author", "value": "Ada"},
                          {"id": year["id"], "name": "year", "value": "1843"}],
    }]})
    assert (await document_row(kb.api, document["id"])).doc_metadata == {"author": "Ada", "year": 1843}
    listed = await kb.get(f"{base}/metadata")
    assert listed == {"doc_metadata": [{**author, "count": 1}, {**year, "count": 1}], "built_in_field_enabled": False}
    shown = await kb.get(f"{base}/documents/{document['id']}")
    assert {m["name"]: m["value"] for m in shown["doc_metadata"]} == {"author": "Ada", "year": 1843}

    # A partial update changes what it names; a full one replaces the custom values.
    await kb.post(f"{base}/documents/metadata", {"operation_data": [{
        "document_id": document["id"], "partial_update": True,
        "metadata_list": [{"id": year["id"], "name": "year", "value": 1900}]}]})
    assert (await document_row(kb.api, document["id"])).doc_metadata == {"author": "Ada", "year": 1900}
    await kb.post(f"{base}/documents/metadata", {"operation_data": [{
        "document_id": document["id"], "metadata_list": [{"id": year["id"], "name": "year", "value": 2000}]}]})
    assert (await document_row(kb.api, document["id"])).doc_metadata == {"year": 2000}
    wrong = await kb.client.post(f"{base}/documents/metadata", headers=kb.headers, json={"operation_data": [{
        "document_id": document["id"], "metadata_list": [{"id": year["id"], "name": "year", "value": "soon"}]}]})
    assert wrong.status_code == 400

    renamed = await kb.client.patch(f"{base}/metadata/{year['id']}", headers=kb.headers, json={"name": "published"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "published"
    assert (await document_row(kb.api, document["id"])).doc_metadata == {"published": 2000}
    assert (await kb.client.delete(f"{base}/metadata/{year['id']}", headers=kb.headers)).status_code == 204
    assert (await document_row(kb.api, document["id"])).doc_metadata == {}
    missing = await kb.client.delete(f"{base}/metadata/{year['id']}", headers=kb.headers)
    assert missing.status_code == 404


async def test_built_in_fields_are_written_into_documents_while_on(kb: KnowledgeApi) -> None:
    dataset = await kb.dataset()
    base = f"/datasets/{dataset['id']}"
    fields = await kb.get(f"{base}/metadata/built-in")
    assert [f["name"] for f in fields["fields"]] == [
        "document_name", "uploader", "upload_date", "last_update_date", "source"]
    document = (await kb.text_document(dataset["id"], "Guide", "text"))["document"]
    assert await kb.post(f"{base}/metadata/built-in/enable") == {"result": "success"}
    values = (await document_row(kb.api, document["id"])).doc_metadata
    assert values["document_name"] == "Guide" and values["source"] == "file_upload"
    assert isinstance(values["upload_date"], int) and values["uploader"]
    later = (await kb.text_document(dataset["id"], "Later", "text"))["document"]
    assert (await document_row(kb.api, later["id"])).doc_metadata["document_name"] == "Later"
    assert (await kb.get(f"{base}/metadata"))["built_in_field_enabled"] is True
    await kb.post(f"{base}/metadata/built-in/disable")
    assert (await document_row(kb.api, document["id"])).doc_metadata == {}
    bad = await kb.client.post(f"{base}/metadata/built-in/toggle", headers=kb.headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_action"


async def test_tags_are_made_bound_listed_renamed_and_deleted(kb: KnowledgeApi) -> None:
    one, two = await kb.dataset("One"), await kb.dataset("Two")
    tag = await kb.post("/datasets/tags", {"name": "policy"})
    assert tag == {"id": tag["id"], "name": "policy", "type": "knowledge", "binding_count": 0}
    duplicate = await kb.client.post("/datasets/tags", headers=kb.headers, json={"name": "policy"})
    assert duplicate.status_code == 400
    too_long = await kb.client.post("/datasets/tags", headers=kb.headers, json={"name": "x" * 51})
    assert too_long.status_code == 400
    await kb.post("/datasets/tags/binding", {"tag_ids": [tag["id"]], "target_id": one["id"]}, status=204)
    await kb.post("/datasets/tags/binding", {"tag_ids": [tag["id"]], "target_id": two["id"]}, status=204)
    await kb.post("/datasets/tags/binding", {"tag_ids": [tag["id"]], "target_id": two["id"]}, status=204)
    assert await kb.get("/datasets/tags") == [{**tag, "binding_count": 2}]
    assert await kb.get(f"/datasets/{one['id']}/tags") == {"data": [{"id": tag["id"], "name": "policy"}], "total": 1}
    await kb.post("/datasets/tags/unbinding", {"tag_id": tag["id"], "target_id": one["id"]}, status=204)
    assert (await kb.get(f"/datasets/{one['id']}/tags"))["total"] == 0
    renamed = await kb.client.patch("/datasets/tags", headers=kb.headers, json={"tag_id": tag["id"], "name": "rules"})
    assert renamed.status_code == 200 and renamed.json() == {**tag, "name": "rules", "binding_count": 1}
    gone = await kb.client.request("DELETE", "/datasets/tags", headers=kb.headers, json={"tag_id": tag["id"]})
    assert gone.status_code == 204
    assert await kb.get("/datasets/tags") == []
    assert (await kb.get(f"/datasets/{two['id']}"))["tags"] == []
    unknown = await kb.client.post("/datasets/tags/binding", headers=kb.headers,
                                   json={"tag_ids": [tag["id"]], "target_id": one["id"]})
    assert unknown.status_code == 404
