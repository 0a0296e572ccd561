"""Knowledge bases as the Knowledge API and the console use them: datasets, and through
:class:`KnowledgeBases` their documents, chunks, metadata fields and tags (API-KB-*, API-DOC-*,
API-CHUNK-*, API-CHILD-*, API-META-*, API-TAG-*, KB-*).

Every operation is scoped by the caller's workspace: an id of another workspace is "not found",
so a knowledge key never learns what other workspaces hold. The operations change rows and hand
the index work to the indexing pipeline, the job queue, the vector stores and the retriever through
the ports of :mod:`treadle.knowledge.ports`; a server built without them keeps the rows only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..files.errors import NoSuchFile
from ..store import (
    DRAFT,
    Account,
    App,
    Database,
    Dataset,
    DatasetMetadataField,
    Document,
    ExternalKnowledgeApi,
    Tag,
    TagBinding,
    Workflow,
    paginate,
)
from .documents import KnowledgeDocuments
from .errors import DatasetInUse, DatasetNameDuplicate, DatasetNotInitialized, KnowledgeInputError, ModelNotConfigured
from .lookup import check_text, dataset_of, like_pattern
from .metadata import MetadataFields
from .ports import Caller, IndexingPort, JobPort, RetrieverPort, VectorPort, settle
from .retrieval_model import RetrievalSettings
from .segments import KnowledgeSegments
from .tags import KnowledgeTags
from .views import dataset_view

if TYPE_CHECKING:
    from ..files import FileService
    from ..plugins import PluginSupervisor

__all__ = ["DATASET_DESCRIPTION_MAX", "DATASET_NAME_MAX", "QUERY_MAX", "KnowledgeBases"]

#: API-KB-CREATE: a dataset's name is 1 to 40 characters, its description at most 400.
DATASET_NAME_MAX = 40
DATASET_DESCRIPTION_MAX = 400
#: API-KB-RETRIEVE: a query is at most 250 characters.
QUERY_MAX = 250
_EMBEDDING = "text-embedding"


class KnowledgeBases:
    """The domain operations behind the Knowledge API.

    ``documents``, ``segments``, ``metadata`` and ``tags`` hold the operations on what a dataset
    contains; this object holds the datasets' own (create, list, get, update, delete, retrieve).
    """

    def __init__(
        self,
        db: Database,
        *,
        files: FileService | None = None,
        supervisor: PluginSupervisor | None = None,
        indexing: IndexingPort | None = None,
        jobs: JobPort | None = None,
        vectors: VectorPort | None = None,
        retriever: RetrieverPort | None = None,
    ) -> None:
        self.db = db
        self.files = files
        self.supervisor = supervisor
        self.indexing = indexing
        self.jobs = jobs
        self.vectors = vectors
        self.retriever = retriever
        self.documents = KnowledgeDocuments(self)
        self.segments = KnowledgeSegments(self)
        self.metadata = MetadataFields(self)
        self.tags = KnowledgeTags(self)

    # -- models --------------------------------------------------------------------------------------

    async def embedding_model(self, tenant_id: str, provider: str | None, model: str | None) -> tuple[str, str]:
        """The embedding model a high-quality dataset uses: the one given, else the workspace's default
        text-embedding model; :class:`ModelNotConfigured` when there is neither (Dify's wording)."""
        if provider and model:
            return provider, model
        if provider or model:
            raise KnowledgeInputError(
                "embedding_model and embedding_model_provider go together: give both or neither.",
                "embedding_model" if not model else "embedding_model_provider",
            )
        found = None
        if self.supervisor is not None:
            found = await self.supervisor.model_settings.default_model(tenant_id, _EMBEDDING)
        if found is None:
            raise ModelNotConfigured(
                "No Embedding Model available. Please configure a valid provider in the Settings -> Model "
                "Provider, or give embedding_model and embedding_model_provider."
            )
        return found

    # -- datasets ------------------------------------------------------------------------------------

    async def create(
        self,
        caller: Caller,
        *,
        name: str,
        description: str = "",
        indexing_technique: str | None = None,
        permission: str = "only_me",
        provider: str = "vendor",
        embedding_model: str | None = None,
        embedding_model_provider: str | None = None,
        retrieval_model: Mapping[str, Any] | None = None,
        external_knowledge_api_id: str | None = None,
        external_knowledge_id: str | None = None,
        summary_index_setting: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An empty dataset (API-KB-CREATE); its DATASET-OBJ."""
        name = check_text(name, "name", max_length=DATASET_NAME_MAX)
        if len(description) > DATASET_DESCRIPTION_MAX:
            raise KnowledgeInputError(
                f"description must be at most {DATASET_DESCRIPTION_MAX} characters long.", "description"
            )
        dataset = Dataset(
            tenant_id=caller.tenant_id, name=name, description=description, permission=permission,
            provider=provider, created_by=caller.account_id, updated_by=caller.account_id,
            summary_index_setting=dict(summary_index_setting) if summary_index_setting else None,
        )  # fmt: skip
        if provider == "external":
            if not external_knowledge_api_id or not external_knowledge_id:
                raise KnowledgeInputError(
                    "An external dataset needs external_knowledge_api_id and external_knowledge_id.",
                    "external_knowledge_api_id" if not external_knowledge_api_id else "external_knowledge_id",
                )
            await self._external_api(caller.tenant_id, external_knowledge_api_id)
            dataset.external_knowledge_api_id = external_knowledge_api_id
            dataset.external_knowledge_id = external_knowledge_id
            dataset.external_retrieval_model = {"top_k": 2, "score_threshold": 0.0, "score_threshold_enabled": False}
        elif indexing_technique is not None:
            dataset.indexing_technique = indexing_technique
            if indexing_technique == "high_quality":
                provider_name, model_name = await self.embedding_model(
                    caller.tenant_id, embedding_model_provider, embedding_model
                )
                dataset.embedding_model_provider, dataset.embedding_model = provider_name, model_name
        if retrieval_model is not None:
            dataset.retrieval_model = RetrievalSettings.parse(retrieval_model).as_dict()
        async with self.db.session() as session:
            await self._check_name_free(session, caller.tenant_id, name)
            session.add(dataset)
            try:
                await session.flush()
            except IntegrityError:  # a concurrent create took the name between the check and the insert
                raise DatasetNameDuplicate(name) from None
            return (await self.views(session, [dataset]))[0]

    async def list_datasets(
        self, caller: Caller, *, page: int = 1, limit: int = 20, keyword: str = "", tag_ids: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The workspace's datasets, newest first, by name keyword and tags (API-KB-LIST). A knowledge
        key sees every dataset of its workspace, so Dify's ``include_all`` changes nothing here."""
        statement = select(Dataset).where(Dataset.tenant_id == caller.tenant_id)
        if keyword.strip():
            statement = statement.where(
                func.lower(Dataset.name).like(like_pattern(keyword.strip().lower()), escape="\\")
            )
        if tag_ids:
            tagged = select(TagBinding.target_id).where(
                TagBinding.tenant_id == caller.tenant_id, TagBinding.tag_id.in_(list(tag_ids))
            )
            statement = statement.where(Dataset.id.in_(tagged))
        statement = statement.order_by(Dataset.created_at.desc(), Dataset.id.desc())
        async with self.db.session() as session:
            found = await paginate(session, statement, page=page, limit=limit)
            data = await self.views(session, found.data)
        return {"data": data, "has_more": found.has_more, "limit": found.limit, "total": found.total,
                "page": found.page}

    async def get(self, caller: Caller, dataset_id: str) -> dict[str, Any]:
        """A dataset's DATASET-OBJ (API-KB-GET)."""
        async with self.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            return (await self.views(session, [dataset]))[0]

    async def update(self, caller: Caller, dataset_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change the fields given in ``changes`` (API-KB-UPDATE); the DATASET-OBJ after."""
        async with self.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id, lock=True)
            if "name" in changes and changes["name"] is not None:
                name = check_text(changes["name"], "name", max_length=DATASET_NAME_MAX)
                if name != dataset.name:
                    await self._check_name_free(session, caller.tenant_id, name)
                    dataset.name = name
            if "description" in changes and changes["description"] is not None:
                if len(changes["description"]) > DATASET_DESCRIPTION_MAX:
                    raise KnowledgeInputError(
                        f"description must be at most {DATASET_DESCRIPTION_MAX} characters long.", "description"
                    )
                dataset.description = changes["description"]
            if changes.get("permission") is not None:
                dataset.permission = changes["permission"]
            if "partial_member_list" in changes and changes["partial_member_list"] is not None:
                dataset.partial_member_list = [str(member["user_id"]) for member in changes["partial_member_list"]]
            await self._update_indexing(session, caller, dataset, changes)
            if changes.get("retrieval_model") is not None:
                dataset.retrieval_model = RetrievalSettings.parse(changes["retrieval_model"]).as_dict()
            if dataset.provider == "external":
                if changes.get("external_retrieval_model") is not None:
                    dataset.external_retrieval_model = dict(changes["external_retrieval_model"])
                if changes.get("external_knowledge_api_id"):
                    await self._external_api(caller.tenant_id, changes["external_knowledge_api_id"])
                    dataset.external_knowledge_api_id = changes["external_knowledge_api_id"]
                if changes.get("external_knowledge_id"):
                    dataset.external_knowledge_id = changes["external_knowledge_id"]
            dataset.updated_by = caller.account_id
            try:
                await session.flush()
            except IntegrityError:
                raise DatasetNameDuplicate(dataset.name) from None
            await session.refresh(dataset)
            return (await self.views(session, [dataset]))[0]

    async def _update_indexing(
        self, session: AsyncSession, caller: Caller, dataset: Dataset, changes: Mapping[str, Any]
    ) -> None:
        """Apply a change of indexing technique or embedding model. Once documents are indexed one way,
        changing it would mean indexing them all again, which this server does not do yet: refused."""
        technique = changes.get("indexing_technique") or dataset.indexing_technique
        provider = changes.get("embedding_model_provider") or dataset.embedding_model_provider
        model = changes.get("embedding_model") or dataset.embedding_model
        if (technique, provider, model) == (
            dataset.indexing_technique, dataset.embedding_model_provider, dataset.embedding_model
        ):
            return
        has_documents = await session.scalar(
            select(func.count()).select_from(Document).where(Document.dataset_id == dataset.id)
        )
        if has_documents:
            field = "indexing_technique" if technique != dataset.indexing_technique else "embedding_model"
            raise KnowledgeInputError(
                f"{field} cannot change once the dataset has documents: make a new dataset and add them there.",
                field,
            )
        dataset.indexing_technique = technique
        if technique == "high_quality":
            given = changes.get("embedding_model_provider"), changes.get("embedding_model")
            if any(given):
                provider, model = await self.embedding_model(caller.tenant_id, *given)
            elif not (provider and model):
                provider, model = await self.embedding_model(caller.tenant_id, None, None)
            dataset.embedding_model_provider, dataset.embedding_model = provider, model

    async def delete(self, caller: Caller, dataset_id: str) -> None:
        """Delete a dataset with its documents, chunks, vectors and tag bindings (API-KB-DELETE);
        :class:`DatasetInUse` while an app retrieves from it."""
        async with self.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
            users = (await self.apps_using(session, caller.tenant_id, [dataset.id]))[dataset.id]
            if users:
                raise DatasetInUse(dataset.id, sorted(users))
            file_ids = [
                info.get("upload_file_id")
                for info in await session.scalars(select(Document.data_source_info).where(
                    Document.dataset_id == dataset.id
                ))
            ]
        if self.vectors is not None and dataset.vector_collection:
            await self.vectors.drop(dataset)
        async with self.db.session() as session:
            await session.execute(delete(TagBinding).where(
                TagBinding.tenant_id == caller.tenant_id, TagBinding.target_id == dataset.id
            ))
            await session.execute(delete(Dataset).where(Dataset.id == dataset.id))
        await self.delete_files(caller.tenant_id, [file_id for file_id in file_ids if isinstance(file_id, str)])

    async def delete_files(self, tenant_id: str, file_ids: Sequence[str]) -> None:
        """Remove the stored originals of deleted documents; one already gone is no error."""
        if self.files is None:
            return
        for file_id in file_ids:
            try:
                await self.files.delete(tenant_id, file_id)
            except NoSuchFile:
                continue

    # -- retrieval -----------------------------------------------------------------------------------

    async def retrieve(
        self,
        caller: Caller,
        dataset_id: str,
        *,
        query: str,
        retrieval_model: Mapping[str, Any] | None = None,
        external_retrieval_model: Mapping[str, Any] | None = None,
        source: str = "api",
    ) -> dict[str, Any]:
        """The chunks of a dataset that answer ``query`` (API-KB-RETRIEVE), with the dataset's
        retrieval settings unless ``retrieval_model`` is given; logged as a query of ``source``."""
        if not query.strip():
            raise KnowledgeInputError("query must not be empty.", "query")
        if len(query) > QUERY_MAX:
            raise KnowledgeInputError(f"Query cannot exceed {QUERY_MAX} characters.", "query")
        async with self.db.session() as session:
            dataset = await dataset_of(session, caller.tenant_id, dataset_id)
        if dataset.provider != "external" and dataset.indexing_technique is None:
            raise DatasetNotInitialized(dataset.id)
        raw = dict(retrieval_model) if retrieval_model is not None else dataset.retrieval_model
        metadata_condition = None
        if raw is not None:
            raw = dict(raw)
            metadata_condition = raw.pop("metadata_filtering_conditions", None)
        settings = RetrievalSettings.parse(raw)
        if raw is None and dataset.indexing_technique == "economy":
            settings = RetrievalSettings(search_method="keyword_search")
        if dataset.provider == "external":
            external = external_retrieval_model or dataset.external_retrieval_model or {}
            settings = settings.with_limits(
                top_k=external.get("top_k") if isinstance(external.get("top_k"), int) else None,
                score_threshold=(
                    float(external["score_threshold"])
                    if external.get("score_threshold_enabled") and external.get("score_threshold") is not None
                    else None
                ),
            )
        if self.retriever is None:
            raise DatasetNotInitialized(dataset.id)
        found = await self.retriever.retrieve(
            caller.tenant_id, [dataset.id], query, settings, metadata_condition=metadata_condition,
            source=source, created_by=caller.account_id,
        )  # fmt: skip
        return {"query": {"content": query}, "records": [chunk.as_api_record() for chunk in found]}

    # -- shared --------------------------------------------------------------------------------------

    async def _check_name_free(self, session: AsyncSession, tenant_id: str, name: str) -> None:
        taken = await session.scalar(select(Dataset.id).where(Dataset.tenant_id == tenant_id, Dataset.name == name))
        if taken is not None:
            raise DatasetNameDuplicate(name)

    async def _external_api(self, tenant_id: str, api_id: str) -> ExternalKnowledgeApi:
        async with self.db.session() as session:
            found = await session.scalar(select(ExternalKnowledgeApi).where(
                ExternalKnowledgeApi.id == api_id, ExternalKnowledgeApi.tenant_id == tenant_id
            ))
        if found is None:
            raise KnowledgeInputError("External knowledge API not found.", "external_knowledge_api_id")
        return found

    async def apps_using(
        self, session: AsyncSession, tenant_id: str, dataset_ids: Sequence[str]
    ) -> dict[str, set[str]]:
        """For each dataset, the workspace's apps that retrieve from it: a knowledge-retrieval node of
        the app's draft or published workflow (``dataset_ids``), or its model config's
        ``dataset_configs``. Dataset ids are UUIDs, so finding one in the app's JSON is finding a use."""
        using: dict[str, set[str]] = {dataset_id: set() for dataset_id in dataset_ids}
        if not dataset_ids:
            return using
        apps = list(await session.execute(
            select(App.id, App.model_config, App.workflow_id).where(App.tenant_id == tenant_id)
        ))
        texts: dict[str, list[str]] = defaultdict(list)
        for app_id, model_config, _ in apps:
            texts[app_id].append(json.dumps(model_config or {}))
        current = [workflow_id for _, _, workflow_id in apps if workflow_id]
        graphs = await session.execute(
            select(Workflow.app_id, Workflow.graph).where(
                Workflow.tenant_id == tenant_id,
                or_(Workflow.version == DRAFT, Workflow.id.in_(current)),
            )
        )
        for app_id, graph in graphs:
            texts[app_id].append(json.dumps(graph or {}))
        for app_id, parts in texts.items():
            for text in parts:
                for dataset_id in dataset_ids:
                    if dataset_id in text:
                        using[dataset_id].add(app_id)
        return using

    async def views(self, session: AsyncSession, datasets: Sequence[Dataset]) -> list[dict[str, Any]]:
        """DATASET-OBJ of each dataset, with its counts, tags, metadata fields and author."""
        if not datasets:
            return []
        ids = [dataset.id for dataset in datasets]
        tenant_id = datasets[0].tenant_id
        available = and_(Document.indexing_status == "completed", Document.enabled.is_(True),
                         Document.archived.is_(False))
        counts = {
            row[0]: row[1:]
            for row in await session.execute(
                select(
                    Document.dataset_id, func.count(), func.sum(case((available, 1), else_=0)),
                    func.coalesce(func.sum(Document.word_count), 0),
                ).where(Document.dataset_id.in_(ids)).group_by(Document.dataset_id)
            )
        }
        tags: dict[str, list[Tag]] = defaultdict(list)
        for binding, tag in await session.execute(
            select(TagBinding, Tag).join(Tag, Tag.id == TagBinding.tag_id)
            .where(TagBinding.target_id.in_(ids), Tag.tenant_id == tenant_id)
            .order_by(Tag.created_at, Tag.id)
        ):
            tags[binding.target_id].append(tag)
        fields: dict[str, list[DatasetMetadataField]] = defaultdict(list)
        for field in await session.scalars(
            select(DatasetMetadataField).where(DatasetMetadataField.dataset_id.in_(ids))
            .order_by(DatasetMetadataField.created_at, DatasetMetadataField.id)
        ):
            fields[field.dataset_id].append(field)
        authors = {
            account_id: name
            for account_id, name in await session.execute(
                select(Account.id, Account.name).where(
                    Account.id.in_([d.created_by for d in datasets if d.created_by])
                )
            )
        }
        externals: dict[str, dict[str, Any]] = {}
        external_ids = [d.external_knowledge_api_id for d in datasets if d.external_knowledge_api_id]
        if external_ids:
            for api in await session.scalars(select(ExternalKnowledgeApi).where(
                ExternalKnowledgeApi.id.in_(external_ids), ExternalKnowledgeApi.tenant_id == tenant_id
            )):
                externals[api.id] = {"name": api.name, "endpoint": api.endpoint}
        apps = await self.apps_using(session, tenant_id, ids)
        views = []
        for dataset in datasets:
            total, ready, words = counts.get(dataset.id, (0, 0, 0))
            views.append(dataset_view(
                dataset, document_count=int(total or 0), available_document_count=int(ready or 0),
                word_count=int(words or 0), app_count=len(apps[dataset.id]), tags=tags[dataset.id],
                fields=fields[dataset.id], author_name=authors.get(dataset.created_by or ""),
                external_api=externals.get(dataset.external_knowledge_api_id or ""),
            ))  # fmt: skip
        return views

    async def enqueue(self, document_ids: Sequence[str]) -> None:
        """Hand documents to the indexing queue (nothing happens on a server without one)."""
        if self.jobs is not None and document_ids:
            await settle(self.jobs.enqueue_indexing(list(document_ids)))
