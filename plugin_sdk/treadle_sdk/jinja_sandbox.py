"""The Jinja2 sandbox node templates render in: Template nodes (NODE-TEMPLATE) and ``jinja2`` prompts
of LLM nodes (NODE-LLM "Jinja2").

Jinja2's immutable sandbox refuses attributes starting with ``_`` (no ``__class__``, no
``__globals__``), unsafe callables and changes to the values a template is given, and caps
``range`` at 100,000 items. Nodes run on a worker the kernel shares, so :class:`JinjaSandbox` adds
what the sandbox leaves open to a template that wants to exhaust it:

- memory: ``*`` may not build a text or array longer than :data:`MAX_SEQUENCE_LENGTH`, ``**`` may
  not raise a number to a power above :data:`MAX_EXPONENT`, and :func:`render` stops as soon as the
  text grows past the caller's limit;
- time: a render that runs past its time limit fails at the next attribute access, call, item
  lookup or ``range`` step, so loops that print nothing cannot spin for ever.

It also has Dify's ``strftime`` filter, and no autoescaping (templates write HTML forms and prompts).
It needs jinja2 (the SDK's ``jinja`` extra).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

from .nodes import NodeConfigError, NodeRunError

__all__ = [
    "MAX_EXPONENT",
    "MAX_SEQUENCE_LENGTH",
    "JinjaSandbox",
    "RenderTimeout",
    "render",
    "time_limit",
]

#: The longest text or array ``*`` may build in a template.
MAX_SEQUENCE_LENGTH = 1_000_000
#: The largest power ``**`` may raise a number to.
MAX_EXPONENT = 1_000

#: When the render running in this context must stop (monotonic seconds).
_DEADLINE: ContextVar[float] = ContextVar("jinja_render_deadline", default=math.inf)


class RenderTimeout(TemplateError):
    """A render ran past its time limit."""


def _check_time() -> None:
    if time.monotonic() > _DEADLINE.get():
        raise RenderTimeout("the template ran past its time limit")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Renders inside this block must finish within ``seconds``."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _TimedRange:
    """``range`` that checks the time limit as a loop walks it (and still has a length)."""

    __slots__ = ("_numbers",)

    def __init__(self, numbers: range) -> None:
        self._numbers = numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, index: int) -> int:
        return self._numbers[index]

    def __iter__(self) -> Iterator[int]:
        for count, number in enumerate(self._numbers):
            if not count & 0x3FF:
                _check_time()
            yield number


def _range(*args: int) -> _TimedRange:
    return _TimedRange(safe_range(*args))


def _strftime(value: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Format a date: a datetime or date, an ISO 8601 string, or a Unix timestamp (read as UTC)."""
    moment: dt.date
    if isinstance(value, dt.date):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise TemplateError(f"strftime: {value!r} is not an ISO 8601 date") from None
    else:
        raise TemplateError(f"strftime: cannot format {type(value).__name__} as a date")
    return moment.strftime(fmt)


def _repeated_length(left: Any, right: Any) -> int:
    """The length ``left * right`` would have, if it repeats a text or an array (else 0)."""
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            return len(sequence) * times
    return 0


class JinjaSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with limits on memory and time (see the module docstring).

    One instance serves every node of a node type: it holds no per-render state.
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False)
        self.globals["range"] = _range
        self.filters["strftime"] = _strftime

    def compile_template(self, source: str, path: str) -> Template:
        """Compile ``source``; a syntax error is a :class:`NodeConfigError` at ``path`` naming the line."""
        try:
            return self.from_string(source)
        except TemplateSyntaxError as exc:
            raise NodeConfigError(f"Jinja2 syntax error on line {exc.lineno}: {exc.message}", path) from None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and _repeated_length(left, right) > MAX_SEQUENCE_LENGTH:
            raise SecurityError(f"'*' may not build more than {MAX_SEQUENCE_LENGTH:,} items or characters")
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"'**' may not raise to a power above {MAX_EXPONENT:,}")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_time()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)


def render(
    template: Template,
    variables: Mapping[str, Any],
    *,
    seconds: float,
    max_length: int,
    subject: str = "the template",
    too_long_error: str = "OutputTooLong",
) -> str:
    """Render ``template`` (compiled by a :class:`JinjaSandbox`) with ``variables``, within ``seconds``
    and ``max_length`` characters. Async nodes call it in a worker thread (``asyncio.to_thread``), so
    the event loop keeps serving other runs meanwhile.

    Every failure is a :class:`NodeRunError` whose message starts with ``subject`` (what the node calls
    the template, such as ``"the template"`` or ``"prompt_template[0]: the Jinja2 prompt"``): error
    type ``Timeout`` past the time limit, ``too_long_error`` past the length, ``TemplateError`` for
    everything the template itself does wrong.
    """
    pieces: list[str] = []
    length = 0
    try:
        with time_limit(seconds):
            for piece in template.generate(dict(variables)):
                length += len(piece)
                if length > max_length:
                    raise NodeRunError(
                        f"{subject} is longer than {max_length:,} characters once rendered", error_type=too_long_error
                    )
                pieces.append(piece)
    except RenderTimeout:
        raise NodeRunError(f"{subject} ran longer than {seconds:g} s", error_type="Timeout") from None
    except TemplateError as exc:
        raise NodeRunError(f"{subject} failed: {exc}", error_type="TemplateError") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        message = f"{subject} failed: {type(exc).__name__}: {exc}"
        raise NodeRunError(message, error_type="TemplateError") from None
    return "".join(pieces)
