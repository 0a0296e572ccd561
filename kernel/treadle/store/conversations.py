"""Conversations, their messages and feedback, and conversation variables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, in_values, json_column

__all__ = ["Conversation", "ConversationVariable", "Message", "MessageFeedback"]

#: Prices as Dify keeps them: up to 10 digits, 7 after the point.
Price = Numeric(10, 7)


class Conversation(IdMixin, TimestampMixin, Base):
    """A conversation of an end user (or a console account) with a chat app.

    Deleting through the API sets ``is_deleted``; the rows stay for the logs, as in Dify.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "app_id", "end_user_id", "updated_at"),
        CheckConstraint(in_values("from_source", ("api", "console")), name="from_source"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    end_user_id: Mapped[str | None] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"), default=None)
    from_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    #: ``api`` (Service API, web app) or ``console`` (debugging, explore).
    from_source: Mapped[str] = mapped_column(String(16), default="api")
    #: ``service-api``, ``web-app``, ``explore`` or ``debugger``.
    invoke_from: Mapped[str] = mapped_column(String(32), default="service-api")
    mode: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    introduction: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    status: Mapped[str] = mapped_column(String(32), default="normal")
    dialogue_count: Mapped[int] = mapped_column(default=0)
    #: The workflow version a chatflow conversation runs (pinned on its first message).
    workflow_id: Mapped[str | None] = mapped_column(String(36), default=None)
    is_deleted: Mapped[bool] = mapped_column(default=False)


class Message(IdMixin, TimestampMixin, Base):
    """One exchange: the query and the answer, with usage, price and what the run produced.

    ``files`` are the message files (``belongs_to`` user or assistant); ``agent_thoughts`` and
    ``retriever_resources`` are kept as the documents the API returns.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "conversation_id", "created_at"),
        Index(None, "app_id", "created_at"),
        CheckConstraint(in_values("status", ("normal", "error", "paused")), name="status"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    #: Completion apps' messages belong to no conversation.
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    parent_message_id: Mapped[str | None] = mapped_column(String(36), default=None)
    end_user_id: Mapped[str | None] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"), default=None)
    from_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    invoke_from: Mapped[str] = mapped_column(String(32), default="service-api")
    model_provider: Mapped[str | None] = mapped_column(String(255), default=None)
    model_id: Mapped[str | None] = mapped_column(String(255), default=None)
    query: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(json_column(), default=dict)
    message_tokens: Mapped[int] = mapped_column(default=0)
    answer_tokens: Mapped[int] = mapped_column(default=0)
    message_unit_price: Mapped[Decimal] = mapped_column(Price, default=Decimal(0))
    answer_unit_price: Mapped[Decimal] = mapped_column(Price, default=Decimal(0))
    price_unit: Mapped[Decimal] = mapped_column(Price, default=Decimal("0.001"))
    total_price: Mapped[Decimal] = mapped_column(Price, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    #: Seconds from the request to the last token.
    latency: Mapped[float] = mapped_column(default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="normal")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    workflow_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="SET NULL"), default=None
    )
    files: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), default=list)
    agent_thoughts: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), default=list)
    retriever_resources: Mapped[list[dict[str, Any]]] = mapped_column(json_column(), default=list)


class MessageFeedback(IdMixin, TimestampMixin, Base):
    """A like or dislike on a message, from its end user (``user``) or a console account (``admin``)."""

    __tablename__ = "message_feedbacks"
    __table_args__ = (
        UniqueConstraint("message_id", "from_source"),
        CheckConstraint(in_values("rating", ("like", "dislike")), name="rating"),
        CheckConstraint(in_values("from_source", ("user", "admin")), name="from_source"),
        Index(None, "app_id", "created_at"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text, default=None)
    from_source: Mapped[str] = mapped_column(String(16))
    from_end_user_id: Mapped[str | None] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"), default=None)
    from_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)


class ConversationVariable(TimestampMixin, Base):
    """A conversation variable's value in one conversation; ``id`` is the variable's id in the workflow."""

    __tablename__ = "conversation_variables"
    __table_args__ = (Index(None, "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(json_column(), nullable=True, default=None)
    description: Mapped[str] = mapped_column(Text, default="")
