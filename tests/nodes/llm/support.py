"""Helpers of the llm-family node tests: DSL nodes written as Dify writes them, a credential source
for the local OpenAI-wire server, and running an app through a real supervisor."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from treadle.apps import RunRequest, WorkflowApp
from treadle.graph.engine import RunResult
from treadle.graph.events import Event, NodeSucceeded, StreamChunk
from treadle.models import CredentialPick
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle_sdk.errors import PluginError

from .server import API_KEY

TENANT = "tenant-1"
_ids = itertools.count(1)


def script_model(*replies: Any, name: str = "script") -> dict[str, Any]:
    """The fake provider's ``script`` model replaying ``replies`` (see plugins/models/fake/README.md)."""
    params: dict[str, Any] = {"temperature": 0.7}
    if replies:
        params["script"] = list(replies)
    return {"provider": "fake", "name": name, "mode": "chat", "completion_params": params}


def server_model(name: str, provider: str = "openai_compat", **params: Any) -> dict[str, Any]:
    """A model served by the local OpenAI-wire server (``openai_compat``: added by the user, so the
    kernel knows no features of it; ``openai_native``: the test provider's ``gpt-native``)."""
    return {"provider": provider, "name": name, "mode": "chat", "completion_params": params}


def start(*variables: dict[str, Any], node_id: str = "start") -> dict[str, Any]:
    return {"id": node_id, "data": {"type": "start", "title": "Start", "variables": list(variables)}}


def text_input(name: str, required: bool = True) -> dict[str, Any]:
    return {"variable": name, "label": name, "type": "paragraph", "required": required, "max_length": 100000}


def llm(node_id: str = "llm", **data: Any) -> dict[str, Any]:
    """An LLM node as Dify exports it (context and vision off unless given)."""
    body = {
        "type": "llm",
        "title": "LLM",
        "context": {"enabled": False, "variable_selector": []},
        "vision": {"enabled": False},
        "variables": [],
        **data,
    }
    return {"id": node_id, "data": body}


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "data": {"type": node_type, "title": node_id, **data}}


def fixture(node_id: str, **outputs: Any) -> dict[str, Any]:
    """A node that outputs ``outputs`` as they are (see plugins_for_tests/fixture_node.py)."""
    return node(node_id, "fixture", outputs=outputs)


def answer(text: str, node_id: str = "answer") -> dict[str, Any]:
    return {"id": node_id, "data": {"type": "answer", "title": "Answer", "answer": text}}


def end(node_id: str = "end", **outputs: Sequence[str]) -> dict[str, Any]:
    listed = [{"variable": name, "value_selector": list(selector)} for name, selector in outputs.items()]
    return {"id": node_id, "data": {"type": "end", "title": "End", "outputs": listed}}


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {"id": f"e{next(_ids)}", "source": source, "target": target, "sourceHandle": handle}


def chain(*nodes: dict[str, Any]) -> list[dict[str, Any]]:
    """Edges joining ``nodes`` one after the other."""
    return [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]


@dataclass
class Run:
    """A finished run and what it reported on the way."""

    result: RunResult
    events: list[Event] = field(default_factory=list)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.result.outputs

    def node(self, node_id: str) -> NodeSucceeded:
        """The (last) success event of a node."""
        found = [e for e in self.events if isinstance(e, NodeSucceeded) and e.node_id == node_id]
        assert found, f"node {node_id} did not succeed: {self.result.error_type} {self.result.error}"
        return found[-1]

    def prompts(self, node_id: str = "llm") -> list[dict[str, Any]]:
        process_data = self.node(node_id).process_data
        assert process_data is not None
        prompts: list[dict[str, Any]] = process_data["prompts"]
        return prompts

    def chunks(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, StreamChunk)]


async def run(
    supervisor: PluginSupervisor,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    *,
    mode: str = "workflow",
    request: RunRequest | None = None,
    tenant: str = TENANT,
) -> Run:
    """Run an app of ``nodes`` (joined in a chain unless ``edges`` are given) once."""
    app = WorkflowApp(
        mode=mode, nodes=nodes, edges=chain(*nodes) if edges is None else edges, factory=PluginNodeFactory(supervisor)
    )
    events: list[Event] = []
    with supervisor.kernel_client(tenant_id=tenant) as kernel:
        result = await app.run(request or RunRequest(), on_event=events.append, kernel=kernel)
    return Run(result, events)


class ServerCredentials:
    """The workspace's credentials, as the model manager asks for them: the local server's address
    and key for the OpenAI-wire providers, and a script for ``fake`` when one is set."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fake: dict[str, Any] = {}

    async def pick(self, tenant_id: str, provider: str, model: str, model_type: str) -> CredentialPick | None:
        if provider in ("openai_compat", "openai_native"):
            return CredentialPick("server", {"endpoint_url": self.url, "api_key": API_KEY})
        if provider == "fake" and self.fake:
            return CredentialPick("fake", dict(self.fake))
        return None

    def report_failure(self, tenant_id: str, pick: CredentialPick, error: PluginError) -> bool:
        return False

    async def default_model(self, tenant_id: str, model_type: str) -> tuple[str, str] | None:
        return None
