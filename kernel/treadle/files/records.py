"""What the kernel remembers about each stored file, and the port it keeps it through.

The SQL store implements :class:`FileRecordStore` over its ``files`` table; :class:`MemoryFileRecordStore`
keeps records in a dict for tests and throwaway servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["FileRecord", "FileRecordStore", "MemoryFileRecordStore"]


@dataclass(frozen=True)
class FileRecord:
    """One uploaded file (Dify's ``upload_files`` row)."""

    id: str
    tenant_id: str
    #: Where the storage backend keeps the bytes (``upload_files/<tenant>/<id>.pdf``).
    storage_key: str
    name: str
    size: int
    #: Lower case with the dot (``".pdf"``), or ``""``.
    extension: str
    mime_type: str
    #: SHA3-256 of the bytes, hex (as Dify computes it).
    hash: str
    created_by: str
    #: ``end_user`` (Service API, web app) or ``account`` (console).
    created_by_role: str
    created_at: datetime
    #: Where the file came from when it was fetched from a URL, else ``""``.
    source_url: str = ""


class FileRecordStore(Protocol):
    """Keeps file records. ``get`` answers None for an unknown id."""

    async def add(self, record: FileRecord) -> None: ...

    async def get(self, file_id: str) -> FileRecord | None: ...

    async def delete(self, file_id: str) -> None: ...


class MemoryFileRecordStore:
    """File records in a dict."""

    def __init__(self) -> None:
        self._records: dict[str, FileRecord] = {}

    async def add(self, record: FileRecord) -> None:
        if record.id in self._records:
            raise ValueError(f"a file record with id {record.id!r} already exists")
        self._records[record.id] = record

    async def get(self, file_id: str) -> FileRecord | None:
        return self._records.get(file_id)

    async def delete(self, file_id: str) -> None:
        self._records.pop(file_id, None)
