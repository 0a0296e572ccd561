"""Persistence: SQLAlchemy tables, Alembic migrations, pagination and the SQL checkpoint store.

SQLite (the embedded default, ``$TREADLE_HOME/treadle.db``) and PostgreSQL run the same migrations::

    db = Database.from_settings(settings)
    await upgrade_to_head(db)
    async with db.session() as s:
        s.add(Tenant(name="Acme"))
"""

from __future__ import annotations

from .annotations import AnnotationEmbedding, AnnotationSetting
from .api_keys import SqlApiKeyRecords
from .apps import APP_MODES, DRAFT, Annotation, App, EndUser, Workflow
from .base import ROLES, Base
from .checkpoints import SqlCheckpointStore
from .conversations import Conversation, ConversationVariable, Message, MessageFeedback
from .coordination import ActiveRequest, AnnotationJobRecord, LoginFailure, RunStopRequest
from .database import Database, async_url, create_engine
from .end_users import ANONYMOUS_USER, get_or_create_end_user
from .errors import CheckpointEncodingError, DatabaseURLError, InvalidPage, NotFound, StoreError
from .extensions import ApiBasedExtension
from .file_records import SqlFileRecordStore
from .files import UploadFile
from .history import SqlConversationHistory
from .knowledge import (
    DATASET_PERMISSIONS,
    DOC_FORMS,
    INDEXING_STATUSES,
    INDEXING_TECHNIQUES,
    METADATA_TYPES,
    SEGMENT_STATUSES,
    ChildChunk,
    Dataset,
    DatasetMetadataField,
    DatasetProcessRule,
    DatasetQuery,
    Document,
    DocumentSegment,
    EmbeddingCacheEntry,
    ExternalKnowledgeApi,
    IndexNode,
    Tag,
    TagBinding,
)
from .mcp_servers import MCP_SERVER_STATUSES, AppMcpServer
from .migrate import current_revision, drift, head_revision, upgrade_to_head
from .pagination import CONVERSATION_SORTS, CursorPage, Page, conversations_page, messages_page, paginate
from .recorder import RunRecorder, RunRecorderError
from .runs import NODE_STATUSES, RUN_STATUSES, CheckpointRecord, NodeExecution, WorkflowRun
from .types import new_id, utcnow
from .workspaces import API_KEY_TYPES, Account, ApiKey, Tenant, TenantMember

__all__ = [
    "ANONYMOUS_USER",
    "API_KEY_TYPES",
    "APP_MODES",
    "CONVERSATION_SORTS",
    "DATASET_PERMISSIONS",
    "DOC_FORMS",
    "DRAFT",
    "INDEXING_STATUSES",
    "INDEXING_TECHNIQUES",
    "MCP_SERVER_STATUSES",
    "METADATA_TYPES",
    "NODE_STATUSES",
    "ROLES",
    "RUN_STATUSES",
    "SEGMENT_STATUSES",
    "Account",
    "ActiveRequest",
    "Annotation",
    "AnnotationEmbedding",
    "AnnotationJobRecord",
    "AnnotationSetting",
    "ApiBasedExtension",
    "ApiKey",
    "App",
    "AppMcpServer",
    "Base",
    "CheckpointEncodingError",
    "CheckpointRecord",
    "ChildChunk",
    "Conversation",
    "ConversationVariable",
    "CursorPage",
    "Database",
    "DatabaseURLError",
    "Dataset",
    "DatasetMetadataField",
    "DatasetProcessRule",
    "DatasetQuery",
    "Document",
    "DocumentSegment",
    "EmbeddingCacheEntry",
    "EndUser",
    "ExternalKnowledgeApi",
    "IndexNode",
    "InvalidPage",
    "LoginFailure",
    "Message",
    "MessageFeedback",
    "NodeExecution",
    "NotFound",
    "Page",
    "RunRecorder",
    "RunRecorderError",
    "RunStopRequest",
    "SqlApiKeyRecords",
    "SqlCheckpointStore",
    "SqlConversationHistory",
    "SqlFileRecordStore",
    "StoreError",
    "Tag",
    "TagBinding",
    "Tenant",
    "TenantMember",
    "UploadFile",
    "Workflow",
    "WorkflowRun",
    "async_url",
    "conversations_page",
    "create_engine",
    "current_revision",
    "drift",
    "get_or_create_end_user",
    "head_revision",
    "messages_page",
    "new_id",
    "paginate",
    "upgrade_to_head",
    "utcnow",
]
