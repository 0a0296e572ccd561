"""A safe arithmetic evaluator: numbers, operators and a few math functions, nothing else.

The expression is parsed with :mod:`ast` and walked by hand; it is never compiled or passed to
``eval``. Everything that is not on the whitelist below is refused with its position, and the
arithmetic itself is bounded so that no expression of the allowed size can exhaust CPU or memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_INT_DIGITS",
    "MAX_LENGTH",
    "ExpressionError",
    "Number",
    "evaluate",
]

Number = int | float

#: Longest expression accepted, in characters.
MAX_LENGTH = 1000
#: Deepest syntax tree accepted. ``1+2+...+n`` is about n deep, and the evaluator recurses once per
#: level, so this keeps well inside Python's recursion limit. No node-count limit is needed on top:
#: MAX_LENGTH characters make at most a few thousand nodes, each evaluated in bounded time.
MAX_DEPTH = 200
#: Largest exponent magnitude ``**`` accepts.
MAX_EXPONENT = 1000
#: Integers (literals, intermediate and final results) may have at most this many digits.
MAX_INT_DIGITS = 1000

_INT_LIMIT = 10**MAX_INT_DIGITS


class ExpressionError(ValueError):
    """The expression is malformed, uses something not allowed, or its value is undefined or too large.

    ``line`` and ``column`` (1-based, in characters of the expression as given) point at the
    offending part, when there is one; ``hint`` says what would be accepted instead.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None, hint: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.column is not None:
            where = f"column {self.column}" if self.line == 1 else f"line {self.line}, column {self.column}"
            text = f"{text} at {where}"
        return f"{text}; {self.hint}" if self.hint else text


@dataclass(frozen=True)
class _Function:
    fn: Callable[..., Number]
    min_args: int
    max_args: int | None

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)

    @property
    def arity(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument(s)"
        if self.max_args == self.min_args:
            return f"{self.min_args} argument(s)"
        return f"{self.min_args} to {self.max_args} arguments"


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int):
        raise ValueError("the number of digits must be an integer")
    # round() on an int computes 10 ** -ndigits, so an unbounded ndigits would be a costly power.
    if abs(ndigits) > MAX_INT_DIGITS:
        raise ValueError(f"the number of digits must be between -{MAX_INT_DIGITS} and {MAX_INT_DIGITS}")
    return round(x, ndigits)


def _min(*args: Number) -> Number:
    return min(args)


def _max(*args: Number) -> Number:
    return max(args)


FUNCTIONS: dict[str, _Function] = {
    "sqrt": _Function(math.sqrt, 1, 1),
    "sin": _Function(math.sin, 1, 1),
    "cos": _Function(math.cos, 1, 1),
    "tan": _Function(math.tan, 1, 1),
    "log": _Function(math.log, 1, 2),
    "log10": _Function(math.log10, 1, 1),
    "exp": _Function(math.exp, 1, 1),
    "abs": _Function(abs, 1, 1),
    "round": _Function(_round, 1, 2),
    "min": _Function(_min, 1, None),
    "max": _Function(_max, 1, None),
    "floor": _Function(math.floor, 1, 1),
    "ceil": _Function(math.ceil, 1, 1),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}

# How error messages name refused constructs; anything else is named by its node type.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts are",
    ast.Starred: "starred arguments are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "comprehensions are",
    ast.Lambda: "lambdas are",
    ast.List: "lists are",
    ast.Tuple: "tuples are",
    ast.Set: "sets are",
    ast.Dict: "dicts are",
    ast.Compare: "comparisons are",
    ast.BoolOp: "'and' and 'or' are",
    ast.IfExp: "conditional expressions are",
    ast.JoinedStr: "f-strings are",
    ast.NamedExpr: "assignment expressions are",
    ast.Slice: "slices are",
}

_OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
}

_NAMES_HINT = f"the names allowed are the functions {', '.join(FUNCTIONS)} and the constants {', '.join(CONSTANTS)}"


class _Source:
    """Maps parser positions in the trimmed text back to lines and columns of the input."""

    def __init__(self, expression: str) -> None:
        self.text = expression.strip()
        # The parser refuses leading indentation, so the text is trimmed; positions are shifted
        # back so that errors point into what the caller actually sent.
        lead = expression[: len(expression) - len(expression.lstrip())].split("\n")
        self._line_shift = len(lead) - 1
        self._column_shift = len(lead[-1])
        self._lines = self.text.split("\n")

    def position(self, line: int, column0: int) -> tuple[int, int]:
        """Input (line, 1-based column) of a character position in the trimmed text."""
        shift = self._column_shift if line == 1 else 0
        return line + self._line_shift, column0 + 1 + shift

    def node_error(self, node: ast.AST, message: str, hint: str = "") -> ExpressionError:
        lineno: int = getattr(node, "lineno", 1)
        byte_offset: int = getattr(node, "col_offset", 0)
        # ast offsets count UTF-8 bytes; people count characters.
        line_text = self._lines[lineno - 1] if lineno <= len(self._lines) else ""
        column0 = len(line_text.encode()[:byte_offset].decode("utf-8", "replace"))
        return ExpressionError(message, *self.position(lineno, column0), hint=hint)


def evaluate(expression: str) -> Number:
    """The value of an arithmetic ``expression``; raises :class:`ExpressionError` for anything else."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(expression)} characters long; the limit is {MAX_LENGTH}")
    source = _Source(expression)
    if not source.text:
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(source.text, mode="eval")
    except SyntaxError as exc:
        line, column = source.position(exc.lineno or 1, (exc.offset or 1) - 1)
        detail = "" if exc.msg == "invalid syntax" else f": {exc.msg}"
        raise ExpressionError(f"invalid syntax{detail}", line, column) from None
    except (RecursionError, MemoryError):
        # The parser itself recurses once per nesting level (long runs of unary minus, say).
        raise ExpressionError(f"the expression is nested too deeply (the limit is {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. a NUL character
        raise ExpressionError(f"the expression cannot be parsed: {exc}") from None
    _check_depth(tree)
    return _Evaluator(source).value(tree.body)


def _check_depth(tree: ast.Expression) -> None:
    """Refuse trees too deep to evaluate, before any arithmetic is done (iteratively, so it cannot overflow)."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression is nested too deeply (the limit is {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Evaluator:
    """Walks a parsed expression, computing whitelisted operations only."""

    def __init__(self, source: _Source) -> None:
        self.source = source

    def value(self, node: ast.AST) -> Number:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        raise self.refused(node)

    def refused(self, node: ast.AST) -> ExpressionError:
        if isinstance(node, ast.Attribute):
            return self.source.node_error(node, f"attribute access (.{node.attr}) is not allowed")
        what = _REFUSED.get(type(node), f"{type(node).__name__} expressions are")
        return self.source.node_error(node, f"{what} not allowed")

    def constant(self, node: ast.Constant) -> Number:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = {str: "strings", bytes: "bytes", bool: "booleans", complex: "complex numbers"}.get(
                type(value), f"{type(value).__name__} values"
            )
            raise self.source.node_error(node, f"{kind} are not allowed (only real numbers are)")
        return self.checked(node, value, "this number")

    def name(self, node: ast.Name) -> Number:
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise self.source.node_error(node, f"{node.id} is a function", hint=f"call it, as in {node.id}(x)")
        raise self.source.node_error(node, f"unknown name {node.id!r}", hint=_NAMES_HINT)

    def unary(self, node: ast.UnaryOp) -> Number:
        op = _UNARY.get(type(node.op))
        if op is None:
            raise self.source.node_error(node, f"the operator {_OPERATOR_SYMBOLS[type(node.op)]} is not allowed")
        return op(self.value(node.operand))

    def binary(self, node: ast.BinOp) -> Number:
        op = _BINARY.get(type(node.op))
        if op is None:
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.source.node_error(node, f"the operator {symbol} is not allowed")
        left, right = self.value(node.left), self.value(node.right)
        if isinstance(node.op, ast.Pow):
            self.check_power(node, left, right)
        try:
            result = op(left, right)
        except ZeroDivisionError:
            if isinstance(node.op, ast.Pow):
                raise self.source.node_error(node, "zero cannot be raised to a negative power") from None
            raise self.source.node_error(node.right, "division by zero: this divisor is zero") from None
        except OverflowError:
            raise self.source.node_error(node, "the result is too large") from None
        return self.checked(node, result)

    def check_power(self, node: ast.BinOp, base: Number, exponent: Number) -> None:
        """Refuse powers whose result would be huge before computing them."""
        if abs(exponent) > MAX_EXPONENT:
            raise self.source.node_error(
                node.right, f"the exponent {exponent:g} is too large (the limit is {MAX_EXPONENT} in magnitude)"
            )
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
            digits = exponent * math.log10(abs(base))
            if digits > MAX_INT_DIGITS:
                raise self.source.node_error(
                    node, f"the result would have about {digits:.0f} digits (the limit is {MAX_INT_DIGITS})"
                )

    def call(self, node: ast.Call) -> Number:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise self.refused(func)
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            called = repr(func.id) if isinstance(func, ast.Name) else "this"
            raise self.source.node_error(func, f"calling {called} is not allowed", hint=_NAMES_HINT)
        name = func.id
        function = FUNCTIONS[name]
        if node.keywords:
            raise self.source.node_error(node.keywords[0], f"{name}() takes no keyword arguments")
        if not function.accepts(len(node.args)):
            raise self.source.node_error(node, f"{name}() takes {function.arity}, not {len(node.args)}")
        args = [self.value(arg) for arg in node.args]
        try:
            result = function.fn(*args)
        except OverflowError:
            raise self.source.node_error(node, f"the result of {name}() is too large") from None
        except (ValueError, ZeroDivisionError) as exc:
            raise self.source.node_error(node, f"{name}() is undefined for these arguments ({exc})") from None
        return self.checked(node, result)

    def checked(self, node: ast.AST, value: Number, what: str = "the result") -> Number:
        """``value`` if it is a real, finite number within the integer bound."""
        if isinstance(value, complex):
            raise self.source.node_error(node, f"{what} is not a real number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.source.node_error(node, f"{what} is too large")
        if isinstance(value, int) and abs(value) >= _INT_LIMIT:
            raise self.source.node_error(node, f"{what} has more than {MAX_INT_DIGITS} digits")
        return value
