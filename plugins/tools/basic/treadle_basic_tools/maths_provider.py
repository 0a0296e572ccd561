"""The ``maths`` tool provider: ``eval_expression``, a safe calculator (Dify's built-in names)."""

from __future__ import annotations

from typing import Any

from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import Tool, ToolProvider
from treadle_sdk.schemas import ToolParameter, ToolParameterType, ToolProviderSchema, ToolSchema
from treadle_sdk.tool_runtime import JsonMessage, TextMessage

from .calculator import CONSTANTS, FUNCTIONS, MAX_LENGTH, ExpressionError, Number, evaluate

__all__ = ["EvalExpressionTool", "MathsToolProvider", "format_number"]


def format_number(value: Number) -> str:
    """How a result reads: integers in full, floats to the 15 significant digits a double holds.

    ``0.1 + 0.2`` reads ``0.3`` rather than ``0.30000000000000004``; the JSON message keeps the
    exact value.
    """
    return str(value) if isinstance(value, int) else f"{value:.15g}"


_VOCABULARY = f"functions {', '.join(FUNCTIONS)}; constants {', '.join(CONSTANTS)}"


class EvalExpressionTool(Tool):
    """``eval_expression``: the value of an arithmetic expression (see :mod:`.calculator`)."""

    schema = ToolSchema(
        name="eval_expression",
        label="Evaluate Expression",
        description="Calculate the value of an arithmetic expression.",
        llm_description=(
            "Calculate an arithmetic expression exactly. Supports numbers, + - * / // % **, parentheses, "
            f"{_VOCABULARY}. Use it instead of doing arithmetic yourself."
        ),
        parameters=[
            ToolParameter(
                name="expression",
                type=ToolParameterType.STRING,
                label="Expression",
                required=True,
                human_description=f"An arithmetic expression of at most {MAX_LENGTH} characters, such as 2 * (3 + 4).",
                llm_description=f"The expression to calculate, such as 'sqrt(2) * 10 ** 3'; {_VOCABULARY}.",
                placeholder="2 * (3 + 4)",
            )
        ],
        output_schema={"type": "object", "properties": {"result": {"type": "number"}}},
    )

    def invoke(
        self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]
    ) -> list[TextMessage | JsonMessage]:
        try:
            result = evaluate(parameters["expression"])
        except ExpressionError as exc:
            raise PluginInvalidArgument(
                f"parameter 'expression': {exc}",
                details={"parameter": "expression", "line": exc.line, "column": exc.column},
            ) from None
        return [TextMessage(text=format_number(result)), JsonMessage(json_object={"result": result})]


class MathsToolProvider(ToolProvider):
    """The ``maths`` provider. Evaluation is bounded and quick, so it runs on the event loop."""

    blocking = False
    schema = ToolProviderSchema(
        name="maths",
        author="treadle",
        label="Maths",
        description="A safe calculator for arithmetic expressions.",
        tags=["utilities"],
    )

    def __init__(self) -> None:
        self.tools = [EvalExpressionTool()]
