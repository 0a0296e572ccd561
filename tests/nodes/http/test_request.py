"""What the http-request node sends (NODE-HTTP-REQUEST): methods, URL, query params and headers with
variables, every authorization type and every body type, against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import email.parser
import email.policy
from typing import Any

import pytest
from treadle_http_node import (
    FileReadError,
    HttpRequestNodeError,
    InvalidURLError,
    RequestBodyError,
)
from treadle_sdk.files import file_value
from treadle_sdk.nodes import NodeConfigError, VariableNotFound

from .server import LocalServer
from .support import config, echo_of, node_type, run

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@pytest.mark.parametrize("method", [*METHODS, *(m.lower() for m in METHODS)])
async def test_each_method_is_sent(server: LocalServer, method: str) -> None:
    result = await run(config(server.url("/echo"), method))
    assert result.outputs["status_code"] == 200
    assert echo_of(result)["method"] == method.upper()


async def test_head_gets_headers_and_no_body(server: LocalServer) -> None:
    result = await run(config(server.url("/echo"), "head"))
    assert (server.requests[-1][0], result.outputs["status_code"], result.outputs["body"]) == ("HEAD", 200, "")
    assert result.outputs["headers"]["x-echo"] == "yes"


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "CONNECT", "FETCH", "", None])
def test_other_methods_are_configuration_errors(method: str | None) -> None:
    with pytest.raises(NodeConfigError) as caught:
        node_type().prepare("http", config("http://127.0.0.1/", method))  # type: ignore[arg-type]
    assert caught.value.path == "method"
    assert "invalid HTTP method" in caught.value.message
    assert "GET, HEAD, POST, PUT, PATCH, DELETE" in caught.value.message


async def test_url_params_and_headers_render_variables(server: LocalServer) -> None:
    data = config(
        f"http://127.0.0.1:{server.port}/{{{{#start.path#}}}}?fixed=1",
        params="q:{{#start.query#}}\ntag:a\ntag:{{#start.tag#}}\n\n  empty:\n:no-key\nflag",
        headers="X-Token:{{#env.token#}}\nX-Colon: a:b:c \n X-Number:{{#start.n#}}\nX-Empty:",
    )
    variables: dict[tuple[str, ...], Any] = {
        ("start", "path"): "echo",
        ("start", "query"): "hello world & more",
        ("start", "tag"): "b",
        ("start", "n"): 42,
        ("env", "token"): "s3cret",
    }
    echo = echo_of(await run(data, variables))
    assert echo["path"] == "/echo"
    assert echo["query"] == {
        "fixed": ["1"],
        "q": ["hello world & more"],
        "tag": ["a", "b"],
        "empty": [""],
        "flag": [""],
    }
    assert echo["header"]["x-token"] == "s3cret"
    assert echo["header"]["x-colon"] == "a:b:c"
    assert echo["header"]["x-number"] == "42"
    assert echo["header"]["x-empty"] == ""


async def test_a_missing_variable_reads_as_nothing_but_a_missing_file_fails(server: LocalServer) -> None:
    echo = echo_of(await run(config(server.url("/echo"), headers="X-A:{{#start.nothing#}}")))
    assert echo["header"]["x-a"] == ""
    data = config(server.url("/echo"), "post", body=body("binary", {"type": "file", "file": ["start", "nothing"]}))
    with pytest.raises(VariableNotFound, match=r"start\.nothing"):
        await run(data)


async def test_a_variable_cannot_smuggle_a_header_line(server: LocalServer) -> None:
    with pytest.raises(HttpRequestNodeError, match="'X-A' contains a line break"):
        await run(config(server.url("/echo"), headers="X-A:{{#start.v#}}"), {("start", "v"): "x\r\nX-Admin: 1"})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "the URL is empty"),
        ("{{#start.url#}}", "the URL is empty"),
        ("ftp://127.0.0.1/file", "must start with http:// or https://"),
        ("127.0.0.1/echo", "must start with http:// or https://"),
    ],
)
async def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(InvalidURLError, match=message) as caught:
        await run(config(url), {("start", "url"): ""})
    assert caught.value.error_type == "InvalidURLError"


async def test_the_request_is_logged_with_credentials_masked(server: LocalServer) -> None:
    data = config(
        server.url("/echo"),
        "post",
        authorization={"type": "api-key", "config": {"type": "bearer", "api_key": "tok"}},
        body={"type": "raw-text", "data": [{"type": "text", "value": "hello"}]},
    )
    log = (await run(data)).process_data["request"]  # type: ignore[index]
    assert log.startswith("POST /echo HTTP/1.1\r\n")
    assert "Authorization: **********\r\n" in log
    assert "tok" not in log
    assert log.endswith("\r\n\r\nhello")


# -- authorization ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "no-auth", "config": None}, "authorization", None),
        ({"type": "no-auth"}, "authorization", None),
        (
            {"type": "api-key", "config": {"type": "basic", "api_key": "user:pa:ss"}},
            "authorization",
            "Basic " + base64.b64encode(b"user:pa:ss").decode(),
        ),
        (
            {"type": "api-key", "config": {"type": "basic", "api_key": "dXNlcjpwYXNz"}},
            "authorization",
            "Basic dXNlcjpwYXNz",
        ),
        (
            {"type": "api-key", "config": {"type": "bearer", "api_key": "{{#env.key#}}"}},
            "authorization",
            "Bearer k-123",
        ),
        (
            {"type": "api-key", "config": {"type": "bearer", "api_key": "k", "header": "X-Auth"}},
            "x-auth",
            "Bearer k",
        ),
        (
            {"type": "api-key", "config": {"type": "custom", "api_key": "{{#env.key#}}", "header": "X-Api-Key"}},
            "x-api-key",
            "k-123",
        ),
        ({"type": "api-key", "config": {"type": "custom", "api_key": "raw"}}, "authorization", "raw"),
    ],
)
async def test_authorization(server: LocalServer, auth: dict[str, Any], header: str, expected: str | None) -> None:
    echo = echo_of(await run(config(server.url("/echo"), authorization=auth), {("env", "key"): "k-123"}))
    assert echo["header"].get(header) == expected


async def test_authorization_wins_over_a_header_of_the_same_name(server: LocalServer) -> None:
    auth = {"type": "api-key", "config": {"type": "bearer", "api_key": "right"}}
    echo = echo_of(await run(config(server.url("/echo"), authorization=auth, headers="Authorization:wrong")))
    assert echo["header"]["authorization"] == "Bearer right"


def test_api_key_without_config_is_a_configuration_error() -> None:
    with pytest.raises(NodeConfigError, match="needs its config") as caught:
        node_type().prepare("http", config("http://x.example/", authorization={"type": "api-key", "config": None}))
    assert caught.value.path == "authorization"


# -- bodies -------------------------------------------------------------------------------------


def body(kind: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "data": list(items)}


def text_item(key: str, value: str) -> dict[str, Any]:
    return {"id": f"key-value-{key}", "key": key, "type": "text", "value": value}


def file_item(key: str, *selector: str) -> dict[str, Any]:
    return {"id": f"key-value-{key}", "key": key, "type": "file", "file": list(selector)}


async def test_no_body(server: LocalServer) -> None:
    echo = echo_of(await run(config(server.url("/echo"), "post", body=body("none"))))
    assert (echo["body"], echo["header"].get("content-type")) == ("", None)


async def test_json_body_renders_variables(server: LocalServer) -> None:
    value = '{"name": "{{#start.name#}}", "count": {{#start.n#}}, "tags": {{#start.tags#}}}'
    data = config(server.url("/echo"), "post", body=body("json", text_item("", value)))
    echo = echo_of(await run(data, {("start", "name"): "Zoë", ("start", "n"): 3, ("start", "tags"): ["a", "b"]}))
    assert echo["header"]["content-type"] == "application/json"
    assert echo["body"] == '{"name": "Zoë", "count": 3, "tags": ["a", "b"]}'


async def test_a_content_type_header_is_kept(server: LocalServer) -> None:
    data = config(
        server.url("/echo"),
        "post",
        headers="Content-Type:application/vnd.api+json",
        body=body("json", text_item("", "{}")),
    )
    assert echo_of(await run(data))["header"]["content-type"] == "application/vnd.api+json"


async def test_invalid_json_is_a_body_error(server: LocalServer) -> None:
    data = config(server.url("/echo"), "post", body=body("json", text_item("", '{"a": {{#start.v#}}}')))
    with pytest.raises(RequestBodyError, match="not valid JSON") as caught:
        await run(data, {("start", "v"): "not json"})
    assert caught.value.error_type == "RequestBodyError"


async def test_raw_text_body(server: LocalServer) -> None:
    # The corpus's shape: one item without a key (knowledge-deep-research-chat.yml).
    data = config(
        server.url("/echo"),
        "post",
        headers="Content-Type:application/json",
        body={
            "type": "raw-text",
            "data": [{"id": "key-value-1333", "key": "", "type": "text", "value": "{{#a.body#}}"}],
        },
    )
    echo = echo_of(await run(data, {("a", "body"): '{"raw": true}'}))
    assert (echo["body"], echo["header"]["content-type"]) == ('{"raw": true}', "application/json")
    plain = echo_of(await run(config(server.url("/echo"), "put", body=body("raw-text", text_item("", "x y")))))
    assert (plain["body"], plain["header"]["content-type"]) == ("x y", "text/plain")


async def test_legacy_string_body_data(server: LocalServer) -> None:
    data = config(server.url("/echo"), "post", body={"type": "raw-text", "data": "old {{#start.v#}}"})
    assert echo_of(await run(data, {("start", "v"): "style"}))["body"] == "old style"


async def test_urlencoded_form(server: LocalServer) -> None:
    data = config(
        server.url("/echo"),
        "post",
        body=body(
            "x-www-form-urlencoded",
            text_item("q", "{{#start.q#}}"),
            text_item("q", "second"),
            text_item("", ""),
            text_item("sym", "a&b=c d"),
        ),
    )
    echo = echo_of(await run(data, {("start", "q"): "first"}))
    assert echo["header"]["content-type"] == "application/x-www-form-urlencoded"
    assert echo["body"] == "q=first&q=second&sym=a%26b%3Dc+d"


def _multipart(echo: dict[str, Any]) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) of each part the server received."""
    raw = f"Content-Type: {echo['header']['content-type']}\r\n\r\n".encode() + base64.b64decode(echo["body_base64"])
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        params = part["content-disposition"].params
        parts.append((params["name"], params.get("filename"), part.get("content-type"), payload))
    return parts


async def test_form_data_with_text_and_files(server: LocalServer) -> None:
    report = file_value(b"%PDF-1.4 tiny", filename="report.pdf", mime_type="application/pdf")
    notes = [
        file_value("première note".encode(), filename="a.txt", mime_type="text/plain"),
        file_value(b"second", filename='b "quoted".txt', mime_type="text/plain"),
    ]
    data = config(
        server.url("/echo"),
        "post",
        headers="Content-Type:multipart/form-data",
        body=body(
            "form-data",
            text_item("title", "{{#start.title#}}"),
            file_item("report", "start", "report"),
            file_item("notes", "start", "notes"),
            text_item("", ""),
        ),
    )
    variables: dict[tuple[str, ...], Any] = {
        ("start", "title"): "Q3",
        ("start", "report"): report,
        ("start", "notes"): notes,
    }
    echo = echo_of(await run(data, variables))
    assert echo["header"]["content-type"].startswith("multipart/form-data; boundary=")
    assert _multipart(echo) == [
        ("title", None, None, b"Q3"),
        ("report", "report.pdf", "application/pdf", b"%PDF-1.4 tiny"),
        ("notes", "a.txt", "text/plain", "première note".encode()),
        ("notes", "b %22quoted%22.txt", "text/plain", b"second"),
    ]


async def test_form_data_without_files_is_still_multipart(server: LocalServer) -> None:
    echo = echo_of(await run(config(server.url("/echo"), "post", body=body("form-data", text_item("a", "1")))))
    assert _multipart(echo) == [("a", None, None, b"1")]


async def test_form_data_file_item_that_is_not_a_file(server: LocalServer) -> None:
    data = config(server.url("/echo"), "post", body=body("form-data", file_item("doc", "start", "doc")))
    with pytest.raises(RequestBodyError, match=r"'doc': start\.doc is not a file or an array of files"):
        await run(data, {("start", "doc"): "just text"})


async def test_binary_body_sends_the_file(server: LocalServer) -> None:
    image = bytes(range(256)) * 4
    data = config(server.url("/echo"), "post", body=body("binary", {"type": "file", "file": ["start", "img"]}))
    echo = echo_of(await run(data, {("start", "img"): file_value(image, filename="x.png", mime_type="image/png")}))
    assert base64.b64decode(echo["body_base64"]) == image
    assert echo["header"]["content-type"] == "image/png"


async def test_binary_body_reads_a_remote_file_through_the_guard(server: LocalServer) -> None:
    remote = {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "remote_url",
        "remote_url": server.serve("/upload.bin", b"remote bytes", {"Content-Type": "application/octet-stream"}),
        "filename": "upload.bin",
        "extension": ".bin",
        "mime_type": "application/octet-stream",
    }
    data = config(server.url("/echo"), "post", body=body("binary", {"type": "file", "file": ["start", "f"]}))
    echo = echo_of(await run(data, {("start", "f"): remote}))
    assert base64.b64decode(echo["body_base64"]) == b"remote bytes"


async def test_a_file_kept_in_storage_needs_the_runs_way_back_into_the_kernel(server: LocalServer) -> None:
    stored = {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "local_file",
        "related_id": "3f1c",
        "filename": "upload.pdf",
        "extension": ".pdf",
    }
    data = config(server.url("/echo"), "post", body=body("binary", {"type": "file", "file": ["start", "f"]}))
    with pytest.raises(FileReadError, match=r"cannot read file upload\.pdf: it is kept in the kernel's storage"):
        await run(data, {("start", "f"): stored})


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (body("binary"), "body", "needs the selector of a file variable"),
        (body("json", text_item("", "{}"), text_item("", "{}")), "body", "a json body has one item, not 2"),
        (body("form-data", {"key": "f", "type": "file", "file": []}), "body", "needs a file variable selector"),
        ({"type": "xml", "data": []}, "body.type", "Input should be"),
    ],
)
def test_body_configuration_errors(data: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(NodeConfigError, match=message) as caught:
        node_type().prepare("http", config("http://x.example/", "post", body=data))
    assert caught.value.path == path


def test_the_node_reads_file_selectors_and_template_references() -> None:
    data = config(
        "http://{{#start.host#}}/",
        "post",
        headers="A:{{#env.k#}}",
        body=body("form-data", text_item("t", "{{#llm.text#}}"), file_item("f", "start", "files")),
    )
    assert set(node_type().prepare("http", data).selectors()) == {
        ("start", "host"),
        ("env", "k"),
        ("llm", "text"),
        ("start", "files"),
    }
