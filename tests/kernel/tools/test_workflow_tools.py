"""Workflow tools (WS-TOOLS, workflow tools; PLUG-REVERSE-TOOL): a workflow app registered as a tool
of its workspace, described from its Start node, run on the engine with its End outputs as the
result, called from another workflow's node through the kernel client, and nested at most five deep
(Dify's WORKFLOW_CALL_MAX_DEPTH)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from treadle.apps import RunRequest, WorkflowApp
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory
from treadle.tools import WorkflowTools, workflow_level
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginNotFound
from treadle_sdk.schemas import ToolParameterType

TOOL_NODE = f"{__package__}.plugins_for_tests.tool_node"
TENANT = "workspace-1"

START_FIELDS = [
    {"variable": "topic", "label": "Topic", "type": "text-input", "required": True, "max_length": 48,
     "description": "What to write about."},
    {"variable": "notes", "label": "Notes", "type": "paragraph", "required": False},
    {"variable": "tone", "label": "Tone", "type": "select", "options": ["calm", "loud"], "default": "calm"},
    {"variable": "count", "label": "Count", "type": "number", "required": True},
    {"variable": "draft", "label": "Draft only", "type": "checkbox"},
    {"variable": "attachment", "label": "Attachment", "type": "file"},
]


def workflow(nodes: list[dict[str, Any]], *, mode: str = "workflow") -> dict[str, Any]:
    """A DSL document whose nodes run one after the other."""
    edges = [{"id": f"e{i}", "source": a["id"], "target": b["id"], "sourceHandle": "source"}
             for i, (a, b) in enumerate(pairwise(nodes))]
    return {"version": "0.3.0", "kind": "app", "app": {"name": "t", "mode": mode},
            "workflow": {"graph": {"nodes": nodes, "edges": edges}}}


def start(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"id": "start", "data": {"type": "start", "title": "Start", "variables": list(fields)}}


def end(**outputs: list[str]) -> dict[str, Any]:
    return {"id": "end", "data": {"type": "end", "title": "End", "outputs": [
        {"variable": name, "value_selector": selector} for name, selector in outputs.items()]}}


def call_tool(tool: str, **parameters: str) -> dict[str, Any]:
    return {"id": "call", "data": {"type": "call-tool", "title": "Call", "provider": tool, "tool": tool,
                                   "provider_type": "workflow", "parameters": parameters}}


NUMBER = {"variable": "n", "label": "N", "type": "number", "required": True}
#: Doubles ``n``: the leaf of every chain below.
DOUBLE = workflow([
    start(NUMBER),
    {"id": "twice", "data": {"type": "template-transform", "title": "Twice", "template": "{{ n * 2 }}",
                             "variables": [{"variable": "n", "value_selector": ["start", "n"]}]}},
    end(doubled=["twice", "output"], given=["start", "n"]),
])


def chain_link(next_tool: str) -> dict[str, Any]:
    """Passes ``n`` on to ``next_tool`` and answers what it answered."""
    return workflow([start(NUMBER), call_tool(next_tool, n="{{#start.n#}}"), end(inner=["call", "json"])])


def app_of(document: dict[str, Any]) -> Any:
    return load_dsl(yaml.safe_dump(document))


@pytest_asyncio.fixture
async def kernel(tmp_path: Path) -> AsyncIterator[tuple[PluginSupervisor, WorkflowTools]]:
    plugins = (PluginSpec("core-nodes"), PluginSpec("schedule-trigger"), PluginSpec(TOOL_NODE, path=TOOL_NODE))
    groups = [GroupPlan("inline", True, plugins)]
    async with PluginSupervisor(Settings.load(home=tmp_path), groups=groups) as supervisor:
        tools = WorkflowTools(supervisor, PluginNodeFactory(supervisor))
        supervisor.tools.add_source("workflow", tools)
        yield supervisor, tools


async def invoke(supervisor: PluginSupervisor, tool: str, **parameters: Any) -> list[Any]:
    payload = {"provider_type": "workflow", "provider": tool, "tool": tool, "parameters": parameters}
    return [message async for message in supervisor.tools.invoke(TENANT, payload, depth=0)]


async def test_the_start_node_becomes_the_tools_parameters(kernel: tuple[PluginSupervisor, WorkflowTools]) -> None:
    supervisor, tools = kernel
    document = workflow([start(*START_FIELDS), end(topic=["start", "topic"])])
    registered = tools.register(TENANT, "write_post", app_of(document), "Write a post", "Writes a short post.",
                                parameter_descriptions={"count": "How many paragraphs."})
    payload = {"provider_type": "workflow", "provider": registered.id, "tool": "write_post"}
    described = await supervisor.tools.describe(TENANT, payload)
    assert (described["label"], described["description"], described["llm_description"]) == (
        {"en_US": "Write a post"}, {"en_US": "Writes a short post."}, "Writes a short post.")
    parameters = {p["name"]: p for p in described["parameters"]}
    assert {name: (p["type"], p["required"]) for name, p in parameters.items()} == {
        "topic": (ToolParameterType.STRING, True),
        "notes": (ToolParameterType.STRING, False),
        "tone": (ToolParameterType.SELECT, False),
        "count": (ToolParameterType.NUMBER, True),
        "draft": (ToolParameterType.BOOLEAN, False),
        "attachment": (ToolParameterType.FILE, False),
    }
    assert parameters["topic"]["label"] == {"en_US": "Topic"}
    assert parameters["topic"]["llm_description"] == "What to write about."
    assert parameters["count"]["llm_description"] == "How many paragraphs."
    assert parameters["notes"]["llm_description"] == "Notes"  # the label when nothing else describes it
    assert [o["value"] for o in parameters["tone"]["options"]] == ["calm", "loud"]
    assert parameters["tone"]["default"] == "calm"
    assert described["output_schema"] == {"type": "object", "properties": {"topic": {}}}


async def test_running_the_tool_runs_the_app_and_answers_its_end_outputs(
    kernel: tuple[PluginSupervisor, WorkflowTools],
) -> None:
    supervisor, tools = kernel
    tools.register(TENANT, "double", app_of(DOUBLE), "Double")
    messages = await invoke(supervisor, "double", n="21")
    assert messages == [
        {"type": "text", "text": '{"doubled": "42", "given": 21}'},
        {"type": "json", "json_object": {"doubled": "42", "given": 21}},
    ]


async def test_a_workflow_calls_a_workflow_tool_from_a_node(kernel: tuple[PluginSupervisor, WorkflowTools]) -> None:
    """The path tool and agent nodes take: NodeRuntime.kernel.ainvoke_tool(provider_type="workflow")."""
    supervisor, tools = kernel
    tools.register(TENANT, "double", app_of(DOUBLE))
    caller = WorkflowApp.from_dsl(app_of(chain_link("double")), PluginNodeFactory(supervisor))
    with supervisor.kernel_client(tenant_id=TENANT) as client:
        result = await caller.run(RunRequest(inputs={"n": 5}), kernel=client)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"inner": {"doubled": "10", "given": 5}}
    # The calls ran in nested runs; none is left open around the caller.
    assert workflow_level() == 0


async def test_workflow_tools_nest_five_deep_and_the_sixth_fails(
    kernel: tuple[PluginSupervisor, WorkflowTools],
) -> None:
    supervisor, tools = kernel
    # level1 -> level2 -> ... -> level6 (the leaf, which doubles).
    tools.register(TENANT, "level6", app_of(DOUBLE))
    for level in range(5, 0, -1):
        tools.register(TENANT, f"level{level}", app_of(chain_link(f"level{level + 1}")))

    # From a top-level workflow run: level2 .. level6 are five nested runs.
    caller = WorkflowApp.from_dsl(app_of(chain_link("level2")), PluginNodeFactory(supervisor))
    with supervisor.kernel_client(tenant_id=TENANT) as client:
        five = await caller.run(RunRequest(inputs={"n": 4}), kernel=client)
    assert five.status == "succeeded", five.error
    inner: Any = five.outputs
    for _ in range(5):
        inner = inner["inner"]
    assert inner == {"doubled": "8", "given": 4}

    caller = WorkflowApp.from_dsl(app_of(chain_link("level1")), PluginNodeFactory(supervisor))
    with supervisor.kernel_client(tenant_id=TENANT) as client:
        six = await caller.run(RunRequest(inputs={"n": 4}), kernel=client)
    assert six.status == "failed"
    assert six.failed_node == "call"
    assert "workflow tool 'level6' would run a workflow nested 6 deep; workflow tools may nest at most 5 deep" in (
        six.error)
    # Each enclosing tool says where its run failed.
    assert "workflow tool 'level1' failed at node 'call'" in six.error

    # Called directly (no enclosing run), level1 is the first level: the same chain is six deep.
    with pytest.raises(PluginFailed) as info:
        await invoke(supervisor, "level1", n=1)
    assert info.value.details["error_type"] == "ToolInvokeError"
    assert "nested 6 deep" in info.value.message


async def test_a_failing_run_fails_the_call_naming_the_node(kernel: tuple[PluginSupervisor, WorkflowTools]) -> None:
    supervisor, tools = kernel
    tools.register(TENANT, "broken", app_of(chain_link("missing")))
    with pytest.raises(PluginFailed) as info:
        await invoke(supervisor, "broken", n=1)
    assert info.value.details == {
        "error_type": "ToolInvokeError", "tool": "broken", "status": "failed", "node_id": "call",
        "run_error_type": "PluginNotFound"}
    assert info.value.message.startswith("workflow tool 'broken' failed at node 'call': ")
    assert "the workspace has no workflow tool 'missing' (workflow tools: broken)" in info.value.message


async def test_bad_arguments_and_unknown_tools_are_refused(kernel: tuple[PluginSupervisor, WorkflowTools]) -> None:
    supervisor, tools = kernel
    tools.register(TENANT, "double", app_of(DOUBLE))
    with pytest.raises(PluginInvalidArgument, match="parameter 'n' of workflow tool 'double' is required"):
        await invoke(supervisor, "double")
    with pytest.raises(PluginInvalidArgument, match=r"tool 'double' has no parameter\(s\) 'm' \(parameters: n\)"):
        await invoke(supervisor, "double", n=1, m=2)
    with pytest.raises(PluginNotFound, match=r"no workflow tool 'triple' \(workflow tools: double\)"):
        await invoke(supervisor, "triple", n=1)
    payload = {"provider_type": "workflow", "provider": "double", "tool": "other"}
    with pytest.raises(PluginNotFound, match="has one tool, 'double', not 'other'"):
        await supervisor.tools.describe(TENANT, payload)
    payload = {"provider_type": "workflow", "provider": "double", "tool": "double"}
    with pytest.raises(PluginNotFound, match="workflow tools: none"):
        await supervisor.tools.describe("workspace-2", payload)
    tools.unregister(TENANT, "double")
    assert tools.tools(TENANT) == []


async def test_only_workflow_apps_with_a_start_node_can_be_tools(
    kernel: tuple[PluginSupervisor, WorkflowTools],
) -> None:
    _, tools = kernel
    chatflow = workflow([start(NUMBER), {"id": "answer", "data": {"type": "answer", "title": "A", "answer": "hi"}}],
                        mode="advanced-chat")
    with pytest.raises(ValueError, match="only workflow apps can be tools; this DSL is a 'advanced-chat' app"):
        tools.register(TENANT, "chat", app_of(chatflow))
    with pytest.raises(ValueError, match="is not a valid tool name"):
        tools.register(TENANT, "double it", app_of(DOUBLE))
    scheduled = workflow([
        {"id": "tick", "data": {"type": "trigger-schedule", "title": "Every day", "mode": "visual"}},
        {"id": "end", "data": {"type": "end", "title": "End", "outputs": []}},
    ])
    with pytest.raises(ValueError, match=r"must start with a Start \(User Input\) node"):
        tools.register(TENANT, "scheduled", app_of(scheduled))
    odd = workflow([start({"variable": "x", "label": "X", "type": "external_data_tool"}), end()])
    assert tools.register(TENANT, "odd", app_of(odd)).schema.parameters[0].type == ToolParameterType.STRING
