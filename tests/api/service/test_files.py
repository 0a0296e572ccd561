"""File upload and preview over HTTP, and the signed file URLs on the server root (API-FILE-UPLOAD,
API-FILE-PREVIEW, API-COMMON-USER, API-COMMON-ERR)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select
from support.service_api import ServiceApi, service_api
from treadle.files import UploadLimits
from treadle.store import EndUser, Tenant, UploadFile

WORKFLOW = """\
version: 0.3.0
kind: app
app: {mode: workflow, name: Echo}
workflow:
  graph:
    nodes:
    - id: start
      data: {type: start, title: Start, variables: [{variable: text, label: Text, type: text-input, required: true}]}
    - id: end
      data: {type: end, title: End, outputs: [{variable: text, value_selector: [start, text]}]}
    edges:
    - {id: e1, source: start, target: end}
"""

CHAT = """\
version: 0.3.0
kind: app
app: {mode: chat, name: Chatter}
model_config:
  model: {provider: fake, name: echo, mode: chat, completion_params: {}}
  pre_prompt: "You are terse."
  user_input_form: []
  file_upload:
    enabled: true
    allowed_file_types: [document]
    allowed_file_upload_methods: [local_file]
    number_limits: 3
"""

ROOT = "http://treadle.test"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceApi]:
    async with service_api(tmp_path, backend=request.param, apps={"workflow": WORKFLOW, "chat": CHAT}) as running:
        yield running


async def upload(
    api: ServiceApi, app: str, *, name: str = "notes.txt", content: bytes = b"hello files", mime: str = "text/plain",
    user: str | None = "u1",
) -> dict[str, object]:
    data = {"user": user} if user is not None else {}
    response = await api.client.post(
        "/files/upload", headers=api.auth(app), files={"file": (name, content, mime)}, data=data
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_an_upload_answers_201_with_the_documented_body_and_is_recorded_for_its_end_user(
    api: ServiceApi,
) -> None:
    """API-FILE-UPLOAD: 201 with every documented field; created_by is the end user ``user`` names."""
    body = await upload(api, "workflow", name="notes.txt", content=b"hello files")
    assert set(body) == {
        "id", "name", "size", "extension", "mime_type", "created_by", "created_at", "preview_url", "source_url",
        "original_url", "user_id", "tenant_id", "conversation_id", "file_key",
    }
    assert body["name"] == "notes.txt" and body["size"] == 11
    assert body["extension"] == "txt" and body["mime_type"] == "text/plain"
    assert isinstance(body["created_at"], int) and body["tenant_id"] == api.tenant_id
    assert body["conversation_id"] is None and body["original_url"] is None
    async with api.db.session() as session:
        row = await session.get(UploadFile, str(body["id"]))
        assert row is not None
        assert row.created_by_role == "end_user" and row.size == 11
        assert row.hash == hashlib.sha3_256(b"hello files").hexdigest()
        user = await session.get(EndUser, row.created_by)
        assert user is not None and user.session_id == "u1" and user.app_id == api.apps["workflow"]
    assert body["created_by"] == body["user_id"] == row.created_by


async def test_an_upload_without_user_belongs_to_the_anonymous_end_user(api: ServiceApi) -> None:
    """API-COMMON-USER: no ``user`` is the app's anonymous end user."""
    body = await upload(api, "workflow", user=None)
    async with api.db.session() as session:
        user = await session.get(EndUser, str(body["created_by"]))
        assert user is not None and user.is_anonymous and user.session_id == "DEFAULT-USER"


async def test_the_preview_serves_the_bytes_inline_or_as_an_attachment(api: ServiceApi) -> None:
    """API-FILE-PREVIEW: raw bytes with the MIME type; Content-Disposition attachment when asked."""
    body = await upload(api, "workflow", name="résumé notes.txt", content=b"some text")
    inline = await api.client.get(f"/files/{body['id']}/preview", headers=api.auth("workflow"))
    assert inline.status_code == 200, inline.text
    assert inline.content == b"some text"
    assert inline.headers["content-type"].startswith("text/plain")
    assert inline.headers["content-length"] == "9"
    assert "content-disposition" not in inline.headers
    attached = await api.client.get(
        f"/files/{body['id']}/preview", headers=api.auth("workflow"), params={"as_attachment": "true", "user": "u1"}
    )
    assert attached.status_code == 200 and attached.content == b"some text"
    assert attached.headers["content-disposition"] == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20notes.txt"


async def test_the_preview_of_an_unknown_file_is_404(api: ServiceApi) -> None:
    response = await api.client.get(
        "/files/5b0c6a43-6d1c-4b5e-9b1a-0d2f3e4c5a6b/preview", headers=api.auth("workflow")
    )
    assert response.status_code == 404
    assert response.json()["code"] == "file_not_found"


async def test_a_file_of_another_app_is_forbidden_until_a_message_of_this_app_carries_it(api: ServiceApi) -> None:
    """API-FILE-PREVIEW: access only to files of this app's end users or messages; 403 otherwise."""
    body = await upload(api, "workflow", name="brief.txt", content=b"the brief")
    denied = await api.client.get(f"/files/{body['id']}/preview", headers=api.auth("chat"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "file_access_denied"
    sent = await api.client.post(
        "/chat-messages", headers=api.auth("chat"),
        json={"query": "read it", "inputs": {}, "user": "u2", "response_mode": "blocking",
              "files": [{"type": "document", "transfer_method": "local_file", "upload_file_id": body["id"]}]},
    )
    assert sent.status_code == 200, sent.text
    allowed = await api.client.get(f"/files/{body['id']}/preview", headers=api.auth("chat"))
    assert allowed.status_code == 200, allowed.text
    assert allowed.content == b"the brief"


async def test_a_file_of_another_workspace_is_not_found(api: ServiceApi) -> None:
    """A file of another workspace is reported as not found, so its existence does not leak."""
    async with api.db.session() as session:
        other = Tenant(name="Elsewhere")
        session.add(other)
        await session.flush()
        other_id = other.id
    await api.add_app("elsewhere", WORKFLOW, tenant_id=other_id)
    body = await upload(api, "elsewhere", content=b"private")
    response = await api.client.get(f"/files/{body['id']}/preview", headers=api.auth("workflow"))
    assert response.status_code == 404
    assert response.json()["code"] == "file_not_found"


async def test_the_signed_preview_url_serves_the_file_and_refuses_a_tampered_one(api: ServiceApi) -> None:
    """The ``preview_url`` of an upload works without an app key until it expires; a changed
    signature or another file's id is 403 file_access_denied."""
    body = await upload(api, "workflow", name="photo.png", content=b"\x89PNG\r\n\x1a\nfake", mime="image/png")
    url = str(body["preview_url"])
    assert url.startswith(f"/files/{body['id']}/file-preview?")
    served = await api.client.get(ROOT + url)
    assert served.status_code == 200, served.text
    assert served.content == b"\x89PNG\r\n\x1a\nfake"
    assert served.headers["content-type"] == "image/png"
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    # Its first character changed to another one (a fixed "A" left one signature in 64 unchanged).
    forged = ("B" if query["sign"].startswith("A") else "A") + query["sign"][1:]
    tampered = await api.client.get(
        ROOT + f"/files/{body['id']}/file-preview?" + urlencode({**query, "sign": forged})
    )
    assert tampered.status_code == 403
    assert tampered.json()["code"] == "file_access_denied"
    other = await upload(api, "workflow", name="other.txt")
    moved = await api.client.get(ROOT + f"/files/{other['id']}/file-preview?" + urlencode(query))
    assert moved.status_code == 403
    unsigned = await api.client.get(ROOT + f"/files/{body['id']}/file-preview")
    assert unsigned.status_code == 403
    attached = await api.client.get(ROOT + api.state.files.preview_url(
        await api.state.files.get(api.tenant_id, str(body["id"])), as_attachment=True
    ))
    assert attached.status_code == 200
    assert attached.headers["content-disposition"].startswith("attachment;")


async def test_an_image_preview_url_serves_images_only(api: ServiceApi) -> None:
    files = api.state.files
    image = await upload(api, "workflow", name="icon.png", content=b"\x89PNG....", mime="image/png")
    text = await upload(api, "workflow", name="a.txt")
    image_url = files.signer.url(str(image["id"]), purpose="image-preview")
    assert (await api.client.get(ROOT + image_url)).content == b"\x89PNG...."
    refused = await api.client.get(ROOT + files.signer.url(str(text["id"]), purpose="image-preview"))
    assert refused.status_code == 415 and refused.json()["code"] == "unsupported_file_type"


async def test_upload_errors_have_their_documented_codes(api: ServiceApi) -> None:
    """API-FILE-UPLOAD errors: no_file_uploaded, too_many_files, filename_not_exists_error (400),
    file_too_large (413), unsupported_file_type (415)."""
    auth = api.auth("workflow")
    nothing = await api.client.post("/files/upload", headers=auth, data={"user": "u1"}, files={"other": ("x", b"")})
    assert nothing.status_code == 400 and nothing.json()["code"] == "no_file_uploaded"
    as_json = await api.client.post("/files/upload", headers=auth, json={"user": "u1"})
    assert as_json.status_code == 400 and as_json.json()["code"] == "no_file_uploaded"
    two = await api.client.post(
        "/files/upload", headers=auth,
        files=[("file", ("a.txt", b"a", "text/plain")), ("file", ("b.txt", b"b", "text/plain"))],
    )
    assert two.status_code == 400 and two.json()["code"] == "too_many_files"
    unnamed = await api.client.post("/files/upload", headers=auth, files={"file": ("", b"abc", "text/plain")})
    assert unnamed.status_code == 400 and unnamed.json()["code"] == "filename_not_exists_error"
    api.state.files.limits = UploadLimits(file_size_mb=1, blocked_extensions=frozenset({".exe"}))
    large = await api.client.post(
        "/files/upload", headers=auth, files={"file": ("big.txt", b"x" * (1024 * 1024 + 1), "text/plain")}
    )
    assert large.status_code == 413 and large.json()["code"] == "file_too_large"
    assert large.json()["status"] == 413
    blocked = await api.client.post(
        "/files/upload", headers=auth, files={"file": ("setup.exe", b"MZ", "application/octet-stream")}
    )
    assert blocked.status_code == 415 and blocked.json()["code"] == "unsupported_file_type"
    disguised = await api.client.post(
        "/files/upload", headers=auth, files={"file": ("cat.png", b"<script>", "text/html")}
    )
    assert disguised.status_code == 415 and disguised.json()["code"] == "unsupported_file_type"
    async with api.db.session() as session:
        assert (await session.scalars(select(UploadFile))).all() == []


async def test_uploads_need_a_valid_app_key(api: ServiceApi) -> None:
    response = await api.client.post("/files/upload", files={"file": ("a.txt", b"a", "text/plain")})
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
