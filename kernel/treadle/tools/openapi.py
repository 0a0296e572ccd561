"""Custom tools from an OpenAPI document (WS-TOOLS, custom tools): each operation becomes a tool.

:func:`parse_api_spec` reads OpenAPI 3.0 / 3.1 or Swagger 2.0, as JSON or YAML text (or a mapping
already parsed) and returns an :class:`ApiSpec`: the base URL and one :class:`ApiOperation` per
operation, each with the :class:`~treadle_sdk.schemas.ToolSchema` that agents and tool nodes see and
what is needed to build its request. It is data work only; requests are sent by a plugin.

As in Dify:

* the tool name is the ``operationId`` (characters a tool name may not hold become ``_``), else
  ``<method>_<path>`` (``get_pets_petId``);
* the parameters are the path, query, header and cookie parameters (path-level ones included, the
  operation's overriding them), then the properties of the request body (JSON or form), each with
  its type, whether it is required, its default and its description (``llm_description``); a body
  that is not an object of properties is one parameter, ``body``;
* ``$ref`` is followed inside the document (``#/components/...``, ``#/definitions/...``), ``allOf``
  object schemas are merged;
* the base URL is ``servers[0].url`` (its variables set to their defaults; an operation's own
  ``servers`` win), or for Swagger 2.0 ``schemes[0]://host basePath``.

Every problem raises :class:`~treadle.tools.errors.OpenAPISpecError` naming where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import yaml
from treadle_sdk.schemas import (
    ToolParameter,
    ToolParameterOption,
    ToolParameterType,
    ToolSchema,
)

from .errors import OpenAPISpecError

__all__ = [
    "BODY",
    "HTTP_METHODS",
    "MAX_SPEC_CHARS",
    "RAW_BODY",
    "ApiOperation",
    "ApiParameter",
    "ApiSpec",
    "load_document",
    "parse_api_spec",
]

#: The largest document accepted, in characters.
MAX_SPEC_CHARS = 5_000_000
#: The operations of a path item, in the order OpenAPI lists them.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: Where a parameter goes: OpenAPI's locations, a property of the body, or the whole body.
LOCATIONS = ("path", "query", "header", "cookie")
BODY = "body"
RAW_BODY = "raw-body"

#: Header parameters OpenAPI says to ignore: the request's own machinery sets them.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_\-$]*$")
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_\-]+")
_SERVER_VARIABLE = re.compile(r"\{([^{}]+)\}")


def _at(path: str, key: str | int) -> str:
    """``path`` one step deeper: ``paths["/pets"].get.parameters[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


@dataclass(frozen=True)
class ApiParameter:
    """One argument of an operation and where it goes (``path``, ``query``, ``header``, ``cookie``,
    :data:`BODY` for a property of the body, :data:`RAW_BODY` for the whole body)."""

    name: str
    location: str
    required: bool = False
    #: The JSON Schema type (``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``),
    #: or None when the document does not say.
    json_type: str | None = None
    default: Any = None


@dataclass(frozen=True)
class ApiOperation:
    """One operation of the document as a tool."""

    tool: ToolSchema
    #: Upper-case HTTP method.
    method: str
    #: The path template as written (``/pets/{petId}``).
    path: str
    server_url: str
    parameters: tuple[ApiParameter, ...]
    #: The media type of the request body, or None when the operation takes none.
    content_type: str | None = None

    @property
    def name(self) -> str:
        return self.tool.name

    def parameter(self, name: str) -> ApiParameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class ApiSpec:
    """A parsed document: what it calls itself and its operations."""

    #: ``openapi`` or ``swagger`` (Dify's ``schema_type``).
    schema_type: str
    title: str
    description: str
    server_url: str
    operations: tuple[ApiOperation, ...]

    @property
    def tools(self) -> list[ToolSchema]:
        return [operation.tool for operation in self.operations]

    def operation(self, name: str) -> ApiOperation | None:
        return next((op for op in self.operations if op.name == name), None)


def load_document(source: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The document in ``source``: JSON or YAML text, or a mapping (copied as plain data)."""
    if isinstance(source, Mapping):
        try:
            return dict(json.loads(json.dumps(source)))
        except (TypeError, ValueError) as exc:
            raise OpenAPISpecError(f"the document is not plain JSON data: {exc}") from None
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise OpenAPISpecError(f"the document is not UTF-8 text (byte {exc.start})") from None
    if len(source) > MAX_SPEC_CHARS:
        raise OpenAPISpecError(f"the document is {len(source)} characters; at most {MAX_SPEC_CHARS} are accepted")
    if not source.strip():
        raise OpenAPISpecError("the document is empty")
    document: Any
    try:
        document = json.loads(source) if source.lstrip().startswith("{") else yaml.safe_load(source)
    except json.JSONDecodeError as exc:
        raise OpenAPISpecError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise OpenAPISpecError(f"invalid YAML{at}: {exc.problem or exc.context or 'unreadable'}") from None
    except yaml.YAMLError as exc:
        raise OpenAPISpecError(f"invalid YAML: {exc}") from None
    if not isinstance(document, dict):
        found = "nothing" if document is None else f"a {type(document).__name__}"
        raise OpenAPISpecError(f"an OpenAPI document is a mapping with openapi, info and paths; this is {found}")
    return document


def parse_api_spec(source: str | bytes | Mapping[str, Any], *, base_url: str | None = None) -> ApiSpec:
    """The tools of an OpenAPI 3 or Swagger 2.0 document.

    :param base_url: where the document was fetched from, against which a relative server URL
        (``servers: [{url: /v1}]``) is resolved; without it a relative server URL is an error.
    """
    return _Parser(load_document(source), base_url).parse()


class _Parser:
    def __init__(self, document: dict[str, Any], base_url: str | None) -> None:
        self.doc = document
        self.base_url = base_url
        if isinstance(document.get("openapi"), str):
            if not document["openapi"].startswith("3."):
                raise OpenAPISpecError(
                    f"OpenAPI {document['openapi']!r} is not supported; use OpenAPI 3.x or Swagger 2.0", "openapi"
                )
            self.swagger = False
        elif str(document.get("swagger", "")) == "2.0":
            self.swagger = True
        else:
            raise OpenAPISpecError(
                "this is not an OpenAPI document: it needs 'openapi: 3.x' (or 'swagger: \"2.0\"') at the top"
            )

    # -- references -------------------------------------------------------------------------------

    def resolve(self, node: Any, where: str) -> tuple[Any, str]:
        """``node`` with its ``$ref`` chain followed, and the path of what it resolved to."""
        seen: list[str] = []
        while isinstance(node, Mapping) and "$ref" in node:
            ref = node["$ref"]
            ref_at = _at(where, "$ref")
            if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
                raise OpenAPISpecError(
                    f"$ref {ref!r} points outside this document; only references inside it "
                    "('#/components/schemas/Name') are supported",
                    ref_at,
                )
            if ref in seen:
                raise OpenAPISpecError(f"$ref {ref!r} is circular ({' -> '.join([*seen, ref])})", ref_at)
            seen.append(ref)
            node, where = self._pointer(ref, ref_at)
        return node, where

    def _pointer(self, ref: str, ref_at: str) -> tuple[Any, str]:
        node: Any = self.doc
        path = ""
        for raw in ref[2:].split("/") if ref != "#" else []:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node, path = node[part], _at(path, part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node, path = node[int(part)], _at(path, int(part))
            else:
                raise OpenAPISpecError(
                    f"$ref {ref!r} points at nothing: {path or 'the document'} has no {part!r}", ref_at
                )
        return node, path

    def mapping(self, node: Any, where: str, what: str) -> tuple[Mapping[str, Any], str]:
        node, where = self.resolve(node, where)
        if not isinstance(node, Mapping):
            raise OpenAPISpecError(f"{what} must be a mapping, not {_kind(node)}", where)
        return node, where

    # -- the document -----------------------------------------------------------------------------

    def parse(self) -> ApiSpec:
        info = self.doc.get("info") if isinstance(self.doc.get("info"), Mapping) else {}
        assert isinstance(info, Mapping)
        server_url = self.swagger_server() if self.swagger else self.server(self.doc.get("servers"), "servers")
        paths = self.doc.get("paths")
        if not isinstance(paths, Mapping) or not paths:
            raise OpenAPISpecError("the document has no operations: 'paths' is missing or empty", "paths")
        operations: list[ApiOperation] = []
        named: dict[str, str] = {}
        for path, item in paths.items():
            item_at = _at("paths", str(path))
            if not isinstance(path, str) or not path.startswith("/"):
                raise OpenAPISpecError(f"a path must start with '/', not {path!r}", item_at)
            item, item_at = self.mapping(item, item_at, "a path item")
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = self.operation(path, item, item_at, method, server_url)
                earlier = named.get(operation.name)
                if earlier is not None:
                    raise OpenAPISpecError(
                        f"two operations would be the tool {operation.name!r}: this one and {earlier}; "
                        "give them different operationIds",
                        _at(item_at, method),
                    )
                named[operation.name] = f"{method.upper()} {path}"
                operations.append(operation)
        if not operations:
            raise OpenAPISpecError("the document has no operations under 'paths'", "paths")
        return ApiSpec(
            schema_type="swagger" if self.swagger else "openapi",
            title=str(info.get("title") or ""),
            description=str(info.get("description") or ""),
            server_url=server_url,
            operations=tuple(operations),
        )

    def server(self, servers: Any, where: str) -> str:
        if not isinstance(servers, list) or not servers:
            raise OpenAPISpecError("the document names no server to call: add 'servers: [{url: https://...}]'", where)
        server, at = self.mapping(servers[0], _at(where, 0), "a server")
        url = server.get("url")
        if not isinstance(url, str) or not url.strip():
            raise OpenAPISpecError("a server needs a 'url'", _at(at, "url"))
        variables = server.get("variables") if isinstance(server.get("variables"), Mapping) else {}
        assert isinstance(variables, Mapping)

        def substitute(match: re.Match[str]) -> str:
            spec = variables.get(match.group(1))
            if not isinstance(spec, Mapping) or "default" not in spec:
                raise OpenAPISpecError(
                    f"the server URL uses the variable {{{match.group(1)}}}, which has no default",
                    _at(at, "url"),
                )
            return str(spec["default"])

        return self.absolute(_SERVER_VARIABLE.sub(substitute, url.strip()), _at(at, "url"))

    def swagger_server(self) -> str:
        host = self.doc.get("host")
        if not isinstance(host, str) or not host.strip():
            if self.base_url:
                return self.absolute(str(self.doc.get("basePath") or "/"), "basePath")
            raise OpenAPISpecError("a Swagger 2.0 document needs a 'host' to call", "host")
        schemes = self.doc.get("schemes")
        scheme = schemes[0] if isinstance(schemes, list) and schemes else "https"
        base_path = self.doc.get("basePath") or ""
        return self.absolute(f"{scheme}://{host.strip()}{base_path}", "host")

    def absolute(self, url: str, where: str) -> str:
        if not urlsplit(url).scheme and self.base_url:
            url = urljoin(self.base_url, url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            hint = " (a relative URL needs the document's own URL to resolve against)" if not parts.scheme else ""
            raise OpenAPISpecError(f"the server URL {url!r} is not an absolute http(s) URL{hint}", where)
        return url.rstrip("/")

    # -- operations -------------------------------------------------------------------------------

    def operation(
        self, path: str, item: Mapping[str, Any], item_at: str, method: str, server_url: str
    ) -> ApiOperation:
        operation, at = self.mapping(item[method], _at(item_at, method), "an operation")
        if isinstance(operation.get("servers"), list) and operation["servers"]:
            server_url = self.server(operation["servers"], _at(at, "servers"))
        elif not self.swagger and isinstance(item.get("servers"), list) and item["servers"]:
            server_url = self.server(item["servers"], _at(item_at, "servers"))
        name = self.tool_name(operation.get("operationId"), method, path, at)
        parameters: list[tuple[ApiParameter, ToolParameter]] = []
        body_raw: list[tuple[Mapping[str, Any], str]] = []
        form_raw: list[tuple[Mapping[str, Any], str]] = []
        for param, param_at in self.parameter_list(item, item_at, operation, at):
            location = param["in"]
            if location == "body":
                body_raw.append((param, param_at))
            elif location == "formData":
                form_raw.append((param, param_at))
            elif location == "header" and str(param["name"]).lower() in _IGNORED_HEADERS:
                continue
            else:
                parameters.append(self.parameter(param, param_at, location))
        content_type, body = self.body(operation, at, body_raw, form_raw)
        seen: dict[str, str] = {}
        for parameter, _ in [*parameters, *body]:
            if parameter.name in seen:
                raise OpenAPISpecError(
                    f"the parameter {parameter.name!r} is both a {seen[parameter.name]} and a "
                    f"{_where_name(parameter.location)}; a tool's parameters need distinct names",
                    at,
                )
            seen[parameter.name] = _where_name(parameter.location)
        for template in re.findall(r"\{([^{}]+)\}", path):
            if template not in seen:
                raise OpenAPISpecError(f"the path has {{{template}}} but no path parameter {template!r}", at)
        summary = _text(operation.get("summary"))
        description = _text(operation.get("description")) or summary or f"{method.upper()} {path}"
        tool = ToolSchema(
            name=name,
            label=summary or name,
            description=description,
            llm_description=description,
            parameters=[tool_parameter for _, tool_parameter in [*parameters, *body]],
        )
        return ApiOperation(
            tool=tool,
            method=method.upper(),
            path=path,
            server_url=server_url,
            parameters=tuple(parameter for parameter, _ in [*parameters, *body]),
            content_type=content_type,
        )

    def tool_name(self, operation_id: Any, method: str, path: str, at: str) -> str:
        if operation_id is not None and not isinstance(operation_id, str):
            raise OpenAPISpecError(f"operationId must be a string, not {_kind(operation_id)}", _at(at, "operationId"))
        if operation_id and operation_id.strip():
            name = _NOT_IN_NAMES.sub("_", operation_id.strip()).lstrip("_-")
        else:
            name = re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{path}").strip("_")
        if not name:
            raise OpenAPISpecError(
                f"operationId {operation_id!r} has no letter or digit to make a tool name of", _at(at, "operationId")
            )
        return name[:128]

    def parameter_list(
        self, item: Mapping[str, Any], item_at: str, operation: Mapping[str, Any], at: str
    ) -> list[tuple[Mapping[str, Any], str]]:
        merged: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {}
        for source, source_at in ((item.get("parameters"), _at(item_at, "parameters")),
                                  (operation.get("parameters"), _at(at, "parameters"))):
            if source is None:
                continue
            if not isinstance(source, list):
                raise OpenAPISpecError(f"parameters must be a list, not {_kind(source)}", source_at)
            for index, raw in enumerate(source):
                param, param_at = self.mapping(raw, _at(source_at, index), "a parameter")
                name, location = param.get("name"), param.get("in")
                if not isinstance(name, str) or not name:
                    raise OpenAPISpecError("a parameter needs a 'name'", _at(param_at, "name"))
                allowed = (*LOCATIONS, "body", "formData") if self.swagger else LOCATIONS
                if location not in allowed:
                    raise OpenAPISpecError(
                        f"parameter {name!r}: 'in' must be one of {', '.join(allowed)}, not {location!r}",
                        _at(param_at, "in"),
                    )
                merged[(name, str(location))] = (param, param_at)
        return list(merged.values())

    def parameter_schema(self, param: Mapping[str, Any], at: str) -> tuple[Mapping[str, Any], str]:
        if self.swagger:
            return param, at
        if "schema" in param:
            return self.mapping(param["schema"], _at(at, "schema"), "a parameter's schema")
        content = param.get("content")
        if isinstance(content, Mapping) and content:
            media, media_at = self.mapping(next(iter(content.values())), _at(_at(at, "content"), next(iter(content))),
                                           "a media type")
            if "schema" in media:
                return self.mapping(media["schema"], _at(media_at, "schema"), "a parameter's schema")
        return {}, at

    def parameter(self, param: Mapping[str, Any], at: str, location: str) -> tuple[ApiParameter, ToolParameter]:
        schema, schema_at = self.parameter_schema(param, at)
        required = location == "path" or param.get("required") is True
        description = _text(param.get("description")) or _text(schema.get("description"))
        return self.argument(str(param["name"]), location, required, schema, schema_at, description)

    def argument(
        self,
        name: str,
        location: str,
        required: bool,
        schema: Mapping[str, Any],
        schema_at: str,
        description: str,
    ) -> tuple[ApiParameter, ToolParameter]:
        json_type = self.json_type(schema, schema_at)
        default = schema.get("default")
        kind = ToolParameterType.STRING
        options: list[ToolParameterOption] = []
        enum = schema.get("enum")
        if json_type in ("integer", "number"):
            kind = ToolParameterType.NUMBER
        elif json_type == "boolean":
            kind = ToolParameterType.BOOLEAN
        elif isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
            kind = ToolParameterType.SELECT
            options = [ToolParameterOption(value=v, label=v) for v in enum]
        hint = {"array": " (a JSON array)", "object": " (a JSON object)"}.get(json_type or "", "")
        llm = f"{description or name}{hint}"
        bounds = {
            key: float(schema[source])
            for key, source in (("min", "minimum"), ("max", "maximum"))
            if kind == ToolParameterType.NUMBER and isinstance(schema.get(source), int | float)
            and not isinstance(schema.get(source), bool)
        }
        tool_parameter = ToolParameter(
            name=name,
            type=kind,
            label=name,
            required=required,
            default=default,
            options=options,
            human_description=description or None,
            llm_description=llm,
            **bounds,
        )
        return ApiParameter(name, location, required, json_type, default), tool_parameter

    def json_type(self, schema: Mapping[str, Any], at: str, depth: int = 0) -> str | None:
        declared = schema.get("type")
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), None)
        if isinstance(declared, str):
            if declared not in _JSON_TYPES:
                raise OpenAPISpecError(
                    f"unknown type {declared!r}; expected one of {', '.join(sorted(_JSON_TYPES))}", _at(at, "type")
                )
            return declared
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        for combinator in ("allOf", "oneOf", "anyOf"):
            members = schema.get(combinator)
            if isinstance(members, list) and members and depth < 8:
                member, member_at = self.mapping(members[0], _at(_at(at, combinator), 0), "a schema")
                return self.json_type(member, member_at, depth + 1)
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            first = enum[0]
            if isinstance(first, bool):
                return "boolean"
            if isinstance(first, int | float):
                return "number"
            if isinstance(first, str):
                return "string"
        return None

    # -- request bodies ---------------------------------------------------------------------------

    def body(
        self,
        operation: Mapping[str, Any],
        at: str,
        body_params: list[tuple[Mapping[str, Any], str]],
        form_params: list[tuple[Mapping[str, Any], str]],
    ) -> tuple[str | None, list[tuple[ApiParameter, ToolParameter]]]:
        if self.swagger:
            return self.swagger_body(operation, at, body_params, form_params)
        if "requestBody" not in operation:
            return None, []
        request_body, body_at = self.mapping(operation["requestBody"], _at(at, "requestBody"), "requestBody")
        content, content_at = self.mapping(request_body.get("content"), _at(body_at, "content"), "requestBody.content")
        if not content:
            raise OpenAPISpecError("requestBody.content names no media type", content_at)
        media_type = _preferred(list(content))
        media, media_at = self.mapping(content[media_type], _at(content_at, media_type), "a media type")
        schema: Any = media.get("schema", {})
        return media_type, self.body_arguments(
            media_type, schema, _at(media_at, "schema"), request_body.get("required") is True
        )

    def swagger_body(
        self,
        operation: Mapping[str, Any],
        at: str,
        body_params: list[tuple[Mapping[str, Any], str]],
        form_params: list[tuple[Mapping[str, Any], str]],
    ) -> tuple[str | None, list[tuple[ApiParameter, ToolParameter]]]:
        consumes = operation.get("consumes") or self.doc.get("consumes") or []
        consumes = [str(c) for c in consumes] if isinstance(consumes, list) else []
        if body_params:
            param, param_at = body_params[0]
            media_type = _preferred(consumes) if consumes else "application/json"
            return media_type, self.body_arguments(
                media_type, param.get("schema", {}), _at(param_at, "schema"), param.get("required") is True
            )
        if form_params:
            media_type = _MULTIPART if _MULTIPART in consumes and _FORM not in consumes else _FORM
            arguments = []
            for param, param_at in form_params:
                description = _text(param.get("description"))
                arguments.append(
                    self.argument(str(param["name"]), BODY, param.get("required") is True, param, param_at, description)
                )
            return media_type, arguments
        return None, []

    def body_arguments(
        self, media_type: str, schema: Any, schema_at: str, required: bool
    ) -> list[tuple[ApiParameter, ToolParameter]]:
        schema, schema_at = self.mapping(schema, schema_at, "a schema")
        if _is_json(media_type) or media_type in (_FORM, _MULTIPART):
            properties, needed = self.object_properties(schema, schema_at)
            if properties:
                arguments = []
                for name, (prop, prop_at) in properties.items():
                    description = _text(prop.get("description")) or _text(prop.get("title"))
                    arguments.append(self.argument(name, BODY, name in needed, prop, prop_at, description))
                return arguments
        description = _text(schema.get("description")) or f"The request body ({media_type})."
        return [self.argument("body", RAW_BODY, required, schema, schema_at, description)]

    def object_properties(
        self, schema: Mapping[str, Any], at: str, depth: int = 0
    ) -> tuple[dict[str, tuple[Mapping[str, Any], str]], set[str]]:
        """The properties of an object schema, ``allOf`` members merged, and the required ones."""
        properties: dict[str, tuple[Mapping[str, Any], str]] = {}
        required: set[str] = set()
        members = schema.get("allOf")
        if isinstance(members, list) and depth < 16:
            for index, member in enumerate(members):
                member, member_at = self.mapping(member, _at(_at(at, "allOf"), index), "an allOf member")
                more, needed = self.object_properties(member, member_at, depth + 1)
                properties.update(more)
                required |= needed
        own = schema.get("properties")
        if own is not None:
            own_at = _at(at, "properties")
            if not isinstance(own, Mapping):
                raise OpenAPISpecError(f"properties must be a mapping, not {_kind(own)}", own_at)
            for name, prop in own.items():
                properties[str(name)] = self.mapping(prop, _at(own_at, str(name)), "a property's schema")
        listed = schema.get("required")
        if isinstance(listed, list):
            required |= {str(name) for name in listed}
        return properties, required


def _preferred(media_types: list[str]) -> str:
    """The media type a body is sent as: JSON first, then a form, then whatever is listed first."""
    for test in (_is_json, lambda m: m == _FORM, lambda m: m == _MULTIPART):
        for media_type in media_types:
            if test(media_type.split(";", 1)[0].strip().lower()):
                return media_type
    return media_types[0]


def _is_json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json") or base == "*/*"


def _where_name(location: str) -> str:
    return {BODY: "body property", RAW_BODY: "request body"}.get(location, f"{location} parameter")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
