"""What the Service API routes share: the database, the plugins, the compiled apps, the running tasks,
and the authentication of an app key (API-COMMON-AUTH).

An app key selects one app; every lookup a route makes is scoped by that app's id (and, for what end
users own, by the end user), so a key of one workspace never reaches another workspace's records.

Several server processes (workers, or servers on one PostgreSQL) may serve one database, and a request
may land on any of them. So what must hold across them goes through the database
(:mod:`treadle.store.coordination`): a stop asked of a task another process runs is recorded for that
process to pick up (:class:`TaskRegistry`), and an app's concurrency limit is counted in leases
(:meth:`ServiceState.admit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.requests import Request

from ...apps import App as RunnableApp
from ...graph.dsl import AppDSL
from ...runtime import AppManager
from ...store import (
    DRAFT,
    ActiveRequest,
    App,
    Database,
    EndUser,
    RunStopRequest,
    SqlApiKeyRecords,
    Workflow,
    get_or_create_end_user,
    new_id,
    utcnow,
)
from ...tenancy import ApiKeyKind, InvalidApiKey, SecretCipher, authenticate_api_key, bearer_token
from ...tenancy.api_keys import api_key_digest
from ..errors import ApiError
from . import errors

if TYPE_CHECKING:
    from ...files import FileService
    from ...graph import WorkflowRun
    from ...knowledge.runtime import KnowledgeRuntime
    from ...plugins import PluginSupervisor
    from ...plugins.node_factory import PluginNodeFactory

__all__ = ["ActiveTask", "LoadedApp", "ServiceApp", "ServiceState", "TaskRegistry", "service_state"]

#: Compiled apps kept in memory, least recently used dropped first.
_APP_CACHE_SIZE = 256
#: How long an authenticated key is trusted before it is looked up again (a deleted key stops working
#: within this time; a disabled app within the same).
_KEY_TTL = 5.0
_END_USER_CACHE_SIZE = 16384
#: How often a process with runs under way looks for stops other processes recorded for them (seconds).
STOP_POLL_INTERVAL = 0.25
#: How long a stop request no process claimed (its task ended, or was never anyone's) is kept.
STOP_REQUEST_TTL = timedelta(minutes=10)
#: How often a process that polls deletes the stop requests older than ``STOP_REQUEST_TTL`` (seconds).
_STOP_SWEEP_INTERVAL = 60.0
#: Task ids asked about in one query (databases cap the parameters of a statement).
_STOP_QUERY_BATCH = 2000
#: How long a request counts against its app's limit if its process never releases it (Dify's rate
#: limit keeps a request 10 minutes).
LEASE_TTL = timedelta(minutes=10)

log = logging.getLogger(__name__)


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
    """The runs under way in this process, by task id (API-CHAT-STOP, API-COMPL-STOP, API-WF-STOP).

    A stop call may reach any server process. A task of this process is stopped at once; a stop of
    any other task is recorded in ``run_stop_requests`` (:meth:`request_stop`). While this process has
    tasks under way, one poller looks for the requests naming them every ``STOP_POLL_INTERVAL``, applies
    them as :meth:`stop` does (a request of another app or end user is ignored) and deletes them. The
    poller starts with the first task and ends when there are none, so an idle process does not poll;
    a run shorter than the interval is never looked up at all.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, ActiveTask] = {}
        self._db: Database | None = None
        self._spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]] | None = None
        self._poller: asyncio.Task[Any] | None = None
        #: Set when the poller should look at once whether it is still needed (no tasks, shut down).
        self._wake = asyncio.Event()
        self._closed = False
        self._swept = 0.0

    def connect(self, db: Database, spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]) -> None:
        """Share stops with other processes through ``db``; ``spawn`` runs the poller (the server's
        background work, so shutting down waits for it). Unconnected, the registry is this process's only."""
        self._db = db
        self._spawn = spawn

    def add(self, task: ActiveTask) -> None:
        self._tasks[task.task_id] = task
        if self._poller is None and self._db is not None and self._spawn is not None and not self._closed:
            self._wake.clear()
            self._poller = self._spawn(self._poll())

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
        if not self._tasks:
            self._wake.set()

    def active(self, app_id: str) -> int:
        """How many of the app's requests are under way in this process."""
        return sum(1 for task in self._tasks.values() if task.app_id == app_id)

    def stop(self, task_id: str, *, app_id: str, end_user_id: str) -> bool:
        """Stop the task of this process if it is this app's and this end user's; whether one was stopped.

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

    async def request_stop(self, task_id: str, *, app_id: str, end_user_id: str) -> None:
        """Stop the task wherever it runs: at once if it is this process's (no database), else by a
        stop request the process running it picks up. Nothing is said of whether the task exists or
        is the caller's; a second request for a task before the first is picked up is dropped."""
        if task_id in self._tasks:
            self.stop(task_id, app_id=app_id, end_user_id=end_user_id)
            return
        if self._db is None or not _is_task_id(task_id):
            return  # no other process to tell, or no task of any process has such an id
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(RunStopRequest)
            .values(task_id=task_id, app_id=app_id, end_user_id=end_user_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[RunStopRequest.task_id])
        )
        async with self._db.session() as session:
            await session.execute(statement)

    def stop_all(self, reason: str) -> None:
        """Stop every task (the server is shutting down); no more stop requests are looked for."""
        self._closed = True
        self._wake.set()
        for task in self._tasks.values():
            task.stop_requested = True
            if task.run is not None:
                task.run.stop(reason)

    async def _poll(self) -> None:
        """Apply the stop requests naming this process's tasks, every ``STOP_POLL_INTERVAL`` while
        there are any; a database error is logged and the next round tries again."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(STOP_POLL_INTERVAL):
                        await self._wake.wait()
                if not self._tasks or self._closed:
                    return
                self._wake.clear()
                try:
                    await self.check_stop_requests()
                except Exception:
                    log.warning(
                        "looking up stop requests for %d runs failed; trying again", len(self._tasks), exc_info=True
                    )
        finally:
            self._poller = None

    async def check_stop_requests(self) -> None:
        """Apply now the stop requests naming this process's tasks (the poller does this every
        ``STOP_POLL_INTERVAL``): each is deleted, then its task stopped if the request is its app's
        and its end user's, ignored otherwise (it was answered all the same). Once a minute the
        requests older than ``STOP_REQUEST_TTL``, which no process claimed, are deleted too."""
        if self._db is None or not self._tasks:
            return
        ids = list(self._tasks)
        sweep = time.monotonic() - self._swept >= _STOP_SWEEP_INTERVAL
        found: list[RunStopRequest] = []
        async with self._db.session() as session:
            for start in range(0, len(ids), _STOP_QUERY_BATCH):
                batch = ids[start : start + _STOP_QUERY_BATCH]
                found.extend(await session.scalars(select(RunStopRequest).where(RunStopRequest.task_id.in_(batch))))
            if found:
                handled = [asked.task_id for asked in found]
                await session.execute(delete(RunStopRequest).where(RunStopRequest.task_id.in_(handled)))
            if sweep:
                cutoff = utcnow() - STOP_REQUEST_TTL
                await session.execute(delete(RunStopRequest).where(RunStopRequest.created_at < cutoff))
        if sweep:
            self._swept = time.monotonic()
        # Applied once they are gone, so a request is never applied twice nor left behind once applied.
        for asked in found:
            self.stop(asked.task_id, app_id=asked.app_id, end_user_id=asked.end_user_id or "")

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[str]:
        """The ids of the tasks under way."""
        return iter(list(self._tasks))


def _is_task_id(value: str) -> bool:
    """Whether ``value`` has the shape of a task id (a UUID as 36 characters)."""
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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
    #: Knowledge bases: indexing, vectors and retrieval (None: this server keeps none).
    knowledge: KnowledgeRuntime | None = None
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
        self.tasks.connect(self.db, self.run_later)

    def run_later(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in the background, kept until it ends (the server waits for it on shutdown)."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    # -- the concurrency limit ---------------------------------------------------------------------

    async def admit(self, app_id: str, limit: int) -> str:
        """Count a request of ``app_id`` against its limit of ``limit`` at once, in every process:
        the id of the lease it holds until :meth:`release`, or 429 ``too_many_requests`` when the app
        has ``limit`` requests under way (APP_MAX_ACTIVE_REQUESTS).

        One transaction per admission, serialized per app: on PostgreSQL by locking the app's row; on
        SQLite by the first statement being a write (deleting the app's expired leases), which takes the
        database's one write lock before anything is counted. A lease its process never released (the
        process died) stops counting at its ``expires_at``.
        """
        now = utcnow()
        async with self.db.session() as session:
            if self.db.dialect == "postgresql":
                # FOR NO KEY UPDATE: admissions of the app wait for each other, while the inserts whose
                # foreign keys name the app (messages, runs) do not wait for them.
                await session.execute(select(App.id).where(App.id == app_id).with_for_update(key_share=True))
            await session.execute(
                delete(ActiveRequest).where(ActiveRequest.app_id == app_id, ActiveRequest.expires_at <= now)
            )
            under_way = await session.scalar(
                select(func.count()).select_from(ActiveRequest).where(ActiveRequest.app_id == app_id)
            )
            refused = (under_way or 0) >= limit
            if not refused:
                lease = ActiveRequest(id=new_id(), app_id=app_id, expires_at=now + LEASE_TTL)
                session.add(lease)
        if refused:
            raise errors.TOO_MANY_REQUESTS.error(
                f"Too many requests. The app runs at most {limit} requests at once; please try again later."
            )
        return lease.id

    async def release(self, lease_id: str) -> None:
        """The request holding lease ``lease_id`` has ended: it no longer counts against its app's
        limit. A database error is logged; the lease then counts until it expires."""
        try:
            async with self.db.session() as session:
                await session.execute(delete(ActiveRequest).where(ActiveRequest.id == lease_id))
        except Exception:
            log.warning("releasing active request lease %s failed; it counts until it expires", lease_id, exc_info=True)

    # -- authentication ----------------------------------------------------------------------------

    async def authenticate(self, request: Request) -> ServiceApp:
        """The app whose key the request carries; 401 ``unauthorized`` when there is none or it is
        not a valid app key, 400 ``app_unavailable`` when its app is switched off."""
        try:
            token = bearer_token(request.headers.get("authorization"))
        except InvalidApiKey as exc:
            raise ApiError(401, "unauthorized", str(exc)) from None
        app = await self.app_of_key(token)
        if not app.enable_api or app.status != "normal":
            raise errors.APP_UNAVAILABLE.error("The app's Service API is disabled.")
        return app

    async def app_of_key(self, token: str) -> ServiceApp:
        """The app the app key ``token`` opens, whether or not its Service API is switched on;
        401 ``unauthorized`` when it is not a valid app key. Looked up once per ``_KEY_TTL``."""
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
