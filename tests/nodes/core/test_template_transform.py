"""The Template node (NODE-TEMPLATE): sandboxed Jinja2 over named variables, 80,000 characters."""

from __future__ import annotations

from typing import Any

import pytest
from treadle_core_nodes.template_transform import MAX_OUTPUT_LENGTH, TemplateTransformNodeType
from treadle_sdk.nodes import NodeConfigError, NodeRunError

from .support import MemoryRuntime, prepare


def render(template: str, values: dict[str, Any] | None = None) -> str:
    """``template`` rendered with each of ``values`` bound to a variable of the same name."""
    values = values or {}
    node = prepare(
        "template-transform",
        {
            "template": template,
            "variables": [{"variable": name, "value_selector": ["up", name]} for name in values],
        },
    )
    output = node.run(MemoryRuntime({f"up.{name}": value for name, value in values.items()})).outputs
    assert set(output) == {"output"}
    return str(output["output"])


def test_variables_with_dot_and_bracket_access() -> None:
    """NODE-TEMPLATE: dot and bracket access to objects and arrays."""
    values = {"user": {"name": "Ada"}, "items": [{"title": "first"}], "data": {"metrics": {"score": 0.9}}}
    assert render("{{ user.name }}|{{ items[0].title }}|{{ data['metrics'].score }}", values) == "Ada|first|0.9"


def test_if_else_and_for_loops_with_loop_index() -> None:
    template = "{% for r in results %}{{ loop.index }}:{{ r }}{% if not loop.last %},{% endif %}{% endfor %}"
    assert render(template, {"results": ["a", "b"]}) == "1:a,2:b"
    assert render("{% if tier == 'premium' %}Welcome{% else %}Upgrade{% endif %}", {"tier": "premium"}) == "Welcome"


@pytest.mark.parametrize(
    ("template", "values", "output"),
    [
        ("{{ name | upper }}", {"name": "ada"}, "ADA"),
        ("{{ price | round(2) }}", {"price": 3.14159}, "3.14"),
        ("{{ content | replace('\\n', '<br>') }}", {"content": "a\nb"}, "a<br>b"),
        ("{{ missing | default('No score available') }}", {}, "No score available"),
        ("{{ arg1 | join('\\n===\\n') }}", {"arg1": ["a", "b"]}, "a\n===\nb"),
        ("{{ ts | strftime('%B %d, %Y') }}", {"ts": 0}, "January 01, 1970"),
        ("{{ ts | strftime('%Y-%m-%d') }}", {"ts": "2024-02-29T10:00:00Z"}, "2024-02-29"),
        ("{{ ts | strftime }}", {"ts": "2024-02-29"}, "2024-02-29 00:00:00"),
        ("{{ data | tojson }}", {"data": {"k": [1, True, None]}}, '{"k": [1, true, null]}'),
        ("<b>{{ html }}</b>", {"html": "<i>&</i>"}, "<b><i>&</i></b>"),  # no autoescaping: HTML forms work
    ],
)
def test_filters(template: str, values: dict[str, Any], output: str) -> None:
    """NODE-TEMPLATE: upper, round, replace, default, join, strftime (and Jinja2's other filters)."""
    assert render(template, values) == output


def test_a_variable_that_does_not_exist_is_none() -> None:
    node = prepare(
        "template-transform",
        {"template": "{{ x is none }}", "variables": [{"variable": "x", "value_selector": ["gone", "v"]}]},
    )
    assert node.run(MemoryRuntime()).outputs == {"output": "True"}


def test_the_output_may_be_exactly_the_limit() -> None:
    assert len(render("{{ 'x' * n }}", {"n": MAX_OUTPUT_LENGTH})) == MAX_OUTPUT_LENGTH


def test_longer_output_fails_with_the_limit_named() -> None:
    """NODE-TEMPLATE: at most 80,000 characters (TEMPLATE_TRANSFORM_MAX_LENGTH)."""
    with pytest.raises(NodeRunError, match="longer than 80,000 characters") as caught:
        render("{{ 'x' * n }}", {"n": MAX_OUTPUT_LENGTH + 1})
    assert caught.value.error_type == "OutputTooLong"


def test_a_runaway_loop_stops_as_soon_as_it_passes_the_limit() -> None:
    with pytest.raises(NodeRunError, match="longer than"):
        render("{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{% set f = x.__class__ %}{{ f.__name__ }}",
        "{{ items.append(4) }}",
        "{{ obj.update({'a': 2}) }}",
        "{{ obj.pop('a') }}",
        "{{ range(10**9) | list | length }}",
    ],
)
def test_the_sandbox_refuses_private_attributes_mutation_and_huge_ranges(template: str) -> None:
    """The template runs in Jinja2's immutable sandbox: none of these escape or change anything."""
    items, obj = [1, 2, 3], {"a": 1}
    with pytest.raises(NodeRunError, match="the template failed") as caught:
        render(template, {"x": "text", "items": items, "obj": obj})
    assert caught.value.error_type == "TemplateError"
    assert items == [1, 2, 3] and obj == {"a": 1}


@pytest.mark.parametrize("expression", ["x.__class__", "x.__dict__", "obj.__class__", "x._private"])
def test_a_private_attribute_alone_renders_as_nothing(expression: str) -> None:
    assert render(f"[{{{{ {expression} }}}}]", {"x": "text", "obj": {"a": 1}}) == "[]"


def test_a_runtime_error_in_the_template_fails_the_node() -> None:
    with pytest.raises(NodeRunError, match="ZeroDivisionError"):
        render("{{ 1 / n }}", {"n": 0})
    with pytest.raises(NodeRunError, match="strftime"):
        render("{{ d | strftime }}", {"d": "not a date"})


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"template": "{% for x in y %}", "variables": []}, "template", "line 1"),
        ({"template": "ok\n{{ a + }}", "variables": []}, "template", "line 2"),
        (
            {"template": "", "variables": [{"variable": "my var", "value_selector": ["a", "b"]}]},
            "variables[0].variable",
            "usable in Jinja2",
        ),
        (
            {
                "template": "",
                "variables": [
                    {"variable": "a", "value_selector": ["a", "b"]},
                    {"variable": "a", "value_selector": ["a", "c"]},
                ],
            },
            "variables[1].variable",
            "twice",
        ),
        (
            {"template": "", "variables": [{"variable": "a", "value_selector": "a.b"}]},
            "variables[0].value_selector",
            "selector",
        ),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(NodeConfigError, match=message) as caught:
        prepare("template-transform", data)
    assert caught.value.path == path


def test_the_template_is_compiled_once_and_runs_many_times() -> None:
    node = prepare(
        "template-transform",
        {"template": "{{ n * 2 }}", "variables": [{"variable": "n", "value_selector": ["a", "n"]}]},
    )
    assert [node.run(MemoryRuntime({"a.n": n})).outputs["output"] for n in (1, 2, 3)] == ["2", "4", "6"]


# -- memory and time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{{ ('x' * 10**10) | length }}",
        "{{ ([0] * 10**9) | length }}",
        "{{ (10**9 * 'x') | length }}",
        "{{ 9 ** (9 ** 9) }}",
        "{{ 2 ** 100000 }}",
    ],
)
def test_memory_bombs_are_refused(template: str) -> None:
    with pytest.raises(NodeRunError, match="may not"):
        render(template)


@pytest.mark.parametrize(
    ("template", "output"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ [1, 2] * 2 }}", "[1, 2, 1, 2]"),
        ("{{ 2 ** 10 }}", "1024"),
        ("{{ 3 * 4 }}", "12"),
        ("{{ range(5) | length }}|{{ range(3) | list }}|{{ range(10)[2] }}", "5|[0, 1, 2]|2"),
        ("{% for i in range(2, 8, 3) %}{{ i }}{% endfor %}", "25"),
        ("{{ dict(self=1, context=2, obj=3) | length }}", "3"),
    ],
)
def test_ordinary_arithmetic_ranges_and_calls_still_work(template: str, output: str) -> None:
    assert render(template) == output


def slow_node(template: str) -> Any:
    """A Template node whose renders may take 50 ms."""
    node_type = TemplateTransformNodeType(seconds=0.05)
    variables = [{"variable": "xs", "value_selector": ["a", "xs"]}]
    return node_type.prepare("t", {"type": "template-transform", "template": template, "variables": variables})


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in xs %}{% for b in xs %}{% for c in xs %}{{ a.real }}{% endfor %}{% endfor %}{% endfor %}",
        "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% if xs[0] %}{% endif %}{% endfor %}{% endfor %}"
        "{% endfor %}",
    ],
)
def test_a_render_past_its_time_limit_fails(template: str) -> None:
    """Loops that print nothing cannot spin for ever: the render stops at its time limit."""
    with pytest.raises(NodeRunError, match=r"ran longer than 0\.05 s") as caught:
        slow_node(template).run(MemoryRuntime({"a.xs": list(range(1000))}))
    assert caught.value.error_type == "Timeout"


def test_the_time_limit_is_per_render() -> None:
    node = slow_node("{% for i in range(1000) %}{% endfor %}done")
    for _ in range(3):
        assert node.run(MemoryRuntime({"a.xs": []})).outputs == {"output": "done"}
