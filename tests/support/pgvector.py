"""A PostgreSQL server with the pgvector extension, for the pgvector store's tests and the benchmarks.

The machine's server (``TREADLE_TEST_POSTGRES_URL``) is used when it offers the ``vector`` extension;
otherwise a private server from the ``pgserver`` package (PostgreSQL with pgvector, as a wheel)
starts in a temporary directory. :func:`pgvector_database` is the start-up itself (bench/retrieval.py
uses it); :func:`pgvector_server` is the tests' wrapper: when neither server works the tests are
skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest

from support.servers import POSTGRES_URL

__all__ = ["PgvectorDatabase", "PgvectorUnavailable", "pgvector_database", "pgvector_server"]


class PgvectorUnavailable(RuntimeError):
    """Neither the machine's server nor a private pgserver can serve pgvector; the message says why."""


@dataclass(frozen=True)
class PgvectorDatabase:
    """A database where ``CREATE EXTENSION vector`` works, and which server it is on."""

    dsn: str
    #: ``"machine"`` (the server at TREADLE_TEST_POSTGRES_URL) or ``"pgserver"`` (a private one).
    server: str
    #: The server's version and pgvector's, when they could be read.
    versions: str = ""


def _machine_server_offers_vector() -> str | None:
    """Why the machine's server cannot serve pgvector, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as connection:
            row = connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    except psycopg.Error as exc:
        return f"the server at {POSTGRES_URL} is unreachable ({str(exc).strip().splitlines()[0]})"
    return None if row else f"the server at {POSTGRES_URL} has no 'vector' extension"


def _versions(dsn: str) -> str:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as connection:
            server = connection.execute("SHOW server_version").fetchone()
            vector = connection.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
    except psycopg.Error:
        return ""
    return f"PostgreSQL {server[0] if server else '?'}, pgvector {vector[0] if vector else '?'}"


@contextmanager
def _private_server() -> Iterator[str]:
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory at import, which warns without XDG_RUNTIME_DIR.
        warnings.simplefilter("ignore")
        import pgserver  # type: ignore[import-untyped]

    server = pgserver.get_server(tempfile.mkdtemp(prefix="treadle-pgvector-"), cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextmanager
def pgvector_database() -> Iterator[PgvectorDatabase]:
    """The machine's server when it has pgvector, else a private pgserver (stopped and deleted on
    exit); :class:`PgvectorUnavailable` when neither works."""
    why_not_machine = _machine_server_offers_vector()
    if why_not_machine is None:
        yield PgvectorDatabase(POSTGRES_URL, "machine", _versions(POSTGRES_URL))
        return
    try:
        private = _private_server()
        dsn = private.__enter__()
    except Exception as exc:
        raise PgvectorUnavailable(
            f"no PostgreSQL with pgvector: {why_not_machine}, and pgserver failed ({exc})"
        ) from exc
    try:
        yield PgvectorDatabase(dsn, "pgserver", _versions(dsn))
    finally:
        private.__exit__(None, None, None)


@contextmanager
def pgvector_server() -> Iterator[str]:
    """The connection string of a database where ``CREATE EXTENSION vector`` works."""
    try:
        found = pgvector_database()
        database = found.__enter__()
    except PgvectorUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs every server: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield database.dsn
    finally:
        found.__exit__(None, None, None)
