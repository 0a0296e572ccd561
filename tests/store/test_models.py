"""Round trips of every table, and the ownership rules: what a delete takes with it, what it leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from treadle.store import (
    Account,
    ActiveRequest,
    Annotation,
    AnnotationEmbedding,
    AnnotationJobRecord,
    AnnotationSetting,
    ApiBasedExtension,
    ApiKey,
    App,
    AppMcpServer,
    Base,
    CheckpointRecord,
    ChildChunk,
    Conversation,
    ConversationVariable,
    Database,
    Dataset,
    DatasetMetadataField,
    DatasetProcessRule,
    DatasetQuery,
    Document,
    DocumentSegment,
    EmbeddingCacheEntry,
    EndUser,
    ExternalKnowledgeApi,
    IndexNode,
    LoginFailure,
    Message,
    MessageFeedback,
    NodeExecution,
    RunStopRequest,
    Tag,
    TagBinding,
    Tenant,
    TenantMember,
    UploadFile,
    Workflow,
    WorkflowRun,
)


async def _knowledge(s: AsyncSession, tenant_id: str, owner_id: str) -> None:
    """A dataset with a parent-child document, its index rows, metadata, a tag and the side tables."""
    dataset = Dataset(tenant_id=tenant_id, name="Handbook", indexing_technique="high_quality",
                      doc_form="hierarchical_model", retrieval_model={"search_method": "hybrid_search", "top_k": 3},
                      vector_store="faiss", vector_collection="ds_1", vector_dimension=384, created_by=owner_id)
    s.add(dataset)
    await s.flush()
    rule = DatasetProcessRule(dataset_id=dataset.id, mode="hierarchical", rules={"parent_mode": "paragraph"})
    s.add(rule)
    await s.flush()
    doc = Document(tenant_id=tenant_id, dataset_id=dataset.id, position=1, name="a.md", batch="20260101000000",
                   dataset_process_rule_id=rule.id, doc_metadata={"author": "Ann"})
    s.add(doc)
    await s.flush()
    segment = DocumentSegment(tenant_id=tenant_id, dataset_id=dataset.id, document_id=doc.id, position=1,
                              content="parent", keywords=["parent"])
    s.add(segment)
    await s.flush()
    tag = Tag(tenant_id=tenant_id, name="hr")
    s.add_all([
        ChildChunk(tenant_id=tenant_id, dataset_id=dataset.id, document_id=doc.id, segment_id=segment.id, position=1,
                   content="child"),
        IndexNode(node_id="node-1", tenant_id=tenant_id, dataset_id=dataset.id, document_id=doc.id,
                  segment_id=segment.id, content="child", keywords="child"),
        DatasetMetadataField(tenant_id=tenant_id, dataset_id=dataset.id, name="author", type="string"),
        tag,
        EmbeddingCacheEntry(model_key="fake/fake-embedding", text_hash="0" * 64, dimension=2, vector=b"\0" * 8),
        ExternalKnowledgeApi(tenant_id=tenant_id, name="ext", endpoint="https://kb.example", api_key="sealed"),
        DatasetQuery(dataset_id=dataset.id, content="leave policy", source="hit_testing", created_by=owner_id),
    ])  # fmt: skip
    await s.flush()
    s.add(TagBinding(tenant_id=tenant_id, tag_id=tag.id, target_id=dataset.id))


async def _world(db: Database) -> dict[str, str]:
    """One workspace with an owner, a workflow app at one published version, and a conversation."""
    async with db.session() as s:
        tenant = Tenant(name="Acme")
        owner = Account(email="ann@example.com", name="Ann", password_hash="$argon2id$...")
        s.add_all([tenant, owner])
        await s.flush()
        app = App(tenant_id=tenant.id, mode="advanced-chat", name="Helper", created_by=owner.id)
        s.add_all([app, TenantMember(tenant_id=tenant.id, account_id=owner.id, role="owner", current=True)])
        await s.flush()
        workflow = Workflow(tenant_id=tenant.id, app_id=app.id, type="chat", version="2026-01-01 00:00:00.000001",
                            graph={"nodes": [], "edges": []}, created_by=owner.id)
        user = EndUser(tenant_id=tenant.id, app_id=app.id, session_id="abc-123")
        s.add_all([workflow, user])
        await s.flush()
        conversation = Conversation(app_id=app.id, end_user_id=user.id, mode="advanced-chat", name="First")
        run = WorkflowRun(tenant_id=tenant.id, app_id=app.id, workflow_id=workflow.id, version=workflow.version,
                          created_by_role="end_user", created_by_end_user_id=user.id)
        s.add_all([conversation, run])
        await s.flush()
        message = Message(app_id=app.id, conversation_id=conversation.id, end_user_id=user.id, query="hi",
                          answer="hello", workflow_run_id=run.id)
        s.add(message)
        await s.flush()
        s.add_all([
            MessageFeedback(app_id=app.id, conversation_id=conversation.id, message_id=message.id, rating="like",
                            from_source="user", from_end_user_id=user.id),
            NodeExecution(tenant_id=tenant.id, app_id=app.id, workflow_run_id=run.id, index=1, node_id="start",
                          node_type="start"),
            ConversationVariable(id="var-1", conversation_id=conversation.id, app_id=app.id, name="memory",
                                 value_type="array[string]", value=["a"]),
            annotation := Annotation(app_id=app.id, question="q", answer="a", created_by=owner.id),
            AnnotationSetting(tenant_id=tenant.id, app_id=app.id, enabled=True, score_threshold=0.9,
                              embedding_provider_name="fake", embedding_model_name="fake-embedding"),
            ApiKey(tenant_id=tenant.id, app_id=app.id, type="app", token_hash="h1", prefix="app-AbC1"),
            ApiKey(tenant_id=tenant.id, type="dataset", token_hash="h2", prefix="ds-XyZ9", created_by=owner.id),
            ApiBasedExtension(tenant_id=tenant.id, name="moderator", api_endpoint="https://ext.example/x",
                              api_key="sealed"),
            UploadFile(tenant_id=tenant.id, storage_key=f"upload_files/{tenant.id}/f.pdf", name="f.pdf", size=3,
                       extension=".pdf", mime_type="application/pdf", created_by_role="end_user",
                       created_by=user.id),
            RunStopRequest(task_id="task-1", app_id=app.id, end_user_id=user.id),
            AppMcpServer(tenant_id=tenant.id, app_id=app.id, server_code="c0de" * 4, parameters={"q": "The question."}),
            ActiveRequest(app_id=app.id, expires_at=datetime.now(UTC) + timedelta(minutes=10)),
            AnnotationJobRecord(app_id=app.id, action="enable", status="completed"),
            LoginFailure(email="someone@example.com"),
        ])  # fmt: skip
        await s.flush()
        s.add(AnnotationEmbedding(annotation_id=annotation.id, app_id=app.id, provider="fake",
                                  model="fake-embedding", question_hash="0" * 64, vector=[0.6, 0.8]))
        await _knowledge(s, tenant.id, owner.id)
        return {"tenant": tenant.id, "owner": owner.id, "app": app.id, "workflow": workflow.id, "user": user.id,
                "conversation": conversation.id, "run": run.id, "message": message.id}  # fmt: skip


async def _count(db: Database, table: type[Base]) -> int:
    async with db.session() as s:
        return await s.scalar(select(func.count()).select_from(table)) or 0


async def test_every_table_round_trips(db: Database) -> None:
    ids = await _world(db)
    async with db.session() as s:
        s.add(CheckpointRecord(run_id="r", status="paused", version=1, data={"k": [1, 2.5, None, True]}))
        message = await s.get(Message, ids["message"])
        assert message is not None
        message.message_tokens, message.answer_tokens = 12, 34
        message.total_price, message.latency = Decimal("0.0001234"), 0.25
        message.files = [{"id": "f", "belongs_to": "user", "transfer_method": "local_file"}]
        message.agent_thoughts = [{"position": 1, "thought": "hm", "tool": "a;b"}]
    async with db.session() as s:
        message = await s.get(Message, ids["message"])
        assert message is not None
        assert (message.query, message.answer, message.status, message.currency) == ("hi", "hello", "normal", "USD")
        assert (message.message_tokens, message.answer_tokens, message.total_price) == (12, 34, Decimal("0.0001234"))
        assert message.files[0]["belongs_to"] == "user"
        assert message.agent_thoughts == [{"position": 1, "thought": "hm", "tool": "a;b"}]
        assert message.created_at.tzinfo is UTC
        assert message.updated_at >= message.created_at
        variable = await s.get(ConversationVariable, ("var-1", ids["conversation"]))
        assert variable is not None and variable.value == ["a"]
        checkpoint = await s.get(CheckpointRecord, "r")
        assert checkpoint is not None and checkpoint.data == {"k": [1, 2.5, None, True]}
        workflow = await s.get(Workflow, ids["workflow"])
        assert workflow is not None and workflow.graph == {"nodes": [], "edges": []}
        assert workflow.environment_variables == [] and workflow.features == {}
        run = await s.get(WorkflowRun, ids["run"])
        assert run is not None and (run.status, run.triggered_from, run.version) == ("running", "app-run",
                                                                                     workflow.version)
        app = await s.get(App, ids["app"])
        assert app is not None and (app.enable_site, app.enable_api, app.model_config) == (True, True, {})
    for table in Base.metadata.sorted_tables:
        assert await _count(db, next(m for m in Base.registry.mappers if m.local_table is table).class_) >= 1


async def test_an_aware_time_is_kept_as_utc_and_a_naive_one_refused(db: Database) -> None:
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC) + timedelta(microseconds=5)
    async with db.session() as s:
        account = Account(email="b@example.com", name="B", last_login_at=moment.astimezone(UTC))
        s.add(account)
    async with db.session() as s:
        found = await s.get(Account, account.id)
        assert found is not None and found.last_login_at == moment
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as s:
            s.add(Account(email="c@example.com", name="C", last_login_at=datetime(2026, 5, 1)))


async def test_deleting_an_app_takes_its_records_and_leaves_the_workspace(db: Database) -> None:
    ids = await _world(db)
    async with db.session() as s:
        await s.delete(await s.get(App, ids["app"]))
    for table in (Workflow, EndUser, Conversation, Message, MessageFeedback, WorkflowRun, NodeExecution,
                  ConversationVariable, Annotation, AnnotationSetting, AnnotationEmbedding):  # fmt: skip
        assert await _count(db, table) == 0, table.__tablename__
    async with db.session() as s:
        keys = list(await s.scalars(select(ApiKey.type)))
    assert keys == ["dataset"]
    assert (await _count(db, Tenant), await _count(db, TenantMember), await _count(db, UploadFile)) == (1, 1, 1)


async def test_deleting_a_workspace_takes_everything_in_it_but_not_its_accounts(db: Database) -> None:
    await _world(db)
    async with db.session() as s:
        await s.delete(await s.scalar(select(Tenant)))
    for table in (App, TenantMember, ApiKey, UploadFile, Message, WorkflowRun, NodeExecution):
        assert await _count(db, table) == 0, table.__tablename__
    assert await _count(db, Account) == 1


async def test_deleting_an_account_ends_its_memberships_and_keeps_what_it_made(db: Database) -> None:
    ids = await _world(db)
    async with db.session() as s:
        await s.delete(await s.get(Account, ids["owner"]))
    assert await _count(db, TenantMember) == 0
    async with db.session() as s:
        app = await s.get(App, ids["app"])
        assert app is not None and app.created_by is None
        assert await s.scalar(select(ApiKey.created_by).where(ApiKey.type == "dataset")) is None


async def test_deleting_a_run_takes_its_node_executions_and_unlinks_its_message(db: Database) -> None:
    ids = await _world(db)
    async with db.session() as s:
        await s.delete(await s.get(WorkflowRun, ids["run"]))
    assert await _count(db, NodeExecution) == 0
    async with db.session() as s:
        message = await s.get(Message, ids["message"])
        assert message is not None and message.workflow_run_id is None


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda ids: TenantMember(tenant_id=ids["tenant"], account_id=ids["owner"], role="admin"), "one membership"),
        (lambda ids: TenantMember(tenant_id=ids["tenant"], account_id=ids["owner"], role="root"), "known role"),
        (lambda ids: ApiKey(tenant_id=ids["tenant"], type="app", token_hash="h3", prefix="app-"), "app key app"),
        (lambda ids: ApiKey(tenant_id=ids["tenant"], type="app", app_id=ids["app"], token_hash="h1", prefix="x"),
         "unique token hash"),
        (lambda ids: EndUser(tenant_id=ids["tenant"], app_id=ids["app"], session_id="abc-123"), "one user a session"),
        (lambda ids: Workflow(tenant_id=ids["tenant"], app_id=ids["app"], type="chat", version="draft"), None),
        (lambda ids: App(tenant_id=ids["tenant"], mode="chatbot", name="x"), "known mode"),
        (lambda ids: MessageFeedback(app_id=ids["app"], message_id=ids["message"], rating="like",
                                     from_source="user"), "one feedback per source"),
        (lambda ids: MessageFeedback(app_id=ids["app"], message_id=ids["message"], rating="meh",
                                     from_source="admin"), "known rating"),
        (lambda ids: Message(app_id=ids["app"], conversation_id="nope"), "existing conversation"),
    ],
)
async def test_the_schema_refuses_records_that_break_its_rules(db: Database, make: Any, what: str | None) -> None:
    ids = await _world(db)
    if what is None:
        # The first draft is fine; a second draft of the same app is not.
        async with db.session() as s:
            s.add(make(ids))
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(make(ids))
