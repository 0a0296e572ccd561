"""Signed file URLs (Dify's ``/files/{id}/file-preview?timestamp&nonce&sign``): made, verified, and
refused when forged, moved to another file or purpose, or expired."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from treadle.files import FILE_PREVIEW, IMAGE_PREVIEW, FileSigner

from .conftest import SECRET, Clock


def parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path, {key: values[0] for key, values in parse_qs(split.query).items()}


def test_a_signed_url_verifies_until_it_expires(clock: Clock) -> None:
    signer = FileSigner(SECRET, clock=clock)
    path, query = parts(signer.url("f1"))
    assert path == "/files/f1/file-preview"
    assert set(query) == {"timestamp", "nonce", "sign"}
    assert query["timestamp"] == str(int(clock.now))
    args = {"timestamp": query["timestamp"], "nonce": query["nonce"], "sign": query["sign"]}
    assert signer.verify("f1", **args)
    clock.now += 300
    assert signer.verify("f1", **args)
    clock.now += 1
    assert not signer.verify("f1", **args)


def test_the_signature_binds_the_file_the_purpose_the_nonce_and_the_secret(clock: Clock) -> None:
    signer = FileSigner(SECRET, clock=clock)
    _, query = parts(signer.url("f1"))
    args = {"timestamp": query["timestamp"], "nonce": query["nonce"], "sign": query["sign"]}
    assert not signer.verify("f2", **args)
    assert not signer.verify("f1", **args, purpose=IMAGE_PREVIEW)
    assert not signer.verify("f1", **{**args, "nonce": "0" * 32})
    assert not signer.verify("f1", **{**args, "timestamp": str(int(clock.now) + 1)})
    assert not signer.verify("f1", **{**args, "sign": args["sign"][:-2] + "AA"})
    assert not signer.verify("f1", **{**args, "timestamp": "soon"})
    assert not FileSigner(b"t" * 32, clock=clock).verify("f1", **args)


def test_urls_far_in_the_future_are_not_ours(clock: Clock) -> None:
    signer = FileSigner(SECRET, clock=clock)
    clock.now += 3600
    _, query = parts(signer.url("f1"))
    clock.now -= 3600
    assert not signer.verify("f1", timestamp=query["timestamp"], nonce=query["nonce"], sign=query["sign"])


def test_base_url_attachment_and_image_preview(clock: Clock) -> None:
    signer = FileSigner(SECRET, base_url="https://files.example.com/", clock=clock)
    url = signer.url("f1", purpose=IMAGE_PREVIEW, as_attachment=True)
    assert url.startswith("https://files.example.com/files/f1/image-preview?")
    _, query = parts(url)
    assert query["as_attachment"] == "true"
    assert signer.verify(
        "f1", timestamp=query["timestamp"], nonce=query["nonce"], sign=query["sign"], purpose=IMAGE_PREVIEW
    )
    # Every URL gets its own nonce.
    assert parts(signer.url("f1"))[1]["nonce"] != parts(signer.url("f1"))[1]["nonce"]


def test_bad_signer_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        FileSigner(b"short")
    with pytest.raises(ValueError, match="access_timeout must be at least 1"):
        FileSigner(SECRET, access_timeout=0)
    with pytest.raises(ValueError, match="purpose must be one of"):
        FileSigner(SECRET).url("f1", purpose="download")
    assert FILE_PREVIEW == "file-preview"
