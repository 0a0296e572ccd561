"""The HTTP request node's DSL ``data``, as Dify stores it, and the operator's limits.

Dify keeps ``headers`` and ``params`` as text, one ``key:value`` per line; the body as a type and a
list of items (``{key, type: text|file, value, file: selector}``); older DSL files keep the body's
``data`` as a plain string, which is read as one text item (as Dify does).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from treadle_sdk.environment import positive_number
from treadle_sdk.nodes import NodeConfigError

__all__ = [
    "METHODS",
    "Authorization",
    "AuthorizationConfig",
    "Body",
    "BodyItem",
    "HttpLimits",
    "HttpRequestData",
    "Timeouts",
    "parse_config",
]

#: The methods the node sends.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

BodyType = Literal["none", "json", "form-data", "x-www-form-urlencoded", "raw-text", "binary"]


class _Data(BaseModel):
    # DSL files carry UI fields (title, desc, selected, position ...) beside the ones read here.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AuthorizationConfig(_Data):
    """``api-key`` authorization: ``basic`` (``user:password`` or already base64), ``bearer``, or
    ``custom`` (the key sent as the value of ``header``)."""

    type: Literal["basic", "bearer", "custom"] | None = None
    api_key: str = ""
    header: str = ""

    @field_validator("api_key", "header", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class Authorization(_Data):
    type: Literal["no-auth", "api-key"] = "no-auth"
    config: AuthorizationConfig | None = None

    @model_validator(mode="after")
    def _api_key_needs_config(self) -> Authorization:
        if self.type == "api-key" and self.config is None:
            raise ValueError("an api-key authorization needs its config (type, api_key)")
        return self


class BodyItem(_Data):
    key: str = ""
    type: Literal["text", "file"] = "text"
    value: str = ""
    #: The file variable's selector, for ``file`` items and binary bodies.
    file: list[str] = Field(default_factory=list)

    @field_validator("key", "value", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("file", mode="before")
    @classmethod
    def _none_is_no_file(cls, value: Any) -> Any:
        return [] if value is None else value


class Body(_Data):
    type: BodyType = "none"
    data: list[BodyItem] = Field(default_factory=list)

    @field_validator("data", mode="before")
    @classmethod
    def _legacy_string(cls, value: Any) -> Any:
        if not value:
            return []
        if isinstance(value, str):
            return [{"key": "", "type": "text", "value": value}]
        return value

    @model_validator(mode="after")
    def _item_count(self) -> Body:
        if self.type in ("json", "raw-text", "binary") and len(self.data) > 1:
            raise ValueError(f"a {self.type} body has one item, not {len(self.data)}")
        if self.type == "binary" and (not self.data or len(self.data[0].file) < 2):
            raise ValueError("a binary body needs the selector of a file variable (data[0].file)")
        for item in self.data:
            if item.type == "file" and self.type == "form-data" and len(item.file) < 2:
                raise ValueError(f"the form-data file item {item.key!r} needs a file variable selector")
        return self


class Timeouts(_Data):
    """Seconds; 0 or missing means the operator's default. ``max_*`` are the editor's display caps."""

    connect: float | None = None
    read: float | None = None
    write: float | None = None


class HttpRequestData(_Data):
    """The node's ``data``: what to request, and how."""

    method: str
    url: str
    authorization: Authorization = Field(default_factory=Authorization)
    headers: str = ""
    params: str = ""
    body: Body | None = None
    timeout: Timeouts | None = None
    ssl_verify: bool = True
    error_strategy: str | None = None
    retry_config: dict[str, Any] | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _known_method(cls, value: Any) -> Any:
        if not isinstance(value, str) or value.upper() not in METHODS:
            raise ValueError(f"invalid HTTP method {value!r}; the node sends {', '.join(METHODS)}")
        return value.upper()

    @field_validator("headers", "params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("authorization", mode="before")
    @classmethod
    def _none_is_no_auth(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("ssl_verify", mode="before")
    @classmethod
    def _none_is_verify(cls, value: Any) -> Any:
        return True if value is None else value

    @property
    def fails_on_error_status(self) -> bool:
        """A non-2xx answer is a failure when the node has an error strategy or retries (as in Dify),
        so that the strategy or the retry applies; otherwise it is an ordinary result."""
        retry = bool(self.retry_config and self.retry_config.get("retry_enabled"))
        return bool(self.error_strategy) or retry


def parse_config(config: Mapping[str, Any]) -> HttpRequestData:
    """The node's data, checked; raises :class:`NodeConfigError` with the path of the first problem."""
    try:
        return HttpRequestData.model_validate(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise NodeConfigError(message, path) from None


@dataclass(frozen=True)
class HttpLimits:
    """The operator's limits: default and largest timeouts (Dify's: connect 10 s, read 60 s, write
    20 s), the largest response (10 MB), the largest file sent, and how many redirects are followed."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    write_timeout: float = 20.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_file_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        """Limits from ``TREADLE_HTTP_MAX_CONNECT_TIMEOUT``, ``..._READ_TIMEOUT``, ``..._WRITE_TIMEOUT``
        (seconds) and ``TREADLE_HTTP_MAX_RESPONSE_BYTES``; unset ones keep their defaults."""
        environ = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            connect_timeout=positive_number(environ, "TREADLE_HTTP_MAX_CONNECT_TIMEOUT", defaults.connect_timeout),
            read_timeout=positive_number(environ, "TREADLE_HTTP_MAX_READ_TIMEOUT", defaults.read_timeout),
            write_timeout=positive_number(environ, "TREADLE_HTTP_MAX_WRITE_TIMEOUT", defaults.write_timeout),
            max_response_bytes=int(
                positive_number(environ, "TREADLE_HTTP_MAX_RESPONSE_BYTES", defaults.max_response_bytes)
            ),
        )

    def timeouts(self, asked: Timeouts | None) -> tuple[float, float, float]:
        """(connect, read, write) seconds for a node: what it asks, capped by the limits; 0 or
        missing values take the limit."""

        def pick(value: float | None, cap: float) -> float:
            return cap if not value or value <= 0 else min(value, cap)

        asked = asked or Timeouts()
        return (
            pick(asked.connect, self.connect_timeout),
            pick(asked.read, self.read_timeout),
            pick(asked.write, self.write_timeout),
        )
