"""The Jinja2 sandbox of LLM prompts (NODE-LLM "Jinja2"): what a template may not do to the worker
that renders it."""

from __future__ import annotations

import pytest
from treadle_llm_nodes.jinja import MAX_LENGTH, render
from treadle_sdk.jinja_sandbox import JinjaSandbox
from treadle_sdk.nodes import NodeConfigError, NodeRunError

SANDBOX = JinjaSandbox()


async def test_a_template_renders_its_variables_without_escaping() -> None:
    template = SANDBOX.compile_template("{{ a }} & {{ b|join(', ') }} {{ range(3)|length }}", "t")
    assert await render(template, {"a": "<b>", "b": [1, 2]}, "t") == "<b> & 1, 2 3"


async def test_a_render_that_runs_too_long_stops() -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    template = SANDBOX.compile_template(loops, "t")
    with pytest.raises(NodeRunError) as raised:
        await render(template, {}, "prompt_template[0]", seconds=0.05)
    assert raised.value.error_type == "Timeout"
    assert raised.value.message.startswith("prompt_template[0]: ")


@pytest.mark.parametrize(
    "source",
    ["{{ 'x' * 2000000 }}", "{% for i in range(100000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}"],
)
async def test_a_render_may_not_build_a_huge_text(source: str) -> None:
    with pytest.raises(NodeRunError) as raised:
        await render(SANDBOX.compile_template(source, "t"), {}, "t")
    assert raised.value.error_type == "TemplateError"
    assert f"{MAX_LENGTH:,}" in raised.value.message


async def test_a_template_may_not_change_its_values() -> None:
    template = SANDBOX.compile_template("{{ items.append(1) }}", "t")
    with pytest.raises(NodeRunError) as raised:
        await render(template, {"items": []}, "t")
    assert raised.value.error_type == "TemplateError"
    assert "unsafe" in raised.value.message


def test_a_syntax_error_names_the_line_and_the_field() -> None:
    with pytest.raises(NodeConfigError) as raised:
        SANDBOX.compile_template("line one\n{% if %}", "prompt_template[2].jinja2_text")
    assert raised.value.path == "prompt_template[2].jinja2_text"
    assert "line 2" in raised.value.message
