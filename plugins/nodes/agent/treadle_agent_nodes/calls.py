"""One tool, as a node names it, described and invoked through the kernel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.context import KernelClient
from treadle_sdk.errors import PluginError
from treadle_sdk.nodes import NodeRuntime
from treadle_sdk.schemas import ToolSchema

from .errors import ToolInvokeError, tool_error
from .messages import Emit, ToolOutput

__all__ = ["ToolRef", "kernel_for_tools"]


def kernel_for_tools(rt: NodeRuntime) -> KernelClient:
    """The run's way to the kernel; a node that runs tools cannot run without it."""
    if rt.kernel is None:
        raise ToolInvokeError(f"node {rt.node_id} runs a tool, but this run has no kernel to run it through")
    return rt.kernel


@dataclass(frozen=True, slots=True)
class ToolRef:
    """A tool: its provider (a plugin provider id such as ``langgenius/time/time`` or ``time``, or the
    workspace id of an API, workflow or MCP provider), its name, the provider type, and the
    credential to use (None: the workspace's default)."""

    provider: str
    tool: str
    provider_type: str = "builtin"
    credential_id: str | None = None

    def __str__(self) -> str:
        return f"tool {self.tool!r} of {self.provider_type} provider {self.provider!r}"

    async def describe(self, kernel: KernelClient) -> ToolSchema:
        """The tool's schema; a missing provider or tool raises
        :class:`~treadle_agent_nodes.errors.ToolProviderNotFoundError`."""
        try:
            return await kernel.adescribe_tool(self.provider, self.tool, provider_type=self.provider_type)
        except PluginError as exc:
            raise tool_error(exc, str(self)) from exc

    async def invoke(
        self,
        kernel: KernelClient,
        parameters: Mapping[str, Any],
        *,
        emit: Emit | None = None,
        log_parent: str | None = None,
    ) -> ToolOutput:
        """Run the tool on checked parameters and gather its messages."""
        try:
            messages = await kernel.ainvoke_tool(
                self.provider,
                self.tool,
                parameters,
                provider_type=self.provider_type,
                credential_id=self.credential_id,
            )
        except PluginError as exc:
            raise tool_error(exc, str(self)) from exc
        output = ToolOutput()
        for message in messages:
            if not isinstance(message, Mapping):
                raise ToolInvokeError(f"{self} sent a message that is not an object: {message!r}")
            output.add(message, emit, log_parent=log_parent)
        return output
