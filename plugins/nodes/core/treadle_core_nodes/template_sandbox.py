"""The Jinja2 sandbox Template nodes render in (NODE-TEMPLATE).

Jinja2's immutable sandbox refuses attributes starting with ``_`` (no ``__class__``, no
``__globals__``), unsafe callables and changes to the values a template is given, and caps
``range`` at 100,000 items. This environment adds what the sandbox leaves open to a template that
wants to exhaust the worker running it:

- memory: ``*`` may not build a text or array longer than :data:`MAX_SEQUENCE_LENGTH`, and ``**``
  may not raise a number to a power above :data:`MAX_EXPONENT`;
- time: a render that runs past its time limit fails at the next attribute access, call, item
  lookup or ``range`` step, so loops that print nothing cannot spin for ever.

It also has Dify's ``strftime`` filter, and no autoescaping (templates write HTML forms).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import TemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

__all__ = ["MAX_EXPONENT", "MAX_SEQUENCE_LENGTH", "RenderTimeout", "TemplateSandbox", "time_limit"]

#: The longest text or array ``*`` may build in a template.
MAX_SEQUENCE_LENGTH = 1_000_000
#: The largest power ``**`` may raise a number to.
MAX_EXPONENT = 1_000

#: When the render running in this context must stop (monotonic seconds).
_DEADLINE: ContextVar[float] = ContextVar("template_render_deadline", default=math.inf)


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
    """``range`` that checks the time limit as a loop walks it."""

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


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with limits on memory and time (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False)
        self.globals["range"] = _range
        self.filters["strftime"] = _strftime

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
