"""The values a tool or agent node is given in its DSL: ``{type, value}`` inputs.

Dify writes each tool parameter and agent parameter as ``{"type": ..., "value": ...}``:

- ``variable``: ``value`` is a selector (``["node_id", "name", ...]``) and the input is that
  variable's value, whatever its type (a file, an object);
- ``mixed``: ``value`` is text with ``{{#node.var#}}`` references, rendered to text;
- ``constant``: ``value`` is the value itself; text in it (also inside objects and arrays) has its
  references rendered, as Dify does.

Older files (and ``tool_configurations`` before tool node version 2) write the bare value, which
reads as a constant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from treadle_sdk.nodes import NodeConfigError, NodeRuntime
from treadle_sdk.templates import Selector, find_selectors, to_text

__all__ = ["INPUT_TYPES", "MISSING", "InputValue"]

#: The kinds of input Dify writes.
INPUT_TYPES = ("variable", "mixed", "constant")

InputType = Literal["variable", "mixed", "constant"]


class _Missing:
    """The value of a ``variable`` input whose variable does not exist (yet) in the run."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class InputValue:
    """One input as the DSL gives it, checked when the graph is compiled."""

    type: InputType
    value: Any

    @classmethod
    def parse(cls, data: Any, path: str) -> InputValue:
        """Read ``{type, value}`` (or a bare value, taken as a constant); :class:`NodeConfigError`
        names the field that is wrong."""
        if not (isinstance(data, Mapping) and "type" in data and "value" in data):
            return cls("constant", data)
        kind = data["type"]
        value = data["value"]
        if kind == "variable":
            if not (
                isinstance(value, Sequence)
                and not isinstance(value, str)
                and len(value) >= 2
                and all(isinstance(part, str) and part for part in value)
            ):
                raise NodeConfigError(
                    f"a variable input needs a selector such as ['node_id', 'name'], not {value!r}", f"{path}.value"
                )
            return cls("variable", tuple(value))
        if kind == "mixed":
            return cls("mixed", value if isinstance(value, str) else to_text(value))
        if kind == "constant":
            return cls("constant", value)
        raise NodeConfigError(f"must be one of {', '.join(INPUT_TYPES)}, not {kind!r}", f"{path}.type")

    def resolve(self, rt: NodeRuntime) -> Any:
        """The input's value in this run; :data:`MISSING` for a variable that does not exist."""
        if self.type == "variable":
            return rt.get_or(self.value, MISSING)
        if self.type == "mixed":
            return rt.render(self.value)
        return _render_constant(rt, self.value)

    def selectors(self) -> list[Selector]:
        """The variables the input reads."""
        if self.type == "variable":
            return [tuple(self.value)]
        return list(find_selectors(self.value))


def _render_constant(rt: NodeRuntime, value: Any) -> Any:
    if isinstance(value, str):
        return rt.render(value) if "{{#" in value else value
    if isinstance(value, Mapping):
        return {key: _render_constant(rt, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_constant(rt, item) for item in value]
    return value
