"""Helpers of the tool and agent node tests: DSL node builders, small apps around one node, and a run
that keeps every event."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle.apps import RunRequest, WorkflowApp
from treadle.graph import events as ev
from treadle.models import CredentialPick
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_sdk.errors import PluginError

from .model_server import API_KEY

QUESTION = "What is the current year plus 10?"
#: The DSL provider of the agents' model: a Dify file written for OpenAI, run on the test server.
MODEL_PROVIDER = "langgenius/openai/openai"


class ServerCredentials:
    """The workspace's model credentials in these tests: every model is served by the test server
    (the CredentialSource the model manager asks)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.picks: list[tuple[str, str, str]] = []

    async def pick(self, tenant_id: str, provider: str, model: str, model_type: str) -> CredentialPick:
        self.picks.append((provider, model, model_type))
        return CredentialPick("test-server", {"endpoint_url": self.url, "api_key": API_KEY})

    def report_failure(self, tenant_id: str, pick: CredentialPick, error: PluginError) -> bool:
        return False

    async def default_model(self, tenant_id: str, model_type: str) -> tuple[str, str] | None:
        return None


class PastTurns:
    """The finished turns of the tests' conversations (the app runtime's ConversationHistory)."""

    def __init__(self) -> None:
        self.turns: dict[str, list[dict[str, Any]]] = {}
        self.asked: list[tuple[str, int]] = []

    async def history(self, tenant_id: str, conversation_id: str, limit: int) -> list[dict[str, Any]]:
        self.asked.append((conversation_id, limit))
        return self.turns.get(conversation_id, [])[-limit:]


def tool_entry(
    provider: str,
    tool: str,
    *,
    settings: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    enabled: bool = True,
    description: str = "",
) -> dict[str, Any]:
    """One tool of an agent's tool list, as Dify's editor writes it."""
    return {
        "enabled": enabled,
        "provider_name": provider,
        "tool_name": tool,
        "tool_label": tool,
        "type": "builtin",
        "extra": {"description": description},
        "parameters": dict(parameters or {}),
        "settings": {name: {"value": value} for name, value in (settings or {}).items()},
        "schemas": [],
    }


#: The two tools of the acceptance task: the time (in the bare-name form of older files) and maths.
TIME_AND_MATHS = (
    tool_entry("time", "current_time", settings={"format": "%Y-%m-%d %H:%M:%S"}),
    tool_entry("langgenius/maths/maths", "eval_expression"),
)


def agent_node(
    strategy: str,
    model: str,
    *,
    tools: Sequence[Mapping[str, Any]] = TIME_AND_MATHS,
    query: str = "{{#sys.query#}}",
    instruction: str = "Use the tools to answer. Never do arithmetic yourself.",
    max_iterations: Any = 3,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An agent node's ``data`` as Dify writes it (strategy ``function_calling`` or ``ReAct``)."""
    parameters: dict[str, Any] = {
        "model": {"type": "constant", "value": {
            "provider": MODEL_PROVIDER, "model": model, "model_type": "llm", "mode": "chat",
            "completion_params": {"temperature": 0.2}, "type": "model-selector"}},
        "tools": {"type": "constant", "value": [dict(tool) for tool in tools]},
        "instruction": {"type": "constant", "value": instruction},
        "query": {"type": "constant", "value": query},
    }
    if max_iterations is not None:
        parameters["maximum_iterations"] = {"type": "constant", "value": max_iterations}
    return {
        "type": "agent",
        "title": "Agent",
        "agent_strategy_provider_name": "langgenius/agent/agent",
        "agent_strategy_name": strategy,
        "agent_strategy_label": strategy,
        "agent_parameters": parameters,
        "plugin_unique_identifier": "langgenius/agent:0.0.9@0123",
        "output_schema": None,
        **(extra or {}),
    }


def chatflow(data: Mapping[str, Any], node_id: str = "agent") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """start -> the node -> an Answer node showing its ``text``."""
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
        {"id": node_id, "data": dict(data)},
        {"id": "answer", "data": {"type": "answer", "title": "Answer", "answer": f"{{{{#{node_id}.text#}}}}"}},
    ]
    return nodes, _chain("start", node_id, "answer")


def workflow(
    data: Mapping[str, Any],
    *,
    variables: Sequence[Mapping[str, Any]] = (),
    outputs: Sequence[str] = ("text", "json", "files"),
    node_id: str = "node",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """start (with ``variables``) -> the node -> an End node giving the node's ``outputs``."""
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": list(variables)}},
        {"id": node_id, "data": dict(data)},
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
            {"variable": name, "value_selector": [node_id, name]} for name in outputs]}},
    ]
    return nodes, _chain("start", node_id, "end")


def _chain(*ids: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{a}-{b}", "source": a, "target": b, "sourceHandle": "source", "targetHandle": "target"}
        for a, b in itertools.pairwise(ids)
    ]


@dataclass
class Outcome:
    """How a run ended, and every event it sent."""

    result: Any
    events: list[ev.Event] = field(default_factory=list)

    def logs(self) -> list[dict[str, Any]]:
        """The agent log entries, as sent (an entry appears once when it starts and once when it ends)."""
        return [event.entry for event in self.events if isinstance(event, ev.AgentLog)]

    def final_logs(self) -> dict[str, dict[str, Any]]:
        """Each agent log entry as it last stood, by id, in the order they started."""
        entries: dict[str, dict[str, Any]] = {}
        for entry in self.logs():
            entries[entry["id"]] = entry
        return entries

    def succeeded(self, node_id: str) -> ev.NodeSucceeded:
        [event] = [e for e in self.events if isinstance(e, ev.NodeSucceeded) and e.node_id == node_id]
        return event

    def chunks(self, node_id: str) -> list[str]:
        """The pieces of ``node_id``'s text an Answer or End node streamed."""
        return [
            e.text for e in self.events if isinstance(e, ev.StreamChunk) and e.selector and e.selector[0] == node_id
        ]


async def run_app(
    supervisor: PluginSupervisor,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    request: RunRequest,
    *,
    mode: str = "workflow",
) -> Outcome:
    app = WorkflowApp(mode=mode, nodes=nodes, edges=edges, factory=PluginNodeFactory(supervisor))
    outcome = Outcome(None)
    with supervisor.kernel_client(tenant_id="t1") as kernel:
        outcome.result = await app.run(request, kernel=kernel, on_event=outcome.events.append)
    return outcome
