"""Cross-process locks that die with their holder: which process works on a thing now.

``async with held(db, "indexing", document_id) as mine:`` is true when this process got the lock and
false when another process holds it; the lock is released when the block ends, and by the operating
system or the database server when the holding process dies, so a crash never leaves a stale lock.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own,
  held for the block.
- SQLite: a POSIX record lock (``fcntl.lockf``) on one byte of the file ``<database>.locks``, chosen
  by the key's hash, through one descriptor kept open for the life of the process. Record locks
  belong to the process, so they say nothing between the tasks of one process: callers keep their
  own in-process guard. Where there is no ``fcntl`` (Windows) or no file
  (an in-memory database) every lock is granted.

Two keys can share a byte or an advisory lock number (64-bit hash; SQLite: one of 2**31 bytes):
then one waits for the other's block to end as if they were the same thing, which is safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from .database import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["held", "lock_number"]


def lock_number(*key: str) -> int:
    """The signed 64-bit number of ``key`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.sha256("\x1f".join(key).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def held(db: Database, *key: str) -> AsyncIterator[bool]:
    """Try to take the lock of ``key`` without waiting; yields whether this process holds it."""
    number = lock_number(*key)
    if db.dialect == "postgresql":
        async with db.engine.connect() as connection:
            mine = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}))
            await connection.commit()
            try:
                yield mine
            finally:
                if mine:
                    await connection.scalar(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                    await connection.commit()
        return
    database = db.sqlite_file
    if database is None or fcntl is None:
        yield True
        return
    fd = await asyncio.to_thread(_descriptor, database.with_name(database.name + ".locks"))
    offset = number % 2**31
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)


#: One descriptor per lock file, open for the life of the process: closing any descriptor of a file
#: drops every record lock the process holds on it, so none is closed while locks may be held.
_DESCRIPTORS: dict[Path, int] = {}


def _descriptor(path: Path) -> int:
    fd = _DESCRIPTORS.get(path)
    if fd is None:
        fd = _DESCRIPTORS[path] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return fd
