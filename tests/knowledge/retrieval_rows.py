"""Rows for the retrieval tests, written straight through the ORM: a workspace, datasets, documents,
their segments (and child chunks) and the index rows full-text search reads, as the indexing
pipeline leaves them once a document is completed."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle.store import ChildChunk, Database, Dataset, Document, DocumentSegment, IndexNode, Tenant


@dataclass
class DocumentRows:
    """What :func:`add_document` wrote: the document, its segment ids in order, and per segment the
    index node ids that stand for it (the segment's own, or its child chunks')."""

    document_id: str
    dataset_id: str
    segment_ids: list[str]
    nodes: dict[str, list[str]] = field(default_factory=dict)
    #: node id -> the text it was indexed with (what a vector is made of).
    texts: dict[str, str] = field(default_factory=dict)


async def add_tenant(db: Database, name: str = "Acme") -> str:
    async with db.session() as s:
        tenant = Tenant(name=name)
        s.add(tenant)
        await s.flush()
        return tenant.id


async def add_dataset(
    db: Database,
    tenant_id: str,
    name: str,
    *,
    indexing_technique: str | None = "high_quality",
    doc_form: str = "text_model",
    embedding: tuple[str, str] = ("fake", "fake-embedding"),
    **columns: Any,
) -> Dataset:
    async with db.session() as s:
        dataset = Dataset(
            tenant_id=tenant_id, name=name, indexing_technique=indexing_technique, doc_form=doc_form,
            embedding_model_provider=embedding[0], embedding_model=embedding[1], **columns,
        )  # fmt: skip
        s.add(dataset)
        await s.flush()
        s.expunge(dataset)
        return dataset


async def add_document(
    db: Database,
    dataset: Dataset,
    name: str,
    chunks: Sequence[str | tuple[str, Sequence[str]]],
    *,
    keywords: Sequence[Sequence[str]] | None = None,
    doc_metadata: dict[str, Any] | None = None,
    enabled: bool = True,
    archived: bool = False,
    indexing_status: str = "completed",
    data_source_type: str = "upload_file",
) -> DocumentRows:
    """A document of ``chunks``: each a segment's text, or ``(parent text, child texts)`` in
    parent-child mode. ``keywords`` (one list per chunk) go into the segment and its index row."""
    async with db.session() as s:
        position = 1 + len((await s.execute(Document.__table__.select().where(
            Document.dataset_id == dataset.id))).all())  # fmt: skip
        document = Document(
            tenant_id=dataset.tenant_id, dataset_id=dataset.id, position=position, name=name, batch="b",
            indexing_status=indexing_status, enabled=enabled, archived=archived, doc_form=dataset.doc_form or "",
            doc_metadata=doc_metadata or {}, data_source_type=data_source_type,
        )  # fmt: skip
        s.add(document)
        await s.flush()
        rows = DocumentRows(document.id, dataset.id, [])
        for index, chunk in enumerate(chunks):
            content, children = (chunk, ()) if isinstance(chunk, str) else chunk
            words = list(keywords[index]) if keywords else []
            segment = DocumentSegment(
                tenant_id=dataset.tenant_id, dataset_id=dataset.id, document_id=document.id, position=index + 1,
                content=content, word_count=len(content.split()), tokens=len(content.split()), keywords=words,
                index_node_id=str(uuid.uuid4()), index_node_hash=hashlib.sha256(content.encode()).hexdigest(),
                status="completed",
            )  # fmt: skip
            s.add(segment)
            await s.flush()
            rows.segment_ids.append(segment.id)
            pieces: list[tuple[str, str]] = []
            if children:
                for child_index, child_text in enumerate(children):
                    child = ChildChunk(
                        tenant_id=dataset.tenant_id, dataset_id=dataset.id, document_id=document.id,
                        segment_id=segment.id, position=child_index + 1, content=child_text,
                        word_count=len(child_text.split()), index_node_id=str(uuid.uuid4()), indexed=True,
                    )  # fmt: skip
                    s.add(child)
                    assert child.index_node_id is not None
                    pieces.append((child.index_node_id, child_text))
            else:
                assert segment.index_node_id is not None
                pieces.append((segment.index_node_id, content))
            for node_id, piece in pieces:
                s.add(IndexNode(
                    node_id=node_id, tenant_id=dataset.tenant_id, dataset_id=dataset.id, document_id=document.id,
                    segment_id=segment.id, content=piece, keywords=" ".join(words),
                ))  # fmt: skip
                rows.texts[node_id] = piece
            rows.nodes[segment.id] = [node_id for node_id, _ in pieces]
        return rows


async def index_vectors(db: Database, vectors: Any, embedder: Any, dataset: Dataset, *documents: DocumentRows) -> None:
    """Embed the documents' index nodes with the dataset's model and write them into its collection
    (as the indexing pipeline does), recording the collection on the dataset."""
    texts = {node_id: text for rows in documents for node_id, text in rows.texts.items()}
    segment_of = {node_id: (rows, segment_id) for rows in documents for segment_id, nodes in rows.nodes.items()
                  for node_id in nodes}  # fmt: skip
    assert dataset.embedding_model_provider and dataset.embedding_model
    embedded = await embedder.embed(dataset.tenant_id, dataset.embedding_model_provider, dataset.embedding_model,
                                    list(texts.values()))  # fmt: skip
    await vectors.ensure_collection(dataset, len(embedded[0]))
    async with db.session() as s:
        row = await s.get(Dataset, dataset.id)
        assert row is not None
        row.vector_store, row.vector_collection = dataset.vector_store, dataset.vector_collection
        row.vector_dimension = dataset.vector_dimension
    records = []
    for (node_id, text), vector in zip(texts.items(), embedded, strict=True):
        rows, segment_id = segment_of[node_id]
        metadata = {"dataset_id": dataset.id, "document_id": rows.document_id, "segment_id": segment_id}
        records.append({"id": node_id, "vector": vector, "text": text, "metadata": metadata})
    await vectors.upsert(dataset, records)
