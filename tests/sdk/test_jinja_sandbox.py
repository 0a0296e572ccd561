"""The Jinja2 sandbox Template nodes and Jinja2 prompts render in (treadle_sdk.jinja_sandbox;
NODE-TEMPLATE, NODE-LLM "Jinja2"): the limits it adds to Jinja2's immutable sandbox, and how
failures reach the node."""

from __future__ import annotations

import asyncio

import pytest
from treadle_sdk.jinja_sandbox import MAX_EXPONENT, MAX_SEQUENCE_LENGTH, JinjaSandbox, render
from treadle_sdk.nodes import NodeConfigError, NodeRunError

SANDBOX = JinjaSandbox()


def run(source: str, max_length: int = 100, seconds: float = 5.0, **variables: object) -> str:
    template = SANDBOX.compile_template(source, "template")
    return render(template, variables, seconds=seconds, max_length=max_length)


def test_a_template_renders_without_escaping_and_with_strftime() -> None:
    assert run("{{ a }} {{ 0 | strftime('%Y') }} {{ 2 ** 10 }}", a="<b>") == "<b> 1970 1024"


@pytest.mark.parametrize(
    ("source", "limit"),
    [("{{ 'x' * n }}", f"{MAX_SEQUENCE_LENGTH:,}"), ("{{ 2 ** n }}", f"{MAX_EXPONENT:,}")],
)
def test_operators_may_not_build_huge_values(source: str, limit: str) -> None:
    with pytest.raises(NodeRunError) as raised:
        run(source, n=MAX_SEQUENCE_LENGTH + 1)
    assert raised.value.error_type == "TemplateError"
    assert raised.value.message.startswith("the template failed: ")
    assert limit in raised.value.message


def test_output_past_the_callers_limit_stops_with_the_callers_error_type() -> None:
    template = SANDBOX.compile_template("{% for i in range(1000) %}xx{% endfor %}", "template")
    with pytest.raises(NodeRunError) as raised:
        render(template, {}, seconds=5, max_length=10, subject="p[0]: the prompt", too_long_error="TemplateError")
    assert raised.value.error_type == "TemplateError"
    assert raised.value.message == "p[0]: the prompt is longer than 10 characters once rendered"


async def test_a_render_past_its_time_limit_stops_in_a_worker_thread() -> None:
    """The deadline is kept per context, so it holds in the thread a node renders in."""
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    template = SANDBOX.compile_template(loops, "template")
    with pytest.raises(NodeRunError) as raised:
        await asyncio.to_thread(render, template, {}, seconds=0.05, max_length=10)
    assert raised.value.error_type == "Timeout"
    assert raised.value.message == "the template ran longer than 0.05 s"


def test_a_syntax_error_is_a_config_error_at_the_path() -> None:
    with pytest.raises(NodeConfigError) as raised:
        SANDBOX.compile_template("ok\n{% if %}", "prompt_template[1].jinja2_text")
    assert raised.value.path == "prompt_template[1].jinja2_text"
    assert "line 2" in raised.value.message
