"""Jinja2 prompts (``edition_type: jinja2``), rendered in a sandbox with limits.

Jinja2's immutable sandbox refuses private attributes (``__class__``, ``__globals__``), unsafe
callables and changes to the values it is given. The nodes run on the kernel's event loop, so a
prompt template must not be able to hold a worker for ever or fill its memory either: a render stops
after :data:`TIME_LIMIT` seconds (checked at every attribute access, call, item lookup and ``range``
step) and when its text grows past :data:`MAX_LENGTH` characters, and ``*`` may not repeat a text or
an array beyond that length. Renders run in a worker thread, so the loop keeps serving other runs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from treadle_sdk.nodes import NodeConfigError, NodeRunError

__all__ = ["MAX_LENGTH", "TIME_LIMIT", "PromptSandbox", "render"]

#: The longest text a prompt template may produce (or build with ``*``).
MAX_LENGTH = 1_000_000
#: How long one render may take, in seconds.
TIME_LIMIT = 5.0

_DEADLINE: ContextVar[float] = ContextVar("prompt_render_deadline", default=math.inf)


class _Timeout(TemplateError):
    pass


def _check_time() -> None:
    if time.monotonic() > _DEADLINE.get():
        raise _Timeout("the template ran past its time limit")


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


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the time and size limits above, and no autoescaping."""

    intercepted_binops = frozenset({"*"})

    def __init__(self) -> None:
        super().__init__(autoescape=False)
        self.globals["range"] = _range

    def compile_prompt(self, source: str, path: str) -> Template:
        """Compile a prompt template; a syntax error is a :class:`NodeConfigError` at ``path``."""
        try:
            return self.from_string(source)
        except TemplateSyntaxError as exc:
            raise NodeConfigError(f"Jinja2 syntax error on line {exc.lineno}: {exc.message}", path) from None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    if len(sequence) * times > MAX_LENGTH:
                        raise SecurityError(f"'*' may not build more than {MAX_LENGTH:,} items or characters")
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


def _render_now(template: Template, variables: Mapping[str, Any], where: str, seconds: float) -> str:
    _DEADLINE.set(time.monotonic() + seconds)
    pieces: list[str] = []
    length = 0
    try:
        for piece in template.generate(dict(variables)):
            length += len(piece)
            if length > MAX_LENGTH:
                raise NodeRunError(
                    f"{where}: the Jinja2 prompt is longer than {MAX_LENGTH:,} characters", error_type="TemplateError"
                )
            pieces.append(piece)
    except _Timeout:
        raise NodeRunError(f"{where}: the Jinja2 prompt ran longer than {seconds:g} s", error_type="Timeout") from None
    except TemplateError as exc:
        raise NodeRunError(f"{where}: the Jinja2 prompt failed: {exc}", error_type="TemplateError") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        message = f"{where}: the Jinja2 prompt failed: {type(exc).__name__}: {exc}"
        raise NodeRunError(message, error_type="TemplateError") from None
    return "".join(pieces)


async def render(template: Template, variables: Mapping[str, Any], where: str, seconds: float = TIME_LIMIT) -> str:
    """Render ``template`` with ``variables`` in a worker thread; failures are :class:`NodeRunError`
    naming ``where`` (the prompt's place in the node's data)."""
    return await asyncio.to_thread(_render_now, template, variables, where, seconds)
