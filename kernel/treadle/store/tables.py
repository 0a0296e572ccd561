"""Every table of the store, in one place (Alembic's environment imports this to see them all)."""

from __future__ import annotations

from .annotations import AnnotationEmbedding, AnnotationSetting
from .apps import Annotation, App, EndUser, Workflow
from .base import Base
from .conversations import Conversation, ConversationVariable, Message, MessageFeedback
from .coordination import ActiveRequest, AnnotationJobRecord, LoginFailure, RunStopRequest
from .extensions import ApiBasedExtension
from .files import UploadFile
from .knowledge import (
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
from .mcp_servers import AppMcpServer
from .runs import CheckpointRecord, NodeExecution, WorkflowRun
from .workspaces import Account, ApiKey, Tenant, TenantMember

__all__ = ["ALL"]

ALL: tuple[type[Base], ...] = (
    Tenant, Account, TenantMember, ApiKey, App, Workflow, EndUser, Annotation, Conversation, Message,
    MessageFeedback, ConversationVariable, WorkflowRun, NodeExecution, CheckpointRecord, UploadFile,
    AnnotationSetting, AnnotationEmbedding, ApiBasedExtension, RunStopRequest, ActiveRequest, AnnotationJobRecord,
    LoginFailure, Dataset, DatasetProcessRule, Document, DocumentSegment, ChildChunk, IndexNode,
    DatasetMetadataField, Tag, TagBinding, EmbeddingCacheEntry, ExternalKnowledgeApi, DatasetQuery,
    AppMcpServer,
)  # fmt: skip
