"""The documents of a dataset: created from text or a file in batches and handed to the indexing
queue, listed by status, read, renamed or replaced, enabled, disabled, archived, deleted, paused
and resumed (API-DOC-*, KB-CHUNK-IMMUTABLE, KB-INDEX-*).

The first document fixes the dataset's indexing technique, chunk structure (``doc_form``) and
embedding model; later ones must keep its chunk structure. A text document is stored as a ``.txt``
file like an upload, so the indexing pipeline reads every document the same way.
"""

from __future__ import annotations

import io
import random
import re
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..files.errors import FileServiceError, FileTooLarge, NoSuchFile, UnsupportedFileType
from ..store import (
    DOC_FORMS,
    Account,
    Dataset,
    DatasetMetadataField,
    DatasetProcessRule,
    Document,
    DocumentSegment,
    paginate,
)
from ..store import utcnow as now
from .errors import (
    ArchivedDocumentImmutable,
    DocumentIndexing,
    DocumentNotFound,
    InvalidAction,
    KnowledgeError,
    KnowledgeInputError,
    KnowledgeNotFound,
)
from .extraction import SUPPORTED_EXTENSIONS
from .lookup import check_text, dataset_of, document_of, like_pattern
from .metadata import built_in_values
from .ports import Caller
from .retrieval_model import RetrievalSettings
from .rules import parse_process_rule
from .views import IN_PROGRESS, document_view, indexing_status_view

if TYPE_CHECKING:
    from .datasets import KnowledgeBases

__all__ = ["DOCUMENT_NAME_MAX", "STATUS_ACTIONS", "ZIP_MAX_DOCUMENTS", "DocumentConfig", "KnowledgeDocuments"]

#: ``PATCH /datasets/{id}/documents/status/{action}`` (API-DOC-STATUS-BATCH).
STATUS_ACTIONS = ("enable", "disable", "archive", "un_archive")
#: API-DOC-ZIP takes at most 100 documents.
ZIP_MAX_DOCUMENTS = 100
DOCUMENT_NAME_MAX = 255
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class DocumentConfig:
    """How documents are to be processed: the fields create-by-text and the ``data`` of
    create-by-file share (API-DOC-CREATE-TEXT)."""

    indexing_technique: str | None = None
    doc_form: str | None = None
    doc_language: str | None = None
    process_rule: Mapping[str, Any] | None = None
    retrieval_model: Mapping[str, Any] | None = None
    embedding_model: str | None = None
    embedding_model_provider: str | None = None


def _batch() -> str:
    """A batch id as Dify makes them: the time, then six random digits."""
    return time.strftime("%Y%m%d%H%M%S") + str(random.randint(100000, 999999))


def _text_filename(name: str) -> str:
    """A safe file name for a text document called ``name``."""
    stem = _UNSAFE_NAME.sub("_", name).strip(" .") or "document"
    return stem[:200] + ".txt"


def _file_error(exc: FileServiceError) -> KnowledgeInputError:
    """A refused file as the Knowledge API reports it: 400 ``invalid_param`` (API-DOC-CREATE-FILE)."""
    if isinstance(exc, FileTooLarge):
        return KnowledgeInputError(f"File size exceeded. {exc.message}", "file")
    if isinstance(exc, UnsupportedFileType):
        return KnowledgeInputError(f"File type not allowed. {exc.message}", "file")
    return KnowledgeInputError(exc.message, "file")


class KnowledgeDocuments:
    """Document operations of :class:`~treadle.knowledge.datasets.KnowledgeBases`."""

    def __init__(self, bases: KnowledgeBases) -> None:
        self.bases = bases

    # -- creating ------------------------------------------------------------------------------------

    async def create_by_text(
        self, caller: Caller, dataset_id: str, *, name: str, text: str, config: DocumentConfig
    ) -> dict[str, Any]:
        """A document from ``text`` (API-DOC-CREATE-TEXT): ``{document, batch}``; indexing runs later."""
        name = check_text(name, "name", max_length=DOCUMENT_NAME_MAX)
        if not text.strip():
            raise KnowledgeInputError("text must not be empty.", "text")
        async with self.bases.db.session() as session:
            await self._check_target(session, caller, dataset_id)
        record = await self._store(caller, _text_filename(name), text.encode("utf-8"), "text/plain")
        return await self._create(caller, dataset_id, name=name, file_id=record, config=config)

    async def create_by_file(
        self, caller: Caller, dataset_id: str, *, filename: str, content: bytes, mime_type: str,
        config: DocumentConfig,
    ) -> dict[str, Any]:
        """A document from an uploaded file (API-DOC-CREATE-FILE): ``{document, batch}``."""
        async with self.bases.db.session() as session:
            await self._check_target(session, caller, dataset_id)
        if config.process_rule is None:
            raise KnowledgeInputError("process_rule is required.", "process_rule")
        self._check_extension(filename)
        file_id = await self._store(caller, filename, content, mime_type)
        name = filename[:DOCUMENT_NAME_MAX]
        return await self._create(caller, dataset_id, name=name, file_id=file_id, config=config)

    @staticmethod
    def _check_extension(filename: str) -> None:
        extension = ("." + filename.rsplit(".", 1)[1].lower()) if "." in filename else ""
        if extension not in SUPPORTED_EXTENSIONS:
            raise KnowledgeInputError(
                f"File type not allowed. A knowledge base reads {', '.join(SUPPORTED_EXTENSIONS)} files, "
                f"not {filename!r}.", "file",
            )

    async def _check_target(self, session: AsyncSession, caller: Caller, dataset_id: str) -> Dataset:
        dataset = await dataset_of(session, caller.tenant_id, dataset_id)
        if dataset.provider == "external":
            raise KnowledgeInputError("External datasets are not supported.", "dataset_id")
        return dataset

    async def _store(self, caller: Caller, filename: str, content: bytes, mime_type: str) -> str:
        """Keep a document's original as a file of the workspace; its id."""
        if self.bases.files is None:
            raise KnowledgeError("This server keeps no files, so it cannot take documents.")
        try:
            record = await self.bases.files.upload(
                caller.tenant_id, filename=filename, content=content, mime_type=mime_type,
                created_by=caller.account_id or "", created_by_role="account", source="datasets",
            )  # fmt: skip
        except FileServiceError as exc:
            raise _file_error(exc) from None
        return record.id

    async def _settle_dataset(self, session: AsyncSession, caller: Caller, dataset: Dataset,
                              config: DocumentConfig) -> str:
        """Fix the dataset's technique, chunk structure, model and retrieval settings with its first
        document; check a later one fits them. The document's ``doc_form``."""
        doc_form = config.doc_form or dataset.doc_form or "text_model"
        if doc_form not in DOC_FORMS:
            raise KnowledgeInputError(f"doc_form must be one of {', '.join(DOC_FORMS)}, not {doc_form!r}.", "doc_form")
        if dataset.doc_form is not None and doc_form != dataset.doc_form:
            raise KnowledgeInputError(
                f"doc_form {doc_form!r} is different from the dataset's doc_form {dataset.doc_form!r}: a dataset "
                "keeps the chunk structure of its first document.", "doc_form",
            )
        if dataset.indexing_technique is None:
            if config.indexing_technique is None:
                raise KnowledgeInputError("indexing_technique is required.", "indexing_technique")
            dataset.indexing_technique = config.indexing_technique
        if dataset.indexing_technique == "high_quality" and not dataset.embedding_model:
            provider, model = await self.bases.embedding_model(
                caller.tenant_id, config.embedding_model_provider, config.embedding_model
            )
            dataset.embedding_model_provider, dataset.embedding_model = provider, model
        if dataset.retrieval_model is None and config.retrieval_model is not None:
            dataset.retrieval_model = RetrievalSettings.parse(config.retrieval_model).as_dict()
        dataset.doc_form = doc_form
        dataset.data_source_type = dataset.data_source_type or "upload_file"
        return doc_form

    async def _rule(self, session: AsyncSession, caller: Caller, dataset: Dataset, raw: Mapping[str, Any] | None,
                    doc_form: str) -> DatasetProcessRule:
        rule = parse_process_rule(raw, doc_form).as_dict()
        row = DatasetProcessRule(dataset_id=dataset.id, mode=rule["mode"], rules=rule["rules"],
                                 created_by=caller.account_id)
        session.add(row)
        await session.flush()
        return row

    async def _create(
        self, caller: Caller, dataset_id: str, *, name: str, file_id: str, config: DocumentConfig
    ) -> dict[str, Any]:
        try:
            async with self.bases.db.session() as session:
                dataset = await dataset_of(session, caller.tenant_id, dataset_id, lock=True)
                doc_form = await self._settle_dataset(session, caller, dataset, config)
                rule = await self._rule(session, caller, dataset, config.process_rule, doc_form)
                position = await session.scalar(
                    select(func.coalesce(func.max(Document.position), 0)).where(Document.dataset_id == dataset.id)
                )
                document = Document(
                    tenant_id=caller.tenant_id, dataset_id=dataset.id, position=(position or 0) + 1, name=name,
                    data_source_type="upload_file", data_source_info={"upload_file_id": file_id},
                    upload_file_id=file_id, dataset_process_rule_id=rule.id, batch=_batch(), created_from="api",
                    created_by=caller.account_id, doc_form=doc_form, doc_language=config.doc_language or "English",
                )  # fmt: skip
                session.add(document)
                await session.flush()
                await session.refresh(document)
                if dataset.built_in_field_enabled:
                    document.doc_metadata = built_in_values(document, await self._uploader(session, document))
                view = await self._view(session, dataset, document)
        except Exception:
            # The document was refused (or the database failed): its stored original would be an orphan.
            await self.bases.delete_files(caller.tenant_id, [file_id])
            raise
        await self.bases.enqueue([document.id])
        return {"document": view, "batch": document.batch}

    async def _uploader(self, session: AsyncSession, document: Document) -> str | None:
        if not document.created_by:
            return None
        name: str | None = await session.scalar(select(Account.name).where(Account.id == document.created_by))
        return name

    async def _view(self, session: AsyncSession, dataset: Dataset, document: Document, *, detail: bool = False,
                    metadata: str = "all") -> dict[str, Any]:
        fields = list(await session.scalars(
            select(DatasetMetadataField).where(DatasetMetadataField.dataset_id == dataset.id)
            .order_by(DatasetMetadataField.created_at, DatasetMetadataField.id)
        ))
        if not detail:
            return document_view(document, fields=fields, built_in_enabled=dataset.built_in_field_enabled)
        rule = None
        if document.dataset_process_rule_id:
            rule = await session.get(DatasetProcessRule, document.dataset_process_rule_id)
        segments = await session.scalar(
            select(func.count()).select_from(DocumentSegment).where(DocumentSegment.document_id == document.id)
        )
        return document_view(
            document, fields=fields, built_in_enabled=dataset.built_in_field_enabled, detail=True,
            process_rule=rule, segment_count=segments or 0, metadata=metadata,
        )  # fmt: skip

    # -- reading -------------------------------------------------------------------------------------

    async def list_documents(
        self, caller: Caller, dataset_id: str, *, page: int = 1, limit: int = 20, keyword: str = "",
        status: str | None = None,
    ) -> dict[str, Any]:
        """A page of the dataset's documents, newest first (API-DOC-LIST)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            statement = select(Document).where(Document.dataset_id == dataset.id)
            if keyword.strip():
                statement = statement.where(
                    func.lower(Document.name).like(like_pattern(keyword.strip().lower()), escape="\\")
                )
            if status is not None:
                statement = statement.where(_status_condition(status))
            statement = statement.order_by(Document.created_at.desc(), Document.position.desc())
            found = await paginate(session, statement, page=page, limit=limit)
            fields = list(await session.scalars(
                select(DatasetMetadataField).where(DatasetMetadataField.dataset_id == dataset.id)
                .order_by(DatasetMetadataField.created_at, DatasetMetadataField.id)
            ))
            data = [document_view(d, fields=fields, built_in_enabled=dataset.built_in_field_enabled)
                    for d in found.data]
        return {"data": data, "has_more": found.has_more, "limit": found.limit, "total": found.total,
                "page": found.page}

    async def get(self, caller: Caller, dataset_id: str, document_id: str, *, metadata: str = "all") -> dict[str, Any]:
        """A document in full (API-DOC-GET); ``metadata`` is ``all``, ``only`` or ``without``."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            document = await document_of(session, dataset, document_id)
            return await self._view(session, dataset, document, detail=True, metadata=metadata)

    async def indexing_status(self, caller: Caller, dataset_id: str, batch: str) -> dict[str, Any]:
        """Where each document of an upload batch stands (API-DOC-INDEX-STATUS)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            documents = list(await session.scalars(
                select(Document).where(Document.dataset_id == dataset.id, Document.batch == batch)
                .order_by(Document.position)
            ))
            if not documents:
                raise KnowledgeNotFound("Documents not found.")
            counts = {
                document_id: (int(done or 0), int(total or 0))
                for document_id, done, total in await session.execute(
                    select(
                        DocumentSegment.document_id,
                        func.sum(case((DocumentSegment.status == "completed", 1), else_=0)),
                        func.count(),
                    ).where(DocumentSegment.document_id.in_([d.id for d in documents]))
                    .group_by(DocumentSegment.document_id)
                )
            }
        return {"data": [
            indexing_status_view(d, completed_segments=counts.get(d.id, (0, 0))[0],
                                 total_segments=counts.get(d.id, (0, 0))[1])
            for d in documents
        ]}

    # -- changing ------------------------------------------------------------------------------------

    @staticmethod
    def _check_editable(document: Document) -> None:
        if document.archived:
            raise ArchivedDocumentImmutable(document.id)
        if document.indexing_status in IN_PROGRESS and not document.is_paused:
            raise DocumentIndexing(document.id)

    async def update(
        self, caller: Caller, dataset_id: str, document_id: str, *, name: str | None = None,
        text: str | None = None, upload: tuple[str, bytes, str] | None = None, config: DocumentConfig,
    ) -> dict[str, Any]:
        """Rename a document, or replace its text (or file) or its process rule and index it again
        (API-DOC-UPDATE-TEXT, API-DOC-UPDATE-FILE): ``{document, batch}``."""
        if text is not None and not (name and name.strip()):
            raise KnowledgeInputError("name is required when text is given.", "name")
        if name is not None:
            name = check_text(name, "name", max_length=DOCUMENT_NAME_MAX)
        async with self.bases.db.session() as session:
            dataset = await self._check_target(session, caller, dataset_id)
            document = await document_of(session, dataset, document_id)
            self._check_editable(document)
        if upload is not None:
            self._check_extension(upload[0])
        new_file = None
        if text is not None:
            if not text.strip():
                raise KnowledgeInputError("text must not be empty.", "text")
            new_file = await self._store(caller, _text_filename(name or document.name), text.encode(), "text/plain")
        elif upload is not None:
            new_file = await self._store(caller, *upload)
        reprocess = new_file is not None or config.process_rule is not None
        if reprocess and self.bases.indexing is not None:
            await self.bases.indexing.remove_document(document)
        old_file = document.upload_file_id
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id, lock=True)
            document = await document_of(session, dataset, document_id)
            if name is not None:
                document.name = name
            elif upload is not None:
                document.name = upload[0][:DOCUMENT_NAME_MAX]
            if config.doc_language:
                document.doc_language = config.doc_language
            if reprocess:
                doc_form = await self._settle_dataset(
                    session, caller, dataset, DocumentConfig(**{**_fields(config), "doc_form": document.doc_form})
                )
                if config.process_rule is not None:
                    document.dataset_process_rule_id = (
                        await self._rule(session, caller, dataset, config.process_rule, doc_form)
                    ).id
                if new_file is not None:
                    document.upload_file_id = new_file
                    document.data_source_info = {"upload_file_id": new_file}
                await session.execute(delete(DocumentSegment).where(DocumentSegment.document_id == document.id))
                _reset(document)
                document.batch = _batch()
            await session.flush()
            await session.refresh(document)
            view = await self._view(session, dataset, document)
        if new_file is not None and old_file and old_file != new_file:
            await self.bases.delete_files(caller.tenant_id, [old_file])
        if reprocess:
            await self.bases.enqueue([document.id])
        return {"document": view, "batch": document.batch}

    async def delete(self, caller: Caller, dataset_id: str, document_id: str) -> None:
        """Delete a document with its chunks and index entries (API-DOC-DELETE)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            document = await document_of(session, dataset, document_id)
            self._check_editable(document)
        if self.bases.indexing is not None:
            await self.bases.indexing.remove_document(document)
        async with self.bases.db.session() as session:
            await session.execute(delete(Document).where(Document.id == document.id))
        if document.upload_file_id:
            await self.bases.delete_files(caller.tenant_id, [document.upload_file_id])

    async def set_status(self, caller: Caller, dataset_id: str, action: str, document_ids: Sequence[str]) -> None:
        """Enable, disable, archive or un-archive documents (API-DOC-STATUS-BATCH). Retrieval skips a
        disabled or archived document, so its index entries stay for when it comes back."""
        if action not in STATUS_ACTIONS:
            raise InvalidAction(action, STATUS_ACTIONS)
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            wanted = list(dict.fromkeys(document_ids))
            documents = {
                d.id: d for d in await session.scalars(
                    select(Document).where(Document.dataset_id == dataset.id, Document.id.in_(wanted))
                )
            }
            missing = [document_id for document_id in wanted if document_id not in documents]
            if missing:
                raise DocumentNotFound(missing[0])
            moment = now()
            for document in documents.values():
                if action in ("enable", "disable") and document.archived:
                    raise ArchivedDocumentImmutable(document.id)
                if action == "enable":
                    document.enabled, document.disabled_at, document.disabled_by = True, None, None
                elif action == "disable":
                    if document.enabled:
                        document.enabled, document.disabled_at, document.disabled_by = False, moment, caller.account_id
                elif action == "archive":
                    if not document.archived:
                        document.archived, document.archived_at, document.archived_by = True, moment, caller.account_id
                else:
                    document.archived, document.archived_at, document.archived_by = False, None, None

    async def pause(self, caller: Caller, dataset_id: str, document_id: str) -> None:
        """Hold a document's indexing where it is."""
        document = await self._for_indexing(caller, dataset_id, document_id)
        if document.indexing_status in ("completed", "error"):
            raise KnowledgeInputError("The document is not being indexed, so it cannot be paused.", "document_id")
        assert self.bases.indexing is not None
        await self.bases.indexing.pause(document.id)

    async def resume(self, caller: Caller, dataset_id: str, document_id: str) -> None:
        """Carry on indexing a paused document."""
        document = await self._for_indexing(caller, dataset_id, document_id)
        assert self.bases.indexing is not None
        await self.bases.indexing.resume(document.id)

    async def retry(self, caller: Caller, dataset_id: str, document_ids: Sequence[str]) -> None:
        """Index again documents whose indexing failed."""
        for document_id in document_ids:
            await self._for_indexing(caller, dataset_id, document_id)
        assert self.bases.indexing is not None
        await self.bases.indexing.retry(list(document_ids))

    async def _for_indexing(self, caller: Caller, dataset_id: str, document_id: str) -> Document:
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            document = await document_of(session, dataset, document_id)
        if self.bases.indexing is None:
            raise KnowledgeError("This server does not index documents.")
        return document

    # -- originals -----------------------------------------------------------------------------------

    async def download_url(self, caller: Caller, dataset_id: str, document_id: str) -> dict[str, Any]:
        """A signed URL of a document's original file (API-DOC-DOWNLOAD)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            document = await document_of(session, dataset, document_id)
        files = self.bases.files
        if files is None or not document.upload_file_id:
            raise KnowledgeNotFound("The document has no original file.")
        try:
            record = await files.get(caller.tenant_id, document.upload_file_id)
        except NoSuchFile:
            raise KnowledgeNotFound("The document's original file is gone.") from None
        return {"url": files.preview_url(record, as_attachment=True)}

    async def zip_originals(self, caller: Caller, dataset_id: str, document_ids: Sequence[str]) -> bytes:
        """The original files of up to 100 documents as one ZIP archive (API-DOC-ZIP)."""
        wanted = list(dict.fromkeys(document_ids))
        if not wanted:
            raise KnowledgeInputError("document_ids must name at least one document.", "document_ids")
        if len(wanted) > ZIP_MAX_DOCUMENTS:
            raise KnowledgeInputError(f"document_ids may name at most {ZIP_MAX_DOCUMENTS} documents.", "document_ids")
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            documents = [await document_of(session, dataset, document_id) for document_id in wanted]
        files = self.bases.files
        if files is None:
            raise KnowledgeNotFound("This server keeps no files.")
        buffer = io.BytesIO()
        used: set[str] = set()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for document in documents:
                if not document.upload_file_id:
                    continue
                try:
                    record = await files.get(caller.tenant_id, document.upload_file_id)
                    content = b"".join([piece async for piece in files.read(caller.tenant_id, record.id)])
                except NoSuchFile:
                    continue
                entry = record.name
                counter = 1
                while entry in used:  # two documents of the same name keep both files
                    stem, dot, extension = record.name.rpartition(".")
                    entry = f"{stem or extension} ({counter}){dot}{extension if stem else ''}"
                    counter += 1
                used.add(entry)
                archive.writestr(entry, content)
        return buffer.getvalue()


def _fields(config: DocumentConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in DocumentConfig.__slots__}


def _reset(document: Document) -> None:
    """Send a document back to the start of indexing."""
    document.indexing_status = "waiting"
    document.is_paused = False
    document.paused_at = document.paused_by = None
    document.processing_started_at = document.parsing_completed_at = document.cleaning_completed_at = None
    document.splitting_completed_at = document.completed_at = document.stopped_at = None
    document.error = None
    document.word_count = document.tokens = 0
    document.indexing_latency = None


def _status_condition(status: str) -> Any:
    """The documents whose ``display_status`` is ``status`` (API-DOC-LIST ``status``)."""
    running = Document.indexing_status.in_(IN_PROGRESS)
    settled = Document.indexing_status.in_(("completed", "error"))
    conditions = {
        "queuing": and_(Document.indexing_status == "waiting", Document.is_paused.is_(False)),
        "paused": and_(Document.is_paused.is_(True), ~settled),
        "indexing": and_(running, Document.is_paused.is_(False)),
        "error": Document.indexing_status == "error",
        "available": and_(Document.indexing_status == "completed", Document.archived.is_(False),
                          Document.enabled.is_(True)),
        "disabled": and_(Document.indexing_status == "completed", Document.archived.is_(False),
                         Document.enabled.is_(False)),
        "archived": and_(Document.indexing_status == "completed", Document.archived.is_(True)),
    }
    return conditions[status]

