"""The json_process tools (treadle_json_process): Dify's ``parse``, ``json_insert``, ``json_replace`` and
``json_delete``, called through the real dispatcher and once through a plugin host process."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import treadle_json_process
from treadle.config import Settings
from treadle.plugins import PluginSupervisor
from treadle_json_process.document import MAX_CONTENT_LENGTH
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.testing import ainvoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

DOC = {
    "store": {
        "name": "Corner shop",
        "books": [
            {"id": 1, "title": "Dune", "price": 9.5, "tags": ["sf"]},
            {"id": 2, "title": "Emma", "price": 12.0, "tags": ["classic", "romance"]},
            {"id": 3, "title": "Ubik", "price": 15.25, "tags": []},
        ],
    },
    "open": True,
}


async def run(tool: str, **parameters: Any) -> list[Any]:
    payload = {"tool": tool, "parameters": parameters}
    return await ainvoke(treadle_json_process, "tool_provider", "json_process", "invoke_tool", payload)


async def text_of(tool: str, **parameters: Any) -> str:
    return "".join(m.text for m in await run(tool, **parameters) if isinstance(m, TextMessage))


async def edited(tool: str, content: Any = DOC, **parameters: Any) -> Any:
    """The edited document an editing tool answers with (its text and json outputs agree)."""
    messages = await run(tool, content=json.dumps(content), **parameters)
    text, *rest = messages
    document = json.loads(text.text)
    if isinstance(document, dict | list):
        assert rest == [JsonMessage(json_object=document)]
    return document


# -- registration --------------------------------------------------------------------------------


def test_the_provider_has_difys_names_and_parameters() -> None:
    """PLUG-TOOL-SCHEMA: the names Dify DSL files use (langgenius/json_process)."""
    entry = load(treadle_json_process).extensions.get("tool_provider", "json_process")
    assert entry is not None
    tools = {tool["name"]: tool for tool in entry.schema["tools"]}
    assert list(tools) == ["parse", "json_insert", "json_replace", "json_delete"]

    def parameters(tool: str) -> dict[str, tuple[str, str, bool, Any]]:
        return {p["name"]: (p["type"], p["form"], p["required"], p["default"]) for p in tools[tool]["parameters"]}

    assert parameters("parse") == {
        "content": ("string", "llm", True, None),
        "json_filter": ("string", "llm", False, None),
        "ensure_ascii": ("boolean", "form", False, True),
    }
    assert set(parameters("json_insert")) == {
        "content",
        "query",
        "new_value",
        "index",
        "create_path",
        "value_decode",
        "ensure_ascii",
    }
    assert parameters("json_replace")["replace_model"] == ("select", "form", True, "pattern")
    assert set(parameters("json_delete")) == {"content", "query", "ensure_ascii"}
    [entry_point] = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "json-process"]
    assert entry_point.load() is treadle_json_process


# -- parse ---------------------------------------------------------------------------------------

LLM_ANSWER = json.dumps({"nextSearchTopic": "量子コンピュータの応用", "shouldContinue": True})


async def test_parse_as_the_deepresearch_corpus_flow_uses_it() -> None:
    """corpus deepresearch-chatflow.yml: ``ensure_ascii`` arrives as the number 1, and the if-else
    after the tool compares its text with ``True``, which is how Dify writes a JSON true."""
    topic = await text_of("parse", content=LLM_ANSWER, json_filter="nextSearchTopic", ensure_ascii=1)
    assert topic == "量子コンピュータの応用"
    assert await text_of("parse", content=LLM_ANSWER, json_filter="shouldContinue", ensure_ascii=1) == "True"
    answer = json.dumps({"shouldContinue": False, "n": None, "score": 1.5})
    assert [await text_of("parse", content=answer, json_filter=key) for key in ("shouldContinue", "n", "score")] == [
        "False",
        "None",
        "1.5",
    ]


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("store.name", "Corner shop"),
        ("$.store.books[1].title", "Emma"),
        ("store.books[*].id", "[1, 2, 3]"),
        ("$..title", '["Dune", "Emma", "Ubik"]'),
        ("store.books[?price > 10].title", '["Emma", "Ubik"]'),
        ("store.books[-1:].tags", "[]"),
        ("store.missing", "[]"),
        ("store.books[0]", '{"id": 1, "title": "Dune", "price": 9.5, "tags": ["sf"]}'),
    ],
)
async def test_parse_selects_with_jsonpath(query: str, text: str) -> None:
    """One match is the value itself, several (or none) a list; objects and lists are JSON text."""
    assert await text_of("parse", content=json.dumps(DOC), json_filter=query) == text


async def test_parse_answers_objects_and_lists_in_json_too() -> None:
    messages = await run("parse", content=json.dumps(DOC), json_filter="store.books[0]")
    assert messages[1] == JsonMessage(json_object=DOC["store"]["books"][0])  # type: ignore[index]
    assert len(await run("parse", content=json.dumps(DOC), json_filter="store.name")) == 1


async def test_parse_without_a_filter_gives_the_whole_document_and_honours_ensure_ascii() -> None:
    content = json.dumps({"city": "Zürich"}, ensure_ascii=False)
    assert await text_of("parse", content=content) == '{"city": "Z\\u00fcrich"}'
    assert await text_of("parse", content=content, ensure_ascii=False) == '{"city": "Zürich"}'


async def test_parse_takes_json_out_of_a_markdown_code_fence() -> None:
    fenced = '```json\n{"answer": 42}\n```'
    assert await text_of("parse", content=fenced, json_filter="answer") == "42"


@pytest.mark.parametrize(
    ("parameters", "parameter", "message"),
    [
        ({"content": '{"a": 1,}'}, "content", "parameter 'content': not valid JSON: Expecting property name enclosed"),
        (
            {"content": "not json"},
            "content",
            "parameter 'content': not valid JSON: Expecting value at line 1, column 1",
        ),
        ({"content": "{}", "json_filter": "a[["}, "json_filter", "parameter 'json_filter': 'a[[' is not a JSONPath"),
        ({"content": "{}", "ensure_ascii": "perhaps"}, "ensure_ascii", "parameter 'ensure_ascii' of tool 'parse' must"),
        ({"json_filter": "a"}, "content", "parameter 'content' of tool 'parse' is required"),
    ],
)
async def test_parse_refuses_bad_input_naming_the_parameter(
    parameters: dict[str, Any], parameter: str, message: str
) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        await run("parse", **parameters)
    assert caught.value.message.startswith(message)
    assert caught.value.details["parameter"] == parameter


async def test_content_past_the_limit_is_refused() -> None:
    with pytest.raises(PluginInvalidArgument, match=f"the limit is {MAX_CONTENT_LENGTH}"):
        await run("parse", content=" " * (MAX_CONTENT_LENGTH + 1))


# -- json_insert ---------------------------------------------------------------------------------


async def test_insert_appends_to_a_list_or_inserts_at_an_index() -> None:
    assert (await edited("json_insert", query="store.books[0].tags", new_value="new"))["store"]["books"][0]["tags"] == [
        "sf",
        "new",
    ]
    at_front = await edited("json_insert", {"l": [1, 2]}, query="l", new_value="0", value_decode=True, index=0)
    assert at_front == {"l": [0, 1, 2]}
    before_last = await edited("json_insert", {"l": [1, 2]}, query="l", new_value="x", index="-1")
    assert before_last == {"l": [1, "x", 2]}


async def test_insert_merges_an_object_into_an_object_and_replaces_a_scalar() -> None:
    merged = await edited("json_insert", {"a": {"x": 1}}, query="a", new_value='{"y": [2]}', value_decode=True)
    assert merged == {"a": {"x": 1, "y": [2]}}
    assert await edited("json_insert", {"a": 1}, query="a", new_value="2") == {"a": "2"}
    with pytest.raises(PluginInvalidArgument, match="a is an object, so the new value must be an object"):
        await edited("json_insert", {"a": {"x": 1}}, query="a", new_value="plain text")


async def test_insert_creates_a_missing_path_only_when_asked() -> None:
    created = await edited("json_insert", {"a": 1}, query="$.b.c", new_value="5", value_decode=True, create_path="True")
    assert created == {"a": 1, "b": {"c": 5}}
    with pytest.raises(PluginInvalidArgument, match=r"'\$\.b\.c' matches nothing in the content \(turn on create_path"):
        await edited("json_insert", {"a": 1}, query="$.b.c", new_value="5")


async def test_insert_with_value_decode_needs_json() -> None:
    with pytest.raises(PluginInvalidArgument, match="parameter 'new_value': value_decode is on, but the value is not"):
        await edited("json_insert", {"l": []}, query="l", new_value="{oops", value_decode=True)


# -- json_replace --------------------------------------------------------------------------------


async def test_replace_pattern_changes_text_inside_matched_strings() -> None:
    result = await edited(
        "json_replace", query="store.books[*].title", replace_pattern="m", replace_value="M", replace_model="pattern"
    )
    assert [book["title"] for book in result["store"]["books"]] == ["Dune", "EMMa", "Ubik"]
    with pytest.raises(PluginInvalidArgument, match="'replace_pattern' is required when replace_model is 'pattern'"):
        await edited("json_replace", query="store.name", replace_value="x")


async def test_replace_key_renames_keys_where_they_stand() -> None:
    result = await edited("json_replace", {"a": 1, "b": 2, "c": 3}, query="b", replace_value="B", replace_model="key")
    assert list(result) == ["a", "B", "c"]
    with pytest.raises(PluginInvalidArgument, match="cannot rename 'a' to 'c': the object already has 'c'"):
        await edited("json_replace", {"a": 1, "c": 3}, query="a", replace_value="c", replace_model="key")
    with pytest.raises(PluginInvalidArgument, match=r"is not a key of an object"):
        await edited("json_replace", {"l": [1]}, query="l[0]", replace_value="k", replace_model="key")


async def test_replace_value_sets_every_match() -> None:
    result = await edited(
        "json_replace", query="store.books[*].price", replace_value="0", replace_model="value", value_decode=True
    )
    assert [book["price"] for book in result["store"]["books"]] == [0, 0, 0]
    with pytest.raises(PluginInvalidArgument, match="'nowhere' matches nothing"):
        await edited("json_replace", query="nowhere", replace_value="0", replace_model="value")


# -- json_delete ---------------------------------------------------------------------------------


async def test_delete_removes_keys_and_list_items() -> None:
    result = await edited("json_delete", query="store.books[0,2]")
    assert [book["id"] for book in result["store"]["books"]] == [2]
    result = await edited("json_delete", query="store.books[?price > 10].tags")
    assert [sorted(book) for book in result["store"]["books"]] == [
        ["id", "price", "tags", "title"],
        ["id", "price", "title"],
        ["id", "price", "title"],
    ]
    assert await edited("json_delete", query="store.nothing") == DOC
    with pytest.raises(PluginInvalidArgument, match="selects the whole document, which cannot be deleted"):
        await edited("json_delete", query="$")


# -- out of process ------------------------------------------------------------------------------


@pytest.fixture
def home() -> Iterator[Path]:
    """A data directory short enough for the host's socket path."""
    path = Path(tempfile.mkdtemp(prefix="trj-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_the_tools_run_in_a_plugin_host_process(home: Path) -> None:
    """PLUG-TYPE-TOOL: the installed plugin, loaded by its entry point name, out of process."""
    settings = Settings.load(home=home, plugins={"load": ["json-process"]})
    async with PluginSupervisor(settings) as supervisor:
        payload = {"tool": "parse", "parameters": {"content": LLM_ANSWER, "json_filter": "shouldContinue"}}
        assert await supervisor.call("tool_provider", "json_process", "invoke_tool", payload) == [
            TextMessage(text="True")
        ]
        payload = {"tool": "json_delete", "parameters": {"content": '{"a": 1, "b": 2}', "query": "a"}}
        messages = await supervisor.call("tool_provider", "json_process", "invoke_tool", payload)
        assert messages == [TextMessage(text='{"b": 2}'), JsonMessage(json_object={"b": 2})]
