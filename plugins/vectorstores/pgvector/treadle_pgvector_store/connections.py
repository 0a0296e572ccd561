"""Connections to one PostgreSQL database, reused from call to call, and the first-use setup of the
``vector`` extension."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from treadle_sdk.errors import PluginFailed

__all__ = ["Connections", "describe_dsn"]

#: Connections kept open between calls; more may be open while calls overlap.
MAX_IDLE = 8
CONNECT_TIMEOUT_SECONDS = 10


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a connection string, for error messages (never the password)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an unreadable dsn)"
    host = str(parts.get("host") or "localhost")
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or parts.get('user') or ''}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


class Connections:
    """A small pool: idle connections (autocommit, each call in its own ``transaction()``) are handed
    out last-in first-out, new ones opened when none is idle. The first connection creates the
    ``vector`` extension if the database lacks it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._ready = False
        #: pgvector 0.8 and later can keep scanning the HNSW index until a filter lets enough rows through.
        self.iterative_scan = False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connect(self) -> psycopg.Connection:
        try:
            connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.OperationalError as exc:
            raise PluginFailed(
                f"cannot connect to PostgreSQL at {describe_dsn(self.dsn)}: {str(exc).strip()}",
                details={"field": "config.dsn"},
            ) from None
        if not self._ready:
            try:
                self._prepare(connection)
            except BaseException:
                connection.close()
                raise
        return connection

    def _prepare(self, connection: psycopg.Connection) -> None:
        try:
            with connection.transaction():
                # Two processes creating the extension at once would collide on its catalog rows.
                connection.execute("SELECT pg_advisory_xact_lock(hashtext('treadle-pgvector-extension'))")
                connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise PluginFailed(
                f"the PostgreSQL database at {describe_dsn(self.dsn)} cannot use pgvector: "
                f"{str(exc).strip().splitlines()[0]}. Install the pgvector extension on the server "
                "(https://github.com/pgvector/pgvector) and let the user create it, or choose another "
                "[vectors] store",
                details={"field": "config.dsn", "sqlstate": exc.sqlstate or ""},
            ) from None
        row = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        self.iterative_scan = row is not None and _version(str(row[0])) >= (0, 8)
        self._ready = True

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = self._connect()
        try:
            yield connection
        finally:
            # Only a connection back at rest (no transaction left open by a failure) is reused.
            reusable = not connection.broken and connection.info.transaction_status == TransactionStatus.IDLE
            with self._lock:
                pooled = reusable and len(self._idle) < MAX_IDLE
                if pooled:
                    self._idle.append(connection)
            if not pooled:
                connection.close()
