"""What the Service API routes share: the database, the plugins, the compiled apps, the running tasks,
and the authentication of an app key (API-COMMON-AUTH).

An app key selects one app; every lookup a route makes is scoped by that app's id (and, for what end
users own, by the end user), so a key of one workspace never reaches another workspace's records.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.requests import Request

from ...apps import App as RunnableApp
from ...graph.dsl import AppDSL
from ...runtime import AppManager
from ...store import DRAFT, App, Database, EndUser, SqlApiKeyRecords, Workflow, get_or_create_end_user
from ...tenancy import ApiKeyKind, InvalidApiKey, SecretCipher, authenticate_api_key, bearer_token
from ...tenancy.api_keys import api_key_digest
from ..errors import ApiError
from . import errors

if TYPE_CHECKING:
    from ...files import FileService
    from ...graph import WorkflowRun
    from ...plugins import PluginSupervisor
    from ...plugins.node_factory import PluginNodeFactory

__all__ = ["ActiveTask", "LoadedApp", "ServiceApp", "ServiceState", "TaskRegistry", "service_state"]

#: Compiled apps kept in memory, least recently used dropped first.
_APP_CACHE_SIZE = 256
#: How long an authenticated key is trusted before it is looked up again (a deleted key stops working
#: within this time; a disabled app within the same).
_KEY_TTL = 5.0
_END_USER_CACHE_SIZE = 16384


@dataclass(frozen=True, slots=True)
class ServiceApp:
    """The app an app key opens, as the routes see it (a snapshot of its row)."""

    id: str
    tenant_id: str
    mode: str
    name: str
    description: str
    workflow_id: str | None
    model_config: Mapping[str, Any]
    site: Mapping[str, Any]
    icon_type: str
    icon: str
    icon_background: str
    enable_api: bool
    status: str
    updated_at: datetime
    created_by: str | None
    #: Requests of this app that may run at once (0: the server's default).
    max_active_requests: int = 0

    @classmethod
    def of(cls, row: App) -> ServiceApp:
        return cls(
            id=row.id, tenant_id=row.tenant_id, mode=row.mode, name=row.name, description=row.description,
            workflow_id=row.workflow_id, model_config=dict(row.model_config or {}), site=dict(row.site or {}),
            icon_type=row.icon_type, icon=row.icon, icon_background=row.icon_background,
            enable_api=row.enable_api, status=row.status, updated_at=row.updated_at, created_by=row.created_by,
            max_active_requests=row.max_active_requests or 0,
        )

    @property
    def is_chat(self) -> bool:
        """Chat, agent-chat and advanced-chat apps: runs are turns of a conversation."""
        return self.mode in ("chat", "agent-chat", "advanced-chat")


@dataclass(frozen=True, slots=True)
class LoadedApp:
    """An app compiled for running: the runnable app and the version it runs."""

    app: RunnableApp
    dsl: AppDSL
    #: The published workflow version (workflow and advanced-chat apps); "" for model_config apps.
    workflow_id: str
    #: The version's name as runs record it (``version`` of the run record).
    version: str

    @property
    def conversation_variables(self) -> list[dict[str, Any]]:
        """The DSL's conversation variable declarations (id, name, value_type, value, description)."""
        if self.dsl.workflow is None:
            return []
        return [var.model_dump() for var in self.dsl.workflow.conversation_variables]


@dataclass(slots=True)
class ActiveTask:
    """A run under way that a stop endpoint may stop."""

    task_id: str
    app_id: str
    end_user_id: str
    run: WorkflowRun | None = None
    stop_requested: bool = False


class TaskRegistry:
    """The runs under way in this process, by task id (API-CHAT-STOP, API-COMPL-STOP, API-WF-STOP)."""

    def __init__(self) -> None:
        self._tasks: dict[str, ActiveTask] = {}

    def add(self, task: ActiveTask) -> None:
        self._tasks[task.task_id] = task

    def attach(self, task_id: str, run: WorkflowRun) -> None:
        """The engine run of ``task_id`` has started; a stop asked for before now applies at once."""
        task = self._tasks.get(task_id)
        if task is None:
            return
        task.run = run
        if task.stop_requested:
            run.stop("stopped by the user")

    def remove(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)

    def active(self, app_id: str) -> int:
        """How many of the app's requests are under way."""
        return sum(1 for task in self._tasks.values() if task.app_id == app_id)

    def stop(self, task_id: str, *, app_id: str, end_user_id: str) -> bool:
        """Stop the task if it is this app's and this end user's; whether one was stopped.

        Another app's or another user's task is left alone and answered like an unknown one, so a
        stop call tells nothing about tasks that are not the caller's.
        """
        task = self._tasks.get(task_id)
        if task is None or task.app_id != app_id or task.end_user_id != end_user_id:
            return False
        task.stop_requested = True
        if task.run is not None:
            task.run.stop("stopped by the user")
        return True

    def stop_all(self, reason: str) -> None:
        """Stop every task (the server is shutting down)."""
        for task in self._tasks.values():
            task.stop_requested = True
            if task.run is not None:
                task.run.stop(reason)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[str]:
        """The ids of the tasks under way."""
        return iter(list(self._tasks))


@dataclass
class _CachedKey:
    app: ServiceApp
    until: float


@dataclass
class ServiceState:
    """Everything the Service API routes share, made once by the server application."""

    db: Database
    supervisor: PluginSupervisor
    cipher: SecretCipher
    factory: PluginNodeFactory
    #: Uploads and file values (None: this server keeps no files; local_file inputs are refused).
    files: FileService | None = None
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    #: Requests one app may run at once unless the app says otherwise; 0: no limit
    #: (APP_MAX_ACTIVE_REQUESTS, ``[server] app_max_active_requests``).
    max_active_requests: int = 0
    #: Background work the routes started and must not lose (runs whose client went away).
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Keys recently authenticated, by digest.
    _keys: dict[str, _CachedKey] = field(default_factory=dict)
    _apps: OrderedDict[tuple[str, str, str], LoadedApp] = field(default_factory=OrderedDict)
    _records: SqlApiKeyRecords | None = None
    #: End users recently seen, by (app id, user): every run request names one.
    _end_users: OrderedDict[tuple[str, str | None], EndUser] = field(default_factory=OrderedDict)
    #: Key lookups under way, by digest.
    _key_loads: dict[str, asyncio.Task[ServiceApp]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._records = SqlApiKeyRecords(self.db)

    def run_later(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in the background, kept until it ends (the server waits for it on shutdown)."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    # -- authentication ----------------------------------------------------------------------------

    async def authenticate(self, request: Request) -> ServiceApp:
        """The app whose key the request carries; 401 ``unauthorized`` when there is none or it is
        not a valid app key, 400 ``app_unavailable`` when its app is switched off."""
        try:
            token = bearer_token(request.headers.get("authorization"))
        except InvalidApiKey as exc:
            raise ApiError(401, "unauthorized", str(exc)) from None
        digest = api_key_digest(token)
        cached = self._keys.get(digest)
        if cached is not None and cached.until > time.monotonic():
            app = cached.app
        else:
            # One lookup per key at a time: when a busy key's entry runs out, the requests that find
            # it gone wait for the one lookup instead of each querying the database at once.
            loading = self._key_loads.get(digest)
            if loading is None:
                loading = self._key_loads[digest] = asyncio.get_running_loop().create_task(self._look_up(token, digest))
                loading.add_done_callback(functools.partial(self._key_looked_up, digest))
            app = await asyncio.shield(loading)
        if not app.enable_api or app.status != "normal":
            raise errors.APP_UNAVAILABLE.error("The app's Service API is disabled.")
        return app

    async def _look_up(self, token: str, digest: str) -> ServiceApp:
        assert self._records is not None
        try:
            key = await authenticate_api_key(token, self._records, kind=ApiKeyKind.APP)
        except InvalidApiKey as exc:
            raise ApiError(401, "unauthorized", str(exc)) from None
        async with self.db.session() as session:
            row = await session.scalar(select(App).where(App.id == key.resource_id, App.tenant_id == key.tenant_id))
        if row is None:
            raise ApiError(401, "unauthorized", "Access token is invalid: its app no longer exists")
        app = ServiceApp.of(row)
        if len(self._keys) > 4096:
            self._keys.clear()
        self._keys[digest] = _CachedKey(app, time.monotonic() + _KEY_TTL)
        return app

    def _key_looked_up(self, digest: str, task: asyncio.Task[ServiceApp]) -> None:
        self._key_loads.pop(digest, None)
        if not task.cancelled():
            task.exception()  # heard by whoever waited; not "never retrieved" when they all went away

    def forget_app(self, app_id: str) -> None:
        """Drop what is cached of ``app_id`` (its keys and compiled versions), after it changed."""
        self._keys = {digest: key for digest, key in self._keys.items() if key.app.id != app_id}
        for cache_key in [k for k in self._apps if k[0] == app_id]:
            del self._apps[cache_key]
        for user_key in [k for k in self._end_users if k[0] == app_id]:
            del self._end_users[user_key]

    # -- end users ---------------------------------------------------------------------------------

    async def end_user(self, app: ServiceApp, user: str | None) -> EndUser:
        """The end user ``user`` of the app, made on first sight (API-COMMON-USER).

        Every run request names one, so the users found are kept (the most recent
        ``_END_USER_CACHE_SIZE``): an end user's row never changes once made and goes only with its
        app (:meth:`forget_app`). The row returned is detached: callers read it and never change it.
        """
        cache_key = (app.id, user if isinstance(user, str) else None)
        cached = self._end_users.get(cache_key) if cache_key[1] == user else None
        if cached is not None:
            self._end_users.move_to_end(cache_key)
            return cached
        try:
            async with self.db.session() as session:
                found = await get_or_create_end_user(session, app.id, app.tenant_id, user)
        except ValueError as exc:
            raise errors.INVALID_PARAM.error(str(exc), params="user") from None
        self._end_users[cache_key] = found
        while len(self._end_users) > _END_USER_CACHE_SIZE:
            self._end_users.popitem(last=False)
        return found

    # -- compiled apps -----------------------------------------------------------------------------

    async def load(self, app: ServiceApp, workflow_id: str | None = None) -> LoadedApp:
        """The app compiled for running: its published version in force, or the published version
        ``workflow_id`` (workflow and advanced-chat apps)."""
        graph_app = app.mode in ("workflow", "advanced-chat")
        if not graph_app:
            marker = app.updated_at.isoformat()
        else:
            chosen = workflow_id or app.workflow_id
            if not chosen:
                raise errors.APP_UNAVAILABLE.error(
                    "The app has no published version: publish it first (treadle app publish APP_ID)."
                )
            marker = chosen
        cache_key = (app.id, marker, workflow_id or "")
        loaded = self._apps.get(cache_key)
        if loaded is not None:
            self._apps.move_to_end(cache_key)
            return loaded
        loaded = await self._compile(app, workflow_id)
        self._apps[cache_key] = loaded
        while len(self._apps) > _APP_CACHE_SIZE:
            self._apps.popitem(last=False)
        return loaded

    async def _compile(self, app: ServiceApp, workflow_id: str | None) -> LoadedApp:
        manager = AppManager(self.db, self.cipher, app.tenant_id, factory=self.factory)
        async with self.db.session() as session:
            row = await session.scalar(select(App).where(App.id == app.id, App.tenant_id == app.tenant_id))
            if row is None:
                raise errors.APP_UNAVAILABLE.error("The app no longer exists.")
            version: Workflow | None = None
            if app.mode in ("workflow", "advanced-chat"):
                chosen = workflow_id or row.workflow_id
                version = await session.scalar(
                    select(Workflow).where(Workflow.id == chosen, Workflow.app_id == app.id)
                )
                if version is None:
                    raise errors.NOT_FOUND.error(f"Workflow not found with id: {chosen}")
                if version.version == DRAFT:
                    raise errors.BAD_REQUEST.error(
                        "Cannot use draft workflow version. Workflow ID must be a published workflow version ID."
                    )
        dsl = manager.runnable_dsl(row, version)
        try:
            runnable = RunnableApp.from_dsl(dsl, self.factory, app_id=app.id)
        except Exception as exc:  # a version that compiled when published, but not with today's plugins
            raise errors.APP_UNAVAILABLE.error(f"The app cannot run with the installed plugins: {exc}") from None
        if version is not None:
            runnable.workflow_id = version.id  # type: ignore[attr-defined]
        return LoadedApp(
            app=runnable, dsl=dsl, workflow_id=version.id if version is not None else "",
            version=version.version if version is not None else DRAFT,
        )


def service_state(request: Request) -> ServiceState:
    """The Service API's shared state, as the server application keeps it."""
    state: ServiceState = request.app.state.service
    return state
