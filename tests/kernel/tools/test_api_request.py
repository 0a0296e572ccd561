"""Building one custom tool call's request from the operation and the arguments (WS-TOOLS, custom
tools): path, query, header and cookie parameters, JSON, form and multipart bodies, type conversion,
Dify's credential shape, and errors naming the parameter."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from treadle.tools import ApiToolCredentials, build_request, parse_api_spec
from treadle.tools.openapi import ApiOperation
from treadle_sdk.errors import PluginInvalidArgument

from .petstore import spec_for

SPEC = parse_api_spec(spec_for(8080))
NONE = ApiToolCredentials()


def op(name: str) -> ApiOperation:
    operation = SPEC.operation(name)
    assert operation is not None
    return operation


def built(name: str, arguments: dict[str, Any], credentials: ApiToolCredentials = NONE) -> dict[str, Any]:
    request = build_request(op(name), arguments, credentials)
    return {**request, "headers": json.loads(request["headers"]), "query": json.loads(request["query"])}


def test_query_header_and_cookie_parameters_and_defaults() -> None:
    request = built("listPets", {"tag": "cat", "X-Request-Id": "r-1", "session": "a b;c"})
    assert request["method"] == "GET"
    assert request["url"] == "http://127.0.0.1:8080/v1/pets"
    assert request["query"] == {"limit": "20", "tag": "cat"}  # limit: the document's default
    assert request["headers"] == {"X-Request-Id": "r-1", "Cookie": "session=a%20b%3Bc"}
    assert request["body"] == ""


def test_path_parameters_are_converted_and_percent_encoded() -> None:
    assert built("showPetById", {"petId": "7"})["url"] == "http://127.0.0.1:8080/v1/pets/7"
    assert built("showPetById", {"petId": 7.0})["url"] == "http://127.0.0.1:8080/v1/pets/7"
    with pytest.raises(PluginInvalidArgument, match=r"parameter 'petId' of tool 'showPetById' must be a whole number"):
        built("showPetById", {"petId": "../admin"})


def test_a_json_body_holds_the_body_parameters_with_their_types() -> None:
    request = built("createPet", {"name": "Kit", "tags": '["cat", "small"]', "weight": "3.5",
                                  "owner": {"email": "a@example.com"}})
    assert request["headers"] == {"Content-Type": "application/json"}
    assert json.loads(request["body"]) == {
        "name": "Kit", "tags": ["cat", "small"], "weight": 3.5, "owner": {"email": "a@example.com"}}


def test_form_and_multipart_bodies() -> None:
    request = built("searchPets", {"q": "tabby cat", "vaccinated": "true"})
    assert request["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}
    assert request["body"] == "q=tabby+cat&vaccinated=true"

    multipart = parse_api_spec({
        "openapi": "3.0.0", "info": {}, "servers": [{"url": "https://x.example"}],
        "paths": {"/up": {"post": {"operationId": "up", "requestBody": {"content": {"multipart/form-data": {
            "schema": {"properties": {"title": {"type": "string"}, "count": {"type": "integer"}}}}}}}}},
    }).operation("up")
    assert multipart is not None
    request = build_request(multipart, {"title": 'a "b"', "count": 2}, NONE)
    content_type = json.loads(request["headers"])["Content-Type"]
    boundary = content_type.split("boundary=")[1]
    assert content_type.startswith("multipart/form-data; boundary=treadle-")
    assert request["body"] == (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\na "b"\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="count"\r\n\r\n2\r\n--{boundary}--\r\n')


@pytest.mark.parametrize(
    ("credentials", "headers", "query"),
    [
        ({"auth_type": "none"}, {}, {}),
        ({"auth_type": "api_key_header", "api_key_value": "k1", "api_key_header_prefix": "bearer"},
         {"Authorization": "Bearer k1"}, {}),
        ({"auth_type": "api_key", "api_key_header": "X-Api-Key", "api_key_value": "k2"}, {"X-Api-Key": "k2"}, {}),
        ({"auth_type": "api_key_header", "api_key_value": "dTpw", "api_key_header_prefix": "basic"},
         {"Authorization": "Basic dTpw"}, {}),
        ({"auth_type": "api_key_header", "api_key_value": "u:p", "api_key_header_prefix": "basic"},
         {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}, {}),
        ({"auth_type": "api_key_query", "api_key_query_param": "apikey", "api_key_value": "k3"}, {}, {"apikey": "k3"}),
    ],
    ids=["none", "bearer", "legacy-api-key-custom-header", "basic-encoded", "basic-user-password", "query"],
)
def test_credentials_in_difys_shape(credentials: dict[str, Any],
                                    headers: dict[str, str], query: dict[str, Any]) -> None:
    request = built("showPetById", {"petId": 1}, ApiToolCredentials.parse(credentials))
    assert request["headers"] == headers
    assert request["query"] == query


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"auth_type": "api_key_header"}, "credentials: api_key_value is required when auth_type is 'api_key_header'"),
        ({"auth_type": "oauth"}, "credentials.auth_type: Input should be 'none', 'api_key', 'api_key_header'"),
        ({"auth_type": "api_key_header", "api_key_value": "k", "api_key_header_prefix": "token"},
         "credentials.api_key_header_prefix: Input should be 'basic', 'bearer' or 'custom'"),
        ({"auth_type": "api_key_header", "api_key_value": "k", "api_key_header": "X Key"},
         "credentials: api_key_header 'X Key' is not a valid header name"),
        ({"auth_type": "api_key_query", "api_key_value": "k\r\nX-Evil: 1"},
         "credentials: api_key_value may not hold a line break or NUL"),
        ({"auth_type": "none", "api_key_secret": "k"}, "credentials.api_key_secret: Extra inputs are not permitted"),
    ],
)
def test_bad_credentials_are_refused_naming_the_field(credentials: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        ApiToolCredentials.parse(credentials)
    assert str(info.value).startswith(message)


def test_the_secret_is_left_out_of_what_may_be_shown() -> None:
    credentials = ApiToolCredentials.parse({"auth_type": "api_key_header", "api_key_value": "s3cret"})
    assert "s3cret" not in json.dumps(credentials.without_secret())
    assert credentials.without_secret()["auth_type"] == "api_key_header"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "parameter 'name' of tool 'createPet' is required"),
        ({"name": "Kit", "colour": "black"}, "tool 'createPet' has no parameter(s) 'colour' (parameters: name, tags"),
        ({"name": "Kit", "tags": "cat"}, "parameter 'tags' of tool 'createPet' must be a JSON array; 'cat' is not"),
        ({"name": "Kit", "tags": {"a": 1}}, "parameter 'tags' of tool 'createPet' must be a JSON array, not dict"),
        ({"name": "Kit", "weight": "heavy"}, "parameter 'weight' of tool 'createPet' must be a number, not 'heavy'"),
        ({"name": "Kit", "weight": True}, "parameter 'weight' of tool 'createPet' must be a number, not True"),
    ],
)
def test_bad_arguments_are_refused_naming_the_parameter(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginInvalidArgument) as info:
        built("createPet", arguments)
    assert info.value.message.startswith(message)


def test_a_header_argument_cannot_smuggle_another_header() -> None:
    with pytest.raises(PluginInvalidArgument, match="parameter 'X-Request-Id' of tool 'listPets' may not hold"):
        built("listPets", {"X-Request-Id": "a\r\nX-Admin: yes"})


def test_booleans_and_lists_in_the_query() -> None:
    operation = parse_api_spec({
        "openapi": "3.0.0", "info": {}, "servers": [{"url": "https://x.example/"}],
        "paths": {"/f": {"get": {"operationId": "f", "parameters": [
            {"name": "ids", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}},
            {"name": "all", "in": "query", "schema": {"type": "boolean"}}]}}},
    }).operation("f")
    assert operation is not None
    request = build_request(operation, {"ids": "[1, 2]", "all": "1"}, NONE)
    assert request["url"] == "https://x.example/f"
    assert json.loads(request["query"]) == {"ids": ["1", "2"], "all": "true"}
