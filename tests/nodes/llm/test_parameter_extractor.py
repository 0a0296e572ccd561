"""The Parameter Extractor node through real runs (NODE-PARAMETER-EXTRACTOR): function-call and
prompt modes, typed values, ``__is_success`` / ``__reason``, memory, and the fallback for models
that cannot call tools."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.apps import MemoryConversationHistory, RunRequest, WorkflowApp
from treadle.graph import GraphBuildError
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

from .server import ChatServer, Reply
from .support import TENANT, Run, chain, node, run, script_model, server_model, start, text_input

PARAMETERS = [
    {"name": "city", "type": "string", "description": "Where to", "required": True},
    {"name": "nights", "type": "number", "description": "How long", "required": True},
    {"name": "breakfast", "type": "boolean", "description": "Breakfast included", "required": False},
    {"name": "tags", "type": "array[string]", "description": "Wishes", "required": False},
]


def extractor(model: dict[str, Any], *, mode: str = "function_call", parameters: Any = None, **data: Any) -> dict:
    return node(
        "extract",
        "parameter-extractor",
        model=model,
        query=["start", "text"],
        parameters=PARAMETERS if parameters is None else parameters,
        reasoning_mode=mode,
        instruction=data.pop("instruction", ""),
        vision={"enabled": False},
        **data,
    )


def calls(**arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": "extract_parameters", "arguments": arguments}]}


async def extract(supervisor: PluginSupervisor, extractor_node: dict[str, Any], text: str = "Lisbon, 3 nights") -> Run:
    done = await run(supervisor, [start(text_input("text")), extractor_node], request=RunRequest(inputs={"text": text}))
    assert done.result.status == "succeeded", done.result.error
    return done


def outputs(done: Run) -> dict[str, Any]:
    found = dict(done.node("extract").outputs)
    found.pop("__usage")
    return found


async def test_function_call_mode_reads_the_tools_arguments_and_coerces_them(supervisor: PluginSupervisor) -> None:
    """One tool, ``extract_parameters``, is offered; its arguments are the values ("3" becomes 3,
    "yes" true)."""
    script = calls(city="Lisbon", nights="3", breakfast="yes", tags=["quiet", 7])
    done = await extract(supervisor, extractor(script_model(script)))
    assert outputs(done) == {
        "city": "Lisbon",
        "nights": 3,
        "breakfast": True,
        "tags": ["quiet", "7"],
        "__is_success": 1,
        "__reason": None,
    }
    process_data = done.node("extract").process_data
    assert process_data is not None
    assert process_data["reasoning_mode"] == "function_call"
    assert process_data["function"]["name"] == "extract_parameters"
    assert process_data["function"]["parameters"]["required"] == ["city", "nights"]
    assert process_data["tool_call"]["function"]["name"] == "extract_parameters"
    assert done.node("extract").outputs["__usage"]["total_tokens"] > 0
    system, user = done.prompts("extract")
    assert system["role"] == "system" and "extract_parameters" in system["text"]
    assert "Lisbon, 3 nights" in user["text"]


async def test_prompt_mode_asks_for_json_and_reads_it_from_the_answer(supervisor: PluginSupervisor) -> None:
    reply = 'Here you go:\n```json\n{"city": "Porto", "nights": 2.5, "tags": []}\n```'
    done = await extract(supervisor, extractor(script_model(reply), mode="prompt"))
    assert outputs(done) == {
        "city": "Porto", "nights": 2.5, "breakfast": False, "tags": [], "__is_success": 1, "__reason": None,
    }
    process_data = done.node("extract").process_data
    assert process_data is not None
    assert (process_data["reasoning_mode"], process_data["function"]) == ("prompt", {})
    user = done.prompts("extract")[-1]["text"]
    assert '"nights": {"type": "number", "description": "How long"}' in user


async def test_a_missing_required_parameter_is_reported_not_raised(supervisor: PluginSupervisor) -> None:
    done = await extract(supervisor, extractor(script_model(calls(city="Lisbon"))))
    assert outputs(done) == {
        "city": "Lisbon",
        "nights": 0,
        "breakfast": False,
        "tags": [],
        "__is_success": 0,
        "__reason": "parameter nights is required but the model did not find it",
    }


async def test_a_value_of_the_wrong_type_is_reported(supervisor: PluginSupervisor) -> None:
    done = await extract(supervisor, extractor(script_model(calls(city="Lisbon", nights="a few", tags="quiet"))))
    found = outputs(done)
    assert (found["nights"], found["tags"], found["__is_success"]) == (0, [], 0)
    assert "parameter nights: expected a number, not a string ('a few')" in found["__reason"]
    assert "parameter tags: expected an array" in found["__reason"]


async def test_an_answer_without_json_gives_empty_values(supervisor: PluginSupervisor) -> None:
    done = await extract(supervisor, extractor(script_model("I could not tell."), mode="prompt"))
    found = outputs(done)
    assert (found["city"], found["__is_success"]) == ("", 0)
    assert "no JSON object" in found["__reason"]


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ({"type": "select", "options": ["economy", "first"]}, "first", "first"),
        ({"type": "object"}, '{"a": 1}', {"a": 1}),
        ({"type": "array[number]"}, ["1", 2.5], [1, 2.5]),
        ({"type": "array[object]"}, [{"name": "step"}], [{"name": "step"}]),
        ({"type": "array[boolean]"}, ["true", 0], [True, False]),
        ({"type": "bool"}, "false", False),
        ({"type": "string"}, 12, "12"),
    ],
)
async def test_values_are_coerced_to_their_type(
    supervisor: PluginSupervisor, parameter: dict[str, Any], value: Any, expected: Any
) -> None:
    parameters = [{"name": "value", "description": "", "required": True, **parameter}]
    done = await extract(supervisor, extractor(script_model(calls(value=value)), parameters=parameters))
    assert outputs(done) == {"value": expected, "__is_success": 1, "__reason": None}


async def test_a_select_value_outside_its_options_is_reported(supervisor: PluginSupervisor) -> None:
    parameters = [{"name": "seat", "type": "select", "options": ["aisle", "window"], "required": True}]
    done = await extract(supervisor, extractor(script_model(calls(seat="middle")), parameters=parameters))
    assert outputs(done) == {
        "seat": "",
        "__is_success": 0,
        "__reason": "parameter seat: 'middle' is not one of the options aisle, window",
    }


async def test_a_model_that_cannot_call_tools_is_asked_in_the_prompt(
    supervisor: PluginSupervisor, server: ChatServer
) -> None:
    """``function_call`` falls back to prompt mode for a model whose features lack ``tool-call``."""
    server.reply("plain", '{"city": "Oslo", "nights": 1}')
    done = await extract(supervisor, extractor(server_model("plain")))
    assert outputs(done)["city"] == "Oslo"
    (request,) = server.requests
    assert "tools" not in request and request["stream"] is False
    assert done.node("extract").process_data["reasoning_mode"] == "prompt"  # type: ignore[index]


async def test_function_calls_over_the_wire(supervisor: PluginSupervisor, server: ChatServer) -> None:
    call = {"name": "extract_parameters", "arguments": {"city": "Rome", "nights": 4}}
    server.reply("gpt-native", Reply(tool_calls=[call]))
    done = await extract(supervisor, extractor(server_model("gpt-native", provider="openai_native")))
    assert (outputs(done)["city"], outputs(done)["nights"]) == ("Rome", 4)
    (request,) = server.requests
    (tool,) = request["tools"]
    assert tool["function"]["name"] == "extract_parameters"
    assert tool["function"]["parameters"]["properties"]["tags"] == {
        "type": "array", "description": "Wishes", "items": {"type": "string"},
    }


async def test_the_instruction_and_the_conversation_are_in_the_system_prompt(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "c1", "I live in Porto.", "Noted.")
    extractor_node = extractor(
        script_model(calls(city="Porto", nights=1)),
        instruction="Default to {{#start.text#}} if unsure.",
        memory={"window": {"enabled": True, "size": 5}},
    )
    request = RunRequest(inputs={"text": "one night"}, query="one night", conversation_id="c1")
    done = await run(supervisor, [start(text_input("text")), extractor_node], mode="advanced-chat", request=request)
    system = done.prompts("extract")[0]["text"]
    assert "Default to one night if unsure." in system
    assert "Human: I live in Porto.\nAssistant: Noted." in system
    assert done.node("extract").inputs["instruction"] == "Default to one night if unsure."  # type: ignore[index]


async def test_model_errors_fail_the_node(supervisor: PluginSupervisor, server: ChatServer) -> None:
    server.reply("plain", Reply(status=503, error="overloaded"))
    done = await run(supervisor, [start(text_input("text")), extractor(server_model("plain"))],
                     request=RunRequest(inputs={"text": "x"}))
    assert (done.result.status, done.result.error_type) == ("failed", "InvokeServerUnavailableError")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"parameters": []}, "parameters"),
        ({"parameters": [{"name": "a", "type": "date"}]}, "parameters[0].type"),
        ({"parameters": [{"name": "a", "type": "string"}, {"name": "a", "type": "number"}]}, "parameters[1].name"),
        ({"parameters": [{"name": "__reason", "type": "string"}]}, "parameters[0].name"),
        ({"query": "start.text"}, "query"),
        ({"reasoning_mode": "telepathy"}, "reasoning_mode"),
    ],
)
async def test_bad_configuration_is_reported_with_its_path(
    supervisor: PluginSupervisor, data: dict[str, Any], path: str
) -> None:
    body = extractor(script_model("x"))
    body["data"].update(data)
    nodes = [start(text_input("text")), body]
    with pytest.raises(GraphBuildError) as raised:
        WorkflowApp(mode="workflow", nodes=nodes, edges=chain(*nodes), factory=PluginNodeFactory(supervisor))
    assert path in str(raised.value)

