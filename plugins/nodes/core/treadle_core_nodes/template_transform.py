"""The Template node: Jinja2 over named variables, in a sandbox (NODE-TEMPLATE).

``variables: [{variable, value_selector}]`` name the values the template sees (a variable that does
not exist is ``None``); ``template`` is Jinja2 with dot and bracket access, if/else, for loops and
filters (Jinja2's own, plus ``strftime``). The output ``output`` is the rendered text, at most
80,000 characters (``TEMPLATE_TRANSFORM_MAX_LENGTH``): rendering stops and the node fails as soon as
the text grows past it. Templates run in :class:`~treadle_sdk.jinja_sandbox.JinjaSandbox`
(no private attributes, no mutation, bounded memory) with a time limit per render.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import items, mapping, parse_optional_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.jinja_sandbox import JinjaSandbox, render
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MAX_OUTPUT_LENGTH",
    "TemplateTransformNode",
    "TemplateTransformNodeType",
    "TemplateVariable",
]

#: The longest output a Template node may produce (Dify's TEMPLATE_TRANSFORM_MAX_LENGTH).
MAX_OUTPUT_LENGTH = 80_000
#: How long one render may take, in seconds.
DEFAULT_TIME_LIMIT = 10.0


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    """A name the template sees and where its value comes from."""

    name: str
    selector: Selector | None


def _parse_variables(config: Mapping[str, Any]) -> tuple[TemplateVariable, ...]:
    variables = []
    seen: set[str] = set()
    for i, item in enumerate(items(config.get("variables"), "variables")):
        path = f"variables[{i}]"
        item = mapping(item, path)
        name = text(item.get("variable"), f"{path}.variable")
        if not name.isidentifier():
            raise NodeConfigError(
                f"a template variable needs a name usable in Jinja2, not {name!r}", f"{path}.variable"
            )
        if name in seen:
            raise NodeConfigError(f"the variable {name!r} is declared twice", f"{path}.variable")
        seen.add(name)
        selector = parse_optional_selector(item.get("value_selector"), f"{path}.value_selector")
        variables.append(TemplateVariable(name, selector))
    return tuple(variables)


class TemplateTransformNode(PreparedNode):
    """A prepared Template node: the template is compiled once."""

    def __init__(self, node_id: str, config: Mapping[str, Any], environment: JinjaSandbox, seconds: float) -> None:
        self.node_id = node_id
        self.config = config
        self.variables = _parse_variables(config)
        self.seconds = seconds
        self.template = environment.compile_template(text(config.get("template"), "template"), "template")

    def run(self, rt: NodeRuntime) -> NodeResult:
        get_or = rt.get_or
        context = {v.name: None if v.selector is None else get_or(v.selector) for v in self.variables}
        output = render(self.template, context, seconds=self.seconds, max_length=MAX_OUTPUT_LENGTH)
        return NodeResult({"output": output})


class TemplateTransformNodeType(NodeType):
    """``template-transform``: sandboxed Jinja2. ``seconds`` limits each render."""

    schema = NodeTypeSchema(
        name="template-transform",
        label="Template",
        description="Renders a sandboxed Jinja2 template over named variables (output at most 80,000 characters).",
    )

    def __init__(self, seconds: float = DEFAULT_TIME_LIMIT) -> None:
        self.environment = JinjaSandbox()
        self.seconds = seconds

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return TemplateTransformNode(node_id, config, self.environment, self.seconds)
