"""Annotation reply: an app's reply settings and the embeddings of its annotations' questions.

An app whose annotation reply is enabled answers a query with the annotation whose question is
close enough (cosine similarity of the embeddings at least ``score_threshold``) instead of running
its model. The vectors are kept as JSON arrays, so SQLite and PostgreSQL store them alike.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin, json_column

__all__ = ["AnnotationEmbedding", "AnnotationSetting"]


class AnnotationSetting(IdMixin, TimestampMixin, Base):
    """An app's annotation reply settings (API-ANN-REPLY-CFG): one row per app, kept when disabled so
    the chosen model and threshold are remembered."""

    __tablename__ = "app_annotation_settings"
    __table_args__ = (CheckConstraint("score_threshold >= 0 AND score_threshold <= 1", name="score_threshold"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    score_threshold: Mapped[float] = mapped_column(default=0.9)
    embedding_provider_name: Mapped[str] = mapped_column(String(255))
    embedding_model_name: Mapped[str] = mapped_column(String(255))


class AnnotationEmbedding(TimestampMixin, Base):
    """The embedding of one annotation's question, by the model that made it.

    ``question_hash`` is the SHA-256 of the question as embedded: a question edited since, or a
    different model chosen since, makes the vector stale and it is embedded again.
    """

    __tablename__ = "annotation_embeddings"

    annotation_id: Mapped[str] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(255))
    question_hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[list[float]] = mapped_column(json_column())
