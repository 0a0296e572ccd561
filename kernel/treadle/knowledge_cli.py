"""``treadle kb``: knowledge bases from the command line (issue 6).

``treadle kb ingest DATASET PATH...`` adds files (or every supported file under a folder) to a
dataset, creating it when ``--create`` is given, and indexes them in this process with the same
pipeline and job queue the server uses, drawing a progress bar as documents complete.
``treadle kb query DATASET "text"`` retrieves from it. Both work on the data directory's database and
start the installed plugins; a server running on the same data directory sees the results.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .config import ConfigError, Settings

if TYPE_CHECKING:
    from .knowledge.ports import Caller
    from .knowledge.runtime import KnowledgeRuntime
    from .store import Database

__all__ = ["kb_group", "with_knowledge"]

T = TypeVar("T")

_SEARCH_METHODS = ("hybrid_search", "semantic_search", "full_text_search", "keyword_search")
#: How often the progress bar looks at the documents' state.
_POLL_SECONDS = 0.2


def _settings(config: Path | None) -> Settings:
    try:
        return Settings.load(config_file=config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def with_knowledge(
    config: Path | None, workspace: str | None, work: Callable[[KnowledgeRuntime, Caller], Awaitable[T]]
) -> T:
    """Run ``work`` with the knowledge services of this data directory, started, for the workspace's
    owner; knowledge, workspace and plugin errors become CLI errors."""
    from treadle_sdk.errors import PluginError

    from .files import FileService, FileSigner, PluginStorage
    from .knowledge.errors import KnowledgeError
    from .knowledge.runtime import build_knowledge_runtime
    from .plugins import PluginSupervisor, SqliteKVStore
    from .runtime import WorkspaceNotFound, ensure_first_workspace, resolve_workspace
    from .store import Database, SqlFileRecordStore, upgrade_to_head
    from .tenancy import SecretCipher
    from .tenancy.secrets import derive_key

    settings = _settings(config)

    async def go() -> T:
        settings.ensure_home()
        db = Database.from_settings(settings)
        kv = SqliteKVStore(settings.home / "plugin_kv.sqlite3")
        try:
            await upgrade_to_head(db)
            first = await ensure_first_workspace(db) if workspace is None else None
            if first is not None:
                api = f"http://{settings.server.host}:{settings.server.port}/v1"
                for line in first.sign_in_lines(api):
                    click.echo(line, err=True)
            tenant_id = await resolve_workspace(db, workspace)
            caller = await _owner_of(db, tenant_id)
            async with PluginSupervisor(settings, kv=kv) as supervisor:
                cipher = SecretCipher(settings.home / "secret_key")
                files = FileService(
                    PluginStorage(supervisor, settings.storage.backend, home=settings.home),
                    SqlFileRecordStore(db),
                    FileSigner(derive_key(cipher.server_secret(), "file-urls")),
                )
                supervisor.services.files = files
                runtime = build_knowledge_runtime(settings, supervisor, db, files, cipher)
                await runtime.start()
                try:
                    return await work(runtime, caller)
                finally:
                    await runtime.stop()
        finally:
            kv.close()
            await db.dispose()

    try:
        return asyncio.run(go())
    except (KnowledgeError, WorkspaceNotFound, PluginError) as exc:
        raise click.ClickException(str(exc)) from None


async def _owner_of(db: Database, tenant_id: str) -> Caller:
    from sqlalchemy import select

    from .knowledge.ports import Caller
    from .store import TenantMember

    async with db.session() as session:
        owner = await session.scalar(
            select(TenantMember.account_id)
            .where(TenantMember.tenant_id == tenant_id, TenantMember.role == "owner")
            .order_by(TenantMember.id)
            .limit(1)
        )
    return Caller(tenant_id=tenant_id, account_id=owner)


async def _find_dataset(runtime: KnowledgeRuntime, caller: Caller, ref: str) -> dict[str, Any] | None:
    """The dataset whose id or name is ``ref``, or None."""
    from .knowledge.errors import KnowledgeNotFound

    try:
        return await runtime.bases.get(caller, ref)
    except KnowledgeNotFound:
        pass
    page = 1
    while True:
        found = await runtime.bases.list_datasets(caller, page=page, limit=100, keyword=ref)
        for dataset in found["data"]:
            if dataset["name"] == ref:
                return dict(dataset)
        if not found["has_more"]:
            return None
        page += 1


def _files_of(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the supported files under the folders named, in a stable order."""
    from .knowledge.extraction import SUPPORTED_EXTENSIONS

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS))
        else:
            found.append(path)
    return found


def _process_rule(separator: str | None, max_length: int | None, overlap: int | None) -> dict[str, Any] | None:
    if separator is None and max_length is None and overlap is None:
        return {"mode": "automatic"}
    segmentation: dict[str, Any] = {"separator": "\n" if separator is None else separator}
    segmentation["max_tokens"] = 500 if max_length is None else max_length
    segmentation["chunk_overlap"] = 50 if overlap is None else overlap
    return {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": True},
                {"id": "remove_urls_emails", "enabled": False},
            ],
            "segmentation": segmentation,
        },
    }


@click.group("kb")
def kb_group() -> None:
    """Knowledge bases: ingest files into a dataset, query it, list datasets."""


_WORKSPACE = click.option("--workspace", help="Workspace id or name (default: the first workspace).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@kb_group.command("ingest")
@click.argument("dataset")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--create", is_flag=True, help="Create the dataset (named DATASET) when there is none.")
@click.option(
    "--indexing", type=click.Choice(["high_quality", "economy"]), default=None,
    help="Indexing technique of a new dataset (default: high_quality with an embedding model, else economy).",
)  # fmt: skip
@click.option("--embedding", default=None, metavar="PROVIDER/MODEL",
              help="Embedding model of a new high-quality dataset (default: the workspace's default).")  # fmt: skip
@click.option("--separator", default=None, help="Chunk delimiter (escapes like \\n\\n allowed).")
@click.option("--max-length", type=click.IntRange(1, 4000), default=None, help="Maximum chunk length, in characters.")
@click.option("--overlap", type=click.IntRange(0), default=None, help="Chunk overlap, in characters.")
@click.option("--no-wait", is_flag=True, help="Add the documents and return; a running server indexes them.")
@_WORKSPACE
@_JSON
@click.pass_obj
def kb_ingest(
    config: Path | None, dataset: str, paths: tuple[Path, ...], create: bool, indexing: str | None,
    embedding: str | None, separator: str | None, max_length: int | None, overlap: int | None, no_wait: bool,
    workspace: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Add PATHS (files, or folders searched for supported files) to DATASET (id or name) and index them."""
    from .knowledge.documents import DocumentConfig

    files = _files_of(paths)
    if not files:
        raise click.ClickException("no supported files under the paths given")
    provider = model = None
    if embedding is not None:
        provider, sep, model = embedding.rpartition("/")
        if not sep or not provider or not model:
            raise click.BadParameter(
                "give PROVIDER/MODEL, e.g. local_embeddings/all-MiniLM-L6-v2", param_hint="--embedding"
            )

    async def work(runtime: KnowledgeRuntime, caller: Caller) -> dict[str, Any]:
        found = await _find_dataset(runtime, caller, dataset)
        if found is None:
            if not create:
                raise click.ClickException(f"no dataset has the id or name {dataset!r} (add --create to make it)")
            technique = indexing or ("high_quality" if provider or await _has_default_embedding(runtime, caller)
                                     else "economy")  # fmt: skip
            found = await runtime.bases.create(
                caller, name=dataset, indexing_technique=technique,
                embedding_model_provider=provider, embedding_model=model,
            )  # fmt: skip
        document_config = DocumentConfig(
            indexing_technique=found.get("indexing_technique") or indexing or "economy",
            process_rule=_process_rule(separator, max_length, overlap),
        )
        document_ids: list[str] = []
        for path in files:
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise click.ClickException(f"{path}: {exc.strerror or exc}") from None
            made = await runtime.bases.documents.create_by_file(
                caller, found["id"], filename=path.name, content=content, mime_type="", config=document_config
            )
            document_ids.append(made["document"]["id"])
        started = time.perf_counter()
        states = [] if no_wait else await _wait_for(runtime, document_ids, show=not as_json)
        return {"dataset": found, "documents": states or document_ids, "seconds": time.perf_counter() - started}

    result = with_knowledge(config, workspace, work)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    states = [s for s in result["documents"] if isinstance(s, dict)]
    failed = [s for s in states if s["indexing_status"] == "error"]
    chunks = sum(int(s["segments"]) for s in states)
    click.echo(f"dataset {result['dataset']['name']} ({result['dataset']['id']}): {len(result['documents'])} "
               f"document(s), {chunks} chunk(s) in {result['seconds']:.1f} s")  # fmt: skip
    for state in failed:
        click.echo(f"  error: {state['name']}: {state['error']}", err=True)
    if failed:
        raise SystemExit(1)


async def _has_default_embedding(runtime: KnowledgeRuntime, caller: Caller) -> bool:
    """Whether the workspace has a default embedding model; any other failure is the caller's to see."""
    from .knowledge.errors import KnowledgeError

    try:
        await runtime.bases.embedding_model(caller.tenant_id, None, None)
    except KnowledgeError:
        return False
    return True


async def _wait_for(runtime: KnowledgeRuntime, document_ids: list[str], *, show: bool) -> list[dict[str, Any]]:
    """Wait until every document is completed or failed, drawing a bar by documents finished."""
    from sqlalchemy import func, select

    from .store import Document, DocumentSegment

    done: dict[str, dict[str, Any]] = {}
    # JSON output gets no bar: it is drawn into a buffer nobody reads.
    sink = None if show else io.StringIO()
    with click.progressbar(length=len(document_ids), label="indexing", show_pos=True, file=sink) as bar:
        while len(done) < len(document_ids):
            async with runtime.db.session() as session:
                rows = (await session.execute(
                    select(Document.id, Document.name, Document.indexing_status, Document.error, Document.is_paused)
                    .where(Document.id.in_(document_ids))
                )).all()  # fmt: skip
            for row in rows:
                if row.id in done or (row.indexing_status not in ("completed", "error") and not row.is_paused):
                    continue
                done[row.id] = {"id": row.id, "name": row.name, "indexing_status": row.indexing_status,
                                "error": row.error}  # fmt: skip
                bar.update(1)
            if len(done) < len(document_ids):
                await asyncio.sleep(_POLL_SECONDS)
    async with runtime.db.session() as session:
        counts: dict[str, int] = dict((await session.execute(
            select(DocumentSegment.document_id, func.count()).where(DocumentSegment.document_id.in_(document_ids))
            .group_by(DocumentSegment.document_id)
        )).all())  # fmt: skip
    return [{**done[i], "segments": counts.get(i, 0)} for i in document_ids]


@kb_group.command("query")
@click.argument("dataset")
@click.argument("text")
@click.option("--method", type=click.Choice(_SEARCH_METHODS), default=None,
              help="Search method (default: the dataset's retrieval settings).")  # fmt: skip
@click.option("--top-k", type=click.IntRange(1, 10), default=None, help="How many chunks (default: the dataset's).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Drop chunks scoring under this.")
@_WORKSPACE
@_JSON
@click.pass_obj
def kb_query(
    config: Path | None, dataset: str, text: str, method: str | None, top_k: int | None, threshold: float | None,
    workspace: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Retrieve the chunks of DATASET (id or name) that best answer TEXT."""

    async def work(runtime: KnowledgeRuntime, caller: Caller) -> dict[str, Any]:
        found = await _find_dataset(runtime, caller, dataset)
        if found is None:
            raise click.ClickException(f"no dataset has the id or name {dataset!r}")
        model: dict[str, Any] | None = None
        if method is not None or top_k is not None or threshold is not None:
            model = dict(found.get("retrieval_model_dict") or {})
            model.setdefault("reranking_enable", False)
            model["search_method"] = method or model.get("search_method") or "hybrid_search"
            if top_k is not None:
                model["top_k"] = top_k
            model.setdefault("top_k", 3)
            model["score_threshold_enabled"] = threshold is not None
            if threshold is not None:
                model["score_threshold"] = threshold
        return await runtime.bases.retrieve(caller, found["id"], query=text, retrieval_model=model, source="api")

    result = with_knowledge(config, workspace, work)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    records = result.get("records", [])
    if not records:
        click.echo("no chunk matched")
    for rank, record in enumerate(records, 1):
        segment = record["segment"]
        document = segment.get("document") or {}
        content = " ".join(str(segment.get("content", "")).split())
        click.echo(f"{rank}. {record.get('score', 0):.3f}  {document.get('name', '')} #{segment.get('position')}")
        click.echo(f"   {content[:300]}{'…' if len(content) > 300 else ''}")


@kb_group.command("list")
@_WORKSPACE
@_JSON
@click.pass_obj
def kb_list(config: Path | None, workspace: str | None, as_json: bool) -> None:
    """List the workspace's datasets."""

    async def work(runtime: KnowledgeRuntime, caller: Caller) -> list[dict[str, Any]]:
        datasets: list[dict[str, Any]] = []
        page = 1
        while True:
            found = await runtime.bases.list_datasets(caller, page=page, limit=100)
            datasets.extend(found["data"])
            if not found["has_more"]:
                return datasets
            page += 1

    datasets = with_knowledge(config, workspace, work)
    if as_json:
        click.echo(json.dumps(datasets, ensure_ascii=False, default=str))
        return
    for d in datasets:
        click.echo(f"{d['id']}  {d['name']}  {d.get('indexing_technique') or '-'}  "
                   f"{d.get('document_count', 0)} document(s)")  # fmt: skip
