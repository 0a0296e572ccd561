"""The request of one custom tool call: the operation's URL, headers, query and body, from the call's
arguments and the provider's credentials (Dify's custom tool credential shape).

Pure data work: :func:`build_request` returns the arguments of the ``openapi_request`` plugin tool,
which sends the request behind the SSRF guard.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from treadle_sdk.errors import PluginInvalidArgument

from .openapi import BODY, RAW_BODY, ApiOperation, ApiParameter

__all__ = ["ApiToolCredentials", "build_request", "coerce_arguments"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_JSON_KINDS = {"array": list, "object": dict}


class ApiToolCredentials(BaseModel):
    """How a custom tool provider authenticates, in Dify's shape.

    ``auth_type``: ``none``; ``api_key_header`` (Dify's older ``api_key`` means the same), the key
    sent in the header ``api_key_header`` (``Authorization`` by default) after a prefix chosen by
    ``api_key_header_prefix`` (``bearer``: ``Bearer <key>``; ``basic``: ``Basic <key>``, a key written
    ``user:password`` base64-encoded first; ``custom``: the key as it is); or ``api_key_query``, the key
    sent as the query parameter ``api_key_query_param``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth_type: Literal["none", "api_key", "api_key_header", "api_key_query"] = "none"
    api_key_header: str = "Authorization"
    api_key_value: str = ""
    api_key_header_prefix: Literal["basic", "bearer", "custom"] = "custom"
    api_key_query_param: str = "key"

    @model_validator(mode="after")
    def _complete(self) -> ApiToolCredentials:
        if self.auth_type == "none":
            return self
        if not self.api_key_value:
            raise ValueError(f"api_key_value is required when auth_type is {self.auth_type!r}")
        if any(ch in self.api_key_value for ch in "\r\n\0"):
            raise ValueError("api_key_value may not hold a line break or NUL")
        if self.auth_type == "api_key_query":
            if not self.api_key_query_param:
                raise ValueError("api_key_query_param is required when auth_type is 'api_key_query'")
        elif not _TOKEN.match(self.api_key_header):
            raise ValueError(f"api_key_header {self.api_key_header!r} is not a valid header name")
        return self

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> ApiToolCredentials:
        """Credentials from their stored or submitted form; a bad field raises :class:`ValueError`
        naming ``credentials.<field>``."""
        if raw is None:
            return cls()
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"])
            where = f"credentials.{field}" if field else "credentials"
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{where}: {message}") from None

    @property
    def secret(self) -> str:
        return self.api_key_value

    def without_secret(self) -> dict[str, Any]:
        """The credentials with the key left out: what may be shown or stored in the clear."""
        return self.model_dump(exclude={"api_key_value"})

    def header_value(self) -> str:
        value = self.api_key_value
        if self.api_key_header_prefix == "bearer":
            return f"Bearer {value}"
        if self.api_key_header_prefix == "basic":
            # Base64 never holds ':', so a key that does is the user:password pair itself.
            if ":" in value:
                value = base64.b64encode(value.encode()).decode()
            return f"Basic {value}"
        return value

    def apply(self, headers: dict[str, str], query: dict[str, Any]) -> None:
        """Add the key to the request's ``headers`` or ``query``."""
        if self.auth_type in ("api_key", "api_key_header"):
            headers[self.api_key_header] = self.header_value()
        elif self.auth_type == "api_key_query":
            query[self.api_key_query_param] = self.api_key_value


def _invalid(operation: ApiOperation, name: str, message: str) -> PluginInvalidArgument:
    return PluginInvalidArgument(
        f"parameter {name!r} of tool {operation.name!r} {message}",
        details={"tool": operation.name, "parameter": name},
    )


def _coerce(operation: ApiOperation, parameter: ApiParameter, value: Any) -> Any:
    kind = parameter.json_type
    name = parameter.name
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(operation, name, f"must be a whole number, not {value!r}")
        return value
    if kind == "number":
        if isinstance(value, str):
            try:
                return int(value) if value.strip().lstrip("+-").isdigit() else float(value)
            except ValueError:
                raise _invalid(operation, name, f"must be a number, not {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(operation, name, f"must be a number, not {value!r}")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _invalid(operation, name, f"must be true or false, not {value!r}")
    if kind in _JSON_KINDS:
        expected = _JSON_KINDS[kind]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise _invalid(operation, name, f"must be a JSON {kind}; {value[:80]!r} is not JSON") from None
        if not isinstance(value, expected):
            raise _invalid(operation, name, f"must be a JSON {kind}, not {type(value).__name__}")
        return value
    if kind == "string":
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    return value


def coerce_arguments(operation: ApiOperation, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments checked against the operation: unknown names refused, required ones
    present (defaults fill the rest), each converted to its declared type."""
    unknown = sorted(set(arguments) - {p.name for p in operation.parameters})
    if unknown:
        raise PluginInvalidArgument(
            f"tool {operation.name!r} has no parameter(s) {', '.join(map(repr, unknown))} "
            f"(parameters: {', '.join(p.name for p in operation.parameters) or 'none'})",
            details={"tool": operation.name, "unknown": unknown},
        )
    out: dict[str, Any] = {}
    for parameter in operation.parameters:
        value = arguments.get(parameter.name)
        if value is None or value == "":
            if parameter.default is not None:
                out[parameter.name] = parameter.default
            elif parameter.required:
                raise _invalid(operation, parameter.name, "is required")
            continue
        out[parameter.name] = _coerce(operation, parameter, value)
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ",".join(_scalar(item) for item in value)
    return str(value)


def _multipart(fields: Mapping[str, Any]) -> tuple[str, str]:
    boundary = f"treadle-{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        disposition = f'form-data; name="{name.replace(chr(34), "%22")}"'
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n{_scalar(value)}\r\n")
    return "".join(parts) + f"--{boundary}--\r\n", f"multipart/form-data; boundary={boundary}"


def build_request(
    operation: ApiOperation, arguments: Mapping[str, Any], credentials: ApiToolCredentials
) -> dict[str, Any]:
    """The ``openapi_request`` tool's parameters for one call: ``method``, ``url`` (path parameters
    filled in, percent-encoded), ``headers`` and ``query`` (JSON objects as text) and ``body``."""
    values = coerce_arguments(operation, arguments)
    path = operation.path
    headers: dict[str, str] = {}
    query: dict[str, Any] = {}
    cookies: list[str] = []
    fields: dict[str, Any] = {}
    raw: Any = None
    for parameter in operation.parameters:
        if parameter.name not in values:
            continue
        value = values[parameter.name]
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", quote(_scalar(value), safe=""))
        elif parameter.location == "query":
            query[parameter.name] = [_scalar(v) for v in value] if isinstance(value, list) else _scalar(value)
        elif parameter.location == "header":
            text = _scalar(value)
            if any(ch in text for ch in "\r\n\0"):
                raise _invalid(operation, parameter.name, "may not hold a line break or NUL (it is a header)")
            headers[parameter.name] = text
        elif parameter.location == "cookie":
            cookies.append(f"{parameter.name}={quote(_scalar(value), safe='')}")
        elif parameter.location == BODY:
            fields[parameter.name] = value
        elif parameter.location == RAW_BODY:
            raw = value
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    body = ""
    media_type = (operation.content_type or "").split(";", 1)[0].strip().lower()
    if operation.content_type is not None and (fields or raw is not None):
        content_type = operation.content_type
        if fields and media_type == "multipart/form-data":
            body, content_type = _multipart(fields)
        elif fields and media_type == "application/x-www-form-urlencoded":
            body = urlencode({name: _scalar(value) for name, value in fields.items()})
        elif fields:
            body = json.dumps(fields, ensure_ascii=False)
            if media_type == "*/*":
                content_type = "application/json"
        elif isinstance(raw, str) and not (media_type == "application/json" or media_type.endswith("+json")):
            body = raw
        else:
            body = json.dumps(raw, ensure_ascii=False)
        headers["Content-Type"] = content_type
    credentials.apply(headers, query)
    return {
        "method": operation.method,
        "url": operation.server_url + path,
        "headers": json.dumps(headers, ensure_ascii=False),
        "query": json.dumps(query, ensure_ascii=False),
        "body": body,
    }
