"""The database connection: an async engine and session factory built from :class:`~treadle.config.Settings`.

``sqlite:///path`` and ``postgresql://...`` URLs get their async drivers (aiosqlite, asyncpg); an
empty URL means the embedded file ``$TREADLE_HOME/treadle.db``. SQLite connections run in WAL mode
with foreign keys enforced, so cascades behave as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from ..config import Settings
from .errors import DatabaseURLError

__all__ = ["Database", "async_url", "create_engine"]

_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
T = TypeVar("T")


def async_url(url: str) -> URL:
    """``url`` with the async driver of its database (``postgres://`` is read as ``postgresql://``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(url, "not a database URL (expected sqlite:///FILE or postgresql://HOST/DB)") from exc
    backend, _, driver = parsed.drivername.partition("+")
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _ASYNC_DRIVERS:
        raise DatabaseURLError(url, f"unsupported database {backend!r} (use sqlite or postgresql)")
    wanted = _ASYNC_DRIVERS[backend]
    if driver and driver != wanted:
        raise DatabaseURLError(url, f"driver {driver!r} is not async; use {backend}+{wanted} or leave it out")
    return parsed.set(drivername=f"{backend}+{wanted}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL sync is durable against application crashes, which is what the embedded
        # default needs; writers wait for each other instead of failing at once.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


def _sqlite_reader_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA query_only=ON")  # Database.read is for reads: a write here is an error
    finally:
        cursor.close()


#: What a writer of this process waits for another one before it gives up (as busy_timeout).
_WRITE_WAIT = 5.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_HOLDS_WRITE_LOCK = "treadle_write_lock"


class _SqliteWriters:
    """One writer at a time among this process's connections to a SQLite file.

    SQLite lets one transaction write; another connection that tries waits in SQLite's busy
    handler, which sleeps in steps of up to 100 ms, so a few concurrent requests made tails of
    hundreds of milliseconds. Here a connection takes an asyncio lock before its transaction's first
    write and gives it back when it returns to the pool (after its commit or rollback), so writers
    queue in order and wake as soon as the previous one is done. Other processes (the CLI) still meet
    busy_timeout.
    """

    def __init__(self) -> None:
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {known: held for known, held in self._locks.items() if not known.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def before_execute(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_HOLDS_WRITE_LOCK) is not None or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        lock = self._lock()
        try:
            await_only(asyncio.wait_for(lock.acquire(), _WRITE_WAIT))
        except TimeoutError:
            raise OperationalError(
                statement, None, sqlite3.OperationalError(
                    f"database is locked: another writer of this process held it for over {_WRITE_WAIT:g} s"
                ),
            ) from None  # fmt: skip
        conn.info[_HOLDS_WRITE_LOCK] = lock

    def checkin(self, _dbapi_connection: Any, record: Any) -> None:
        lock = record.info.pop(_HOLDS_WRITE_LOCK, None) if record is not None else None
        if lock is not None:
            lock.release()


def _json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (a third of the standard library's cost: run logs write
    several documents per node); what it cannot write (integers past 64 bits) goes to ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def _json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN or Infinity, written by json before orjson wrote these columns


def create_engine(url: str | URL, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``; ``schema`` (PostgreSQL) puts every table in that schema via search_path."""
    parsed = async_url(url) if isinstance(url, str) else url
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if parsed.get_backend_name() != "postgresql":
            raise DatabaseURLError(parsed.render_as_string(), "a schema can only be chosen on PostgreSQL")
        connect_args["server_settings"] = {"search_path": schema}
    # No pre-ping: it costs a round trip on every checkout, that is on every request. A connection
    # that died (the database restarted) fails its statement once; SQLAlchemy then drops the pool.
    engine = create_async_engine(
        parsed, echo=echo, connect_args=connect_args, json_serializer=_json_dumps, json_deserializer=_json_loads
    )
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        writers = _SqliteWriters()
        event.listen(engine.sync_engine, "before_cursor_execute", writers.before_execute)
        event.listen(engine.sync_engine.pool, "checkin", writers.checkin)
    return engine


class Database:
    """One database: its engine and a session factory.

    ``async with db.session() as s`` gives a session that commits when the block ends without an
    error and rolls back otherwise. Call :meth:`dispose` (or use ``async with db``) when done.
    """

    def __init__(self, url: str | URL, *, schema: str | None = None, echo: bool = False) -> None:
        self.engine = create_engine(url, schema=schema, echo=echo)
        self.schema = schema
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database the configuration names (the embedded SQLite file when its URL is empty)."""
        if not settings.database.url:
            settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings.database_url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` for reads that must be quick, run as one step.

        On SQLite it runs in a worker thread on a synchronous connection of its own (query-only):
        aiosqlite makes a thread round trip of every cursor call, four a statement, which cost more
        than the statements of a search; here the whole of ``fn`` is one, and SQLite works outside
        the GIL meanwhile, so the event loop goes on. Elsewhere (and for an in-memory SQLite
        database, which another connection would not see) it runs through ``run_sync`` on a pooled
        async connection. ``fn`` sees the last committed state; it must not write.
        """
        reader = self._sqlite_reader()
        if reader is None:
            async with self.engine.connect() as connection:
                return await connection.run_sync(fn)

        def work() -> T:
            with reader.connect() as connection:
                return fn(connection)

        return await asyncio.to_thread(work)

    @property
    def sqlite_file(self) -> Path | None:
        """The file of a SQLite database; None for PostgreSQL and for an in-memory SQLite database."""
        url = self.engine.url
        if self.dialect != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
            return None
        return Path(url.database)

    def _sqlite_reader(self) -> Engine | None:
        if self._reader is None and self.sqlite_file is not None:
            url = self.engine.url
            self._reader = sqlalchemy.create_engine(
                url.set(drivername="sqlite"), json_serializer=_json_dumps, json_deserializer=_json_loads
            )
            event.listen(self._reader, "connect", _sqlite_reader_pragmas)
        return self._reader

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.dispose()
