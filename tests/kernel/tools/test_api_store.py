"""Keeping custom tool providers (WS-TOOLS, custom tools): in memory and in a SQLite file whose API
keys are encrypted at rest (DESIGN.md Security), and the provider's id kept when it is replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from treadle.models import SecretCipher, SecretKeyError
from treadle.tools import (
    ApiToolCredentials,
    ApiToolProvider,
    ApiTools,
    ApiToolStore,
    MemoryApiToolStore,
    OpenAPISpecError,
    SQLiteApiToolStore,
)

from .petstore import spec_for

SPEC = spec_for(8080)
KEY = {"auth_type": "api_key_header", "api_key_value": "sk-live-123456", "api_key_header_prefix": "bearer"}


def provider(tenant_id: str = "t1", name: str = "petshop", provider_id: str = "p-1") -> ApiToolProvider:
    return ApiToolProvider(
        tenant_id=tenant_id,
        id=provider_id,
        name=name,
        spec=SPEC,
        credentials=ApiToolCredentials.parse(KEY),
        label="Pet Shop",
        privacy_policy="https://example.com/privacy",
    )


def cipher() -> SecretCipher:
    return SecretCipher(server_secret=b"k" * 32)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ApiToolStore:
    if request.param == "memory":
        return MemoryApiToolStore()
    return SQLiteApiToolStore(tmp_path / "tools.db", cipher())


async def test_a_store_keeps_providers_by_workspace_and_name(store: ApiToolStore) -> None:
    await store.save(provider())
    await store.save(provider(name="another", provider_id="p-2"))
    await store.save(provider(tenant_id="t2"))
    got = await store.get("t1", "petshop")
    assert got is not None
    assert (got.id, got.spec, got.label, got.privacy_policy) == ("p-1", SPEC, "Pet Shop", "https://example.com/privacy")
    assert got.credentials == ApiToolCredentials.parse(KEY)
    assert [p.name for p in await store.providers("t1")] == ["another", "petshop"]
    assert await store.delete("t1", "petshop") is True
    assert await store.delete("t1", "petshop") is False
    assert await store.get("t1", "petshop") is None
    assert (await store.get("t2", "petshop")) is not None


async def test_the_sqlite_file_holds_the_key_only_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "tools.db"
    await SQLiteApiToolStore(path, cipher()).save(provider())
    assert b"sk-live-123456" not in path.read_bytes()
    assert b"Pet Shop" in path.read_bytes()
    # Another process with the same server secret reads it back.
    again = await SQLiteApiToolStore(path, cipher()).get("t1", "petshop")
    assert again is not None and again.credentials.api_key_value == "sk-live-123456"
    # With another server secret, the key does not decrypt, and the error says why.
    with pytest.raises(SecretKeyError, match="is not the one it was saved with"):
        await SQLiteApiToolStore(path, SecretCipher(server_secret=b"x" * 32)).get("t1", "petshop")


async def test_saving_again_replaces_the_document_and_keeps_the_id(store: ApiToolStore) -> None:
    tools = ApiTools(no_requests, store)
    first = await tools.save_provider("t1", "petshop", SPEC, credentials=KEY)
    second = await tools.save_provider("t1", "petshop", SPEC.replace("List pets", "All pets"))
    assert second.id == first.id
    assert second.credentials == ApiToolCredentials()  # replaced too: none given
    assert second.label == "Pet Shop"  # the document's title when no label is given
    _, spec = await tools.spec("t1", first.id)
    listing = spec.operation("listPets")
    assert listing is not None and listing.tool.label == {"en_US": "All pets"}
    updated = await tools.update_credentials("t1", "petshop", KEY)
    assert (updated.id, updated.credentials.api_key_value) == (first.id, "sk-live-123456")
    await tools.delete_provider("t1", first.id)
    assert await tools.providers("t1") == []


async def test_a_bad_document_or_name_is_refused_and_nothing_is_saved() -> None:
    store = MemoryApiToolStore()
    tools = ApiTools(no_requests, store)
    with pytest.raises(OpenAPISpecError, match=r"^servers: "):
        await tools.save_provider("t1", "petshop", SPEC.replace("servers:", "hosts:"))
    with pytest.raises(ValueError, match=r"credentials: api_key_value is required"):
        await tools.save_provider("t1", "petshop", SPEC, credentials={"auth_type": "api_key_query"})
    with pytest.raises(ValueError, match="no spaces at either end"):
        await tools.save_provider("t1", " petshop", SPEC)
    assert await store.providers("t1") == []


async def no_requests(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    raise AssertionError("no request is sent by these tests")
    yield
