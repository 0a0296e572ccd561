"""Meta-tests that keep the plugin contract honest (datasette's pattern).

Every hookspec has a docstring, a section in ``docs/plugins/hooks.md`` whose heading shows its
signature, and a ``test_hook_<name>`` test somewhere under ``tests/``. The Python examples of the plugin
documentation run as printed.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from treadle_sdk import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins"
HOOKS_DOC = DOCS / "hooks.md"
TESTS = ROOT / "tests"

#: ``### register_xxx(arg, ...)``: a hook's documentation section, headed by its signature.
SECTION = re.compile(r"^### (?P<name>\w+)\((?P<args>[^)]*)\)\s*$", re.MULTILINE)


def hookspecs_of(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    """The functions of ``module`` marked as hookspecs of the treadle project."""
    marker = f"{hookspecs.PROJECT}_spec"
    return {name: obj for name, obj in vars(module).items() if callable(obj) and hasattr(obj, marker)}


def documented_signatures(markdown: str) -> dict[str, list[str]]:
    """Hook name -> argument names, from the section headings of a hooks document."""
    return {m["name"]: [arg.strip() for arg in m["args"].split(",") if arg.strip()] for m in SECTION.finditer(markdown)}


def documentation_problems(module: types.ModuleType, markdown: str) -> list[str]:
    """What is wrong between a hookspec module and its documentation; empty when they agree."""
    documented = documented_signatures(markdown)
    problems = []
    for name, spec in sorted(hookspecs_of(module).items()):
        arguments = list(inspect.signature(spec).parameters)
        if name not in documented:
            problems.append(f"{name}: no section '### {name}({', '.join(arguments)})'")
        elif documented[name] != arguments:
            shown, taken = ", ".join(documented[name]), ", ".join(arguments)
            problems.append(f"{name}: the section shows ({shown}), the hookspec takes ({taken})")
    for name in sorted(set(documented) - set(hookspecs_of(module))):
        problems.append(f"{name}: documented, but there is no such hookspec")
    return problems


def hook_test_names(tests: Path) -> set[str]:
    """Names of every test function (sync or async, at any depth) in the test files under ``tests``."""
    names = set()
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_hook_"):
                names.add(node.name)
    return names


# -- the contract -----------------------------------------------------------------------------------

HOOKS = sorted(hookspecs_of(hookspecs))


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 6
    assert "register_models" in HOOKS


def test_every_hook_is_documented_with_its_signature() -> None:
    assert documentation_problems(hookspecs, HOOKS_DOC.read_text()) == []


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{hook}" in hook_test_names(TESTS), f"write a test named test_hook_{hook} under tests/"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc, f"hookspec {hook} has no docstring"
    assert "Called " in doc, f"the docstring of {hook} does not say when it is called"
    for argument in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {argument}:" in doc, f"the docstring of {hook} does not describe {argument!r}"


# -- the checkers can fail --------------------------------------------------------------------------


def fake_hookspecs(*functions: Callable[..., Any]) -> types.ModuleType:
    module = types.ModuleType("fake_hookspecs")
    for fn in functions:
        setattr(module, fn.__name__, hookspecs.hookspec(fn))
    return module


def register_widgets(register: Callable[[Any], None]) -> None:
    """Register widgets. Called once."""


def register_gadgets(register: Callable[[Any], None], config: dict[str, Any]) -> None:
    """Register gadgets. Called once."""


def test_a_hook_without_a_section_is_caught() -> None:
    module = fake_hookspecs(register_widgets, register_gadgets)
    markdown = "# Hooks\n\n### register_widgets(register)\n\nText.\n"
    assert documentation_problems(module, markdown) == [
        "register_gadgets: no section '### register_gadgets(register, config)'"
    ]


def test_a_section_with_the_wrong_signature_is_caught() -> None:
    module = fake_hookspecs(register_widgets, register_gadgets)
    markdown = "### register_widgets(register)\n\n### register_gadgets(register)\n"
    assert documentation_problems(module, markdown) == [
        "register_gadgets: the section shows (register), the hookspec takes (register, config)"
    ]


def test_a_section_for_a_hook_that_does_not_exist_is_caught() -> None:
    module = fake_hookspecs(register_widgets)
    markdown = "### register_widgets(register)\n\n### register_sprockets(register)\n"
    assert documentation_problems(module, markdown) == ["register_sprockets: documented, but there is no such hookspec"]


def test_a_missing_hook_test_is_caught(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("def test_hook_register_widgets():\n    pass\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "test_b.py").write_text(
        "class TestX:\n    async def test_hook_register_gizmos(self):\n        pass\n"
    )
    (tmp_path / "helper.py").write_text("def test_hook_register_gadgets():\n    pass\n")
    assert hook_test_names(tmp_path) == {"test_hook_register_widgets", "test_hook_register_gizmos"}


# -- the documentation's examples run ---------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A Python block of the docs that starts with ``# name.py``: a module to run as printed."""

    doc: Path
    line: int
    module: str
    code: str


def examples(doc: Path) -> list[Example]:
    """The runnable Python blocks of a Markdown file, in order."""
    found = []
    for match in re.finditer(r"^```python\n(?P<code>.*?)^```", doc.read_text(), re.MULTILINE | re.DOTALL):
        code = match["code"]
        first = code.splitlines()[0] if code else ""
        name = re.fullmatch(r"# (?P<module>\w+)\.py", first)
        if name:
            line = doc.read_text()[: match.start()].count("\n") + 2
            found.append(Example(doc, line, name["module"], code))
    return found


@pytest.fixture
def example_modules() -> Iterator[dict[str, types.ModuleType]]:
    """Modules made from examples, importable by their names while the test runs."""
    made: dict[str, types.ModuleType] = {}
    yield made
    for name in made:
        sys.modules.pop(name, None)


def run_example(example: Example, made: dict[str, types.ModuleType]) -> list[str]:
    """Import the example as a module; if it is a test module, run its tests. Return the tests run."""
    assert example.module not in sys.modules or example.module in made, f"{example.module} shadows a real module"
    module = types.ModuleType(example.module)
    module.__file__ = f"{example.doc}:{example.line}"  # tracebacks point at the Markdown line
    sys.modules[example.module] = made[example.module] = module
    exec(compile(example.code, module.__file__, "exec"), module.__dict__)
    ran = []
    if example.module.startswith("test_"):
        for name, fn in vars(module).items():
            if name.startswith("test_") and callable(fn):
                result = fn()
                if inspect.iscoroutine(result):
                    asyncio.run(result)
                ran.append(name)
    return ran


@pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_documentation_examples_run(doc: Path, example_modules: dict[str, types.ModuleType]) -> None:
    found = examples(doc)
    ran = [test for example in found for test in run_example(example, example_modules)]
    if doc == HOOKS_DOC:
        # Each hook's section has an example plugin and a test of it.
        assert len([e for e in found if not e.module.startswith("test_")]) == len(HOOKS)
        assert len(ran) >= len(HOOKS)


def test_example_runner_runs_tests_and_fails_with_them(
    tmp_path: Path, example_modules: dict[str, types.ModuleType]
) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```python\n# sample_plugin_mod.py\nVALUE = 2\n```\n\n"
        "```python\n# test_sample_plugin_mod.py\nimport sample_plugin_mod\n\n"
        "def test_value():\n    assert sample_plugin_mod.VALUE == 3\n```\n\n"
        "```python\nnot run: no file name\n```\n"
    )
    found = examples(doc)
    assert [(e.module, e.line) for e in found] == [("sample_plugin_mod", 2), ("test_sample_plugin_mod", 7)]
    assert run_example(found[0], example_modules) == []
    with pytest.raises(AssertionError):
        run_example(found[1], example_modules)
