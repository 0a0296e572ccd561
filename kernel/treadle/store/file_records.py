"""The file service's record port (:class:`treadle.files.FileRecordStore`) over the ``upload_files`` table."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..files.records import FileRecord
from .database import Database
from .files import UploadFile

__all__ = ["SqlFileRecordStore"]


class SqlFileRecordStore:
    """File records as ``upload_files`` rows; ``get`` answers None for an unknown id."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, record: FileRecord) -> None:
        """Keep ``record``; a ValueError when its id (or storage key) is taken or its tenant does not exist."""
        row = UploadFile(
            id=record.id,
            tenant_id=record.tenant_id,
            storage_key=record.storage_key,
            name=record.name,
            size=record.size,
            extension=record.extension,
            mime_type=record.mime_type,
            hash=record.hash,
            created_by=record.created_by,
            created_by_role=record.created_by_role,
            source_url=record.source_url,
            created_at=record.created_at,
            updated_at=record.created_at,
        )
        try:
            async with self._db.session() as session:
                session.add(row)
        except IntegrityError as exc:
            raise ValueError(
                f"file record {record.id!r} (storage key {record.storage_key!r}, tenant {record.tenant_id!r}) "
                f"cannot be stored: the id or storage key is taken, or the workspace does not exist"
            ) from exc

    async def get(self, file_id: str) -> FileRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(select(UploadFile).where(UploadFile.id == file_id))
        if row is None:
            return None
        return FileRecord(
            id=row.id,
            tenant_id=row.tenant_id,
            storage_key=row.storage_key,
            name=row.name,
            size=row.size,
            extension=row.extension,
            mime_type=row.mime_type,
            hash=row.hash,
            created_by=row.created_by,
            created_by_role=row.created_by_role,
            created_at=row.created_at,
            source_url=row.source_url,
        )

    async def delete(self, file_id: str) -> None:
        """Forget a record; an unknown id is not an error."""
        async with self._db.session() as session:
            await session.execute(delete(UploadFile).where(UploadFile.id == file_id))
