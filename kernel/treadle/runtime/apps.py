"""Apps of one workspace in the store: DSL import and export, draft and published versions, API keys.

Workflow and advanced-chat apps keep their graph in :class:`~treadle.store.Workflow` rows: one draft
(``version == "draft"``), edited in place, and one immutable row per publish; ``App.workflow_id``
names the published version in force. Chat, agent-chat and completion apps keep their
``model_config`` on the app row and have no versions. Secret environment variables are sealed with
the workspace cipher before they reach a row and are only opened for export when asked to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..apps import App as RunnableApp
from ..apps import ModelConfigError
from ..graph import GraphBuildError, NodeFactory, Problem
from ..graph.dsl import DSL_VERSION, AppDSL, DSLError, dump_dsl, load_dsl
from ..store import DRAFT, ApiKey, App, Database, Workflow, utcnow
from ..tenancy import ApiKeyKind, SecretCipher, export_environment, issue_api_key, seal_environment
from .errors import AppImportError, AppModeError, AppNotFound

__all__ = ["AppApiKey", "AppManager", "AppSummary", "WorkflowVersion", "workspace_of_app"]

_ICON_FIELDS = ("icon_type", "icon", "icon_background")


@dataclass(frozen=True)
class AppSummary:
    """What an app list shows of an app."""

    id: str
    tenant_id: str
    mode: str
    name: str
    description: str
    workflow_id: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "name": self.name,
            "description": self.description,
            "workflow_id": self.workflow_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class WorkflowVersion:
    """One version of an app's workflow: the draft (``version == "draft"``) or a published one."""

    id: str
    app_id: str
    version: str
    marked_name: str
    marked_comment: str
    created_at: datetime
    #: Whether this is the published version in force (``App.workflow_id``).
    current: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "marked_name": self.marked_name,
            "marked_comment": self.marked_comment,
            "created_at": self.created_at.isoformat(),
            "current": self.current,
        }


@dataclass(frozen=True)
class AppApiKey:
    """A Service API key just made: ``token`` is shown once and not stored (only its digest is)."""

    id: str
    app_id: str
    token: str
    display: str

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"AppApiKey(id={self.id!r}, app_id={self.app_id!r}, display={self.display!r})"


async def workspace_of_app(db: Database, app_id: str) -> str:
    """The workspace an app belongs to (for the operator CLI, which names apps by id alone)."""
    async with db.session() as session:
        tenant_id = await session.scalar(select(App.tenant_id).where(App.id == app_id))
    if tenant_id is None:
        raise AppNotFound("app", app_id)
    return tenant_id


class AppManager:
    """The apps of workspace ``tenant_id``: every lookup is scoped to it, so another workspace's app
    is :class:`AppNotFound` as if it did not exist.

    ``factory`` (the installed node types, :class:`~treadle.plugins.node_factory.PluginNodeFactory`)
    is used to check that an imported or published app compiles; without one, only the DSL itself
    is validated.
    """

    def __init__(
        self, db: Database, cipher: SecretCipher, tenant_id: str, *, factory: NodeFactory | None = None
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.tenant_id = tenant_id
        self.factory = factory

    # -- import ------------------------------------------------------------------------------------

    async def import_dsl(
        self, source: str | bytes | os.PathLike[str], *, name: str | None = None, created_by: str | None = None
    ) -> App:
        """A new app from a DSL (YAML text or bytes, or the file at a ``Path``), with its draft.

        Raises :class:`AppImportError` listing every problem with its DSL path: a DSL that does not
        load, a graph or ``model_config`` that does not compile against ``factory``, a secret that
        cannot be stored.
        """
        where = str(source) if isinstance(source, os.PathLike) else ""
        try:
            dsl = load_dsl(Path(source) if isinstance(source, os.PathLike) else source)
        except DSLError as exc:
            raise AppImportError(where, exc.problems) from None
        self._check_compiles(dsl, where)
        app = App(
            tenant_id=self.tenant_id,
            mode=dsl.mode,
            name=name or dsl.app.name or "Untitled",
            description=dsl.app.description,
            model_config=dict(dsl.app_model_config or {}),
            created_by=created_by,
            updated_by=created_by,
        )
        extra = dsl.app.model_extra or {}
        for field in _ICON_FIELDS:
            if isinstance(extra.get(field), str) and extra[field]:
                setattr(app, field, extra[field])
        async with self.db.session() as session:
            session.add(app)
            await session.flush()
            if dsl.workflow is not None:
                try:
                    draft = self._draft_from(dsl, app, created_by)
                except ValueError as exc:
                    raise AppImportError(where, [Problem(str(exc), path="workflow.environment_variables")]) from None
                session.add(draft)
        return app

    def _check_compiles(self, dsl: AppDSL, where: str) -> None:
        if self.factory is None:
            return
        try:
            RunnableApp.from_dsl(dsl, self.factory)
        except GraphBuildError as exc:
            raise AppImportError(where, exc.problems) from None
        except ModelConfigError as exc:
            raise AppImportError(where, [Problem(exc.reason, path=exc.path)]) from None
        except ValueError as exc:
            raise AppImportError(where, [Problem(str(exc))]) from None

    def _draft_from(self, dsl: AppDSL, app: App, created_by: str | None) -> Workflow:
        assert dsl.workflow is not None
        workflow = dsl.workflow
        environment = [_plain(variable) for variable in workflow.environment_variables]
        return Workflow(
            tenant_id=self.tenant_id,
            app_id=app.id,
            type="workflow" if app.mode == "workflow" else "chat",
            version=DRAFT,
            graph=_plain(workflow.graph),
            features=dict(workflow.features),
            environment_variables=seal_environment(self.cipher, self.tenant_id, app.id, environment),
            conversation_variables=[_plain(variable) for variable in workflow.conversation_variables],
            created_by=created_by,
            updated_by=created_by,
        )

    # -- reading -----------------------------------------------------------------------------------

    async def get(self, app_id: str) -> App:
        """The app ``app_id`` of this workspace."""
        async with self.db.session() as session:
            return await self._app(session, app_id)

    async def list_apps(self) -> list[AppSummary]:
        """The workspace's apps, newest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(App).where(App.tenant_id == self.tenant_id).order_by(App.created_at.desc(), App.id)
            )
            return [
                AppSummary(r.id, r.tenant_id, r.mode, r.name, r.description, r.workflow_id, r.created_at) for r in rows
            ]

    async def draft(self, app_id: str) -> Workflow:
        """The draft workflow of a workflow or advanced-chat app."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            return await self._draft(session, app)

    # -- versions ----------------------------------------------------------------------------------

    async def publish(
        self, app_id: str, *, marked_name: str = "", marked_comment: str = "", published_by: str | None = None
    ) -> WorkflowVersion:
        """Copy the draft into a new immutable version and put it in force."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            draft = await self._draft(session, app, "publish")
            if self.factory is not None:
                self._check_compiles(self._dsl_of(app, draft, include_secrets=False), "")
            now = utcnow()
            version = Workflow(
                tenant_id=self.tenant_id,
                app_id=app.id,
                type=draft.type,
                version=now.strftime("%Y-%m-%d %H:%M:%S.%f"),
                marked_name=marked_name,
                marked_comment=marked_comment,
                graph=draft.graph,
                features=draft.features,
                environment_variables=draft.environment_variables,
                conversation_variables=draft.conversation_variables,
                created_by=published_by,
                updated_by=published_by,
                created_at=now,
            )
            session.add(version)
            await session.flush()
            app.workflow_id = version.id
            app.updated_by = published_by
            return _version(version, current=True)

    async def versions(self, app_id: str) -> list[WorkflowVersion]:
        """The draft first, then the published versions, newest first."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            self._require_graph(app, "version history")
            rows = await session.scalars(
                select(Workflow).where(Workflow.app_id == app.id).order_by(Workflow.created_at.desc(), Workflow.id)
            )
            found = [_version(row, current=row.id == app.workflow_id) for row in rows]
        return sorted(found, key=lambda v: v.version != DRAFT)

    async def restore(self, app_id: str, version_id: str, *, restored_by: str | None = None) -> WorkflowVersion:
        """Make the draft a copy of the published version ``version_id`` (the published one stays in force)."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            draft = await self._draft(session, app, "restore")
            source = await session.scalar(select(Workflow).where(Workflow.app_id == app.id, Workflow.id == version_id))
            if source is None or source.version == DRAFT:
                raise AppNotFound("published version", version_id)
            draft.graph = source.graph
            draft.features = source.features
            draft.environment_variables = source.environment_variables
            draft.conversation_variables = source.conversation_variables
            draft.updated_by = restored_by
            await session.flush()
            return _version(draft, current=False)

    # -- export ------------------------------------------------------------------------------------

    async def export(self, app_id: str, *, include_secrets: bool = False) -> str:
        """The app's draft as DSL YAML; secret environment values are blank unless ``include_secrets``."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            draft = await self._draft(session, app) if app.mode in ("workflow", "advanced-chat") else None
        return dump_dsl(self._dsl_of(app, draft, include_secrets=include_secrets), include_secrets=include_secrets)

    def _dsl_of(self, app: App, draft: Workflow | None, *, include_secrets: bool) -> AppDSL:
        info: dict[str, Any] = {"mode": app.mode, "name": app.name, "description": app.description}
        info.update({field: getattr(app, field) for field in _ICON_FIELDS})
        document: dict[str, Any] = {"version": DSL_VERSION, "kind": "app", "app": info}
        if draft is not None:
            environment = export_environment(
                self.cipher, self.tenant_id, app.id, draft.environment_variables, include_secrets=include_secrets
            )
            document["workflow"] = {
                "graph": draft.graph,
                "features": draft.features,
                "environment_variables": environment,
                "conversation_variables": draft.conversation_variables,
            }
        else:
            document["model_config"] = app.model_config
        try:
            return AppDSL.model_validate(document)
        except ValidationError as exc:  # only a row edited by hand gets here
            raise AppImportError(f"app {app.id}", [Problem(str(exc))]) from None

    def runnable_dsl(self, app: App, workflow: Workflow | None) -> AppDSL:
        """The DSL that runs: ``app`` with ``workflow`` (a published version, for workflow and
        advanced-chat apps) and its secret environment values opened."""
        return self._dsl_of(app, workflow, include_secrets=True)

    # -- API keys and deletion ---------------------------------------------------------------------

    async def create_api_key(self, app_id: str, *, created_by: str | None = None) -> AppApiKey:
        """A new Service API key for the app (at most ten at a time); the token is in the result only."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            existing = await session.scalar(
                select(func.count()).select_from(ApiKey).where(ApiKey.app_id == app.id, ApiKey.type == "app")
            )
            issued = issue_api_key(ApiKeyKind.APP, existing or 0)
            row = ApiKey(
                tenant_id=self.tenant_id,
                app_id=app.id,
                type=ApiKeyKind.APP.value,
                token_hash=issued.digest,
                prefix=issued.display,
                created_by=created_by,
            )
            session.add(row)
            await session.flush()
            return AppApiKey(id=row.id, app_id=app.id, token=issued.token, display=issued.display)

    async def delete(self, app_id: str) -> None:
        """Delete the app with its versions, keys and everything recorded of it."""
        async with self.db.session() as session:
            app = await self._app(session, app_id)
            await session.execute(delete(App).where(App.id == app.id))

    # -- helpers -----------------------------------------------------------------------------------

    async def _app(self, session: AsyncSession, app_id: str) -> App:
        app = await session.scalar(select(App).where(App.id == app_id, App.tenant_id == self.tenant_id))
        if app is None:
            raise AppNotFound("app", app_id)
        return app

    def _require_graph(self, app: App, operation: str) -> None:
        if app.mode not in ("workflow", "advanced-chat"):
            raise AppModeError(app.id, app.mode, operation)

    async def _draft(self, session: AsyncSession, app: App, operation: str = "a workflow draft") -> Workflow:
        self._require_graph(app, operation)
        draft = await session.scalar(select(Workflow).where(Workflow.app_id == app.id, Workflow.version == DRAFT))
        if draft is None:
            raise AppNotFound("draft workflow of app", app.id)
        return draft


def _plain(model: Any) -> Any:
    dumped: Any = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def _version(row: Workflow, *, current: bool) -> WorkflowVersion:
    return WorkflowVersion(
        id=row.id,
        app_id=row.app_id,
        version=row.version,
        marked_name=row.marked_name,
        marked_comment=row.marked_comment,
        created_at=row.created_at,
        current=current,
    )
