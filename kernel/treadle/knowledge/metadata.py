"""Metadata fields of a dataset and their values on documents (API-META-*, KB-METADATA-FIELDS,
KB-METADATA-BUILTIN).

A custom field's values live in each document's ``doc_metadata`` under the field's name, so a rename
rewrites them and a delete removes them. The built-in fields (document_name, uploader, upload_date,
last_update_date, source) are written into ``doc_metadata`` too while they are switched on, so that
metadata filtering reads one place for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..store import METADATA_TYPES, Account, Dataset, DatasetMetadataField, Document
from .errors import DocumentNotFound, InvalidAction, KnowledgeInputError, MetadataFieldNotFound
from .lookup import check_text, dataset_of
from .ports import Caller
from .views import BUILT_IN_FIELDS, timestamp

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .datasets import KnowledgeBases

__all__ = ["BUILT_IN_ACTIONS", "METADATA_NAME_MAX", "MetadataFields", "built_in_values"]

METADATA_NAME_MAX = 255
BUILT_IN_ACTIONS = ("enable", "disable")
_BUILT_IN_NAMES = frozenset(name for name, _ in BUILT_IN_FIELDS)
#: How a document's data source shows in the built-in ``source`` field.
_SOURCES = {"upload_file": "file_upload", "notion_import": "notion", "website_crawl": "website"}


def built_in_values(document: Document, uploader: str | None) -> dict[str, Any]:
    """``document``'s metadata with the built-in fields' values written in (KB-METADATA-BUILTIN)."""
    return {
        **(document.doc_metadata or {}),
        "document_name": document.name,
        "uploader": uploader,
        "upload_date": timestamp(document.created_at),
        "last_update_date": timestamp(document.updated_at),
        "source": _SOURCES.get(document.data_source_type, document.data_source_type),
    }


def _field_view(field: DatasetMetadataField) -> dict[str, Any]:
    return {"id": field.id, "name": field.name, "type": field.type}


def _check_value(value: Any, kind: str, where: str) -> Any:
    """A metadata value fit for a field of ``kind``: a number for ``number``, Unix seconds for
    ``time`` (numeric text is read as such), text for ``string``; None clears it."""
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, (dict, list)):
            raise KnowledgeInputError(f"{where}: a string field takes text, not {type(value).__name__}.", where)
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        raise KnowledgeInputError(f"{where}: a {kind} field takes a number, not a boolean.", where)
    if isinstance(value, (int, float)):
        return int(value) if kind == "time" else value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise KnowledgeInputError(f"{where}: {value!r} is not a number.", where) from None
        if kind == "time" or number.is_integer():
            return int(number)
        return number
    raise KnowledgeInputError(f"{where}: a {kind} field takes a number, not {type(value).__name__}.", where)


class MetadataFields:
    """Metadata operations of :class:`~treadle.knowledge.datasets.KnowledgeBases`."""

    def __init__(self, bases: KnowledgeBases) -> None:
        self.bases = bases

    async def _field(self, session: AsyncSession, dataset: Dataset, metadata_id: str) -> DatasetMetadataField:
        found = await session.scalar(select(DatasetMetadataField).where(
            DatasetMetadataField.id == metadata_id, DatasetMetadataField.dataset_id == dataset.id
        ))
        if found is None:
            raise MetadataFieldNotFound(metadata_id)
        return found

    async def _check_name(self, session: AsyncSession, dataset: Dataset, name: str) -> str:
        name = check_text(name, "name", max_length=METADATA_NAME_MAX)
        if name in _BUILT_IN_NAMES:
            raise KnowledgeInputError("Metadata name already exists in Built-in fields.", "name")
        taken = await session.scalar(select(DatasetMetadataField.id).where(
            DatasetMetadataField.dataset_id == dataset.id, DatasetMetadataField.name == name
        ))
        if taken is not None:
            raise KnowledgeInputError("Metadata name already exists.", "name")
        return name

    async def create(self, caller: Caller, dataset_id: str, *, type: str, name: str) -> dict[str, Any]:
        """A custom field (API-META-CREATE): ``{id, name, type}``."""
        if type not in METADATA_TYPES:
            raise KnowledgeInputError(f"type must be one of {', '.join(METADATA_TYPES)}, not {type!r}.", "type")
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            name = await self._check_name(session, dataset, name)
            field = DatasetMetadataField(tenant_id=caller.tenant_id, dataset_id=dataset.id, name=name, type=type,
                                         created_by=caller.account_id)
            session.add(field)
            try:
                await session.flush()
            except IntegrityError:
                raise KnowledgeInputError("Metadata name already exists.", "name") from None
            return _field_view(field)

    async def list_fields(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        """The dataset's fields with how many documents have a value for each (API-META-LIST)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            fields = list(await session.scalars(
                select(DatasetMetadataField).where(DatasetMetadataField.dataset_id == dataset.id)
                .order_by(DatasetMetadataField.created_at, DatasetMetadataField.id)
            ))
            values = list(await session.scalars(select(Document.doc_metadata).where(Document.dataset_id == dataset.id)))
        return {
            "doc_metadata": [
                {**_field_view(f), "count": sum(1 for v in values if v and v.get(f.name) is not None)}
                for f in fields
            ],
            "built_in_field_enabled": dataset.built_in_field_enabled,
        }

    async def rename(self, caller: Caller, dataset_id: str, metadata_id: str, name: str) -> dict[str, Any]:
        """Rename a field and the values documents hold under it (API-META-UPDATE)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            field = await self._field(session, dataset, metadata_id)
            if name.strip() == field.name:
                return _field_view(field)
            new_name = await self._check_name(session, dataset, name)
            old_name = field.name
            field.name = new_name
            for document in await session.scalars(select(Document).where(Document.dataset_id == dataset.id)):
                values = dict(document.doc_metadata or {})
                if old_name in values:
                    values[new_name] = values.pop(old_name)
                    document.doc_metadata = values
            return _field_view(field)

    async def delete(self, caller: Caller, dataset_id: str, metadata_id: str) -> None:
        """Delete a field and its values on every document (API-META-DELETE)."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            field = await self._field(session, dataset, metadata_id)
            for document in await session.scalars(select(Document).where(Document.dataset_id == dataset.id)):
                values = dict(document.doc_metadata or {})
                if field.name in values:
                    del values[field.name]
                    document.doc_metadata = values
            await session.delete(field)

    async def built_in_fields(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        """The built-in fields a dataset can switch on (API-META-BUILTIN)."""
        async with self.bases.db.session() as session:
            await dataset_of(session, caller.tenant_id, dataset_id)
        return {"fields": [{"name": name, "type": kind} for name, kind in BUILT_IN_FIELDS]}

    async def toggle_built_in(self, caller: Caller, dataset_id: str, action: str) -> None:
        """Switch the built-in fields on (their values written into every document) or off
        (API-META-BUILTIN-TOGGLE)."""
        if action not in BUILT_IN_ACTIONS:
            raise InvalidAction(action, BUILT_IN_ACTIONS)
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id, lock=True)
            enable = action == "enable"
            if dataset.built_in_field_enabled == enable:
                return
            dataset.built_in_field_enabled = enable
            documents = list(await session.scalars(select(Document).where(Document.dataset_id == dataset.id)))
            uploaders = {
                account_id: name for account_id, name in await session.execute(
                    select(Account.id, Account.name).where(
                        Account.id.in_([d.created_by for d in documents if d.created_by])
                    )
                )
            }
            for document in documents:
                if enable:
                    document.doc_metadata = built_in_values(document, uploaders.get(document.created_by or ""))
                else:
                    document.doc_metadata = {
                        k: v for k, v in (document.doc_metadata or {}).items() if k not in _BUILT_IN_NAMES
                    }

    async def update_documents(
        self, caller: Caller, dataset_id: str, operations: Sequence[Mapping[str, Any]]
    ) -> None:
        """Set documents' metadata values (API-META-DOC-BATCH). Each operation names a document and
        values by field id; without ``partial_update`` the document's custom values become exactly
        these, with it the values given are changed and the rest kept. Built-in values stay."""
        async with self.bases.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            fields = {
                f.id: f for f in await session.scalars(
                    select(DatasetMetadataField).where(DatasetMetadataField.dataset_id == dataset.id)
                )
            }
            custom = {f.name for f in fields.values()}
            for index, operation in enumerate(operations):
                where = f"operation_data[{index}]"
                document_id = str(operation["document_id"])
                document = await session.scalar(
                    select(Document).where(Document.id == document_id, Document.dataset_id == dataset.id)
                )
                if document is None:
                    raise DocumentNotFound(document_id)
                given: dict[str, Any] = {}
                for position, item in enumerate(operation.get("metadata_list") or []):
                    item_where = f"{where}.metadata_list[{position}]"
                    field = fields.get(str(item["id"]))
                    if field is None:
                        raise KnowledgeInputError(
                            f"{item_where}.id: the dataset has no metadata field {item['id']!r}.", f"{item_where}.id"
                        )
                    given[field.name] = _check_value(item.get("value"), field.type, f"{item_where}.value")
                values = dict(document.doc_metadata or {})
                if not operation.get("partial_update"):
                    values = {k: v for k, v in values.items() if k not in custom}
                values.update(given)
                document.doc_metadata = values
