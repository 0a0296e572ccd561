"""The file service: uploads checked against Dify's limits and codes, stored through the storage
plugin with their hash, Dify's upload response and file value shapes, request file mappings, reads
scoped by workspace, signed URLs opened, and deletion."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from treadle.files import (
    FileAccessDenied,
    FilenameMissing,
    FileRecord,
    FileService,
    FileServiceError,
    FileTooLarge,
    NoFileUploaded,
    NoSuchFile,
    TooManyFiles,
    UnsupportedFileType,
    UploadLimits,
)
from treadle.plugins import PluginSupervisor

from .conftest import NOW, Clock, make_service

MB = 1024 * 1024


async def upload(service: FileService, filename: str = "notes.txt", content: bytes = b"hello", **kw: str) -> FileRecord:
    return await service.upload("t1", filename=filename, content=content, created_by="u1", **kw)


async def read_all(service: FileService, tenant: str, file_id: str, **kw: int) -> bytes:
    return b"".join([piece async for piece in service.read(tenant, file_id, **kw)])


# -- limits ------------------------------------------------------------------------------------


def test_the_default_limits_are_difys() -> None:
    limits = UploadLimits()
    assert limits.size_limit(".pdf") == 15 * MB
    assert limits.size_limit(".PNG") == 10 * MB
    assert limits.size_limit(".mp4") == 100 * MB
    assert limits.size_limit(".mp3") == 50 * MB
    # Outside Dify's lists, the general limit.
    assert limits.size_limit(".bmp") == limits.size_limit("") == 15 * MB
    assert limits.system_parameters() == {
        "file_size_limit": 15,
        "image_file_size_limit": 10,
        "audio_file_size_limit": 50,
        "video_file_size_limit": 100,
        "workflow_file_upload_limit": 10,
    }


def test_limits_from_difys_environment_variables() -> None:
    limits = UploadLimits.from_environ(
        {
            "UPLOAD_FILE_SIZE_LIMIT": "20",
            "UPLOAD_IMAGE_FILE_SIZE_LIMIT": " 2 ",
            "UPLOAD_FILE_EXTENSION_BLACKLIST": "exe, .BAT,",
        }
    )
    assert (limits.file_size_mb, limits.image_file_size_mb, limits.video_file_size_mb) == (20, 2, 100)
    assert limits.blocked_extensions == frozenset({".exe", ".bat"})
    with pytest.raises(ValueError, match="UPLOAD_VIDEO_FILE_SIZE_LIMIT must be a whole number"):
        UploadLimits.from_environ({"UPLOAD_VIDEO_FILE_SIZE_LIMIT": "lots"})
    with pytest.raises(ValueError, match="file_size_mb must be at least 1, not 0"):
        UploadLimits(file_size_mb=0)


# -- uploads -----------------------------------------------------------------------------------


async def test_an_upload_is_stored_hashed_and_recorded(service: FileService, supervisor: PluginSupervisor) -> None:
    record = await upload(service, "Report.PDF", b"%PDF-1.4 body", mime_type="application/pdf")
    assert (record.tenant_id, record.name, record.size) == ("t1", "Report.PDF", 13)
    assert (record.extension, record.mime_type) == (".pdf", "application/pdf")
    assert record.hash == hashlib.sha3_256(b"%PDF-1.4 body").hexdigest()
    assert record.storage_key == f"upload_files/t1/{record.id}.pdf"
    assert record.created_at.timestamp() == NOW
    stored = supervisor.settings.home / "files" / "upload_files" / "t1" / f"{record.id}.pdf"
    assert stored.read_bytes() == b"%PDF-1.4 body"
    assert await service.records.get(record.id) == record


async def test_the_mime_type_is_normalised_or_guessed_from_the_name(service: FileService) -> None:
    assert (await upload(service, "a.txt", mime_type="Text/Plain; charset=utf-8")).mime_type == "text/plain"
    assert (await upload(service, "a.csv")).mime_type == "text/csv"
    assert (await upload(service, "a.png", mime_type="application/octet-stream")).mime_type == "image/png"
    assert (await upload(service, "README")).mime_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("filename", "size", "limit"),
    [
        ("big.txt", 15 * MB, 15 * MB),
        ("big.png", 10 * MB, 10 * MB),
        ("big.mp3", 50 * MB, 50 * MB),
        ("big.mp4", 100 * MB, 100 * MB),
    ],
)
def test_each_kind_of_file_has_its_size_limit(service: FileService, filename: str, size: int, limit: int) -> None:
    service.check_upload(filename, size)
    with pytest.raises(FileTooLarge, match=rf"File size exceeded\. '{filename}' is") as caught:
        service.check_upload(filename, size + 1)
    assert caught.value.details == {"size": size + 1, "limit": limit}
    assert caught.value.to_dict() == {"code": "file_too_large", "message": caught.value.message, "status": 413}


async def test_a_file_over_the_limit_is_not_stored(supervisor: PluginSupervisor, clock: Clock) -> None:
    service = make_service(supervisor, clock, UploadLimits(file_size_mb=1))
    with pytest.raises(FileTooLarge, match=r"the limit for \.txt files is 1\.0 MB"):
        await upload(service, "big.txt", b"x" * (MB + 1))
    assert not (supervisor.settings.home / "files").exists()


def test_upload_counts() -> None:
    FileService.check_count(1)
    with pytest.raises(NoFileUploaded, match="multipart field 'file'") as none:
        FileService.check_count(0)
    assert none.value.to_dict()["code"] == "no_file_uploaded"
    with pytest.raises(TooManyFiles, match="2 files were sent; at most 1") as many:
        FileService.check_count(2)
    assert (many.value.code, many.value.status) == ("too_many_files", 400)
    FileService.check_count(5, limit=UploadLimits().file_batch_limit)


@pytest.mark.parametrize(
    ("filename", "mime_type", "error", "message"),
    [
        ("", "", FilenameMissing, "has no file name"),
        ("  ", "", FilenameMissing, "has no file name"),
        ("../etc/passwd", "", FileServiceError, "characters not allowed: '/'"),
        ("a<b>.txt", "", FileServiceError, "characters not allowed: '<>'"),
        ("photo.png", "text/html", UnsupportedFileType, "has the extension of image files but was sent as text/html"),
        ("song.mp3", "application/javascript", UnsupportedFileType, "extension of audio files"),
        ("a.txt", "not a mime", UnsupportedFileType, "is not a type/subtype"),
    ],
)
def test_bad_uploads_say_what_is_wrong(
    service: FileService, filename: str, mime_type: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        service.check_upload(filename, 10, mime_type)


def test_upload_error_codes() -> None:
    assert FilenameMissing("x").to_dict() == {"code": "filename_not_exists_error", "message": "x", "status": 400}
    assert UnsupportedFileType("x").to_dict()["status"] == 415
    assert NoSuchFile("x").to_dict() == {"code": "file_not_found", "message": "x", "status": 404}
    assert FileAccessDenied("x").to_dict() == {"code": "file_access_denied", "message": "x", "status": 403}


def test_blocked_extensions_and_dataset_uploads(supervisor: PluginSupervisor, clock: Clock) -> None:
    service = make_service(supervisor, clock, UploadLimits(blocked_extensions=frozenset({".exe"})))
    with pytest.raises(UnsupportedFileType, match=r"extension \.exe are not accepted"):
        service.check_upload("setup.EXE", 10)
    service.check_upload("guide.md", 10, source="datasets")
    with pytest.raises(UnsupportedFileType, match="not a document a knowledge base can index") as caught:
        service.check_upload("photo.png", 10, source="datasets")
    assert caught.value.code == "unsupported_file_type"


async def test_long_names_are_shortened_keeping_the_extension(service: FileService) -> None:
    record = await upload(service, "n" * 300 + ".txt")
    assert len(record.name) == 200
    assert record.name.endswith("n.txt")


async def test_uploads_need_a_workspace(service: FileService) -> None:
    with pytest.raises(ValueError, match="tenant_id is empty"):
        await service.upload("", filename="a.txt", content=b"", created_by="u1")


# -- what clients and runs see -----------------------------------------------------------------


async def test_the_upload_response_has_difys_fields(service: FileService) -> None:
    record = await upload(service, "a.pdf", b"%PDF", mime_type="application/pdf")
    body = service.upload_response(record)
    assert set(body) == {
        "id", "name", "size", "extension", "mime_type", "created_by", "created_at", "preview_url",
        "source_url", "original_url", "user_id", "tenant_id", "conversation_id", "file_key",
    }  # fmt: skip
    assert body["extension"] == "pdf"
    assert body["created_at"] == int(NOW)
    assert body["preview_url"].startswith(f"/files/{record.id}/file-preview?timestamp=")
    assert body["source_url"] == body["preview_url"]
    assert (body["file_key"], body["tenant_id"], body["user_id"]) == (record.storage_key, "t1", "u1")


async def test_the_file_value_is_difys_local_file_shape(service: FileService) -> None:
    record = await upload(service, "a.pdf", b"%PDF", mime_type="application/pdf")
    value = service.file_value(record)
    assert {key: value[key] for key in value if key != "url"} == {
        "dify_model_identity": "__dify__file__",
        "id": record.id,
        "tenant_id": "t1",
        "type": "document",
        "transfer_method": "local_file",
        "remote_url": None,
        "related_id": record.id,
        "filename": "a.pdf",
        "extension": ".pdf",
        "mime_type": "application/pdf",
        "size": 4,
    }
    query = {k: v[0] for k, v in parse_qs(urlsplit(value["url"]).query).items()}
    assert service.signer.verify(record.id, **query)


async def test_request_mappings_become_file_values(service: FileService) -> None:
    record = await upload(service, "cat.png", b"\x89PNG", mime_type="image/png")
    mapping = {"type": "image", "transfer_method": "local_file", "upload_file_id": record.id}
    value = await service.file_from_mapping("t1", mapping)
    assert (value["type"], value["related_id"], value["filename"]) == ("image", record.id, "cat.png")
    custom = await service.file_from_mapping("t1", {"transfer_method": "local_file", "upload_file_id": record.id})
    assert custom["type"] == "image"
    remote = await service.file_from_mapping(
        "t1", {"type": "document", "transfer_method": "remote_url", "url": "https://example.com/r%20one.pdf"}
    )
    assert (remote["filename"], remote["extension"], remote["mime_type"]) == ("r one.pdf", ".pdf", "application/pdf")
    assert remote["remote_url"] == remote["url"] == "https://example.com/r%20one.pdf"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"type": "document", "transfer_method": "local_file", "upload_file_id": "ID"},
            "inputs.f.type is 'document' but 'cat.png' is a image file",
        ),
        ({"type": "image", "transfer_method": "local_file"}, "inputs.f.upload_file_id is required"),
        (
            {"type": "image", "transfer_method": "local_file", "upload_file_id": "nope"},
            "'nope' is not a file uploaded to this workspace",
        ),
        ({"type": "hologram", "transfer_method": "local_file"}, "inputs.f.type must be one of"),
        ({"type": "image", "transfer_method": "remote_url", "url": "file:///etc/passwd"}, "must be an http"),
        ({"type": "image", "transfer_method": "pigeon"}, "transfer_method must be 'local_file' or 'remote_url'"),
    ],
)
async def test_bad_request_mappings_name_the_field(service: FileService, mapping: dict[str, str], message: str) -> None:
    record = await upload(service, "cat.png", b"\x89PNG", mime_type="image/png")
    mapping = {key: record.id if value == "ID" else value for key, value in mapping.items()}
    with pytest.raises(FileServiceError, match=message):
        await service.file_from_mapping("t1", mapping, where="inputs.f")


async def test_another_workspaces_upload_is_not_found(service: FileService) -> None:
    record = await upload(service)
    mapping = {"transfer_method": "local_file", "upload_file_id": record.id}
    with pytest.raises(FileServiceError, match="is not a file uploaded to this workspace"):
        await service.file_from_mapping("t2", mapping)
    with pytest.raises(NoSuchFile):
        await service.get("t2", record.id)
    with pytest.raises(NoSuchFile):
        await read_all(service, "t2", record.id)
    with pytest.raises(NoSuchFile):
        await service.delete("t2", record.id)
    assert await read_all(service, "t1", record.id) == b"hello"


# -- reading, signed URLs, deleting ----------------------------------------------------------


async def test_reads_stream_the_stored_bytes_within_a_limit(service: FileService) -> None:
    content = bytes(range(256)) * 4096
    record = await upload(service, "blob.bin", content)
    assert await read_all(service, "t1", record.id) == content
    assert await read_all(service, "t1", record.id, max_bytes=len(content)) == content
    with pytest.raises(FileTooLarge, match="more than the 1000 bytes allowed") as caught:
        await read_all(service, "t1", record.id, max_bytes=1000)
    assert caught.value.details == {"size": len(content), "limit": 1000}


async def test_a_signed_url_opens_its_file_until_it_expires(service: FileService, clock: Clock) -> None:
    record = await upload(service, "cat.png", b"\x89PNG", mime_type="image/png")
    query = {k: v[0] for k, v in parse_qs(urlsplit(service.preview_url(record)).query).items()}
    found, stream = await service.open_signed(record.id, **query)
    assert found == record
    assert b"".join([piece async for piece in stream]) == b"\x89PNG"
    with pytest.raises(FileAccessDenied, match="invalid or has expired"):
        await service.open_signed(record.id, **{**query, "sign": "forged"})
    clock.now += 301
    with pytest.raises(FileAccessDenied):
        await service.open_signed(record.id, **query)


async def test_image_previews_are_for_images(service: FileService) -> None:
    record = await upload(service, "a.txt")
    query = {
        k: v[0] for k, v in parse_qs(urlsplit(service.signer.url(record.id, purpose="image-preview")).query).items()
    }
    with pytest.raises(UnsupportedFileType, match=r"'a\.txt' is not an image"):
        await service.open_signed(record.id, **query, purpose="image-preview")


async def test_deleting_removes_the_bytes_and_the_record(service: FileService, supervisor: PluginSupervisor) -> None:
    record = await upload(service)
    await service.delete("t1", record.id)
    assert await service.records.get(record.id) is None
    assert not await service.storage.exists(record.storage_key)
    assert not (Path(supervisor.settings.home) / "files" / record.storage_key).exists()
    with pytest.raises(NoSuchFile):
        await service.get("t1", record.id)
