"""What tools return: a stream of typed messages (Dify's ToolInvokeMessage kinds, PLUG-TOOL-SCHEMA)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BlobMessage",
    "ImageMessage",
    "InvokeToolArgs",
    "JsonMessage",
    "LinkMessage",
    "LogMessage",
    "TextMessage",
    "ToolMessage",
    "ValidateToolCredentialsArgs",
    "VariableMessage",
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextMessage(_Message):
    type: Literal["text"] = "text"
    text: str


class JsonMessage(_Message):
    type: Literal["json"] = "json"
    json_object: Any


class LinkMessage(_Message):
    type: Literal["link"] = "link"
    link: str


class ImageMessage(_Message):
    type: Literal["image"] = "image"
    url: str


class BlobMessage(_Message):
    type: Literal["blob"] = "blob"
    #: The bytes, base64-encoded.
    blob: str
    mime_type: str = "application/octet-stream"
    filename: str | None = None


class VariableMessage(_Message):
    """Sets (or, with ``stream``, appends text to) one named output variable of the tool."""

    type: Literal["variable"] = "variable"
    name: str
    value: Any
    stream: bool = False


class LogMessage(_Message):
    """A step of the tool's own work, for the run's trace (agent logs)."""

    type: Literal["log"] = "log"
    label: str
    data: dict[str, Any] = Field(default_factory=dict)
    status: Literal["start", "success", "error"] = "success"


#: One message of a tool's output stream.
ToolMessage = Annotated[
    TextMessage | JsonMessage | LinkMessage | ImageMessage | BlobMessage | VariableMessage | LogMessage,
    Field(discriminator="type"),
]


class InvokeToolArgs(_Message):
    tool: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    user: str | None = None


class ValidateToolCredentialsArgs(_Message):
    credentials: dict[str, Any] = Field(default_factory=dict)
