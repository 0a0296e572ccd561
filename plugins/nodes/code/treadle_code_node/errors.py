"""How a code node run fails. ``error_type`` is what the engine's error strategies expose; the
names are Dify's (debug/error-type.md), so fail-branch conditions written for Dify keep working."""

from __future__ import annotations

from treadle_sdk.nodes import NodeRunError

__all__ = [
    "CodeExecutionError",
    "CodeNodeError",
    "DepthLimitError",
    "OutputValidationError",
    "SandboxLimitExceeded",
]


class CodeNodeError(NodeRunError):
    """The user's code failed: a syntax error, an exception, or a broken ``main()`` contract.
    ``line`` is the line of the user's code the error points at, when known."""

    error_type = "CodeNodeError"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class SandboxLimitExceeded(CodeNodeError):
    """The code was stopped for passing a sandbox limit: ``limit`` is ``timeout``, ``cpu``,
    ``memory``, ``processes``, ``file_size`` or ``output``."""

    def __init__(self, message: str, *, limit: str, line: int | None = None) -> None:
        super().__init__(message, line=line)
        self.limit = limit


class OutputValidationError(CodeNodeError):
    """What ``main()`` returned does not match the declared outputs; ``output`` is the path of the
    offending output (``result``, ``data.items[2]``)."""

    error_type = "OutputValidationError"

    def __init__(self, message: str, *, output: str) -> None:
        super().__init__(message)
        self.output = output


class DepthLimitError(OutputValidationError):
    """An output nests objects and arrays deeper than allowed (5 levels by default)."""

    error_type = "DepthLimitError"


class CodeExecutionError(NodeRunError):
    """The sandbox could not run the code at all: no Node.js for JavaScript, namespaces not
    permitted, an allowed package missing. The fault is the installation's, not the code's."""

    error_type = "CodeExecutionError"
