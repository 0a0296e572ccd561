"""The three vector stores under one conformance suite: each as a fresh store instance over a place
of its own (a faiss directory, a pgvector table prefix, a Qdrant local-mode directory)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from support.pgvector import pgvector_server
from treadle_faiss_store import FaissStore
from treadle_pgvector_store import PgvectorStore
from treadle_qdrant_store import QdrantStore
from treadle_sdk.extensions import VectorStore
from treadle_sdk.hookspecs import hookimpl
from treadle_sdk.registry import Registry
from treadle_sdk.testing import ainvoke, load

STORES: dict[str, Callable[[], VectorStore]] = {"faiss": FaissStore, "pgvector": PgvectorStore, "qdrant": QdrantStore}


class OneStore:
    """A plugin registering one store instance, so that the test can close it."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store

    @hookimpl
    def register_vector_stores(self, register: Callable[[VectorStore], None]) -> None:
        register(self.store)


class StoreUnderTest:
    """A store instance and its config; ``call`` goes through the dispatcher, as the plugin host does."""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config
        self.instance = STORES[name]()
        self.registry: Registry = load(OneStore(self.instance), f"{name}-plugin")

    async def call(self, operation: str, collection: str = "docs", **payload: Any) -> Any:
        [result] = await ainvoke(
            self.registry,
            "vector_store",
            self.name,
            operation,
            {"collection": collection, "config": self.config, **payload},
        )
        return result

    async def close(self) -> None:
        await self.instance.aclose()


@pytest.fixture(scope="session")
def pgvector_dsn() -> Iterator[str]:
    with pgvector_server() as dsn:
        yield dsn


def config_for(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if name == "faiss":
        return {"path": str(tmp_path / "faiss")}
    if name == "qdrant":
        return {"path": str(tmp_path / "qdrant")}
    dsn = request.getfixturevalue("pgvector_dsn")
    return {"dsn": dsn, "table_prefix": f"t{uuid.uuid4().hex[:10]}_"}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    opened = StoreUnderTest(request.param, config_for(request.param, tmp_path, request))
    try:
        yield opened
    finally:
        await opened.close()
        if opened.name == "pgvector":
            drop_tables(opened.config)


def drop_tables(config: dict[str, Any]) -> None:
    """Drop the tables of a test's pgvector prefix (the machine's server outlives the session)."""
    with psycopg.connect(config["dsn"], autocommit=True) as connection:
        names = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, %s)",
            (config["table_prefix"],),
        ).fetchall()
        for (name,) in names:
            connection.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
