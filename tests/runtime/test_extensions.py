"""API-based extensions of a workspace: saved only when they answer ping, keys sealed and masked,
scoped to their workspace (FEAT-MODERATION's API extension kind)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from support.extension_server import KEY, ExtensionServer
from support.local_server import closed_port
from treadle.runtime import ApiExtensionError, ApiExtensionNotFound, ApiExtensions
from treadle.store import ApiBasedExtension, Database, Tenant
from treadle.tenancy import SecretCipher


@pytest.fixture
def server() -> Iterator[ExtensionServer]:
    with ExtensionServer() as running:
        yield running


async def _workspace(db: Database, name: str) -> str:
    tenant = Tenant(name=name)
    async with db.session() as session:
        session.add(tenant)
    return tenant.id


async def test_an_extension_is_saved_once_it_answers_ping(
    db: Database, tmp_path: Path, server: ExtensionServer
) -> None:
    cipher = SecretCipher(tmp_path / "secret_key")
    extensions = ApiExtensions(db, cipher, await _workspace(db, "A"))
    view = await extensions.create("moderator", server.url_for("/moderate"), KEY)
    assert server.calls == [{"point": "ping", "params": {}}]
    assert view.api_key != KEY and view.api_key.startswith("ext") and "*" in view.api_key
    async with db.session() as session:
        stored = await session.scalar(select(ApiBasedExtension.api_key))
    assert stored is not None and KEY not in stored  # sealed at rest
    answer = await extensions.call(view.id, "app.moderation.output", {"text": "a blocked word"})
    assert answer["flagged"] is True and answer["text"] == "a *** word"
    kept = await extensions.update(view.id, "renamed", server.url_for("/moderate"), view.api_key)
    assert kept.name == "renamed"
    assert (await extensions.call(view.id, "ping", {}))["result"] == "pong"  # the masked key kept the real one


async def test_an_extension_that_does_not_answer_ping_is_refused(db: Database, tmp_path: Path,
                                                                 server: ExtensionServer) -> None:
    extensions = ApiExtensions(db, SecretCipher(tmp_path / "secret_key"), await _workspace(db, "A"))
    with pytest.raises(ApiExtensionError, match="401"):
        await extensions.create("bad key", server.url_for("/moderate"), "wrong-key")
    with pytest.raises(ApiExtensionError, match="cannot be reached"):
        await extensions.create("nobody", f"http://127.0.0.1:{closed_port()}/x", KEY)
    with pytest.raises(ApiExtensionError, match="api_endpoint"):
        await extensions.create("not a url", "ftp://example", KEY)
    assert await extensions.list() == []


async def test_another_workspaces_extension_is_not_found(db: Database, tmp_path: Path,
                                                         server: ExtensionServer) -> None:
    cipher = SecretCipher(tmp_path / "secret_key")
    mine = ApiExtensions(db, cipher, await _workspace(db, "A"))
    theirs = ApiExtensions(db, cipher, await _workspace(db, "B"))
    view = await mine.create("moderator", server.url_for("/moderate"), KEY)
    with pytest.raises(ApiExtensionNotFound):
        await theirs.call(view.id, "ping", {})
    with pytest.raises(ApiExtensionNotFound):
        await theirs.delete(view.id)
    assert await theirs.list() == []
    await mine.delete(view.id)
    assert await mine.list() == []
