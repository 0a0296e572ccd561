"""A tool provider ``keyed`` with credentials: ``api_key`` (secret) and ``region``.

``validate_credentials`` accepts keys starting ``good-`` and refuses others, echoing the refused key
(as careless upstream APIs do). Tools: ``whoami`` says the region and whether the key is good;
``explode`` fails with a message that echoes the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from treadle_sdk import CallContext, ToolProvider, hookimpl
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument
from treadle_sdk.extensions import Tool
from treadle_sdk.schemas import ProviderConfig, ToolProviderSchema, ToolSchema
from treadle_sdk.tool_runtime import TextMessage, ValidateToolCredentialsArgs


class WhoAmI(Tool):
    schema = ToolSchema(name="whoami", label="Who am I", description="Which credentials the call got.")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> TextMessage:
        good = str(credentials.get("api_key", "")).startswith("good-")
        return TextMessage(text=f"region={credentials.get('region', '-')} good={good}")


class Explode(Tool):
    schema = ToolSchema(name="explode", label="Explode", description="Fails, echoing the key.")

    def invoke(self, parameters: dict[str, Any], ctx: CallContext, credentials: dict[str, Any]) -> TextMessage:
        key = credentials.get("api_key")
        raise PluginFailed(f"upstream refused the key {key}", details={"sent": {"authorization": f"Bearer {key}"}})


class KeyedTools(ToolProvider):
    blocking = False
    schema = ToolProviderSchema(
        name="keyed",
        label="Keyed",
        description="A tool provider with credentials.",
        credentials=[
            ProviderConfig(name="api_key", label="API key", type="secret-input", required=True),
            ProviderConfig(name="region", label="Region", type="select", default="eu",
                           options=[{"value": "eu", "label": "EU"}, {"value": "us", "label": "US"}]),
        ],
    )

    def __init__(self) -> None:
        self.tools = [WhoAmI(), Explode()]

    def validate_credentials(self, args: ValidateToolCredentialsArgs, ctx: CallContext) -> None:
        key = str(args.credentials.get("api_key", ""))
        if not key.startswith("good-"):
            raise PluginInvalidArgument(f"the upstream API refused the key {key}", details={"field": "api_key"})


@hookimpl
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    register(KeyedTools())
