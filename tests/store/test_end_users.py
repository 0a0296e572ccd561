"""Dify's ``user`` string becomes one EndUser row per app, made on first sight."""

from __future__ import annotations

import pytest
from treadle.store import ANONYMOUS_USER, Database, get_or_create_end_user

from .worlds import workspace_with_app


async def test_the_same_user_string_is_the_same_end_user(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    async with db.session() as s:
        first = await get_or_create_end_user(s, app_id, tenant_id, "abc-123")
    async with db.session() as s:
        again = await get_or_create_end_user(s, app_id, tenant_id, "abc-123")
        other = await get_or_create_end_user(s, app_id, tenant_id, "someone-else")
    assert again.id == first.id
    assert other.id != first.id
    assert (first.session_id, first.type, first.is_anonymous, first.tenant_id) == (
        "abc-123", "service_api", False, tenant_id
    )  # fmt: skip


async def test_apps_have_separate_end_users(db: Database) -> None:
    tenant_a, app_a = await workspace_with_app(db, name="A")
    tenant_b, app_b = await workspace_with_app(db, name="B")
    async with db.session() as s:
        in_a = await get_or_create_end_user(s, app_a, tenant_a, "abc-123")
        in_b = await get_or_create_end_user(s, app_b, tenant_b, "abc-123")
    assert in_a.id != in_b.id


async def test_no_user_is_the_apps_anonymous_user(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    async with db.session() as s:
        anonymous = await get_or_create_end_user(s, app_id, tenant_id, None)
        empty = await get_or_create_end_user(s, app_id, tenant_id, "")
        browser = await get_or_create_end_user(s, app_id, tenant_id, "web-1", user_type="browser")
    assert empty.id == anonymous.id
    assert (anonymous.session_id, anonymous.is_anonymous) == (ANONYMOUS_USER, True)
    assert browser.type == "browser"


async def test_bad_user_strings_and_unknown_apps_say_what_is_wrong(db: Database) -> None:
    tenant_id, app_id = await workspace_with_app(db)
    other_tenant, _ = await workspace_with_app(db, name="Other")
    async with db.session() as s:
        with pytest.raises(ValueError, match="user: at most 255 characters"):
            await get_or_create_end_user(s, app_id, tenant_id, "x" * 256)
        with pytest.raises(ValueError, match="user: must be a string"):
            await get_or_create_end_user(s, app_id, tenant_id, 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"'no-such-app'.*does not exist"):
            await get_or_create_end_user(s, "no-such-app", tenant_id, "abc")
        await get_or_create_end_user(s, app_id, tenant_id, "abc")
        with pytest.raises(ValueError, match="does not belong to workspace"):
            await get_or_create_end_user(s, app_id, other_tenant, "abc")
