"""AppManager: import, versions, restore, export, API keys and deletion, scoped to one workspace."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from treadle.graph.dsl import load_dsl
from treadle.runtime import AppImportError, AppManager, AppModeError, AppNotFound, ensure_first_workspace
from treadle.store import ApiKey, Database, SqlApiKeyRecords, Tenant, Workflow
from treadle.tenancy import InvalidApiKey, SecretCipher, WeakPassword, authenticate_api_key

from .conftest import COMPLETION_DSL, WORKFLOW_DSL

CIPHER = SecretCipher(server_secret=b"k" * 32)


async def _workspace(db: Database, name: str) -> str:
    async with db.session() as s:
        tenant = Tenant(name=name)
        s.add(tenant)
        await s.flush()
        return tenant.id


async def test_import_keeps_the_graph_and_seals_secrets(db: Database) -> None:
    manager = AppManager(db, CIPHER, await _workspace(db, "Acme"))
    app = await manager.import_dsl(WORKFLOW_DSL)
    assert (app.mode, app.name, app.icon, app.workflow_id) == ("workflow", "Echo", "🦜", None)
    draft = await manager.draft(app.id)
    source = load_dsl(WORKFLOW_DSL).workflow
    assert source is not None
    assert draft.graph == source.graph.model_dump(mode="json", by_alias=True, exclude_unset=True)
    secret, plain = draft.environment_variables
    assert secret["value"] != "sk-very-secret-1234" and CIPHER.is_encrypted(secret["value"])
    assert plain["value"] == "eu"
    exported = await manager.export(app.id)
    assert "sk-very-secret-1234" not in exported
    reloaded = load_dsl(exported).workflow
    assert reloaded is not None and reloaded.graph == source.graph
    with_secrets = load_dsl(await manager.export(app.id, include_secrets=True))
    assert with_secrets.workflow is not None
    assert with_secrets.workflow.environment_variables[0].value == "sk-very-secret-1234"


async def test_publish_versions_and_restore(db: Database) -> None:
    manager = AppManager(db, CIPHER, await _workspace(db, "Acme"))
    app = await manager.import_dsl(WORKFLOW_DSL)
    first = await manager.publish(app.id, marked_name="v1")
    draft = await manager.draft(app.id)
    async with db.session() as s:
        row = await s.get(Workflow, draft.id)
        assert row is not None
        row.graph = {"nodes": [], "edges": []}
    second = await manager.publish(app.id, marked_name="v2")
    assert (await manager.get(app.id)).workflow_id == second.id
    history = await manager.versions(app.id)
    assert history[0].version == "draft"
    assert [v.marked_name for v in history[1:]] == ["v2", "v1"]
    assert [v.current for v in history] == [False, True, False]
    async with db.session() as s:
        published = await s.get(Workflow, first.id)
        assert published is not None and published.graph["nodes"]  # the first version did not change
    await manager.restore(app.id, first.id)
    assert (await manager.draft(app.id)).graph == published.graph
    assert (await manager.get(app.id)).workflow_id == second.id  # restoring edits the draft only
    with pytest.raises(AppNotFound, match="published version 'nope'"):
        await manager.restore(app.id, "nope")


async def test_another_workspace_sees_nothing(db: Database) -> None:
    mine = AppManager(db, CIPHER, await _workspace(db, "A"))
    theirs = AppManager(db, CIPHER, await _workspace(db, "B"))
    app = await mine.import_dsl(WORKFLOW_DSL)
    for attempt in (
        theirs.get(app.id),
        theirs.publish(app.id),
        theirs.export(app.id),
        theirs.create_api_key(app.id),
        theirs.delete(app.id),
    ):
        with pytest.raises(AppNotFound):
            await attempt
    assert await theirs.list_apps() == []
    assert [summary.id for summary in await mine.list_apps()] == [app.id]


async def test_api_key_is_stored_as_a_digest_and_deleted_with_the_app(db: Database) -> None:
    tenant_id = await _workspace(db, "Acme")
    manager = AppManager(db, CIPHER, tenant_id)
    app = await manager.import_dsl(WORKFLOW_DSL)
    key = await manager.create_api_key(app.id)
    assert key.token.startswith("app-") and key.token not in repr(key)
    async with db.session() as s:
        row = await s.scalar(select(ApiKey).where(ApiKey.id == key.id))
        assert row is not None and key.token not in (row.token_hash, row.prefix)
    found = await authenticate_api_key(key.token, SqlApiKeyRecords(db), kind="app")
    assert (found.tenant_id, found.resource_id) == (tenant_id, app.id)
    await manager.delete(app.id)
    with pytest.raises(InvalidApiKey):
        await authenticate_api_key(key.token, SqlApiKeyRecords(db), kind="app")
    with pytest.raises(AppNotFound):
        await manager.get(app.id)


async def test_model_config_apps_keep_their_config_and_have_no_versions(db: Database) -> None:
    manager = AppManager(db, CIPHER, await _workspace(db, "Acme"))
    app = await manager.import_dsl(COMPLETION_DSL)
    assert app.model_config["pre_prompt"] == "Write about {{topic}}"
    with pytest.raises(AppModeError, match="completion app: publish applies to workflow"):
        await manager.publish(app.id)
    exported = load_dsl(await manager.export(app.id))
    assert exported.mode == "completion"
    assert exported.app_model_config == load_dsl(COMPLETION_DSL).app_model_config


async def test_a_bad_dsl_names_the_path(db: Database) -> None:
    manager = AppManager(db, CIPHER, await _workspace(db, "Acme"))
    broken = WORKFLOW_DSL.replace("{type: end, title: End", "{title: End")
    with pytest.raises(AppImportError) as caught:
        await manager.import_dsl(broken)
    assert "workflow.graph.nodes[1].data.type" in str(caught.value)
    assert await manager.list_apps() == []


async def test_bootstrap_makes_one_workspace_with_an_owner(db: Database) -> None:
    first = await ensure_first_workspace(db, email="Owner@Example.com", name="Ada")
    assert first is not None and first.email == "owner@example.com" and first.password
    assert first.password not in repr(first)
    assert await ensure_first_workspace(db) is None  # idempotent

    async with db.session() as s:
        assert len(list(await s.scalars(select(Tenant)))) == 1


async def test_bootstrap_refuses_a_weak_password_and_writes_nothing(db: Database) -> None:
    with pytest.raises(WeakPassword, match="at least one digit"):
        await ensure_first_workspace(db, password="lettersonly")
    async with db.session() as s:
        assert await s.scalar(select(Tenant.id)) is None
    first = await ensure_first_workspace(db, password="chosen-pass-7")
    assert first is not None and first.password is None  # not generated, so not shown
