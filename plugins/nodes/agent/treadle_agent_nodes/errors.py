"""How tool and agent nodes fail. ``error_type`` is what the engine's error strategies expose; the
names are Dify's (debug/error-type.md), so fail-branch conditions written for Dify keep working."""

from __future__ import annotations

from treadle_sdk.errors import PluginError, PluginNotFound
from treadle_sdk.nodes import NodeRunError

__all__ = [
    "AgentNodeError",
    "AgentStrategyNotFoundError",
    "ToolFileError",
    "ToolInvokeError",
    "ToolNodeError",
    "ToolParameterError",
    "ToolProviderNotFoundError",
    "tool_error",
]


class ToolNodeError(NodeRunError):
    """A tool could not be run."""

    error_type = "ToolNodeError"


class ToolParameterError(ToolNodeError):
    """The parameters given to a tool do not fit its schema: a required one is missing, or a value
    has the wrong type or lies outside the allowed range or options. ``parameter`` names it."""

    error_type = "ToolParameterError"

    def __init__(self, message: str, *, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


class ToolFileError(ToolNodeError):
    """A tool produced a file that cannot be read (an undecodable blob)."""

    error_type = "ToolFileError"


class ToolInvokeError(ToolNodeError):
    """The tool ran and failed (its own error, a timeout, a host that went away)."""

    error_type = "ToolInvokeError"


class ToolProviderNotFoundError(ToolNodeError):
    """No installed tool provider (or no tool of that name in it) matches what the DSL names."""

    error_type = "ToolProviderNotFoundError"


class AgentNodeError(NodeRunError):
    """The agent node cannot run with what its parameters hold at run time."""

    error_type = "AgentNodeError"


class AgentStrategyNotFoundError(AgentNodeError):
    """The DSL asks for an agent strategy this plugin does not implement."""

    error_type = "AgentStrategyNotFoundError"


def tool_error(exc: PluginError, what: str) -> ToolNodeError:
    """The node error for a failed tool call: a missing provider or tool is
    :class:`ToolProviderNotFoundError`, anything else :class:`ToolInvokeError`; an ``error_type``
    the kernel put in the error's details wins (the tool manager marks missing providers so)."""
    named = exc.details.get("error_type")
    if isinstance(exc, PluginNotFound) or named == ToolProviderNotFoundError.error_type:
        error: ToolNodeError = ToolProviderNotFoundError(f"{what}: {exc.message}")
    else:
        error = ToolInvokeError(f"{what} failed: {exc.message}")
    if isinstance(named, str) and named:
        error.error_type = named
    return error
