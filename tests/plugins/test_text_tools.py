"""The text tools (treadle_text_tools): the ``text`` provider's utilities and regular expressions, and
the ``regex`` provider with Dify's ``regex_extract``; through the real dispatcher and once through a
plugin host process."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import treadle_text_tools
from treadle.config import Settings
from treadle.plugins import PluginSupervisor
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.testing import ainvoke, load
from treadle_sdk.tool_runtime import JsonMessage, TextMessage, VariableMessage
from treadle_text_tools import regex_tools
from treadle_text_tools.parameters import MAX_TEXT_LENGTH


async def run(tool: str, provider: str = "text", **parameters: Any) -> list[Any]:
    payload = {"tool": tool, "parameters": parameters}
    return await ainvoke(treadle_text_tools, "tool_provider", provider, "invoke_tool", payload)


async def text_of(tool: str, **parameters: Any) -> str:
    return "".join(m.text for m in await run(tool, **parameters) if isinstance(m, TextMessage))


async def json_of(tool: str, provider: str = "text", **parameters: Any) -> Any:
    (message,) = [m for m in await run(tool, provider, **parameters) if isinstance(m, JsonMessage)]
    return message.json_object


# -- registration --------------------------------------------------------------------------------


def test_providers_and_tools_are_registered() -> None:
    """PLUG-TOOL-SCHEMA: the ``text`` provider, and ``regex`` with Dify's ``regex_extract`` parameters."""
    table = load(treadle_text_tools).extensions
    assert table.names("tool_provider") == ["regex", "text"]
    text = table.get("tool_provider", "text")
    regex = table.get("tool_provider", "regex")
    assert text is not None and regex is not None
    assert [t["name"] for t in text.schema["tools"]] == [
        "count", "change_case", "trim", "replace", "split", "join", "substring",
        "regex_extract", "regex_replace", "regex_match",
    ]  # fmt: skip
    [extract] = regex.schema["tools"]
    assert extract["name"] == "regex_extract"
    assert [(p["name"], p["required"]) for p in extract["parameters"]] == [
        ("content", False),
        ("expression", True),
        ("flags", False),
    ]
    [entry_point] = [ep for ep in importlib.metadata.entry_points(group="treadle") if ep.name == "text-tools"]
    assert entry_point.load() is treadle_text_tools


# -- text utilities ------------------------------------------------------------------------------


async def test_count_counts_characters_words_lines_and_bytes() -> None:
    """PLUG-TOOL-OUTPUT: the text output in the chosen unit, every count in json and as variables."""
    messages = await run("count", text="Grüße, world!\nsecond line")
    counts = {"characters": 25, "words": 4, "lines": 2, "bytes": 27}
    assert messages[:2] == [TextMessage(text="25"), JsonMessage(json_object=counts)]
    assert {m.name: m.value for m in messages if isinstance(m, VariableMessage)} == counts
    assert await text_of("count", text="one two  three", unit="words") == "3"
    assert await text_of("count") == "0"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("upper", "HELLO WORLD-WIDE HTTPSERVER 2"),
        ("lower", "hello world-wide httpserver 2"),
        ("title", "Hello World-Wide Httpserver 2"),
        ("sentence", "Hello world-wide httpserver 2"),
        ("swapcase", "HELLO WORLD-wIDE httpsERVER 2"),
        ("snake", "hello_world_wide_http_server_2"),
        ("kebab", "hello-world-wide-http-server-2"),
        ("camel", "helloWorldWideHttpServer2"),
        ("pascal", "HelloWorldWideHttpServer2"),
    ],
)
async def test_change_case(case: str, expected: str) -> None:
    assert await text_of("change_case", text="hello world-Wide HTTPServer 2", case=case) == expected


async def test_change_case_keeps_scripts_without_case() -> None:
    assert await text_of("change_case", text="数据 处理", case="snake") == "数据_处理"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"text": "  both \n"}, "both"),
        ({"text": "  start  ", "side": "start"}, "start  "),
        ({"text": "  end  ", "side": "end"}, "  end"),
        ({"text": "--x--", "characters": "-"}, "x"),
        ({"text": "\n\nx\n", "characters": "\\n"}, "x"),
    ],
)
async def test_trim(parameters: dict[str, Any], expected: str) -> None:
    assert await text_of("trim", **parameters) == expected


async def test_replace_is_literal_and_counts_its_replacements() -> None:
    messages = await run("replace", text="a.b.c", find=".", replacement="-")
    assert messages == [TextMessage(text="a-b-c"), VariableMessage(name="replacements", value=2)]
    assert await text_of("replace", text="a.b.c", find=".", replacement="", count=1) == "ab.c"
    assert await text_of("replace", text="Cat cat CAT", find="cat", replacement="dog", case_sensitive=False) == (
        "dog dog dog"
    )
    with pytest.raises(PluginInvalidArgument, match="parameter 'find' of tool 'replace' is required"):
        await run("replace", text="x", find="")


async def test_split_and_join() -> None:
    messages = await run("split", text="a\nb\n\nc")
    assert messages == [
        TextMessage(text='["a", "b", "", "c"]'),
        JsonMessage(json_object=["a", "b", "", "c"]),
        VariableMessage(name="items", value=["a", "b", "", "c"]),
    ]
    parts = await json_of("split", text=" a , b ,, c", separator=",", trim_items=True, remove_empty=True)
    assert parts == ["a", "b", "c"]
    assert await json_of("split", text="k=v=w", separator="=", max_splits=1) == ["k", "v=w"]
    assert await text_of("join", items='["a", 1, {"b": true}]', separator=", ") == 'a, 1, {"b": true}'
    assert await text_of("join", items=["x", "y"], separator="\\n") == "x\ny"
    assert await text_of("join", items=["x", "y"]) == "xy"
    with pytest.raises(PluginInvalidArgument, match="parameter 'items' of tool 'join' must be a list or its JSON text"):
        await run("join", items="a, b")


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"start": 1, "end": 3}, "ël"),
        ({"start": -3}, "llo"),
        ({"end": -1}, "hëll"),
        ({"start": 10}, ""),
    ],
)
async def test_substring_counts_characters(parameters: dict[str, Any], expected: str) -> None:
    assert await text_of("substring", text="hëllo", **parameters) == expected


async def test_text_past_the_limit_is_refused() -> None:
    with pytest.raises(PluginInvalidArgument, match=f"parameter 'text': the text is .* the limit is {MAX_TEXT_LENGTH}"):
        await run("count", text="x" * (MAX_TEXT_LENGTH + 1))


# -- regular expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (r"\d{4}", "['2024', '2025']"),
        (r"(\d{4})-\d\d", "['2024', '2025']"),
        (r"(\d{4})-(\d\d)", "[('2024', '01'), ('2025', '02')]"),
        (r"(x)?\d{4}", "['', '']"),
        (r"nothing", "[]"),
    ],
)
async def test_regex_extract_text_is_difys_findall_list(expression: str, text: str) -> None:
    """Dify's ``regex`` tool answers ``str(re.findall(...))``; DSL files that use it get the same."""
    messages = await run("regex_extract", "regex", content="on 2024-01 and 2025-02", expression=expression)
    assert messages[0] == TextMessage(text=text)


async def test_regex_extract_json_has_positions_and_groups() -> None:
    found = await json_of("regex_extract", content="on 2024-01 and 2025-02", expression=r"(?P<year>\d{4})-(\d\d)")
    assert found == {
        "count": 2,
        "truncated": False,
        "matches": [
            {"match": "2024-01", "start": 3, "end": 10, "groups": ["2024", "01"], "named": {"year": "2024"}},
            {"match": "2025-02", "start": 15, "end": 22, "groups": ["2025", "02"], "named": {"year": "2025"}},
        ],
    }


async def test_regex_flags() -> None:
    text = "Alpha\nbeta\nGAMMA"
    assert await text_of("regex_extract", content=text, expression="^[a-z]+$", flags="mi") == (
        "['Alpha', 'beta', 'GAMMA']"
    )
    assert await text_of("regex_extract", content=text, expression="^[a-z]+$") == "[]"
    assert await text_of("regex_extract", content=text, expression="a.b", flags="s") == "['a\\nb']"
    with pytest.raises(PluginInvalidArgument, match="parameter 'flags': unknown flag\\(s\\) 'q'; use letters from"):
        await run("regex_extract", content=text, expression="a", flags="iq")


async def test_regex_extract_stops_collecting_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regex_tools, "MAX_MATCHES", 3)
    found = await json_of("regex_extract", content="a" * 10, expression="a")
    assert (found["count"], found["truncated"]) == (3, True)


async def test_regex_replace_with_groups() -> None:
    messages = await run(
        "regex_replace", content="2024-01, 2025-02", expression=r"(?P<y>\d{4})-(\d\d)", replacement=r"\2/\g<y>"
    )
    assert messages == [
        TextMessage(text="01/2024, 02/2025"),
        JsonMessage(json_object={"result": "01/2024, 02/2025", "replacements": 2}),
    ]
    assert await text_of("regex_replace", content="aaa", expression="a", replacement="b", count=2) == "bba"
    assert await text_of("regex_replace", content="a1b22", expression=r"\d+") == "ab"
    with pytest.raises(PluginInvalidArgument, match="parameter 'replacement': not a valid replacement"):
        await run("regex_replace", content="abc", expression="(b)", replacement=r"\3")


async def test_regex_match_anywhere_or_whole() -> None:
    assert await run("regex_match", content="order 66", expression=r"(\d+)") == [
        TextMessage(text="true"),
        JsonMessage(json_object={"matched": True, "match": "66", "start": 6, "end": 8, "groups": ["66"], "named": {}}),
    ]
    assert await text_of("regex_match", content="order 66", expression=r"\d+", mode="full") == "false"
    assert await json_of("regex_match", content="66", expression=r"\d+", mode="full") == {
        "matched": True, "match": "66", "start": 0, "end": 2, "groups": [], "named": {},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(ab", "parameter 'expression': not a valid regular expression: missing ) at position 4"),
        ("a{2,1}", "parameter 'expression': not a valid regular expression: min repeat greater than max repeat"),
        ("a" * 2001, "parameter 'expression': the expression is 2001 characters long; the limit is 2000"),
    ],
)
async def test_bad_expressions_are_refused_with_where(expression: str, message: str) -> None:
    with pytest.raises(PluginInvalidArgument) as caught:
        await run("regex_match", content="abc", expression=expression)
    assert caught.value.message.startswith(message)
    assert caught.value.details["parameter"] == "expression"


@pytest.mark.parametrize("tool", ["regex_extract", "regex_replace", "regex_match"])
async def test_catastrophic_backtracking_is_stopped(tool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A nested repetition on a long non-matching text would run for ages; it is stopped at the limit."""
    monkeypatch.setattr(regex_tools, "REGEX_TIMEOUT", 0.2)
    started = time.monotonic()
    with pytest.raises(PluginInvalidArgument, match=r"matching took longer than 0\.2 s and was stopped") as caught:
        await run(tool, content="x" * 5000, expression=r"(x+x+)+y")
    assert time.monotonic() - started < 10
    assert caught.value.details == {"parameter": "expression", "timeout": 0.2}


# -- out of process ------------------------------------------------------------------------------


@pytest.fixture
def home() -> Iterator[Path]:
    """A data directory short enough for the host's socket path."""
    path = Path(tempfile.mkdtemp(prefix="trt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_the_tools_run_in_a_plugin_host_process(home: Path) -> None:
    """PLUG-TYPE-TOOL: both providers of the installed plugin, out of process."""
    settings = Settings.load(home=home, plugins={"load": ["text-tools"]})
    async with PluginSupervisor(settings) as supervisor:
        payload = {"tool": "change_case", "parameters": {"text": "plugin host", "case": "pascal"}}
        assert await supervisor.call("tool_provider", "text", "invoke_tool", payload) == [
            TextMessage(text="PluginHost")
        ]
        payload = {"tool": "regex_extract", "parameters": {"content": "a1 b22", "expression": r"\d+"}}
        messages = await supervisor.call("tool_provider", "regex", "invoke_tool", payload)
        assert messages[0] == TextMessage(text="['1', '22']")
        assert json.dumps(messages[1].json_object["matches"][1]) == (
            '{"match": "22", "start": 4, "end": 6, "groups": [], "named": {}}'
        )
