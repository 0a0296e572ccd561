"""The node authoring API: ``{{#node.var#}}`` templates (VAR-REF-SYNTAX), the runtime a node run out
of process gets (nested paths, missing variables), and the ``run`` operation NodeType builds on
``prepare``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from treadle_sdk import NodeType, hookimpl
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginMalformedResponse
from treadle_sdk.extensions import NodeEvent
from treadle_sdk.nodes import (
    SOURCE_HANDLE,
    NodeConfigError,
    NodeResult,
    NodeRunError,
    NodeRuntime,
    PreparedNode,
    VariableNotFound,
    WireRuntime,
)
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import find_selectors, parse_template, render_parts, to_text
from treadle_sdk.testing import ainvoke, invoke

# -- templates ------------------------------------------------------------------------------------


def test_parse_template_splits_literals_and_selectors_in_order() -> None:
    parts = parse_template("Hi {{#start.name#}}, you asked {{#sys.query#}}{{#1711528914102.text#}}.")
    assert parts == [
        "Hi ",
        ("start", "name"),
        ", you asked ",
        ("sys", "query"),
        ("1711528914102", "text"),
        ".",
    ]


def test_parse_template_keeps_nested_paths() -> None:
    assert parse_template("{{#http.body.items.0.id#}}") == [("http", "body", "items", "0", "id")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text",
        "{{#single#}}",  # one part names no variable
        "{{ name }}",  # Jinja2, not a reference
        "{{#a b.c#}}",  # a space is not part of a name
        "{{#.a#}}",
    ],
)
def test_parse_template_leaves_non_references_as_text(text: str) -> None:
    assert parse_template(text) == ([text] if text else [])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("as is", "as is"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        ({"name": "Zoë", "n": [1, 2]}, '{"name": "Zoë", "n": [1, 2]}'),
        (["a", None], '["a", null]'),
    ],
)
def test_to_text(value: Any, text: str) -> None:
    assert to_text(value) == text


def test_render_parts_looks_each_selector_up() -> None:
    values: dict[tuple[str, ...], Any] = {("a", "x"): 1, ("b", "y"): {"k": "v"}, ("c", "z"): None}
    seen: list[tuple[str, ...]] = []

    def lookup(selector: tuple[str, ...]) -> Any:
        seen.append(selector)
        return values[selector]

    parts = parse_template("x={{#a.x#}} y={{#b.y#}} z=[{{#c.z#}}] x again={{#a.x#}}")
    assert render_parts(parts, lookup) == 'x=1 y={"k": "v"} z=[] x again=1'
    assert seen == [("a", "x"), ("b", "y"), ("c", "z"), ("a", "x")]


def test_find_selectors_in_document_order_with_duplicates() -> None:
    config = {
        "title": "ignored",
        "variables": [
            {"variable": "q", "value_selector": ["sys", "query"]},
            {"variable": "r", "value_selector": ["llm", "text"]},
        ],
        "template": "{{#llm.text#}} and {{#env.KEY#}}",
        "iterator_selector": ["start", "items"],
        "output_selector": ["inner", "output"],
        "cases": [{"conditions": [{"variable_selector": ["start", "n"], "value": "{{#start.m#}}"}]}],
        "selector": ["conversation", "memory"],
    }
    assert list(find_selectors(config)) == [
        ("sys", "query"),
        ("llm", "text"),
        ("llm", "text"),
        ("env", "KEY"),
        ("start", "items"),
        ("inner", "output"),
        ("start", "n"),
        ("start", "m"),
        ("conversation", "memory"),
    ]


def test_find_selectors_skips_lists_that_are_no_selectors() -> None:
    config = {
        "value_selector": [],  # not set yet in the editor
        "variable_selector": ["only-one"],
        "selector": ["a", 1],
        "other": ["x", "y"],  # not a selector key
    }
    assert list(find_selectors(config)) == []


# -- the runtime of a node out of process ------------------------------------------------------------


def wire(**variables: Any) -> WireRuntime:
    return WireRuntime("n1", {tuple(key.split(".")): value for key, value in variables.items()})


def test_wire_runtime_reads_whole_variables() -> None:
    rt = wire(**{"start.name": "Ada", "sys.query": "hi"})
    assert (rt.get(["start", "name"]), rt.get(("sys", "query"))) == ("Ada", "hi")


def test_wire_runtime_follows_nested_paths_through_keys_and_indexes() -> None:
    body = {"data": {"items": [{"id": 7, "tags": ["a", "b"]}, {"id": 8}]}, "0": "key named 0"}
    rt = wire(**{"http.body": body})
    assert rt.get(["http", "body", "data", "items", "0", "id"]) == 7
    assert rt.get(["http", "body", "data", "items", "0", "tags", "1"]) == "b"
    assert rt.get(["http", "body", "data", "items", "-1", "id"]) == 8
    assert rt.get(["http", "body", "0"]) == "key named 0"  # a key of an object, not an index
    assert rt.get(["http", "body", "data", "items", "1"]) == {"id": 8}


def test_wire_runtime_prefers_the_longest_selector_it_was_given() -> None:
    rt = wire(**{"n.a": {"b": "from the object"}, "n.a.b": "sent on its own"})
    assert rt.get(["n", "a", "b"]) == "sent on its own"


@pytest.mark.parametrize(
    "selector",
    [
        ["http", "missing"],
        ["other", "body"],
        ["http", "body", "nope"],
        ["http", "body", "items", "2"],  # past the end
        ["http", "body", "items", "-3"],
        ["http", "body", "items", "first"],  # not an index
        ["http", "body", "items", "0", "deeper"],  # a number has no keys
        ["http"],
    ],
)
def test_wire_runtime_missing_variables_raise_variable_not_found(selector: list[str]) -> None:
    rt = wire(**{"http.body": {"items": [1, 2]}})
    with pytest.raises(VariableNotFound) as caught:
        rt.get(selector)
    assert caught.value.selector == tuple(selector)
    assert str(caught.value) == f"variable {'.'.join(selector)} does not exist"
    assert caught.value.error_type == "VariableNotFound"
    assert isinstance(caught.value, NodeRunError) and isinstance(caught.value, LookupError)


def test_wire_runtime_get_or_render_emit_and_assign() -> None:
    rt = wire(**{"start.who": "world", "start.n": 3})
    assert rt.get_or(["start", "nobody"], "default") == "default"
    assert rt.get_or(["start", "who"]) == "world"
    assert rt.render("Hello {{#start.who#}} x{{#start.n#}}") == "Hello world x3"
    # A variable that does not exist (a skipped branch's node) reads as nothing, as in Dify.
    assert rt.render("[{{#start.nobody#}}]") == "[]"
    rt.emit("text", "Hel")
    rt.emit("text", "lo")
    rt.assign(["conversation", "count"], 4)
    assert rt.chunks == [("text", "Hel"), ("text", "lo")]
    assert rt.assignments == [(("conversation", "count"), 4)]


async def test_a_node_that_is_no_container_has_no_children_to_run() -> None:
    with pytest.raises(NodeRunError, match="node n1 is not a container"):
        await wire().run_children({"item": 1})


def test_node_errors_carry_their_type_and_path() -> None:
    assert NodeRunError("boom").error_type == "NodeRunError"
    assert NodeRunError("boom", error_type="HTTPResponseCodeError").error_type == "HTTPResponseCodeError"
    assert str(NodeConfigError("must be text", path="cases[0].id")) == "cases[0].id: must be text"
    assert str(NodeConfigError("missing")) == "missing"


def test_prepared_node_selectors_default_to_the_references_in_its_config() -> None:
    class Node(PreparedNode):
        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

        def run(self, rt: NodeRuntime) -> NodeResult:
            return NodeResult()

    node = Node({"answer": "{{#llm.text#}} {{#sys.query#}} {{#llm.text#}}", "value_selector": ["sys", "query"]})
    assert node.selectors() == [("llm", "text"), ("sys", "query")]


# -- NodeType.run: the wire operation built on prepare ----------------------------------------------


class Greet(PreparedNode):
    """Streams a greeting, counts it in a conversation variable, and branches on the name."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    async def run(self, rt: NodeRuntime) -> NodeResult:
        name = rt.get(self.config["value_selector"])
        rt.emit("text", "Hello, ")
        rt.emit("text", name)
        count = rt.get(["conversation", "count"]) + 1
        rt.assign(["conversation", "count"], count)
        return NodeResult(
            outputs={"text": f"Hello, {name}", "count": count},
            handle="known" if name in self.config["known"] else "unknown",
            inputs={"name": name},
            process_data={"rendered": True},
        )


class Greeter(NodeType):
    schema = NodeTypeSchema(name="greet", label="Greet")
    blocking = False

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        if not isinstance(config.get("known"), list):
            raise NodeConfigError("must be a list of names", path="known")
        return Greet(config)


class Broken(NodeType):
    schema = NodeTypeSchema(name="broken", label="Broken")

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        class ReturnsADict(PreparedNode):
            def run(self, rt: NodeRuntime) -> Any:
                return {"outputs": {}}

        return ReturnsADict()


class Unprepared(NodeType):
    schema = NodeTypeSchema(name="unprepared", label="Unprepared")


def plugin(*node_types: NodeType) -> Any:
    class Plugin:
        @hookimpl
        def register_node_types(self, register: Callable[[NodeType], None]) -> None:
            for node_type in node_types:
                register(node_type)

    return Plugin()


GREET_ARGS: dict[str, Any] = {
    "node_id": "g1",
    "config": {"value_selector": ["start", "name"], "known": ["Ada"]},
    "variables": [[["start", "name"], "Ada"], [["conversation", "count"], 1]],
}


def test_run_streams_chunks_then_assignments_then_the_result() -> None:
    events = invoke(plugin(Greeter()), "node_type", "greet", "run", GREET_ARGS)
    assert events == [
        NodeEvent(type="chunk", variable="text", chunk="Hello, "),
        NodeEvent(type="chunk", variable="text", chunk="Ada"),
        NodeEvent(type="assign", selector=["conversation", "count"], value=2),
        NodeEvent(
            type="result",
            outputs={"text": "Hello, Ada", "count": 2},
            handle="known",
            inputs={"name": "Ada"},
            process_data={"rendered": True},
        ),
    ]


async def test_run_of_a_plain_node_result_has_the_source_handle() -> None:
    class Constant(PreparedNode):
        config: dict[str, Any] = {}

        def run(self, rt: NodeRuntime) -> NodeResult:
            return NodeResult(outputs={"answer": 42})

    class ConstantType(NodeType):
        schema = NodeTypeSchema(name="constant", label="Constant")

        def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
            return Constant()

    [result] = await ainvoke(plugin(ConstantType()), "node_type", "constant", "run", {"node_id": "c", "config": {}})
    assert (result.type, result.outputs, result.handle) == ("result", {"answer": 42}, SOURCE_HANDLE)


def test_run_reports_a_config_error_with_its_path() -> None:
    args = {**GREET_ARGS, "config": {"value_selector": ["start", "name"]}}
    with pytest.raises(PluginInvalidArgument) as caught:
        invoke(plugin(Greeter()), "node_type", "greet", "run", args)
    assert caught.value.message == "known: must be a list of names"
    assert caught.value.details == {"path": "known"}


def test_run_of_a_node_type_without_prepare_is_a_config_error() -> None:
    with pytest.raises(PluginInvalidArgument, match="node type 'unprepared' does not implement prepare"):
        invoke(plugin(Unprepared()), "node_type", "unprepared", "run", {"node_id": "u", "config": {}})


def test_run_rejects_a_result_that_is_not_a_node_result() -> None:
    with pytest.raises(PluginMalformedResponse, match="node type 'broken' returned dict, not NodeResult"):
        invoke(plugin(Broken()), "node_type", "broken", "run", {"node_id": "b", "config": {}})


def test_run_fails_when_a_variable_was_not_sent() -> None:
    args = {**GREET_ARGS, "variables": [[["start", "name"], "Ada"]]}
    with pytest.raises(PluginFailed, match=r"variable conversation\.count does not exist") as caught:
        invoke(plugin(Greeter()), "node_type", "greet", "run", args)
    # Error strategies expose error_type (EXEC-ERROR-STRATEGY): it crosses the process boundary.
    assert caught.value.details == {"error_type": "VariableNotFound"}


def test_run_rejects_the_old_inputs_argument() -> None:
    args = {"node_id": "g1", "config": GREET_ARGS["config"], "inputs": {"name": "Ada"}}
    with pytest.raises(PluginInvalidArgument) as caught:
        invoke(plugin(Greeter()), "node_type", "greet", "run", args)
    assert [(e["loc"], e["type"]) for e in caught.value.details["errors"]] == [("inputs", "extra_forbidden")]
