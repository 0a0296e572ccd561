"""What tools return, and the arguments of the tool provider operations (PLUG-TOOL-OUTPUT, PLUG-TOOL-OAUTH).

A tool answers with a stream of typed messages, Dify's ToolInvokeMessage kinds. In a workflow the tool
node gathers them into its fixed outputs ``text`` (text messages joined, links and images shown as
text), ``json`` (the list of json messages) and ``files`` (images and blobs), plus one output per
variable message; in an agent the model reads them.

=============  =======================================================================================
kind           what it carries
=============  =======================================================================================
``text``       text (``TextMessage``); a plain ``str`` yielded by a tool becomes one
``json``       a JSON object or list (``JsonMessage``)
``link``       an http(s) URL shown as a link (``LinkMessage``)
``image``      an http(s) or ``data:image/`` URL of an image, which the kernel fetches (``ImageMessage``)
``blob``       bytes, base64-encoded, with a MIME type and file name (``BlobMessage``; build it with
               :meth:`BlobMessage.of`)
``variable``   sets the named output variable; the last write wins (``VariableMessage``)
stream         a ``variable`` message with ``stream=True``: appends its text to the variable, chunk by
               chunk, so that an Answer node shows it as it comes (strings only)
``log``        a step of the tool's own work, for the run's trace (``LogMessage``)
=============  =======================================================================================

Every message is checked when it is built and again when it crosses the plugin boundary: a message
that breaks these rules reaches the caller as ``PluginMalformedResponse``, not as data.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BlobMessage",
    "ImageMessage",
    "InvokeToolArgs",
    "JsonMessage",
    "LinkMessage",
    "LogMessage",
    "OAuthAuthorizationUrlArgs",
    "OAuthCallbackRequest",
    "OAuthCredentials",
    "OAuthCredentialsArgs",
    "OAuthRefreshArgs",
    "TextMessage",
    "ToolMessage",
    "ValidateToolCredentialsArgs",
    "VariableMessage",
]

_MIME_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
#: Names of output variables: what a workflow selector can address.
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{what} must be an absolute http or https URL, not {value[:200]!r}")
    return value


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextMessage(_Message):
    """Text; a tool's text messages are joined into its ``text`` output."""

    type: Literal["text"] = "text"
    text: str


class JsonMessage(_Message):
    """A JSON object or list; each becomes one item of the tool's ``json`` output."""

    type: Literal["json"] = "json"
    json_object: dict[str, Any] | list[Any]


class LinkMessage(_Message):
    """A link to show (an absolute http or https URL)."""

    type: Literal["link"] = "link"
    link: str

    @field_validator("link")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "a link")


class ImageMessage(_Message):
    """An image by URL: http(s), which the kernel downloads, or a ``data:image/...`` URI."""

    type: Literal["image"] = "image"
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value[:11].lower() == "data:image/":
            return value
        return _http_url(value, "an image URL")


class BlobMessage(_Message):
    """A file the tool made: its bytes (base64-encoded), MIME type and, optionally, its name."""

    type: Literal["blob"] = "blob"
    #: The bytes, base64-encoded.
    blob: str
    mime_type: str = "application/octet-stream"
    filename: str | None = None

    @classmethod
    def of(cls, data: bytes, mime_type: str = "application/octet-stream", filename: str | None = None) -> BlobMessage:
        """A blob message of raw bytes."""
        return cls(blob=base64.b64encode(data).decode("ascii"), mime_type=mime_type, filename=filename)

    def data(self) -> bytes:
        """The bytes."""
        return base64.b64decode(self.blob)

    @field_validator("blob")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("blob must be base64 text (build the message with BlobMessage.of(bytes))") from None
        return value

    @field_validator("mime_type")
    @classmethod
    def _mime_type(cls, value: str) -> str:
        if not _MIME_TYPE.match(value):
            raise ValueError(f"{value!r} is not a MIME type such as 'image/png'")
        return value

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is not None and (not value or "/" in value or "\\" in value or "\x00" in value):
            raise ValueError(f"a file name must be a plain name without a path, not {value!r}")
        return value


class VariableMessage(_Message):
    """Sets one named output variable of the tool, or with ``stream`` appends text to it.

    Without ``stream`` the value may be any JSON value and the last message for a name wins. With
    ``stream`` the value must be text: each message appends a chunk, which a chatflow's Answer node
    shows as it arrives (Dify's ``create_stream_variable_message``).
    """

    type: Literal["variable"] = "variable"
    name: str
    value: Any
    stream: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _VARIABLE_NAME.match(value):
            raise ValueError(f"{value!r} is not a variable name: use letters, digits and '_', not a digit first")
        return value

    @model_validator(mode="after")
    def _streamed_text(self) -> VariableMessage:
        if self.stream and not isinstance(self.value, str):
            raise ValueError(f"a streamed variable takes text chunks, not {type(self.value).__name__}")
        return self


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


# ---------------------------------------------------------------------------------------------
# Operation arguments
# ---------------------------------------------------------------------------------------------


class InvokeToolArgs(_Message):
    tool: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(default_factory=dict)
    user: str | None = None


class ValidateToolCredentialsArgs(_Message):
    credentials: dict[str, Any] = Field(default_factory=dict)


class OAuthAuthorizationUrlArgs(_Message):
    """``oauth_authorization_url``: where to send the user to grant access.

    ``redirect_uri`` is the kernel's callback URL, which the provider must pass on unchanged;
    ``system_credentials`` are the values of the provider's ``oauth_schema.client_schema``.
    """

    redirect_uri: str
    system_credentials: dict[str, Any] = Field(default_factory=dict)

    @field_validator("redirect_uri")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "redirect_uri")


class OAuthCallbackRequest(_Message):
    """The request the service sent the user back with: ``query`` holds ``code`` (or ``error``)
    and ``state``; a service that answers with ``response_mode=form_post`` sends them in ``body``."""

    method: str = "GET"
    url: str = ""
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = ""


class OAuthCredentialsArgs(OAuthAuthorizationUrlArgs):
    """``oauth_credentials``: exchange the callback's authorization code for credentials."""

    request: OAuthCallbackRequest


class OAuthRefreshArgs(OAuthAuthorizationUrlArgs):
    """``oauth_refresh``: new credentials from the stored ones (their ``refresh_token``)."""

    credentials: dict[str, Any]


class OAuthCredentials(_Message):
    """What a user's authorization produced (Dify's ToolOAuthCredentials).

    ``credentials`` follow the provider's ``oauth_schema.credentials_schema`` and must never include
    the client secret; ``expires_at`` is a Unix time in seconds, or -1 when they do not expire.
    """

    credentials: dict[str, Any]
    expires_at: int = -1

    @field_validator("expires_at")
    @classmethod
    def _expiry(cls, value: int) -> int:
        if value < -1:
            raise ValueError(f"expires_at is a Unix time in seconds or -1 (never), not {value}")
        return value
