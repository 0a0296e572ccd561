"""Running an app for a Service API request: the conversation and message rows around the run, the
run record, the stream of Dify events, and what is kept when the run ends.

One :class:`RunExecution` per request. :meth:`RunExecution.prepare` does everything that can still
be answered with an error status (the conversation, the inputs, the files, the engine run); then the
run goes on as a task of its own, so a streaming client that goes away does not cut it short (as in
Dify, the answer is still kept). The events that close a stream (``message_end``,
``workflow_finished``, ``error``) are sent only once the message and the run record are written, so a
client that reads its conversation as soon as the stream ends finds the answer there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update

from ...apps import RunRequest
from ...apps.annotations import AnnotationReply
from ...apps.features import ConversationNamer, FileUploadError, Moderation, ModerationError, fallback_name
from ...graph import WorkflowRun
from ...graph import events as ev
from ...runtime.extensions import ApiExtensionError, ApiExtensions
from ...store import Conversation, ConversationVariable, EndUser, Message, RunRecorder, new_id, utcnow
from ..errors import ApiError
from . import errors
from .state import ActiveTask, LoadedApp, ServiceApp, ServiceState
from .translator import EventTranslator, StreamContext
from .usage import decimal_of as _decimal

__all__ = ["RunExecution", "RunPlan"]

log = logging.getLogger(__name__)

Payload = dict[str, Any]
#: Events after which the stream ends; held back until what the run made is written.
_CLOSING = frozenset({"message_end", "workflow_finished", "error", "workflow_paused"})
_NEW_CONVERSATION_NAME = "New conversation"
#: How long a run's records may lag behind it: a short run is written once, when it ends (its
#: closing event waits for that); a long one shows its progress in the records this often.
_RECORD_FLUSH_INTERVAL = 0.25
#: Modes whose answers the moderation feature checks (FEAT-MODERATION).
_MESSAGE_MODES = frozenset({"chat", "agent-chat", "advanced-chat", "completion"})


@dataclass
class RunPlan:
    """What a generation request asks for, checked: the app, who asks, and what to run with."""

    app: ServiceApp
    loaded: LoadedApp
    end_user: EndUser
    inputs: dict[str, Any]
    query: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Chat modes: the conversation to continue ("" for a new one).
    conversation_id: str = ""
    auto_generate_name: bool = True
    streaming: bool = False
    invoke_from: str = "service-api"


class RunExecution:
    """One run of an app for one request, from the rows it needs to what it leaves behind."""

    def __init__(self, state: ServiceState, plan: RunPlan) -> None:
        self.state = state
        self.plan = plan
        self.task_id = str(uuid.uuid4())
        self.run_id = str(uuid.uuid4())
        self.message_id = str(uuid.uuid4()) if plan.app.mode != "workflow" else ""
        self.conversation_id = ""
        self.translator: EventTranslator | None = None
        self._queue: asyncio.Queue[Payload | None] = asyncio.Queue()
        self._held: list[Payload] = []
        self._thoughts: list[Payload] = []
        self._files: list[Payload] = []
        self._conversation_values: dict[str, Any] | None = None
        self._new_conversation = False
        self._started = time.perf_counter()
        self._run: WorkflowRun | None = None
        self._kernel: contextlib.ExitStack | None = None
        self._recorder: RunRecorder | None = None
        self._task: asyncio.Task[None] | None = None
        self._moderation: Moderation | None = None
        #: Input moderation answered for the app: the preset response, sent instead of running.
        self._direct_answer: str | None = None
        #: Output moderation (streaming): the answer's pieces wait here until they pass.
        self._unchecked: asyncio.Queue[Payload | None] | None = None
        self._checker: asyncio.Task[None] | None = None
        #: The answer that output moderation put in place of the model's.
        self._replaced: str | None = None
        #: Set once the Start node has checked the inputs (or the run ended without it).
        self._inputs_checked = asyncio.Event()
        #: What the Start node found wrong with the inputs (the request is then answered 400).
        self.input_error: str | None = None
        #: The lease counting this request against its app's concurrency limit (None: no limit).
        self._lease: str | None = None

    # -- before the run ----------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Write the conversation and message rows, and make the engine run; every error here is an
        :class:`ApiError` answered before any event is sent."""
        app = self.plan.app
        limit = app.max_active_requests or self.state.max_active_requests
        if limit:
            # Counted in every server process from here (a lease), so requests arriving while this
            # one prepares see it; 429 when the app is at its limit.
            self._lease = await self.state.admit(app.id, limit)
        self.state.tasks.add(ActiveTask(self.task_id, app.id, self.plan.end_user.id))
        try:
            await self._prepare()
        except BaseException:
            await self._leave()
            raise

    async def _leave(self) -> None:
        """The request is over, however it ended: its task can no longer be stopped, and it no longer
        counts against its app's limit."""
        self.state.tasks.remove(self.task_id)
        lease, self._lease = self._lease, None
        if lease is not None:
            await self.state.release(lease)

    async def _prepare(self) -> None:
        plan, app = self.plan, self.plan.app
        dialogue_count = 0
        if app.is_chat:
            dialogue_count = await self._open_conversation()
        elif app.mode == "completion":
            await self._add_message()
        created_by = {"id": plan.end_user.id, "user": plan.end_user.session_id}
        self.translator = EventTranslator(StreamContext(
            mode=app.mode,
            task_id=self.task_id,
            workflow_run_id=self.run_id,
            workflow_id=plan.loaded.workflow_id,
            message_id=self.message_id,
            conversation_id=self.conversation_id,
            created_by=created_by,
            # Dify lists the knowledge an answer drew on only when the app shows citations.
            retriever_resources=plan.loaded.app.features.retriever_resource,
        ))
        request = RunRequest(
            inputs=dict(plan.inputs),
            query=plan.query,
            files=list(plan.files),
            user_id=plan.end_user.session_id,
            conversation_id=self.conversation_id,
            dialogue_count=dialogue_count,
            conversation=self._conversation_values,
        )
        if app.mode in ("workflow", "advanced-chat"):
            self._recorder = RunRecorder(
                self.state.db,
                tenant_id=app.tenant_id,
                app_id=app.id,
                workflow_id=plan.loaded.workflow_id or None,
                version=plan.loaded.version,
                type="chat" if app.mode == "advanced-chat" else "workflow",
                triggered_from="app-run",
                created_by_role="end_user",
                created_by_end_user_id=plan.end_user.id,
                conversation_id=self.conversation_id or None,
                inputs=dict(plan.inputs),
                flush_interval=_RECORD_FLUSH_INTERVAL,
            )
        stack = contextlib.ExitStack()
        kernel = stack.enter_context(self.state.supervisor.kernel_client(tenant_id=app.tenant_id))
        try:
            await self._moderate_input(request, kernel)
            if self._direct_answer is None:
                await self._reply_from_annotations(request, kernel)
            if self._direct_answer is None:
                self._run = plan.loaded.app.new_run(
                    request, run_id=self.run_id, on_event=self._on_event, kernel=kernel
                )
        except FileUploadError as exc:
            stack.close()
            await self._abandon(str(exc))
            raise errors.INVALID_PARAM.error(str(exc), params=exc.field) from None
        except BaseException:
            stack.close()
            await self._abandon("the run could not start")
            raise
        self._kernel = stack
        if self._run is not None:
            self.state.tasks.attach(self.task_id, self._run)

    async def _reply_from_annotations(self, request: RunRequest, kernel: Any) -> None:
        """FEAT-ANNOTATION-REPLY: a query close enough to an annotated question is answered with the
        annotation's answer, and the app does not run (no model is called)."""
        app = self.plan.app
        if app.mode not in _MESSAGE_MODES or not request.query:
            return
        match = await AnnotationReply(self.state.db).match(app.tenant_id, app.id, request.query, kernel)
        if match is not None:
            self._direct_answer = match.answer

    async def _moderate_input(self, request: RunRequest, kernel: Any) -> None:
        """FEAT-MODERATION on the way in: a flagged request is answered with the preset response
        (no model is called), or goes on with the replacement inputs and query."""
        config = self.plan.loaded.app.features.moderation
        if config is None or self.plan.app.mode not in _MESSAGE_MODES:
            return
        app = self.plan.app
        extension = None
        if config.kind == "api":
            extensions = ApiExtensions(self.state.db, self.state.cipher, app.tenant_id)
            extension = extensions.caller(config.api_extension_id)
        try:
            self._moderation = Moderation(config, kernel=kernel, api_extension=extension, app_id=app.id)
            result = await self._moderation.check_input(request.inputs, request.query or "")
        except (ModerationError, ApiExtensionError) as exc:
            raise errors.APP_UNAVAILABLE.error(f"The app's moderation cannot check this request: {exc}") from None
        if not result.flagged:
            return
        if result.action == "direct_output":
            self._direct_answer = result.preset_response
            return
        request.inputs, request.query = dict(result.inputs), result.query

    async def _open_conversation(self) -> int:
        plan, app = self.plan, self.plan.app
        loaded = plan.loaded
        async with self.state.db.session() as session:
            if plan.conversation_id:
                conversation = await session.scalar(select(Conversation).where(
                    Conversation.id == plan.conversation_id,
                    Conversation.app_id == app.id,
                    Conversation.end_user_id == plan.end_user.id,
                    Conversation.is_deleted.is_(False),
                ))
                if conversation is None:
                    raise errors.CONVERSATION_NOT_EXISTS.error()
                if conversation.status != "normal":
                    raise errors.CONVERSATION_COMPLETED.error()
                # A conversation keeps the inputs it began with (as in Dify).
                plan.inputs = dict(conversation.inputs or {}) or plan.inputs
                rows = await session.scalars(
                    select(ConversationVariable).where(ConversationVariable.conversation_id == conversation.id)
                )
                values = {row.name: row.value for row in rows}
                defaults = {str(var["name"]): var.get("value") for var in loaded.conversation_variables}
                self._conversation_values = {**defaults, **values} if (values or defaults) else None
                dialogue_count = conversation.dialogue_count
            else:
                conversation = Conversation(
                    id=new_id(),  # known now, so the rows below need no flush first
                    app_id=app.id,
                    end_user_id=plan.end_user.id,
                    from_source="api",
                    invoke_from=plan.invoke_from,
                    mode=app.mode,
                    name=_NEW_CONVERSATION_NAME,
                    inputs=dict(plan.inputs),
                    workflow_id=loaded.workflow_id or None,
                )
                session.add(conversation)
                for var in loaded.conversation_variables:
                    session.add(ConversationVariable(
                        id=str(var.get("id") or uuid.uuid4()),
                        conversation_id=conversation.id,
                        app_id=app.id,
                        name=str(var["name"]),
                        value_type=str(var.get("value_type", "string")),
                        value=var.get("value"),
                        description=str(var.get("description") or ""),
                    ))
                self._new_conversation = True
                self._conversation_values = {
                    str(var["name"]): var.get("value") for var in loaded.conversation_variables
                } or None
                dialogue_count = 0
            self.conversation_id = conversation.id
            session.add(self._message_row())
        return dialogue_count

    async def _add_message(self) -> None:
        async with self.state.db.session() as session:
            session.add(self._message_row())

    def _message_row(self) -> Message:
        plan = self.plan
        return Message(
            id=self.message_id,
            app_id=plan.app.id,
            conversation_id=self.conversation_id or None,
            end_user_id=plan.end_user.id,
            invoke_from=plan.invoke_from,
            query=plan.query or "",
            inputs=dict(plan.inputs),
            files=[{**f, "belongs_to": "user"} for f in plan.files],
            status="normal",
        )

    async def _abandon(self, error: str) -> None:
        """The run never started: the message row says so (it is not left looking unanswered)."""
        if not self.message_id:
            return
        async with self.state.db.session() as session:
            await session.execute(
                update(Message).where(Message.id == self.message_id).values(status="error", error=error)
            )

    # -- the run -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a task of its own (kept by the state until it ends)."""
        loop = asyncio.get_running_loop()
        moderation = self._moderation
        if self.plan.streaming and moderation is not None and moderation.config.outputs.enabled:
            self._unchecked = asyncio.Queue()
            self._checker = loop.create_task(self._check_output_stream(moderation, self._unchecked))
        self._task = self.state.run_later(self._drive())

    def _on_event(self, event: ev.Event) -> None:
        if self._recorder is not None:
            self._recorder.on_event(event)
        if not self._inputs_checked.is_set():
            self._watch_inputs(event)
        assert self.translator is not None
        for payload in self.translator.translate(event):
            name = payload["event"]
            if name == "agent_thought":
                self._thoughts.append(payload)
            if name in _CLOSING:
                self._held.append(payload)
            elif not self.plan.streaming:
                continue
            elif self._unchecked is not None and name in ("message", "agent_message"):
                self._unchecked.put_nowait(payload)
            else:
                self._queue.put_nowait(payload)

    def _watch_inputs(self, event: ev.Event) -> None:
        match event:
            case ev.NodeFailed(node_type="start", scope=None, error_type="InvalidInputs"):
                self.input_error = event.error
                self._inputs_checked.set()
            case ev.NodeSucceeded(node_type="start", scope=None) | ev.NodeFailed(node_type="start", scope=None):
                self._inputs_checked.set()
            case ev.RunSucceeded() | ev.RunFailed() | ev.RunStopped() | ev.RunPaused():
                self._inputs_checked.set()

    async def inputs_checked(self) -> None:
        """Wait until the Start node has checked the inputs; ``invalid_param`` (400) if they are wrong.

        The Start node is where a DSL's input fields are checked (it is a plugin, the kernel does
        not know its rules), so a stream is opened only once it has passed: bad inputs are answered
        with an error status, as Dify answers them, not with an event in a 200 stream.
        """
        await self._inputs_checked.wait()
        if self.input_error is not None:
            raise errors.INVALID_PARAM.error(self.input_error, params="inputs")

    async def _check_output_stream(self, moderation: Moderation, unchecked: asyncio.Queue[Payload | None]) -> None:
        """FEAT-MODERATION on the way out, streaming: the answer's pieces go on once they pass; a
        flagged answer is replaced (``message_replace``) and the rest of it is dropped."""
        last: Payload = {}
        ended = False

        async def pieces() -> AsyncIterator[str]:
            nonlocal last, ended
            while (payload := await unchecked.get()) is not None:
                last = payload
                yield str(payload.get("answer", ""))
            ended = True

        assert self.translator is not None
        async for piece in moderation.moderate_stream(pieces()):
            if piece.replace:
                self._replaced = piece.text
                self._queue.put_nowait(self.translator.message_replace(piece.text))
                while not ended and await unchecked.get() is not None:
                    pass
                return
            self._queue.put_nowait({**last, "answer": piece.text})

    async def _drive(self) -> None:
        assert self._kernel is not None and self.translator is not None
        failure: BaseException | None = None
        try:
            try:
                if self._run is None:
                    self._answer_directly(self._direct_answer or "")
                elif self._recorder is not None:
                    async with self._recorder:
                        await self._run.run()
                else:
                    await self._run.run()
                await self._check_output()
                await self._speak()
            finally:
                try:
                    self._kernel.close()
                finally:
                    await self._leave()
            await self._finish()
        except Exception as exc:  # the store or a bug; the client still hears of it
            log.exception("run %s of app %s failed outside the engine", self.run_id, self.plan.app.id)
            failure = exc
        finally:
            if failure is not None:
                envelope = errors.INTERNAL_SERVER_ERROR.body(f"The run could not be completed: {failure}")
                self._held = [payload for payload in self._held if payload["event"] != "message_end"]
                self._held.append(self.translator.error_event(envelope))
                if not self.translator.finished:
                    self.translator.run.status = "failed"
                    self.translator.run.error = str(failure)
                    self.translator.run.error_type = "InternalServerError"
            self._inputs_checked.set()
            for payload in self._held:
                if self.plan.streaming:
                    self._queue.put_nowait(payload)
            self._queue.put_nowait(None)
            # The engine run holds this execution's event sink: letting go of it leaves no reference
            # cycle, so both go by reference counting rather than at a full garbage collection.
            self._run = None

    def _answer_directly(self, answer: str) -> None:
        """Answer without running the app (moderation's preset response): the answer, then the end
        of the message; a chatflow sends no workflow events, as no workflow ran."""
        self._recorder = None
        self._on_event(ev.StreamChunk(run_id=self.run_id, text=answer))
        self._on_event(ev.RunSucceeded(run_id=self.run_id))
        self._held = [payload for payload in self._held if payload["event"] != "workflow_finished"]

    async def _check_output(self) -> None:
        """Let the output check finish (streaming), or check the whole answer (blocking)."""
        if self._unchecked is not None and self._checker is not None:
            self._unchecked.put_nowait(None)
            await self._checker
            return
        moderation, translator = self._moderation, self.translator
        if moderation is None or not moderation.config.outputs.enabled or translator is None or self._run is None:
            return
        result = await moderation.check_output(translator.answer)
        if result.flagged:
            self._replaced = result.replacement
            translator.message_replace(result.replacement)

    async def _speak(self) -> None:
        """FEAT-TTS with auto-play: the answer read aloud by the workspace's default TTS model, sent as
        ``tts_message`` chunks and a ``tts_message_end`` (streaming only; no default model: no audio)."""
        speech = self.plan.loaded.app.features.text_to_speech
        translator = self.translator
        if (
            not self.plan.streaming or translator is None or not speech.get("enabled")
            or speech.get("autoPlay") != "enabled" or self.plan.app.mode == "workflow"
        ):
            return
        answer = self._replaced if self._replaced is not None else translator.answer
        if not answer.strip() or translator.run.status == "failed":
            return
        with self.state.supervisor.kernel_client(tenant_id=self.plan.app.tenant_id) as kernel:
            try:
                model = await kernel.adefault_model("tts")
                if model is None:
                    return
                async for chunk in kernel.ainvoke_tts(model[0], model[1], answer, voice=str(speech.get("voice") or "")):
                    self._queue.put_nowait(translator.tts_message(chunk.audio))
            except Exception:  # the answer stands without its audio
                log.warning("text to speech of message %s failed", self.message_id, exc_info=True)
        self._queue.put_nowait(translator.tts_message_end())

    async def _finish(self) -> None:
        """Keep what the run made: the message's answer and usage, the conversation's state."""
        if not self.message_id:
            return
        if self.input_error is not None:
            await self._forget_refused()
            return
        translator = self.translator
        assert translator is not None
        usage = translator.usage.as_dict()
        failed = translator.run.status == "failed"
        values: dict[str, Any] = {
            "answer": self._replaced if self._replaced is not None else translator.answer,
            "message_tokens": int(usage["prompt_tokens"]),
            "answer_tokens": int(usage["completion_tokens"]),
            "message_unit_price": _decimal(usage["prompt_unit_price"]),
            "answer_unit_price": _decimal(usage["completion_unit_price"]),
            "price_unit": _decimal(usage["prompt_price_unit"]) or Decimal("0.001"),
            "total_price": _decimal(usage["total_price"]),
            "currency": str(usage["currency"]),
            "latency": time.perf_counter() - self._started,
            "status": "error" if failed else "normal",
            "error": translator.run.error if failed else None,
            "agent_thoughts": [_thought_record(p, self.message_id) for p in self._thoughts],
            "retriever_resources": list(translator.retriever_resources),
            "updated_at": utcnow(),
        }
        if self.plan.app.mode == "advanced-chat":
            values["workflow_run_id"] = self.run_id
        # Plain UPDATEs: the session holds no objects of these rows to bring up to date (the ORM's
        # default would look for them, which cost more than the statements).
        plain = {"synchronize_session": False}
        async with self.state.db.session() as session:
            await session.execute(
                update(Message).where(Message.id == self.message_id).values(**values), execution_options=plain
            )
            if self.conversation_id:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == self.conversation_id)
                    .values(dialogue_count=Conversation.dialogue_count + 1, updated_at=utcnow()),
                    execution_options=plain,
                )
                await self._save_conversation_variables(session)
        if self._new_conversation and self.plan.auto_generate_name and self.plan.query:
            self.state.run_later(self._name_conversation(self.plan.query))

    async def _name_conversation(self, query: str) -> None:
        """Name a new conversation after its first message (FEAT-AUTONAME), after the answer is sent."""
        try:
            with self.state.supervisor.kernel_client(tenant_id=self.plan.app.tenant_id) as kernel:
                name = await ConversationNamer(kernel).name(query)
        except Exception:  # naming is a nicety: a failing system model leaves the first words
            log.warning("naming conversation %s failed", self.conversation_id, exc_info=True)
            name = fallback_name(query)
        async with self.state.db.session() as session:
            await session.execute(
                update(Conversation).where(Conversation.id == self.conversation_id).values(name=name)
            )

    async def _forget_refused(self) -> None:
        """The request was answered 400 for its inputs: the message (and a conversation it would
        have begun) never existed for the client, so they are not kept."""
        async with self.state.db.session() as session:
            if self._new_conversation:
                await session.execute(delete(Conversation).where(Conversation.id == self.conversation_id))
            await session.execute(delete(Message).where(Message.id == self.message_id))

    async def _save_conversation_variables(self, session: Any) -> None:
        values = self._conversation_values  # the run assigned into this dict
        if not values:
            return
        for name, value in values.items():
            await session.execute(
                update(ConversationVariable)
                .where(ConversationVariable.conversation_id == self.conversation_id, ConversationVariable.name == name)
                .values(value=value, updated_at=utcnow())
            )

    # -- answering ---------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Payload]:
        """The run's Dify events as they come, up to the closing ones."""
        while (payload := await self._queue.get()) is not None:
            yield payload

    async def wait(self) -> EventTranslator:
        """The run's end (blocking mode): its translator, holding the body to answer with."""
        assert self._task is not None and self.translator is not None
        await asyncio.shield(self._task)
        return self.translator

    def blocking_response(self) -> Payload:
        """The blocking body (raises the :class:`ApiError` a failed message run answers with)."""
        assert self.translator is not None
        for payload in self._held:
            if payload["event"] == "error" and payload.get("code") == "internal_server_error":
                raise ApiError(500, "internal_server_error", str(payload.get("message", "")))
        return self.translator.blocking_response()


def _thought_record(payload: Mapping[str, Any], message_id: str) -> dict[str, Any]:
    keys: Sequence[str] = ("id", "position", "thought", "observation", "tool", "tool_labels", "tool_input")
    record = {key: payload.get(key) for key in keys}
    record.update(
        message_id=message_id,
        chain_id=None,
        files=list(payload.get("message_files") or []),
        created_at=payload.get("created_at"),
    )
    return record

