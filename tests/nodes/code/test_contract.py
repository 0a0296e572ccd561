"""Dify's code node contract (NODE-CODE), through prepare/run with a small runtime: ``main()`` gets
the declared inputs and returns the declared outputs, in Python 3 and JavaScript; syntax errors and
exceptions come back with the traceback's last line and the line number in the user's code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from treadle_code_node import (
    CodeNodeError,
    CodeNodeType,
    CodeSettings,
    DepthLimitError,
    OutputValidationError,
)
from treadle_sdk.nodes import NodeConfigError

from .support import DictRuntime, data, prepare, run

pytestmark = pytest.mark.usefixtures("sandbox")

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "dify-dsl"


# -- Python 3 ----------------------------------------------------------------------------------


async def test_python_main_gets_the_inputs_and_returns_the_outputs() -> None:
    code = (
        "def main(name: str, count: int, tags: list, meta: dict) -> dict:\n"
        "    return {\n"
        "        'greeting': f'hello {name}' * count,\n"
        "        'total': count * 1.5,\n"
        "        'ok': True,\n"
        "        'tags': sorted(tags),\n"
        "        'meta': {**meta, 'seen': True},\n"
        "    }\n"
    )
    outputs = await run(
        code,
        {"name": "Ada", "count": 2, "tags": ["b", "a"], "meta": {"k": [1, 2]}},
        outputs={
            "greeting": "string",
            "total": "number",
            "ok": "boolean",
            "tags": "array[string]",
            "meta": "object",
        },
    )
    assert outputs == {
        "greeting": "hello Adahello Ada",
        "total": 3.0,
        "ok": True,
        "tags": ["a", "b"],
        "meta": {"k": [1, 2], "seen": True},
    }


async def test_a_variable_that_does_not_exist_is_none_as_in_dify() -> None:
    node = prepare("def main(x):\n    return {'missing': x is None}\n", inputs=["x"], outputs={"missing": "boolean"})
    result = await node.run(DictRuntime())
    assert result.outputs == {"missing": True}
    assert result.inputs == {"x": None}


async def test_python_code_may_import_the_standard_library_and_json_repair() -> None:
    code = (
        "import json, re, math, datetime, random, collections, base64, hashlib, unicodedata\n"
        "from zoneinfo import ZoneInfo\n"
        "import json_repair\n"
        "def main(text):\n"
        "    fixed = json_repair.loads(text)\n"
        "    when = datetime.datetime(2024, 1, 1, tzinfo=ZoneInfo('Asia/Shanghai'))\n"
        "    return {'fixed': fixed, 'root': math.isqrt(fixed['n']), 'offset': when.utcoffset().seconds}\n"
    )
    outputs = await run(code, {"text": "{n: 49,"}, outputs={"fixed": "object", "root": "number", "offset": "number"})
    assert outputs == {"fixed": {"n": 49}, "root": 7, "offset": 8 * 3600}


async def test_python_code_may_use_numpy_and_pandas_as_in_dify() -> None:
    code = (
        "import numpy as np\n"
        "import pandas as pd\n"
        "def main(rows: list) -> dict:\n"
        "    df = pd.DataFrame(rows)\n"
        "    return {'mean': float(np.mean(df['value'])), 'columns': list(df.columns)}\n"
    )
    outputs = await run(
        code,
        {"rows": [{"name": "a", "value": 1}, {"name": "b", "value": 4}]},
        outputs={"mean": "number", "columns": "array[string]"},
    )
    assert outputs == {"mean": 2.5, "columns": ["name", "value"]}


async def test_an_async_main_is_awaited() -> None:
    code = "import asyncio\nasync def main():\n    await asyncio.sleep(0)\n    return {'r': 'done'}\n"
    assert await run(code, outputs={"r": "string"}) == {"r": "done"}


async def test_what_the_code_prints_does_not_disturb_the_result() -> None:
    code = (
        "import sys\n"
        "def main():\n"
        "    print('{\"ok\": false}')\n"
        "    print('noise', file=sys.stderr)\n"
        "    return {'r': 1}\n"
    )
    assert await run(code, outputs={"r": "number"}) == {"r": 1}


async def test_a_python_syntax_error_names_its_line() -> None:
    with pytest.raises(CodeNodeError, match=r"^SyntaxError: .* \(line 3\)$") as caught:
        await run("def main():\n    x = 1\n    return {'r': x +}\n", outputs={"r": "number"})
    assert caught.value.line == 3
    assert caught.value.error_type == "CodeNodeError"


async def test_a_python_exception_names_the_line_in_the_users_code() -> None:
    code = "def helper(d):\n    return d['missing']\n\ndef main():\n    return {'r': helper({})}\n"
    with pytest.raises(CodeNodeError, match=r"^KeyError: 'missing' \(line 2\)$") as caught:
        await run(code, outputs={"r": "number"})
    assert caught.value.line == 2


async def test_main_is_required_and_must_return_a_dict() -> None:
    with pytest.raises(CodeNodeError, match="defines no main"):
        await run("def handler():\n    return {}\n")
    with pytest.raises(CodeNodeError, match="main\\(\\) must return a dict, not list"):
        await run("def main():\n    return [1]\n")
    with pytest.raises(CodeNodeError, match="unexpected keyword argument 'b'"):
        await run("def main(a):\n    return {}\n", {"a": 1, "b": 2})


async def test_a_value_json_cannot_encode_names_its_output() -> None:
    with pytest.raises(CodeNodeError, match="output 'r' is a set"):
        await run("def main():\n    return {'r': {1, 2}}\n", outputs={"r": "array[number]"})


async def test_exiting_without_a_result_is_an_error() -> None:
    with pytest.raises(CodeNodeError, match="exited with status 3 before returning a result"):
        await run("import os\ndef main():\n    os._exit(3)\n")


async def test_python_outputs_are_checked() -> None:
    with pytest.raises(OutputValidationError, match="'count' must be a number, not string") as caught:
        await run("def main():\n    return {'count': '3'}\n", outputs={"count": "number"})
    assert caught.value.error_type == "OutputValidationError"
    with pytest.raises(OutputValidationError, match="'count' is missing"):
        await run("def main():\n    return {}\n", outputs={"count": "number"})
    with pytest.raises(DepthLimitError):
        await run(
            "def main():\n    return {'o': {'a': {'b': {'c': {'d': {'e': {'f': 1}}}}}}}\n", outputs={"o": "object"}
        )
    assert await run(
        "def main():\n    return {'s': 'a\\x00b', 'n': 2/3}\n", outputs={"s": "string", "n": "number"}
    ) == {
        "s": "ab",
        "n": 0.6666666667,
    }


# -- JavaScript --------------------------------------------------------------------------------


@pytest.mark.usefixtures("nodejs")
async def test_javascript_main_gets_the_inputs_as_one_object() -> None:
    code = (
        "function main({name, count, tags}) {\n"
        "  return {greeting: `hello ${name}`.repeat(count), total: count * 1.5, ok: true,\n"
        "          tags: [...tags].sort(), meta: {n: tags.length}};\n"
        "}\n"
    )
    outputs = await run(
        code,
        {"name": "Ada", "count": 2, "tags": ["b", "a"]},
        language="javascript",
        outputs={"greeting": "string", "total": "number", "ok": "boolean", "tags": "array[string]", "meta": "object"},
    )
    assert outputs == {"greeting": "hello Adahello Ada", "total": 3.0, "ok": True, "tags": ["a", "b"], "meta": {"n": 2}}


@pytest.mark.usefixtures("nodejs")
async def test_javascript_may_return_a_promise_and_use_builtin_modules() -> None:
    code = (
        "const crypto = require('crypto');\n"
        "async function main({text}) {\n"
        "  await new Promise((resolve) => setTimeout(resolve, 1));\n"
        "  return {digest: crypto.createHash('sha256').update(text).digest('hex').slice(0, 8)};\n"
        "}\n"
    )
    outputs = await run(code, {"text": "abc"}, language="javascript", outputs={"digest": "string"})
    assert outputs == {"digest": "ba7816bf"}


@pytest.mark.usefixtures("nodejs")
async def test_a_javascript_syntax_error_names_its_line() -> None:
    with pytest.raises(CodeNodeError, match=r"^SyntaxError: .* \(line 2\)$") as caught:
        await run("function main() {\n  return {r: };\n}\n", language="javascript", outputs={"r": "number"})
    assert caught.value.line == 2


@pytest.mark.usefixtures("nodejs")
async def test_a_javascript_exception_names_the_line_in_the_users_code() -> None:
    code = "function helper(o) {\n  return o.missing.deeper;\n}\nfunction main() {\n  return {r: helper({})};\n}\n"
    with pytest.raises(CodeNodeError, match=r"^TypeError: Cannot read properties of undefined .* \(line 2\)$"):
        await run(code, language="javascript", outputs={"r": "number"})
    with pytest.raises(CodeNodeError, match=r"^Uncaught boom$"):
        await run("function main() {\n  throw 'boom';\n}\n", language="javascript")


@pytest.mark.usefixtures("nodejs")
async def test_javascript_outputs_are_checked() -> None:
    with pytest.raises(CodeNodeError, match="main\\(\\) must return an object, not array"):
        await run("function main() {\n  return [1];\n}\n", language="javascript")
    with pytest.raises(OutputValidationError, match="'r' must be a string, not number"):
        await run("function main() {\n  return {r: 1};\n}\n", language="javascript", outputs={"r": "string"})
    with pytest.raises(OutputValidationError, match="outside the allowed range"):
        await run("function main() {\n  return {r: 1e12};\n}\n", language="javascript", outputs={"r": "number"})


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"code": None}, "code"),
        ({"code_language": "ruby"}, "code_language"),
        ({"variables": {"a": 1}}, "variables"),
        ({"variables": [{"variable": "", "value_selector": ["a", "b"]}]}, "variables[0].variable"),
        ({"variables": [{"variable": "a", "value_selector": ["a"]}]}, "variables[0].value_selector"),
        (
            {
                "variables": [
                    {"variable": "a", "value_selector": ["s", "a"]},
                    {"variable": "a", "value_selector": ["s", "b"]},
                ]
            },
            "variables[1].variable",
        ),
        ({"outputs": {"r": {"type": "file"}}}, "outputs.r.type"),
        ({"limits": {"timeout": 3600}}, "limits.timeout"),
    ],
)
def test_invalid_configuration_is_refused_at_prepare_with_its_path(change: dict[str, object], path: str) -> None:
    config = {**data("def main():\n    return {}\n"), **change}
    with pytest.raises(NodeConfigError) as caught:
        CodeNodeType(CodeSettings()).prepare("code", config)
    assert caught.value.path == path


def test_javascript_without_nodejs_is_refused_at_prepare() -> None:
    node_type = CodeNodeType(CodeSettings(node="/nonexistent/bin/node"))
    with pytest.raises(NodeConfigError, match=r"JavaScript code needs Node\.js.*TREADLE_CODE_NODE") as caught:
        node_type.prepare("code", data("function main() {}", language="javascript"))
    assert caught.value.path == "code_language"
    node_type.prepare("code", data("def main():\n    return {}\n"))  # Python needs no Node.js


def test_the_node_reads_exactly_its_variables() -> None:
    node = CodeNodeType(CodeSettings()).prepare(
        "code",
        {
            **data("def main(a, b):\n    return {}\n"),
            "variables": [
                {"variable": "a", "value_selector": ["start", "a"]},
                {"variable": "b", "value_selector": ["llm", "text"]},
                {"variable": "c", "value_selector": []},
            ],
        },
    )
    assert node.selectors() == [("start", "a"), ("llm", "text")]


# -- corpus ------------------------------------------------------------------------------------


def corpus_code_node(name: str) -> dict[str, object]:
    """The first code node of a corpus DSL file, as its ``data``."""
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the corpus is not beside the repository ({path})")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for node in document["workflow"]["graph"]["nodes"]:
        if node["data"].get("type") == "code":
            node_data: dict[str, object] = node["data"]
            return node_data
    raise AssertionError(f"{name} has no code node")


async def test_the_corpus_json_repair_node_runs() -> None:
    config = corpus_code_node("json-repair.yml")
    node = CodeNodeType(CodeSettings()).prepare("code", config)
    [selector] = node.selectors()
    result = await node.run(DictRuntime({selector: '{\'name\': \'Ada\', "langs": ["en", "fr"]'}))
    assert re.sub(r"\s", "", result.outputs["result"]) == '{"name":"Ada","langs":["en","fr"]}'


async def test_the_corpus_file_read_node_runs_without_seeing_the_host() -> None:
    config = corpus_code_node("file-read.yml")
    node = CodeNodeType(CodeSettings()).prepare("code", config)
    [selector] = node.selectors()
    result = await node.run(DictRuntime({selector: 1024}))
    assert result.outputs == {"file_path": "None"}  # /upload_files is not in the sandbox
