"""The tool node (NODE-TOOL) against real tool providers in a plugin host: the basic tools, and a
test provider whose tool sends every kind of message. Parameters from every input shape Dify
writes, outputs gathered as Dify gathers them, and the error types of NODE-TOOL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from treadle.apps import RunRequest
from treadle.graph import GraphBuildError
from treadle.graph import events as ev
from treadle.graph.dsl import load_dsl
from treadle.plugins import PluginSupervisor

from .plugins_for_tests.story_tools import PNG
from .support import Outcome, run_app, workflow

pytestmark = pytest.mark.asyncio(loop_scope="module")

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "dify-dsl"


def tool(provider: str, name: str, **data: Any) -> dict[str, Any]:
    return {"type": "tool", "title": name, "provider_id": provider, "provider_name": provider,
            "provider_type": "builtin", "tool_name": name, "tool_label": name, **data}


def var(name: str, kind: str = "text-input") -> dict[str, Any]:
    return {"variable": name, "label": name, "type": kind, "required": False}


async def run_tool(
    supervisor: PluginSupervisor,
    data: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    variables: tuple[dict[str, Any], ...] = (),
    outputs: tuple[str, ...] = ("text", "json", "files"),
) -> Outcome:
    nodes, edges = workflow(data, variables=variables, outputs=outputs)
    return await run_app(supervisor, nodes, edges, RunRequest(inputs=inputs or {}))


async def test_a_tool_runs_with_its_preset_configuration(supervisor: PluginSupervisor) -> None:
    """NODE-TOOL: tool_configurations as older files write them (bare values)."""
    outcome = await run_tool(supervisor, tool("time", "current_time", tool_parameters={},
                                              tool_configurations={"format": "%Y", "timezone": "UTC"}))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert int(outcome.result.outputs["text"]) in {datetime.now(UTC).year, datetime.now(UTC).year + 1}
    assert outcome.result.outputs["json"] == [] and outcome.result.outputs["files"] == []
    node = outcome.succeeded("node")
    assert node.inputs == {"format": "%Y", "timezone": "UTC"}
    assert node.process_data == {"tool_info": {"provider_type": "builtin", "provider_id": "time",
                                               "tool_name": "current_time", "plugin_unique_identifier": None}}


async def test_mixed_parameters_render_their_variables(supervisor: PluginSupervisor) -> None:
    data = tool("langgenius/maths/maths", "eval_expression",
                tool_parameters={"expression": {"type": "mixed", "value": "{{#start.a#}} * {{#start.b#}}"}})
    outcome = await run_tool(supervisor, data, {"a": "6", "b": "7"}, (var("a"), var("b")))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert outcome.result.outputs == {"text": "42", "json": [{"result": 42}], "files": []}
    assert outcome.succeeded("node").inputs == {"expression": "6 * 7"}


async def test_variable_constant_and_versioned_inputs_are_coerced_to_the_parameter_types(
    supervisor: PluginSupervisor,
) -> None:
    """A number from a variable, a number written as text, a ``{type, value}`` configuration
    (tool node version 2): each reaches the tool as its declared type."""
    data = tool("time", "weekday", tool_node_version="2",
                tool_parameters={"year": {"type": "variable", "value": ["start", "year"]},
                                 "month": {"type": "constant", "value": "3"},
                                 "day": {"type": "mixed", "value": "{{#start.day#}}"}},
                tool_configurations={})
    outcome = await run_tool(supervisor, data, {"year": 2024, "day": "15"}, (var("year", "number"), var("day")))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert outcome.result.outputs["text"] == "Friday"
    assert outcome.succeeded("node").inputs == {"year": 2024, "month": 3, "day": 15}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the shared DSL corpus is not at {CORPUS}")
async def test_the_time_tool_node_of_a_corpus_file_runs(supervisor: PluginSupervisor) -> None:
    """memory-test.yml (DSL 0.1.2): provider 'time' (read as langgenius/time/time), both settings in
    tool_configurations."""
    app = load_dsl(CORPUS / "memory-test.yml")
    assert app.workflow is not None
    [node] = [n for n in app.workflow.graph.nodes if n.data.type == "tool"]
    data = node.data.model_dump(by_alias=True)
    assert data["provider_id"] == "langgenius/time/time"
    before = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0, tzinfo=None)
    outcome = await run_tool(supervisor, data)
    assert outcome.result.status == "succeeded", outcome.result.error
    told = datetime.strptime(outcome.result.outputs["text"], "%Y-%m-%d %H:%M:%S")
    assert 0 <= (told - before).total_seconds() < 60


async def test_every_kind_of_message_lands_in_its_output(supervisor: PluginSupervisor) -> None:
    """Outputs like Dify's: text joined with links, json collected, images and blobs as files,
    variables as outputs of their own (streamed ones as they come), logs in the trace."""
    data = tool("stories", "story", tool_parameters={"hero": {"type": "mixed", "value": "{{#start.hero#}}"},
                                                     "loud": {"type": "constant", "value": 1}})
    outcome = await run_tool(supervisor, data, {"hero": "Ada"}, (var("hero"),),
                             outputs=("text", "json", "files", "tale", "moral"))
    assert outcome.result.status == "succeeded", outcome.result.error
    out = outcome.result.outputs
    assert out["text"] == "Once upon a time, ADA. Link: https://example.com/story\nThe end."
    assert out["json"] == [{"hero": "ADA"}, [1, 2]]
    assert out["tale"] == "chapter 1; chapter 2; "
    assert out["moral"] == {"lesson": "be kind", "chapters": 2}
    cover, map_file = out["files"]
    assert (cover["type"], cover["transfer_method"], cover["url"]) == (
        "image", "remote_url", "https://example.com/pictures/cover.png")
    assert (cover["filename"], cover["extension"], cover["mime_type"]) == ("cover.png", ".png", "image/png")
    assert (map_file["filename"], map_file["mime_type"], map_file["size"], map_file["type"]) == (
        "map.png", "image/png", len(PNG), "image")
    assert base64.b64decode(map_file["url"].split(",", 1)[1]) == PNG
    # The streamed variable went out chunk by chunk, in order, to the End node.
    streamed = [(e.selector, e.text) for e in outcome.events if isinstance(e, ev.StreamChunk)]
    assert [text for selector, text in streamed if selector == ("node", "tale")] == ["chapter 1; ", "chapter 2; "]
    [log] = outcome.logs()
    assert (log["label"], log["status"], log["data"]) == ("thinking about the plot", "success", {"hero": "ADA"})
    assert outcome.succeeded("node").inputs == {"hero": "Ada", "chapters": 2, "loud": True}


@pytest.mark.parametrize(
    ("data", "inputs", "error_type", "message"),
    [
        (tool("maths", "eval_expression", tool_parameters={}), {},
         "ToolParameterError", "parameter 'expression' of tool 'eval_expression' is required"),
        (tool("maths", "eval_expression",
              tool_parameters={"expression": {"type": "variable", "value": ["start", "nowhere"]}}), {},
         "ToolParameterError", "parameter 'expression' of tool 'eval_expression' reads variable start.nowhere"),
        (tool("time", "weekday", tool_parameters={"year": {"type": "constant", "value": "soon"},
                                                 "month": {"type": "constant", "value": 1},
                                                 "day": {"type": "constant", "value": 1}}), {},
         "ToolParameterError", "parameter 'year' of tool 'weekday' must be a number"),
        (tool("time", "weekday", tool_parameters={"year": {"type": "constant", "value": 2024},
                                                 "month": {"type": "mixed", "value": "13"},
                                                 "day": {"type": "constant", "value": 1}}), {},
         "ToolParameterError", "parameter 'month' of tool 'weekday' must be at least 1 and at most 12, not 13"),
        (tool("stories", "story", tool_parameters={"hero": {"type": "constant", "value": "x"},
                                                  "loud": {"type": "constant", "value": "maybe"}}), {},
         "ToolParameterError", "parameter 'loud' of tool 'story' must be true or false"),
        (tool("maths", "eval_expression", tool_parameters={"expression": {"type": "constant", "value": "2 +* 3"}}),
         {}, "ToolInvokeError", "tool 'eval_expression' of builtin provider 'maths' failed: parameter 'expression'"),
        (tool("stories", "flaky"), {}, "ToolInvokeError", "the flux capacitor is out of order"),
        (tool("langgenius/tavily/tavily", "tavily_search"), {}, "ToolProviderNotFoundError",
         "tool provider 'langgenius/tavily/tavily' is not installed"),
        (tool("time", "sunrise"), {}, "ToolProviderNotFoundError", "has no tool 'sunrise'"),
    ],
)
async def test_failures_have_the_error_types_of_dify(
    supervisor: PluginSupervisor, data: dict[str, Any], inputs: dict[str, Any], error_type: str, message: str
) -> None:
    """NODE-TOOL errors: ToolParameterError, ToolInvokeError, ToolProviderNotFoundError."""
    outcome = await run_tool(supervisor, data, inputs)
    assert outcome.result.status == "failed"
    assert (outcome.result.error_type, outcome.result.failed_node) == (error_type, "node")
    assert message in outcome.result.error


async def test_a_failing_tool_takes_the_fail_branch_with_its_error_type(supervisor: PluginSupervisor) -> None:
    """Error handling: with the default-value strategy the run goes on and error_type is an output."""
    data = tool("stories", "flaky", error_strategy="default-value",
                default_value=[{"key": "text", "type": "string", "value": "no luck"}])
    outcome = await run_tool(supervisor, data, outputs=("text", "error_type"))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert outcome.result.outputs == {"text": "no luck", "error_type": "ToolInvokeError"}


async def test_a_run_without_a_kernel_cannot_run_tools(supervisor: PluginSupervisor) -> None:
    from treadle.apps import WorkflowApp
    from treadle.plugins.node_factory import PluginNodeFactory

    nodes, edges = workflow(tool("time", "current_time"))
    app = WorkflowApp(mode="workflow", nodes=nodes, edges=edges, factory=PluginNodeFactory(supervisor))
    result = await app.run(RunRequest())
    assert (result.status, result.error_type) == ("failed", "ToolInvokeError")
    assert "has no kernel" in result.error


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"tool_name": ""}, "data.tool_name", "a tool node needs 'tool_name'"),
        ({"provider_id": None, "provider_name": None}, "data.provider_id", "needs 'provider_id' or 'provider_name'"),
        ({"provider_type": "magic"}, "data.provider_type", "must be one of builtin, plugin, api, workflow, mcp"),
        ({"tool_parameters": ["x"]}, "data.tool_parameters", "must be an object"),
        ({"tool_parameters": {"x": {"type": "formula", "value": "1"}}}, "data.tool_parameters.x.type",
         "must be one of variable, mixed, constant"),
        ({"tool_parameters": {"x": {"type": "variable", "value": ["only-one"]}}}, "data.tool_parameters.x.value",
         "needs a selector"),
        ({"tool_configurations": {"x": {"type": "variable", "value": "a.b"}}},
         "data.tool_configurations.x.value", "needs a selector"),
    ],
)
async def test_configuration_errors_name_the_field(
    supervisor: PluginSupervisor, change: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(GraphBuildError) as caught:
        await run_tool(supervisor, {**tool("time", "current_time"), **change})
    [problem] = caught.value.problems
    assert (problem.node_id, problem.path) == ("node", path)
    assert message in problem.message
