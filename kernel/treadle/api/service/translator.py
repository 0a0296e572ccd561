"""From the engine's typed events to the Service API's SSE events, one run at a time (API-SSE-*).

An :class:`EventTranslator` is made per run with the app context (:class:`StreamContext`: mode, task,
message, conversation, run ids). :meth:`EventTranslator.translate` takes each engine event and returns
the Dify events it becomes, as JSON-ready dicts, with the base fields each app mode puts on every event:

- workflow apps: ``task_id`` and ``workflow_run_id``;
- chatflows (advanced-chat): ``conversation_id``, ``message_id``, ``created_at``, ``task_id``, and
  ``workflow_run_id`` on workflow and node events (not on ``agent_log`` or the reply events);
- chat and agent-chat: ``conversation_id``, ``message_id``, ``created_at``, ``task_id``;
- completion: as chat, without ``conversation_id``.

``error`` events carry no ``task_id``. Chat, agent-chat and completion apps run on the same engine, but
their streams hold only the reply events (``message`` / ``agent_message``, ``agent_thought``,
``message_end``), as Dify's do. After the run's last event, :meth:`EventTranslator.blocking_response`
gives the blocking-mode body of the app's mode.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...graph import events as ev
from ...store.types import new_id
from ..errors import ApiError
from .errors import error_for_run_failure
from .usage import UsageTotal

__all__ = ["APP_MODES", "EventTranslator", "StreamContext"]

APP_MODES = frozenset({"workflow", "advanced-chat", "chat", "agent-chat", "completion"})
_WORKFLOW_MODES = frozenset({"workflow", "advanced-chat"})
_MESSAGE_MODES = frozenset({"advanced-chat", "chat", "agent-chat", "completion"})
_CONTAINERS = frozenset({"iteration", "loop"})

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StreamContext:
    """What the app layer knows of a run that the engine's events do not say."""

    #: The app's mode: workflow, advanced-chat, chat, agent-chat or completion.
    mode: str
    #: The id the stop endpoints take.
    task_id: str
    #: The run record's id; empty: the engine's run id.
    workflow_run_id: str = ""
    #: The (published) workflow version that runs.
    workflow_id: str = ""
    #: Message apps: the message this run answers.
    message_id: str = ""
    #: Chat apps: the conversation the message belongs to.
    conversation_id: str = ""
    #: Unix seconds the message was created (message apps' ``created_at`` on every event); None: now.
    created_at: int | None = None
    #: ``created_by`` of ``workflow_finished`` (the end user or account that ran it).
    created_by: Mapping[str, Any] | None = None
    #: Whether ``message_end`` lists the knowledge the answer drew on (the app's ``retriever_resource``).
    retriever_resources: bool = True
    clock: Callable[[], float] = time.time
    new_id: Callable[[], str] = new_id

    def __post_init__(self) -> None:
        if self.mode not in APP_MODES:
            raise ValueError(f"app mode must be one of {', '.join(sorted(APP_MODES))}, not {self.mode!r}")
        if not self.task_id:
            raise ValueError("a stream needs a task_id")
        if self.mode in _MESSAGE_MODES and not self.message_id:
            raise ValueError(f"a {self.mode} app's stream needs the message_id it answers")
        if self.mode in {"chat", "agent-chat", "advanced-chat"} and not self.conversation_id:
            raise ValueError(f"a {self.mode} app's stream needs its conversation_id")


@dataclass(slots=True)
class _Execution:
    id: str
    node_id: str
    node_type: str
    title: str
    index: int
    created_at: int
    scope: tuple[str, int] | None
    #: Containers: the container this one runs in, the rounds begun, and the tokens spent inside.
    parent: str | None = None
    steps: int = 0
    tokens: int = 0


@dataclass(slots=True)
class _RunState:
    status: str = "running"
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str = ""
    elapsed: float = 0.0
    steps: int = 0
    created_at: int = 0
    finished_at: int | None = None


class EventTranslator:
    """Turns one run's engine events into Dify's SSE events, and keeps what the closing events and the
    blocking body need (answer, usage, totals, status)."""

    def __init__(self, context: StreamContext) -> None:
        self.context = context
        self.mode = context.mode
        self.created_at = context.created_at if context.created_at is not None else int(context.clock())
        self.run_id = context.workflow_run_id
        self.usage = UsageTotal()
        self.retriever_resources: list[dict[str, Any]] = []
        self.exceptions_count = 0
        self.run = _RunState(created_at=self.created_at)
        self._answer: list[str] = []
        self._executions: dict[tuple[str, tuple[str, int] | None], _Execution] = {}
        self._containers: dict[str, _Execution] = {}
        self._tool_inputs: dict[str, dict[str, Any]] = {}
        self._ended: set[tuple[str, tuple[str, int] | None]] = set()
        self._steps = 0
        self._thoughts = 0

    # -- state ------------------------------------------------------------------------------------

    @property
    def answer(self) -> str:
        """The reply streamed so far (``message`` / ``agent_message`` text, or a workflow's text chunks)."""
        return "".join(self._answer)

    @property
    def finished(self) -> bool:
        """Whether the run has ended (succeeded, failed, stopped or paused)."""
        return self.run.status != "running"

    @property
    def total_tokens(self) -> int:
        """Tokens of every model call the run's nodes reported."""
        return self.usage.total_tokens

    # -- base fields ------------------------------------------------------------------------------

    def _base(self, event: str, *, run: bool = False, task: bool = True) -> Payload:
        body: Payload = {"event": event}
        ctx = self.context
        if self.mode in _MESSAGE_MODES:
            if self.mode != "completion":
                body["conversation_id"] = ctx.conversation_id
            body["message_id"] = ctx.message_id
            body["created_at"] = self.created_at
        if task:
            body["task_id"] = ctx.task_id
        if self.mode == "workflow" or (run and self.mode == "advanced-chat"):
            body["workflow_run_id"] = self.run_id
        return body

    def _now(self) -> int:
        return int(self.context.clock())

    # -- the engine's events ----------------------------------------------------------------------

    def translate(self, event: ev.Event) -> list[Payload]:
        """The Dify events ``event`` becomes (none, one or several), in the order they are sent."""
        if not self.run_id:
            self.run_id = event.run_id
        workflow = self.mode in _WORKFLOW_MODES
        match event:
            case ev.RunStarted():
                return [self._workflow_started(event)] if workflow else []
            case ev.NodeStarted():
                return self._node_started(event) if workflow else self._remember(event)
            case ev.NodeSucceeded() | ev.NodeException() | ev.NodeFailed():
                return self._node_ended(event, send=workflow)
            case ev.NodeRetrying():
                return [self._node_retry(event)] if workflow else []
            case ev.ContainerNext():
                return self._container_next(event) if workflow else []
            case ev.StreamChunk():
                return [self._chunk(event)]
            case ev.AgentLog():
                if workflow:
                    return [self._agent_log(event)]
                return self._agent_thought_from_log(event) if self.mode == "agent-chat" else []
            case ev.RunSucceeded():
                return self._run_ended("succeeded", event.outputs, None, "", event.steps, event.elapsed)
            case ev.RunFailed():
                return self._run_ended("failed", event.outputs, event.error, event.error_type, event.steps,
                                       event.elapsed)
            case ev.RunStopped():
                return self._run_ended("stopped", event.outputs, event.reason or None, "", event.steps,
                                       event.elapsed)
            case ev.RunPaused():
                return self._paused(event) if workflow else []
        return []

    def _workflow_started(self, event: ev.RunStarted) -> Payload:
        body = self._base("workflow_started", run=True)
        body["data"] = {
            "id": self.run_id,
            "workflow_id": self.context.workflow_id,
            "inputs": dict(event.inputs),
            "created_at": self.run.created_at,
            "reason": "initial",
        }
        return body

    def _remember(self, event: ev.NodeStarted) -> list[Payload]:
        execution = _Execution(
            id=self.context.new_id(), node_id=event.node_id, node_type=event.node_type, title=event.title,
            index=event.index, created_at=self._now(), scope=event.scope,
        )
        self._executions[(event.node_id, event.scope)] = execution
        self._steps = max(self._steps, event.index)
        if event.node_type in _CONTAINERS:
            execution.parent = event.scope[0] if event.scope else None
            self._containers[event.node_id] = execution
        return []

    def _execution(self, node_id: str, node_type: str, scope: tuple[str, int] | None) -> _Execution:
        found = self._executions.get((node_id, scope))
        if found is None:
            # An end without a start (a resumed run): the node is still reported, as index 0.
            found = _Execution(id=self.context.new_id(), node_id=node_id, node_type=node_type, title=node_id,
                               index=0, created_at=self._now(), scope=scope)
            self._executions[(node_id, scope)] = found
        return found

    def _place(self, scope: tuple[str, int] | None) -> dict[str, Any]:
        """``iteration_id`` / ``loop_id`` of a node in a container (and the round, for the metadata)."""
        place: dict[str, Any] = {"iteration_id": None, "loop_id": None}
        if scope is not None:
            container = self._containers.get(scope[0])
            kind = container.node_type if container is not None else "iteration"
            place[f"{kind}_id"] = scope[0]
            place[f"{kind}_index"] = scope[1]
        return place

    def _node_common(self, execution: _Execution) -> Payload:
        place = self._place(execution.scope)
        return {
            "id": execution.id,
            "node_id": execution.node_id,
            "node_type": execution.node_type,
            "title": execution.title,
            "index": execution.index,
            "predecessor_node_id": None,
            "inputs": None,
            "inputs_truncated": False,
            "created_at": execution.created_at,
            "iteration_id": place["iteration_id"],
            "loop_id": place["loop_id"],
        }

    def _node_started(self, event: ev.NodeStarted) -> list[Payload]:
        self._remember(event)
        execution = self._executions[(event.node_id, event.scope)]
        if event.node_type in _CONTAINERS:
            body = self._base(f"{event.node_type}_started", run=True)
            body["data"] = {
                "id": execution.id,
                "node_id": execution.node_id,
                "node_type": execution.node_type,
                "title": execution.title,
                "created_at": execution.created_at,
                "inputs": {},
                "inputs_truncated": False,
                "metadata": {},
                "extras": {},
            }
            return [body]
        body = self._base("node_started", run=True)
        body["data"] = {**self._node_common(execution), "extras": {}}
        return [body]

    def _count_usage(self, execution: _Execution, outputs: Mapping[str, Any],
                     process_data: Mapping[str, Any] | None) -> dict[str, Any] | None:
        usage = outputs.get("usage")
        if not isinstance(usage, Mapping) and process_data is not None:
            usage = process_data.get("usage")
        if not isinstance(usage, Mapping):
            return None
        self.usage.add(usage)
        tokens = int(usage.get("total_tokens") or 0)
        container = execution.scope[0] if execution.scope else None
        while container is not None and container in self._containers:
            self._containers[container].tokens += tokens
            container = self._containers[container].parent
        return {"total_tokens": tokens, "total_price": usage.get("total_price", "0"),
                "currency": usage.get("currency", "USD")}

    def _node_ended(self, event: ev.NodeSucceeded | ev.NodeException | ev.NodeFailed, *, send: bool) -> list[Payload]:
        execution = self._execution(event.node_id, event.node_type, event.scope)
        self._ended.add((event.node_id, event.scope))
        inputs: dict[str, Any] | None = None
        process_data: dict[str, Any] | None = None
        outputs: dict[str, Any] | None
        error: str | None = None
        if isinstance(event, ev.NodeSucceeded):
            status, outputs = "succeeded", dict(event.outputs)
            inputs, process_data = event.inputs, event.process_data
        elif isinstance(event, ev.NodeException):
            self.exceptions_count += 1
            status, outputs, error = "exception", dict(event.outputs), event.error
        else:
            status, outputs, error = "failed", None, event.error
        metadata = self._count_usage(execution, outputs or {}, process_data)
        if process_data is not None and self.context.retriever_resources:
            found = process_data.get("retriever_resources")
            if isinstance(found, list):
                self._cite([r for r in found if isinstance(r, Mapping)])
        if not send:
            return []
        if execution.node_type in _CONTAINERS:
            return [self._container_completed(execution, status, outputs, error, event.elapsed)]
        place = self._place(execution.scope)
        for key in ("iteration_id", "iteration_index", "loop_id", "loop_index"):
            if place.get(key) is not None:
                metadata = {**(metadata or {}), key: place[key]}
        files = (outputs or {}).get("files")
        body = self._base("node_finished", run=True)
        body["data"] = {
            **self._node_common(execution),
            "inputs": inputs,
            "process_data": process_data,
            "process_data_truncated": False,
            "outputs": outputs,
            "outputs_truncated": False,
            "status": status,
            "error": error,
            "elapsed_time": event.elapsed,
            "execution_metadata": metadata,
            "finished_at": self._now(),
            "files": [f for f in files if isinstance(f, Mapping)] if isinstance(files, list) else [],
        }
        return [body]

    def _cite(self, resources: list[Mapping[str, Any]]) -> None:
        """Keep the knowledge chunks a node read (an LLM node's context) for ``message_end``; a chunk
        that two nodes read is cited once."""
        cited = {(r.get("dataset_id"), r.get("segment_id")) for r in self.retriever_resources if r.get("segment_id")}
        for resource in resources:
            key = (resource.get("dataset_id"), resource.get("segment_id"))
            if resource.get("segment_id") and key in cited:
                continue
            cited.add(key)
            self.retriever_resources.append(dict(resource))

    def _node_retry(self, event: ev.NodeRetrying) -> Payload:
        execution = self._execution(event.node_id, event.node_type, event.scope)
        body = self._base("node_retry", run=True)
        body["data"] = {
            **self._node_common(execution),
            "process_data": None,
            "process_data_truncated": False,
            "outputs": None,
            "outputs_truncated": False,
            "status": "retry",
            "error": event.error,
            "elapsed_time": 0.0,
            "execution_metadata": None,
            "finished_at": self._now(),
            "files": [],
            "retry_index": max(event.attempt - 1, 0),
        }
        return body

    def _container_next(self, event: ev.ContainerNext) -> list[Payload]:
        container = self._containers.get(event.node_id)
        if container is None:
            return []
        container.steps += 1
        body = self._base(f"{container.node_type}_next", run=True)
        body["data"] = {
            "id": container.id,
            "node_id": container.node_id,
            "node_type": container.node_type,
            "title": container.title,
            "index": event.index,
            "created_at": self._now(),
            "extras": {},
        }
        if container.node_type == "loop":
            body["data"]["pre_loop_output"] = None
        return [body]

    def _container_completed(self, container: _Execution, status: str, outputs: dict[str, Any] | None,
                             error: str | None, elapsed: float) -> Payload:
        body = self._base(f"{container.node_type}_completed", run=True)
        body["data"] = {
            "id": container.id,
            "node_id": container.node_id,
            "node_type": container.node_type,
            "title": container.title,
            "outputs": outputs,
            "outputs_truncated": False,
            "inputs": {},
            "inputs_truncated": False,
            "created_at": container.created_at,
            "extras": {},
            "status": status,
            "error": error,
            "elapsed_time": elapsed,
            "total_tokens": container.tokens,
            "execution_metadata": {"total_tokens": container.tokens},
            "finished_at": self._now(),
            "steps": container.steps,
        }
        return body

    def _chunk(self, event: ev.StreamChunk) -> Payload:
        self._answer.append(event.text)
        if self.mode == "workflow":
            body = self._base("text_chunk", run=True)
            body["data"] = {
                "text": event.text,
                "from_variable_selector": list(event.selector) if event.selector is not None else None,
            }
            return body
        body = self._base("agent_message" if self.mode == "agent-chat" else "message")
        body["id"] = self.context.message_id
        body["answer"] = event.text
        return body

    def _agent_log(self, event: ev.AgentLog) -> Payload:
        execution = self._execution(event.node_id, event.node_type, event.scope)
        entry = event.entry
        body = self._base("agent_log", run=False)
        body["data"] = {
            "node_execution_id": execution.id,
            "id": entry.get("id"),
            "label": entry.get("label", ""),
            "parent_id": entry.get("parent_id"),
            "error": entry.get("error"),
            "status": entry.get("status", ""),
            "data": entry.get("data", {}),
            "metadata": entry.get("metadata", {}),
            "node_id": event.node_id,
        }
        return body

    def _agent_thought_from_log(self, event: ev.AgentLog) -> list[Payload]:
        """An agent-chat app's rounds, as ``agent_thought`` events: one per round when it ends, with the
        model's words, the tools it called (``;``-joined), their inputs and what they answered."""
        entry = event.entry
        data = entry.get("data") or {}
        if entry.get("parent_id") is not None:
            if entry.get("status") != "start" and isinstance(data, Mapping) and "tool_name" in data:
                calls = self._tool_inputs.setdefault(str(entry["parent_id"]), {})
                calls[str(data["tool_name"])] = data.get("tool_call_args")
            return []
        if entry.get("status") == "start":
            return []
        output = data.get("output", {}) if isinstance(data, Mapping) else {}
        responses = [r for r in output.get("tool_responses", []) if isinstance(r, Mapping)]
        recorded = self._tool_inputs.pop(str(entry.get("id")), {})
        names = [str(r.get("tool_call_name", "")) for r in responses]
        tool_input = {str(r.get("tool_call_name", "")): r.get("tool_call_input", recorded.get(name))
                      for name, r in zip(names, responses, strict=True)}
        observation = {name: r.get("tool_response") for name, r in zip(names, responses, strict=True)}
        self._thoughts += 1
        return [self.agent_thought(
            thought_id=str(entry.get("id") or self.context.new_id()),
            position=self._thoughts,
            thought=str(output.get("llm_response", "")),
            tool=";".join(names),
            tool_input=json.dumps(tool_input, ensure_ascii=False) if names else "",
            observation=json.dumps(observation, ensure_ascii=False) if names else "",
        )]

    def _run_ended(self, status: str, outputs: dict[str, Any], error: str | None, error_type: str, steps: int,
                   elapsed: float) -> list[Payload]:
        if status == "succeeded" and self.exceptions_count:
            status = "partial-succeeded"
        run = self.run
        run.status, run.outputs, run.error, run.error_type = status, dict(outputs), error, error_type
        run.steps, run.elapsed, run.finished_at = steps, elapsed, self._now()
        sent: list[Payload] = []
        if self.mode == "workflow":
            return [self._workflow_finished()]
        if status == "failed":
            if self.mode == "advanced-chat":
                sent.append(self._workflow_finished())
            sent.append(self.error_event(error_for_run_failure(error_type, error or "")))
            return sent
        sent.append(self.message_end())
        if self.mode == "advanced-chat":
            sent.append(self._workflow_finished())
        return sent

    def _workflow_finished(self) -> Payload:
        body = self._base("workflow_finished", run=True)
        body["data"] = {
            **self._run_data(),
            "created_by": dict(self.context.created_by or {}),
            "exceptions_count": self.exceptions_count,
            "files": _files_in(self.run.outputs),
        }
        return body

    def _run_data(self) -> dict[str, Any]:
        run = self.run
        return {
            "id": self.run_id,
            "workflow_id": self.context.workflow_id,
            "status": run.status,
            "outputs": run.outputs,
            "error": run.error,
            "elapsed_time": run.elapsed,
            "total_tokens": self.total_tokens,
            "total_steps": run.steps,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
        }

    def _paused(self, event: ev.RunPaused) -> list[Payload]:
        self.run.status = "paused"
        running = [e.node_id for key, e in self._executions.items() if key not in self._ended]
        body = self._base("workflow_paused", run=True)
        body["data"] = {
            "workflow_run_id": self.run_id,
            "paused_nodes": running,
            "outputs": {},
            "reasons": [{"TYPE": "paused", "message": event.reason}] if event.reason else [],
            "status": "paused",
            "created_at": self.run.created_at,
            "elapsed_time": 0.0,
            "total_tokens": self.total_tokens,
            "total_steps": self._steps,
        }
        return [body]

    # -- events the engine does not make ----------------------------------------------------------

    def message_end(self) -> Payload:
        """``message_end``: the reply is complete; its usage and the knowledge it drew on."""
        body = self._base("message_end")
        body["id"] = self.context.message_id
        body["metadata"] = self._metadata()
        return body

    def _metadata(self) -> dict[str, Any]:
        return {"usage": self.usage.as_dict(), "retriever_resources": list(self.retriever_resources)}

    def error_event(self, error: Mapping[str, Any]) -> Payload:
        """``error``: a failure after the stream started (the HTTP status stays 200); ``error`` is an
        envelope ``{code, message, status}``."""
        body = self._base("error", task=False)
        body.update({"code": error["code"], "message": error["message"], "status": error["status"]})
        return body

    def message_replace(self, answer: str, reason: str = "") -> Payload:
        """``message_replace``: output moderation replaces the answer so far with ``answer``."""
        self._answer = [answer]
        body = self._base("message_replace")
        body.update({"answer": answer, "reason": reason})
        return body

    def message_file(self, file_id: str, *, type: str, url: str, belongs_to: str = "assistant") -> Payload:
        """``message_file``: a file the assistant (or a tool) made for this message."""
        body = self._base("message_file")
        body.update({"id": file_id, "type": type, "belongs_to": belongs_to, "url": url})
        return body

    def agent_thought(self, *, thought_id: str, position: int, thought: str = "", tool: str = "",
                      tool_input: str = "", observation: str = "", tool_labels: Mapping[str, Any] | None = None,
                      message_files: list[str] | None = None) -> Payload:
        """``agent_thought``: one step of an agent-chat app (its words, tools called, their answers)."""
        body = self._base("agent_thought")
        body.update({
            "id": thought_id,
            "position": position,
            "thought": thought,
            "observation": observation,
            "tool": tool,
            "tool_labels": dict(tool_labels or {}),
            "tool_input": tool_input,
            "message_files": list(message_files or []),
        })
        return body

    def tts_message(self, audio: str) -> Payload:
        """``tts_message``: a base64 MP3 chunk of the answer read aloud."""
        body = self._base("tts_message")
        body["audio"] = audio
        if "created_at" not in body:
            body["created_at"] = self._now()
        return body

    def tts_message_end(self) -> Payload:
        """``tts_message_end``: the audio is complete (empty ``audio``)."""
        return {**self.tts_message(""), "event": "tts_message_end"}

    # -- blocking mode ----------------------------------------------------------------------------

    def blocking_response(self) -> Payload:
        """The blocking-mode body of the app's mode, once the run has ended.

        A message app's failed run raises the :class:`~treadle.api.errors.ApiError` to answer with
        instead (Dify answers blocking failures with the error envelope); a workflow's failed run is a
        body whose status is ``failed``.
        """
        if not self.finished:
            raise RuntimeError("the run has not ended: no blocking response yet")
        ctx = self.context
        if self.mode == "workflow":
            return {"task_id": ctx.task_id, "workflow_run_id": self.run_id, "data": self._run_data()}
        if self.run.status == "failed":
            error = error_for_run_failure(self.run.error_type, self.run.error or "")
            raise ApiError(error["status"], error["code"], error["message"])
        body: Payload = {
            "event": "message",
            "task_id": ctx.task_id,
            "id": ctx.message_id,
            "message_id": ctx.message_id,
        }
        if self.mode != "completion":
            body["conversation_id"] = ctx.conversation_id
        body.update({
            "mode": self.mode,
            "answer": self.answer,
            "metadata": self._metadata(),
            "created_at": self.created_at,
        })
        return body


def _is_file(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("dify_model_identity") == "__dify__file__"


def _files_in(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The files among a run's outputs (a file output, or the files of a list output), as
    ``workflow_finished`` lists them."""
    found: list[dict[str, Any]] = []
    for value in outputs.values():
        if _is_file(value):
            found.append(dict(value))
        elif isinstance(value, list):
            found.extend(dict(item) for item in value if _is_file(item))
    return found
