"""The pieces the OpenAPI 3.1 documents are built from: small JSON Schema helpers, one declarative row
per operation (:class:`Operation`), and :func:`build_document`, which turns a table of rows into a
document.

Request bodies and query strings come from the pydantic models the routes validate with, so the
document cannot drift from what the server accepts. Response schemas are written by hand to Dify's
documented shapes: every documented field is listed (and required when Dify always sends it) with its
type, while objects stay open (``additionalProperties`` is left at its default) so fields Dify adds
later do not break a client that validates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

__all__ = [
    "ANY",
    "BOOL",
    "INT",
    "ISO_TIME",
    "JSON",
    "NUM",
    "OBJECT",
    "STR",
    "TIMESTAMP",
    "UUID",
    "Body",
    "Operation",
    "arr",
    "build_document",
    "enum",
    "nullable",
    "obj",
    "ref",
]

JSON = dict[str, Any]

#: Any JSON value.
ANY: JSON = {}
STR: JSON = {"type": "string"}
INT: JSON = {"type": "integer"}
NUM: JSON = {"type": "number"}
BOOL: JSON = {"type": "boolean"}
#: An open JSON object (inputs, outputs, metadata).
OBJECT: JSON = {"type": "object"}
UUID: JSON = {"type": "string", "format": "uuid"}
#: Unix epoch seconds, the app API's timestamps (API-COMMON-TS).
TIMESTAMP: JSON = {"type": "integer", "format": "int64", "description": "Unix epoch seconds."}
#: An ISO 8601 date-time, where Dify documents one (end users, feedback).
ISO_TIME: JSON = {"type": "string", "format": "date-time"}

_COMPONENT = "#/components/schemas/"


def ref(name: str) -> JSON:
    """A reference to the component schema ``name``."""
    return {"$ref": _COMPONENT + name}


def nullable(schema: JSON) -> JSON:
    """``schema`` or ``null``."""
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def enum(*values: str) -> JSON:
    """A string that is one of ``values``."""
    return {"type": "string", "enum": list(values)}


def arr(items: JSON, **extra: Any) -> JSON:
    """An array of ``items``."""
    return {"type": "array", "items": items, **extra}


def obj(properties: Mapping[str, JSON], *, optional: Iterable[str] = (), description: str | None = None) -> JSON:
    """An open object with ``properties``; each is required unless named in ``optional`` (Dify's
    marshallers always send the fields they list, null when unset, so a missing one is a bug)."""
    skip = set(optional)
    unknown = skip - set(properties)
    if unknown:
        raise ValueError(f"optional names fields the object does not have: {sorted(unknown)}")
    schema: JSON = {"type": "object", "properties": dict(properties)}
    required = [name for name in properties if name not in skip]
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


@dataclass(frozen=True, slots=True)
class Body:
    """One documented response: its JSON schema, the schema of each SSE event's JSON payload when the
    answer may stream, raw media types (files, audio), or nothing at all (``204``)."""

    description: str
    json: JSON | None = None
    sse: JSON | None = None
    media: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of an API table: an endpoint and everything its documentation says.

    ``query`` and ``body`` are the pydantic models the route parses; ``form`` is a multipart body's
    object schema; ``params`` adds query parameters no model covers; ``path_params`` gives a schema to
    the ``{name}`` parts of the path (a plain string otherwise). ``errors`` lists the statuses that
    answer with the error envelope beside the ones every row has.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    ok: Body
    spec: tuple[str, ...] = ()
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    form: JSON | None = None
    params: Mapping[str, JSON] = field(default_factory=dict)
    path_params: Mapping[str, JSON] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    description: str = ""
    public: bool = False


@dataclass
class _Components:
    schemas: dict[str, JSON] = field(default_factory=dict)

    def model(self, model: type[BaseModel]) -> JSON:
        """``model``'s JSON schema as a component (its nested models too); the reference to it."""
        schema = model.model_json_schema(ref_template=_COMPONENT + "{model}", mode="validation")
        for name, nested in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, nested)
        self.schemas.setdefault(model.__name__, schema)
        return ref(model.__name__)

    def fields(self, model: type[BaseModel]) -> tuple[dict[str, JSON], set[str]]:
        """``model``'s properties, inline (nested models still go to the components), and which are required."""
        schema = model.model_json_schema(ref_template=_COMPONENT + "{model}", mode="validation")
        for name, nested in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, nested)
        return dict(schema.get("properties", {})), set(schema.get("required", []))


def _parameter(name: str, where: str, schema: JSON, *, required: bool) -> JSON:
    schema = dict(schema)
    description = schema.pop("description", None)
    schema.pop("title", None)
    parameter: JSON = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _path_names(path: str) -> list[str]:
    names = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            names.append(part[1:-1])
    return names


def _response(body: Body) -> JSON:
    response: JSON = {"description": body.description}
    content: JSON = {}
    if body.json is not None:
        content["application/json"] = {"schema": body.json}
    if body.sse is not None:
        # Before OpenAPI 3.2 (no ``itemSchema``), the schema of an event-stream describes each event:
        # its ``data`` line is JSON of the given shape. A ping has no data line.
        content["text/event-stream"] = {"schema": {
            "type": "object",
            "properties": {
                "event": STR,
                "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": body.sse},
            },
        }}
    for media in body.media:
        content[media] = {"schema": {"type": "string", "format": "binary"}}
    if content:
        response["content"] = content
    return response


def _error_response(status: int) -> JSON:
    return {
        "description": f"{HTTPStatus(status).phrase}: the error envelope.",
        "content": {"application/json": {"schema": ref("Error")}},
    }


#: The error envelope of every endpoint (API-COMMON-ERR).
ERROR_SCHEMA: JSON = obj(
    {
        "code": {"type": "string", "description": "A snake_case error code, e.g. `invalid_param`."},
        "message": {"type": "string", "description": "What went wrong, for people."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "params": {**nullable(STR), "description": "The parameter at fault, on `invalid_param`."},
    },
    optional=("params",),
    description="The error envelope: `{code, message, status}`.",
)


def build_document(
    *,
    title: str,
    version: str,
    description: str,
    server: str,
    operations: Sequence[Operation],
    schemas: Mapping[str, JSON],
    security_schemes: Mapping[str, JSON],
    default_errors: tuple[int, ...] = (400, 401),
    tags: Sequence[JSON] = (),
) -> JSON:
    """The OpenAPI 3.1 document of ``operations``.

    ``schemas`` are the named response shapes the rows reference; ``security_schemes`` apply to every
    operation that is not ``public``. Every operation also documents the error envelope for
    ``default_errors`` (a public one for 400 only) and for its own ``errors``, and an operation with
    path parameters for 404.
    """
    components = _Components(schemas={"Error": ERROR_SCHEMA, **schemas})
    paths: dict[str, dict[str, JSON]] = {}
    seen: set[str] = set()
    for op in operations:
        if op.operation_id in seen:
            raise ValueError(f"operation id {op.operation_id!r} is used twice")
        seen.add(op.operation_id)
        parameters = [
            _parameter(name, "path", op.path_params.get(name, STR), required=True) for name in _path_names(op.path)
        ]
        unknown = set(op.path_params) - set(_path_names(op.path))
        if unknown:
            raise ValueError(f"{op.operation_id}: path_params not in the path: {sorted(unknown)}")
        if op.query is not None:
            properties, required = components.fields(op.query)
            parameters += [_parameter(n, "query", s, required=n in required) for n, s in properties.items()]
        parameters += [_parameter(name, "query", schema, required=False) for name, schema in op.params.items()]
        operation: JSON = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
        }
        text = op.description
        if op.spec:
            text = (text + "\n\n" if text else "") + "Spec: " + ", ".join(op.spec) + "."
        if text:
            operation["description"] = text
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": components.model(op.body)}},
            }
        elif op.form is not None:
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.form}}}
        responses: dict[str, JSON] = {str(op.status): _response(op.ok)}
        statuses = {400, *op.errors} if op.public else {*default_errors, *op.errors}
        if _path_names(op.path):
            # A path parameter that no route can take (a slash, a control character) matches no route.
            statuses.add(404)
        for status in sorted(statuses):
            responses.setdefault(str(status), _error_response(status))
        operation["responses"] = responses
        if op.public:
            operation["security"] = []
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    document: JSON = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": server}],
        "security": [{name: []} for name in security_schemes],
        "paths": paths,
        "components": {"schemas": components.schemas, "securitySchemes": dict(security_schemes)},
    }
    if tags:
        document["tags"] = list(tags)
    return document
