"""Annotations over HTTP: create, list (page style, keyword search), update and delete, scoped to the
key's app; and annotation reply switched on and off by background jobs whose status the caller polls
(API-ANN-CREATE, API-ANN-LIST, API-ANN-UPDATE, API-ANN-DELETE, API-ANN-REPLY-CFG, API-ANN-REPLY-STATUS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.service_api import ServiceApi, another_process, service_api
from treadle.store import Annotation, AnnotationEmbedding, AnnotationSetting
from treadle_fake.embedding import embed

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Help desk}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "You are terse."
  user_input_form: []
"""

APPS = {"desk": CHAT, "other": CHAT.replace("Help desk", "Other desk")}
ENABLE = {"embedding_provider_name": "fake", "embedding_model_name": "fake-embedding", "score_threshold": 0.9}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps=APPS) as running:
        yield running


async def _create(api: ServiceApi, question: str, answer: str, app: str = "desk") -> dict[str, Any]:
    response = await api.client.post("/apps/annotations", headers=api.auth(app),
                                     json={"question": question, "answer": answer})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _settle(api: ServiceApi) -> None:
    """Wait for the background work the routes started (reply jobs, embedding new annotations)."""
    while api.state.background:
        await asyncio.gather(*list(api.state.background))


async def _job(api: ServiceApi, action: str, body: dict[str, Any] | None = None, app: str = "desk") -> dict[str, Any]:
    started = await api.client.post(f"/apps/annotation-reply/{action}", headers=api.auth(app), json=body or {})
    assert started.status_code == 200, started.text
    assert started.json()["job_status"] == "waiting"
    job_id = started.json()["job_id"]
    await _settle(api)
    status = await api.client.get(f"/apps/annotation-reply/{action}/status/{job_id}", headers=api.auth(app))
    assert status.status_code == 200, status.text
    assert set(status.json()) == {"job_id", "job_status", "error_msg"} and status.json()["job_id"] == job_id
    result: dict[str, Any] = status.json()
    return result


async def test_create_answers_201_with_the_annotation(api: ServiceApi) -> None:
    """API-ANN-CREATE: 201 and {id, question, answer, hit_count, created_at} (Unix seconds)."""
    body = await _create(api, "What are your hours?", "9 to 5.")
    assert set(body) == {"id", "question", "answer", "hit_count", "created_at"}
    assert (body["question"], body["answer"], body["hit_count"]) == ("What are your hours?", "9 to 5.", 0)
    assert isinstance(body["created_at"], int) and body["created_at"] > 1_700_000_000
    async with api.db.session() as s:
        row = await s.get(Annotation, body["id"])
    assert row is not None and row.app_id == api.apps["desk"] and row.answer == "9 to 5."


async def test_create_refuses_a_body_without_question_or_answer(api: ServiceApi) -> None:
    for body in ({"answer": "a"}, {"question": "q"}, {"question": 3, "answer": "a"}):
        response = await api.client.post("/apps/annotations", headers=api.auth("desk"), json=body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_param"
    missing = await api.client.post("/apps/annotations", headers=api.auth("desk"), json={"answer": "a"})
    assert "question" in missing.json()["message"]
    unauthorised = await api.client.post("/apps/annotations", json={"question": "q", "answer": "a"})
    assert unauthorised.status_code == 401


async def test_list_pages_newest_first_and_searches(api: ServiceApi) -> None:
    """API-ANN-LIST: page style {data, has_more, limit, total, page}; keyword searches questions and
    answers, case-insensitively, with % and _ taken literally; another app's annotations never show."""
    made = [await _create(api, f"Question {i}", f"Answer {i}") for i in range(5)]
    await _create(api, "Discount?", "50% off on Mondays")
    await _create(api, "Not mine", "Answer 0", app="other")
    first = await api.client.get("/apps/annotations", headers=api.auth("desk"), params={"page": 1, "limit": 4})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["page"], body["limit"], body["total"], body["has_more"]) == (1, 4, 6, True)
    assert [a["question"] for a in body["data"]][:1] == ["Discount?"]
    second = (await api.client.get("/apps/annotations", headers=api.auth("desk"),
                                   params={"page": 2, "limit": 4})).json()
    assert (second["total"], second["has_more"], len(second["data"])) == (6, False, 2)
    listed = {a["id"] for a in body["data"] + second["data"]}
    assert {a["id"] for a in made} <= listed and len(listed) == 6
    default = (await api.client.get("/apps/annotations", headers=api.auth("desk"))).json()
    assert (default["page"], default["limit"], len(default["data"])) == (1, 20, 6)

    async def search(keyword: str) -> list[str]:
        found = await api.client.get("/apps/annotations", headers=api.auth("desk"), params={"keyword": keyword})
        assert found.status_code == 200
        return sorted(a["question"] for a in found.json()["data"])

    assert await search("QUESTION 3") == ["Question 3"]
    assert await search("answer 4") == ["Question 4"]
    assert await search("50%") == ["Discount?"]
    assert await search("%") == ["Discount?"]
    assert await search("_") == []
    assert await search("not mine") == []


async def test_list_refuses_a_bad_page_or_limit(api: ServiceApi) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"page": "x"}):
        response = await api.client.get("/apps/annotations", headers=api.auth("desk"), params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["code"] == "invalid_param"


async def test_update_changes_the_annotation_of_this_app_only(api: ServiceApi) -> None:
    """API-ANN-UPDATE: the annotation object back; another app's or an unknown id is 404
    "Annotation not found."."""
    made = await _create(api, "Old question", "Old answer")
    response = await api.client.put(f"/apps/annotations/{made['id']}", headers=api.auth("desk"),
                                    json={"question": "New question", "answer": "New answer"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {**made, "question": "New question", "answer": "New answer"}
    for app, annotation_id in (("other", made["id"]), ("desk", "5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b")):
        refused = await api.client.put(f"/apps/annotations/{annotation_id}", headers=api.auth(app),
                                       json={"question": "x", "answer": "y"})
        assert refused.status_code == 404
        assert refused.json() == {"code": "not_found", "message": "Annotation not found.", "status": 404}
    missing = await api.client.put(f"/apps/annotations/{made['id']}", headers=api.auth("desk"), json={"question": "q"})
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_param"
    async with api.db.session() as s:
        row = await s.get(Annotation, made["id"])
    assert row is not None and (row.question, row.answer) == ("New question", "New answer")


async def test_delete_answers_204_and_only_for_this_app(api: ServiceApi) -> None:
    """API-ANN-DELETE: 204 with no body; another app's annotation is 404 and stays."""
    made = await _create(api, "Q", "A")
    refused = await api.client.delete(f"/apps/annotations/{made['id']}", headers=api.auth("other"))
    assert refused.status_code == 404 and refused.json()["message"] == "Annotation not found."
    response = await api.client.delete(f"/apps/annotations/{made['id']}", headers=api.auth("desk"))
    assert response.status_code == 204 and response.content == b""
    again = await api.client.delete(f"/apps/annotations/{made['id']}", headers=api.auth("desk"))
    assert again.status_code == 404
    async with api.db.session() as s:
        assert await s.get(Annotation, made["id"]) is None


async def test_enabling_reply_embeds_the_annotations_in_a_job(api: ServiceApi) -> None:
    """API-ANN-REPLY-CFG and API-ANN-REPLY-STATUS: enable answers {job_id, job_status: waiting}; the
    job embeds every annotation with the chosen model and ends completed."""
    made = [await _create(api, f"Question {i}", f"Answer {i}") for i in range(3)]
    status = await _job(api, "enable", ENABLE)
    assert (status["job_status"], status["error_msg"]) == ("completed", "")
    async with api.db.session() as s:
        setting = await s.scalar(select(AnnotationSetting).where(AnnotationSetting.app_id == api.apps["desk"]))
        vectors = {v.annotation_id: v for v in await s.scalars(select(AnnotationEmbedding))}
    assert setting is not None and setting.enabled and setting.score_threshold == 0.9
    assert (setting.embedding_provider_name, setting.embedding_model_name) == ("fake", "fake-embedding")
    assert set(vectors) == {a["id"] for a in made}
    assert vectors[made[0]["id"]].vector == pytest.approx(embed("Question 0"))

    # While reply is on, a new or edited annotation is embedded in the background.
    added = await _create(api, "Shipping?", "Worldwide.")
    await api.client.put(f"/apps/annotations/{made[1]['id']}", headers=api.auth("desk"),
                         json={"question": "Edited question", "answer": "Answer 1"})
    await _settle(api)
    async with api.db.session() as s:
        new = await s.get(AnnotationEmbedding, added["id"])
        edited = await s.get(AnnotationEmbedding, made[1]["id"])
    assert new is not None and new.vector == pytest.approx(embed("Shipping?"))
    assert edited is not None and edited.vector == pytest.approx(embed("Edited question"))

    # Deleting an annotation takes its vector; disabling drops them all and keeps the settings off.
    await api.client.delete(f"/apps/annotations/{made[0]['id']}", headers=api.auth("desk"))
    async with api.db.session() as s:
        assert await s.get(AnnotationEmbedding, made[0]["id"]) is None
    disabled = await _job(api, "disable", ENABLE)
    assert disabled["job_status"] == "completed"
    async with api.db.session() as s:
        setting = await s.scalar(select(AnnotationSetting).where(AnnotationSetting.app_id == api.apps["desk"]))
        assert setting is not None and not setting.enabled
        assert list(await s.scalars(select(AnnotationEmbedding))) == []


async def test_a_job_that_fails_reports_error_with_its_message(api: ServiceApi) -> None:
    await _create(api, "Q", "A")
    status = await _job(api, "enable", {**ENABLE, "embedding_model_name": "no-such-model"})
    assert status["job_status"] == "error" and "no-such-model" in status["error_msg"]
    async with api.db.session() as s:
        assert await s.scalar(select(AnnotationSetting)) is None


async def test_reply_configuration_refuses_bad_input(api: ServiceApi) -> None:
    for body in ({**ENABLE, "score_threshold": 1.5}, {**ENABLE, "score_threshold": -0.1},
                 {"embedding_provider_name": "fake", "score_threshold": 0.5}, {**ENABLE, "score_threshold": "high"}):
        response = await api.client.post("/apps/annotation-reply/enable", headers=api.auth("desk"), json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "invalid_param"
    threshold = await api.client.post("/apps/annotation-reply/enable", headers=api.auth("desk"),
                                      json={**ENABLE, "score_threshold": 2})
    assert "score_threshold" in threshold.json()["message"]
    wrong = await api.client.post("/apps/annotation-reply/switch", headers=api.auth("desk"), json=ENABLE)
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_param"
    assert "enable or disable" in wrong.json()["message"]
    assert not api.state.background  # nothing was started


async def test_an_unknown_or_foreign_job_does_not_exist(api: ServiceApi) -> None:
    """API-ANN-REPLY-STATUS: 400 invalid_param "The job does not exist." for an unknown job, another
    app's job, or a job asked under the other action."""
    started = await api.client.post("/apps/annotation-reply/enable", headers=api.auth("desk"), json=ENABLE)
    job_id = started.json()["job_id"]
    await _settle(api)
    for app, action, asked in (("desk", "enable", "5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b"),
                               ("other", "enable", job_id), ("desk", "disable", job_id)):
        response = await api.client.get(f"/apps/annotation-reply/{action}/status/{asked}", headers=api.auth(app))
        assert response.status_code == 400
        assert response.json() == {"code": "invalid_param", "message": "The job does not exist.", "status": 400}
    mine = await api.client.get(f"/apps/annotation-reply/enable/status/{job_id}", headers=api.auth("desk"))
    assert mine.status_code == 200 and mine.json()["job_status"] == "completed"


async def test_a_job_started_through_one_process_is_read_through_another(api: ServiceApi) -> None:
    """API-ANN-REPLY-STATUS with several worker processes: the status of a job started through one
    server application is answered by a second one on the same database, and still only for the
    job's own app and action."""
    await _create(api, "What are your hours?", "9 to 5.")
    started = await api.client.post("/apps/annotation-reply/enable", headers=api.auth("desk"), json=ENABLE)
    assert started.status_code == 200, started.text
    job_id = started.json()["job_id"]
    await _settle(api)
    async with another_process(api) as (_, other):
        status = await other.get(f"/apps/annotation-reply/enable/status/{job_id}", headers=api.auth("desk"))
        assert status.status_code == 200, status.text
        assert status.json() == {"job_id": job_id, "job_status": "completed", "error_msg": ""}
        foreign = await other.get(f"/apps/annotation-reply/enable/status/{job_id}", headers=api.auth("other"))
        assert foreign.status_code == 400
        assert foreign.json() == {"code": "invalid_param", "message": "The job does not exist.", "status": 400}
