from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest
from treadle.tenancy import (
    MAX_KEYS_PER_RESOURCE,
    ApiKeyKind,
    InvalidApiKey,
    IssuedApiKey,
    StoredApiKey,
    api_key_digest,
    authenticate_api_key,
    bearer_token,
    issue_api_key,
)


class KeyTable:
    """Keys held in a dict by digest, as the store holds them in a table indexed by digest."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredApiKey] = {}
        self.lookups: list[str] = []

    def add(self, issued: IssuedApiKey, *, tenant_id: str = "t1", resource_id: str = "app-1") -> StoredApiKey:
        row = StoredApiKey(
            id=f"key-{len(self.rows)}",
            kind=issued.kind,
            tenant_id=tenant_id,
            resource_id=resource_id,
            digest=issued.digest,
            display=issued.display,
        )
        self.rows[issued.digest] = row
        return row

    async def find_api_key(self, digest: str) -> StoredApiKey | None:
        self.lookups.append(digest)
        return self.rows.get(digest)


@pytest.mark.parametrize(
    ("kind", "pattern"), [("app", r"app-[A-Za-z0-9]{24}"), ("dataset", r"dataset-[A-Za-z0-9]{24}")]
)
def test_keys_have_difys_format(kind: str, pattern: str) -> None:
    keys = [issue_api_key(kind) for _ in range(200)]
    assert all(re.fullmatch(pattern, key.token) for key in keys)
    assert len({key.token for key in keys}) == 200
    # All 62 characters turn up: the random part is not hex or a narrower alphabet.
    assert len({char for key in keys for char in key.token[-24:]}) == 62


def test_only_the_digest_and_a_display_form_are_meant_for_storage() -> None:
    key = issue_api_key(ApiKeyKind.APP)
    assert key.digest == hashlib.sha256(key.token.encode()).hexdigest() == api_key_digest(key.token)
    assert key.display == f"app-…{key.token[-4:]}"
    assert key.token not in repr(key) and key.digest not in repr(key)
    assert key.token[4:-4] not in key.display


def test_a_resource_gets_at_most_ten_keys() -> None:
    issue_api_key("app", existing=MAX_KEYS_PER_RESOURCE - 1)
    with pytest.raises(ValueError, match="app API keys: at most 10 at a time; delete one"):
        issue_api_key("app", existing=MAX_KEYS_PER_RESOURCE)
    with pytest.raises(ValueError, match="'secret' is not a valid ApiKeyKind"):
        issue_api_key("secret")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "must be provided and start with 'Bearer'"),
        ("", "must be provided and start with 'Bearer'"),
        ("Basic dXNlcjpwYXNz", "scheme must be 'Bearer'"),
        ("Bearer", "no API key after 'Bearer'"),
        ("Bearer    ", "no API key after 'Bearer'"),
    ],
)
def test_bearer_token_says_what_is_wrong_with_the_header(header: str | None, message: str) -> None:
    with pytest.raises(InvalidApiKey, match=message):
        bearer_token(header)


def test_bearer_token_reads_the_key() -> None:
    assert bearer_token("Bearer app-abc") == "app-abc"
    assert bearer_token("  bearer   app-abc ") == "app-abc"


async def test_a_stored_key_authenticates_for_its_own_api_only() -> None:
    table = KeyTable()
    app_key, dataset_key = issue_api_key("app"), issue_api_key("dataset")
    app_row = table.add(app_key, resource_id="app-1")
    dataset_row = table.add(dataset_key, resource_id="")
    assert await authenticate_api_key(app_key.token, table, kind="app") == app_row
    assert await authenticate_api_key(dataset_key.token, table, kind=ApiKeyKind.DATASET) == dataset_row
    # The table is searched by digest, never by the key itself.
    assert table.lookups == [app_key.digest, dataset_key.digest]
    with pytest.raises(InvalidApiKey, match="not a app API key"):
        await authenticate_api_key(dataset_key.token, table, kind="app")
    with pytest.raises(InvalidApiKey, match="not a dataset API key"):
        await authenticate_api_key(app_key.token, table, kind="dataset")


async def test_unknown_deleted_and_malformed_keys_are_refused() -> None:
    table = KeyTable()
    known = issue_api_key("app")
    table.add(known)
    with pytest.raises(InvalidApiKey, match=r"^Access token is invalid$"):
        await authenticate_api_key(issue_api_key("app").token, table, kind="app")
    for malformed in (known.token[:-1], known.token + "x", known.token[:-1] + "-", "app-", "sk-" + known.token[4:]):
        with pytest.raises(InvalidApiKey, match="not a app API key"):
            await authenticate_api_key(malformed, table, kind="app")
    del table.rows[known.digest]
    with pytest.raises(InvalidApiKey, match=r"^Access token is invalid$"):
        await authenticate_api_key(known.token, table, kind="app")


async def test_a_store_that_matches_loosely_does_not_let_a_near_miss_in() -> None:
    class LooseTable(KeyTable):
        async def find_api_key(self, digest: str) -> StoredApiKey | None:
            return next((row for key, row in self.rows.items() if key[:8] == digest[:8]), None)

    table = LooseTable()
    known = issue_api_key("app")
    row = table.add(known)
    table.rows = {known.digest: replace(row, digest=known.digest[:8] + "0" * 56)}
    with pytest.raises(InvalidApiKey, match=r"^Access token is invalid$"):
        await authenticate_api_key(known.token, table, kind="app")
