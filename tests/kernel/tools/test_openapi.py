"""Parsing OpenAPI 3 and Swagger 2.0 documents into tools (WS-TOOLS, custom tools): names, parameters
with their types and descriptions, ``$ref`` and ``allOf``, the server URL, and errors that say where
in the document the problem is."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from treadle.tools import OpenAPISpecError, parse_api_spec
from treadle.tools.openapi import BODY, RAW_BODY
from treadle_sdk.schemas import ToolParameterType

from .petstore import spec_for

PETSTORE = spec_for(8080)


def tool_parameters(spec: Any, tool: str) -> dict[str, Any]:
    operation = spec.operation(tool)
    assert operation is not None, f"no tool {tool}"
    return {p.name: p for p in operation.tool.parameters}


def test_every_operation_becomes_a_tool_named_by_its_operation_id() -> None:
    """WS-TOOLS: operationId as the tool name (characters a name cannot hold become '_'), else the
    method and path."""
    spec = parse_api_spec(PETSTORE)
    assert spec.schema_type == "openapi"
    assert spec.title == "Pet Shop"
    assert spec.server_url == "http://127.0.0.1:8080/v1"  # the server variable's default filled in
    assert [(op.method, op.path, op.name) for op in spec.operations] == [
        ("GET", "/pets", "listPets"),
        ("POST", "/pets", "createPet"),
        ("GET", "/pets/{petId}", "showPetById"),
        ("DELETE", "/pets/{petId}", "delete_pets_petId"),
        ("GET", "/pets/{petId}/notes", "pet_notes"),
        ("POST", "/search", "searchPets"),
    ]
    listing = spec.operation("listPets")
    assert listing is not None
    assert listing.tool.label == {"en_US": "List pets"}
    assert listing.tool.llm_description == "List the pets in the shop, optionally of one tag."
    notes = spec.operation("pet_notes")
    assert notes is not None and notes.tool.llm_description == "The shop's notes about a pet, as plain text."


def test_parameters_carry_type_requiredness_default_and_description() -> None:
    spec = parse_api_spec(PETSTORE)
    listing = tool_parameters(spec, "listPets")
    # Accept is set by the request itself: OpenAPI says to ignore such header parameters.
    assert list(listing) == ["limit", "tag", "X-Request-Id", "session"]
    limit = listing["limit"]  # through $ref to components.parameters
    assert (limit.type, limit.required, limit.default, limit.max) == (ToolParameterType.NUMBER, False, 20, 100)
    assert limit.llm_description == "How many pets to return at most."
    tag = listing["tag"]
    assert tag.type == ToolParameterType.SELECT
    assert [option.value for option in tag.options] == ["cat", "dog", "bird"]
    operation = spec.operation("listPets")
    assert operation is not None
    assert [(p.name, p.location) for p in operation.parameters] == [
        ("limit", "query"), ("tag", "query"), ("X-Request-Id", "header"), ("session", "cookie")]

    # Path-level parameters apply to every operation of the path.
    pet_id = tool_parameters(spec, "showPetById")["petId"]
    assert (pet_id.type, pet_id.required, pet_id.min, pet_id.llm_description) == (
        ToolParameterType.NUMBER, True, 1, "The pet's id.")


def test_json_body_properties_become_parameters_through_refs_and_all_of() -> None:
    spec = parse_api_spec(PETSTORE)
    operation = spec.operation("createPet")
    assert operation is not None
    assert operation.content_type == "application/json"
    assert [(p.name, p.location, p.required, p.json_type) for p in operation.parameters] == [
        ("name", BODY, True, "string"),
        ("tags", BODY, False, "array"),
        ("weight", BODY, False, "number"),
        ("owner", BODY, False, "object"),
    ]
    parameters = tool_parameters(spec, "createPet")
    assert parameters["name"].llm_description == "The pet's name."
    assert parameters["tags"].llm_description == "Tags of the pet. (a JSON array)"
    assert parameters["owner"].llm_description == "owner (a JSON object)"

    form = spec.operation("searchPets")
    assert form is not None
    assert form.content_type == "application/x-www-form-urlencoded"
    assert [(p.name, p.required, p.json_type) for p in form.parameters] == [
        ("q", True, "string"), ("vaccinated", False, "boolean")]


def test_json_text_yaml_text_and_a_mapping_give_the_same_tools() -> None:
    document = yaml.safe_load(PETSTORE)
    from_yaml = parse_api_spec(PETSTORE)
    assert parse_api_spec(json.dumps(document)) == from_yaml
    assert parse_api_spec(document) == from_yaml
    assert parse_api_spec(PETSTORE.encode()) == from_yaml


def test_a_body_that_is_not_an_object_is_one_parameter_named_body() -> None:
    spec = parse_api_spec({
        "openapi": "3.1.0",
        "info": {"title": "t"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/batch": {"post": {"operationId": "batch", "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}}}}},
            "/note": {"put": {"operationId": "note", "requestBody": {"content": {
                "text/plain": {"schema": {"type": "string", "description": "The note."}}}}}},
        },
    })
    batch, note = spec.operation("batch"), spec.operation("note")
    assert batch is not None and note is not None
    assert [(p.name, p.location, p.required, p.json_type) for p in batch.parameters] == [
        ("body", RAW_BODY, True, "array")]
    assert note.content_type == "text/plain"
    assert note.tool.parameters[0].llm_description == "The note."


def test_server_urls_relative_ones_and_operation_overrides() -> None:
    def document(servers: list[dict[str, Any]], operation_servers: list[Any] | None = None) -> dict[str, Any]:
        get: dict[str, Any] = {"operationId": "ping"}
        if operation_servers:
            get["servers"] = operation_servers
        return {"openapi": "3.0.0", "info": {"title": "t"}, "servers": servers, "paths": {"/ping": {"get": get}}}

    assert parse_api_spec(document([{"url": "/api/"}]), base_url="https://h.example/spec.json").server_url == (
        "https://h.example/api")
    overridden = parse_api_spec(document([{"url": "https://a.example"}], [{"url": "https://b.example/x"}]))
    ping = overridden.operation("ping")
    assert ping is not None and ping.server_url == "https://b.example/x"
    with pytest.raises(OpenAPISpecError) as info:
        parse_api_spec(document([{"url": "/api"}]))
    assert info.value.path == "servers[0].url"
    assert "relative URL" in str(info.value)


def test_swagger_2_documents_are_read_as_dify_converts_them() -> None:
    swagger = {
        "swagger": "2.0",
        "info": {"title": "Old API"},
        "host": "legacy.example.com",
        "basePath": "/api",
        "schemes": ["http"],
        "consumes": ["application/json"],
        "paths": {
            "/items": {
                "get": {"operationId": "findItems", "parameters": [
                    {"name": "q", "in": "query", "type": "string", "required": True, "description": "Search words."},
                    {"name": "page", "in": "query", "type": "integer", "default": 1}]},
                "post": {"operationId": "addItem", "parameters": [
                    {"name": "item", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Item"}}]},
            },
            "/upload": {"post": {"operationId": "upload", "consumes": ["application/x-www-form-urlencoded"],
                                 "parameters": [{"name": "title", "in": "formData", "type": "string"}]}},
        },
        "definitions": {"Item": {"type": "object", "required": ["label"],
                                 "properties": {"label": {"type": "string"}, "price": {"type": "number"}}}},
    }
    spec = parse_api_spec(swagger)
    assert (spec.schema_type, spec.server_url) == ("swagger", "http://legacy.example.com/api")
    find, add, upload = spec.operation("findItems"), spec.operation("addItem"), spec.operation("upload")
    assert find is not None and add is not None and upload is not None
    assert [(p.name, p.location, p.required, p.json_type, p.default) for p in find.parameters] == [
        ("q", "query", True, "string", None), ("page", "query", False, "integer", 1)]
    assert find.tool.parameters[0].llm_description == "Search words."
    assert (add.content_type, [(p.name, p.required) for p in add.parameters]) == (
        "application/json", [("label", True), ("price", False)])
    assert (upload.content_type, [p.location for p in upload.parameters]) == (
        "application/x-www-form-urlencoded", [BODY])


def broken(change: str) -> str:
    """The pet shop document with one edit (``old=>new``) applied."""
    old, new = change.split("=>")
    assert old in PETSTORE, old
    return PETSTORE.replace(old, new, 1)


BAD_DOCUMENTS = [
    ("openapi: 3.0.0\ninfo: {title: x}\npaths: [", "(document)", "invalid YAML at line 3"),
    ('{"openapi": "3.0.0",', "(document)", "invalid JSON at line 1"),
    ("- a list", "(document)", "this is a list"),
    (broken("openapi: 3.0.3=>swagger: '1.2'"), "(document)", "not an OpenAPI document"),
    (broken("openapi: 3.0.3=>openapi: 2.0.0"), "openapi", "use OpenAPI 3.x"),
    (broken("servers:=>old_servers:"), "servers", "names no server"),
    (broken('default: "8080"=>enum: ["8080"]'), "servers[0].url", "{port}, which has no default"),
    (broken('$ref: "#/components/parameters/Limit"=>$ref: "common.yaml#/Limit"'),
     'paths["/pets"].get.parameters[0].$ref', "points outside this document"),
    (broken('{$ref: "#/components/schemas/Owner"}=>{$ref: "#/components/schemas/Nobody"}'),
     "components.schemas.NewPet.allOf[1].properties.owner.$ref",
     "components.schemas has no 'Nobody'"),
    (broken("    Owner:\n      type: object=>    Owner:\n      $ref: '#/components/schemas/Owner'\n      type: x"),
     "components.schemas.Owner.$ref", "is circular"),
    (broken("        - name: tag\n=>        - title: tag\n"), 'paths["/pets"].get.parameters[1].name',
     "needs a 'name'"),
    (broken("          in: cookie=>          in: body"), 'paths["/pets"].get.parameters[3].in',
     "'in' must be one of path, query, header, cookie, not 'body'"),
    (broken("schema: {type: integer, minimum: 1}=>schema: {type: int}"),
     'paths["/pets/{petId}"].parameters[0].schema.type', "unknown type 'int'"),
    (broken("operationId: showPetById=>operationId: listPets"), 'paths["/pets/{petId}"].get',
     "two operations would be the tool 'listPets'"),
    (broken("operationId: pet.notes=>operationId: 42"), 'paths["/pets/{petId}/notes"].get.operationId',
     "must be a string"),
    (broken("  /search:=>  /search/{scope}:"), 'paths["/search/{scope}"].post', "no path parameter 'scope'"),
    (broken("        - name: session\n=>        - name: limit\n"), 'paths["/pets"].get',
     "parameter 'limit' is both"),
]


@pytest.mark.parametrize(("document", "path", "words"), BAD_DOCUMENTS, ids=[words for _, _, words in BAD_DOCUMENTS])
def test_a_bad_document_is_refused_naming_where(document: str, path: str, words: str) -> None:
    with pytest.raises(OpenAPISpecError) as info:
        parse_api_spec(document)
    assert info.value.path == path, info.value
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_a_document_without_operations_is_refused() -> None:
    with pytest.raises(OpenAPISpecError, match=r"^paths: the document has no operations"):
        parse_api_spec({"openapi": "3.0.0", "info": {}, "servers": [{"url": "https://x.example"}], "paths": {}})
    with pytest.raises(OpenAPISpecError, match=r"^paths: the document has no operations under 'paths'"):
        parse_api_spec({"openapi": "3.0.0", "info": {}, "servers": [{"url": "https://x.example"}],
                        "paths": {"/a": {"summary": "nothing to call"}}})
