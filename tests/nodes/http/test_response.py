"""What the http-request node makes of the answer (NODE-HTTP-REQUEST): outputs, status codes and error
strategies, the 10 MB limit, binary responses as files, timeouts, TLS verification, and the node
running through the plugin contract."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
import treadle_http_node
from treadle_http_node import (
    HttpLimits,
    HttpRequestNodeError,
    HTTPResponseCodeError,
    RequestRefusedError,
    ResponseSizeError,
)
from treadle_http_node.config import Timeouts
from treadle_http_node.files import FileReader, FileRef
from treadle_http_node.response import is_file_response
from treadle_sdk.errors import PluginFailed
from treadle_sdk.testing import ainvoke

from .conftest import Certificates
from .server import ENDLESS_LIMIT, LocalServer
from .support import RecordingNetwork, config, echo_of, guard, node_type, run

MB = 1024 * 1024


async def test_outputs_of_a_text_response(server: LocalServer) -> None:
    result = await run(config(server.url("/echo?x=1")))
    assert set(result.outputs) == {"status_code", "body", "headers", "files"}
    assert result.outputs["status_code"] == 200
    assert json.loads(result.outputs["body"])["query"] == {"x": ["1"]}
    assert result.outputs["headers"]["content-type"] == "application/json"
    assert result.outputs["files"] == []
    assert result.process_data is not None
    assert result.process_data["response_size"] == len(result.outputs["body"].encode())


async def test_repeated_response_headers_are_joined(server: LocalServer) -> None:
    url = server.serve("/cookies", b"ok", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Case", "One")])
    headers = (await run(config(url))).outputs["headers"]
    assert (headers["set-cookie"], headers["x-case"]) == ("a=1, b=2", "One")


async def test_the_body_is_decoded_in_its_declared_charset(server: LocalServer) -> None:
    url = server.serve("/latin", "café".encode("latin-1"), {"Content-Type": "text/plain; charset=iso-8859-1"})
    assert (await run(config(url))).outputs["body"] == "café"
    url = server.serve("/nocharset", "café".encode(), {"Content-Type": "text/plain"})
    assert (await run(config(url))).outputs["body"] == "café"


@pytest.mark.parametrize("status", [201, 204, 400, 404, 500, 503])
async def test_status_codes_are_results_without_an_error_strategy(server: LocalServer, status: int) -> None:
    result = await run(config(server.url(f"/status/{status}")))
    assert result.outputs["status_code"] == status


@pytest.mark.parametrize(
    "fields",
    [
        {"error_strategy": "fail-branch"},
        {"error_strategy": "default-value", "default_value": []},
        {"retry_config": {"retry_enabled": True, "max_retries": 3, "retry_interval": 100}},
    ],
)
async def test_error_status_fails_the_node_when_a_strategy_or_retry_is_set(
    server: LocalServer, fields: dict[str, Any]
) -> None:
    with pytest.raises(HTTPResponseCodeError, match="answered status code 502") as caught:
        await run(config(server.url("/status/502"), **fields))
    assert caught.value.error_type == "HTTPResponseCodeError"
    ok = await run(config(server.url("/status/200"), **fields))
    assert ok.outputs["status_code"] == 200


async def test_retry_disabled_keeps_error_status_a_result(server: LocalServer) -> None:
    data = config(server.url("/status/500"), retry_config={"retry_enabled": False, "max_retries": 3})
    assert (await run(data)).outputs["status_code"] == 500


# -- the 10 MB limit ----------------------------------------------------------------------------


async def test_a_response_of_exactly_10_mb_is_read(server: LocalServer) -> None:
    result = await run(config(server.url(f"/bytes?size={10 * MB}")))
    assert len(result.outputs["body"]) == 10 * MB


@pytest.mark.parametrize("announced", [True, False])
async def test_a_response_over_10_mb_is_an_error(server: LocalServer, announced: bool) -> None:
    url = server.url(f"/bytes?size={10 * MB + 1}&length={int(announced)}")
    with pytest.raises(ResponseSizeError, match=r"more than the 10\.00 MB limit") as caught:
        await run(config(url))
    assert caught.value.error_type == "ResponseSizeError"
    assert ("announces 10.00 MB" in caught.value.message) is announced


async def test_reading_stops_at_the_limit(server: LocalServer) -> None:
    """An endless response: the node gives up at the limit and hangs up, so the server stops early."""
    server.endless_sent = 0
    server.endless_done.clear()
    with pytest.raises(ResponseSizeError):
        await run(config(server.url("/endless")))
    assert await asyncio.to_thread(server.endless_done.wait, 10)
    assert server.endless_sent < ENDLESS_LIMIT


async def test_the_limit_is_the_operators(server: LocalServer) -> None:
    nodes = node_type(limits=HttpLimits(max_response_bytes=1000))
    await run(config(server.url("/bytes?size=1000")), nodes=nodes)
    with pytest.raises(ResponseSizeError, match=r"more than the 1000 bytes limit"):
        await run(config(server.url("/bytes?size=1001")), nodes=nodes)


def test_limits_from_the_environment() -> None:
    limits = HttpLimits.from_env({"TREADLE_HTTP_MAX_READ_TIMEOUT": "120", "TREADLE_HTTP_MAX_RESPONSE_BYTES": "2048"})
    assert (limits.connect_timeout, limits.read_timeout, limits.write_timeout) == (10, 120, 20)
    assert limits.max_response_bytes == 2048
    with pytest.raises(ValueError, match="TREADLE_HTTP_MAX_CONNECT_TIMEOUT: 'soon' is not a number"):
        HttpLimits.from_env({"TREADLE_HTTP_MAX_CONNECT_TIMEOUT": "soon"})


# -- binary responses become files --------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


@pytest.mark.parametrize(
    ("path", "body", "headers", "filename", "mime_type", "kind"),
    [
        ("/img", PNG, {"Content-Type": "image/png"}, "img.png", "image/png", "image"),
        (
            "/dl",
            b"col1,col2\n1,2\n",
            {"Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="data.csv"'},
            "data.csv",
            "text/csv",
            "document",
        ),
        (
            "/named",
            b"plain words",
            {"Content-Disposition": "inline; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"},
            "résumé.txt",
            "text/plain",
            "document",
        ),
        (
            "/report.pdf",
            b"%PDF-1.4\n1 0 obj\n",
            {"Content-Type": "application/pdf"},
            "report.pdf",
            "application/pdf",
            "document",
        ),
        (
            "/blob",
            bytes(range(256)),
            {"Content-Type": "application/x-custom"},
            "blob",
            "application/x-custom",
            "custom",
        ),
        ("/raw", b"\x00\x01binary\xff\xfe", {}, "raw.bin", "application/octet-stream", "custom"),
        (
            "/stream",
            b"text but declared binary",
            {"Content-Type": "application/octet-stream"},
            "stream.bin",
            "application/octet-stream",
            "custom",
        ),
    ],
)
async def test_binary_responses_become_files(
    server: LocalServer,
    path: str,
    body: bytes,
    headers: dict[str, str],
    filename: str,
    mime_type: str,
    kind: str,
) -> None:
    result = await run(config(server.serve(path, body, headers)))
    assert result.outputs["body"] == ""
    [file] = result.outputs["files"]
    assert file["dify_model_identity"] == "__dify__file__"
    assert (file["filename"], file["mime_type"], file["type"], file["size"]) == (filename, mime_type, kind, len(body))
    assert file["extension"] == ("." + filename.rsplit(".", 1)[1] if "." in filename else "")
    assert file["url"] == f"data:{mime_type};base64,{base64.b64encode(body).decode()}"
    ref = FileRef.from_value(file)
    assert ref is not None
    assert await FileReader(guard()).read(ref) == body


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b'{"a": 1}'),
        ({"Content-Type": "text/html; charset=utf-8"}, b"<p>hi</p>"),
        ({"Content-Type": "application/xml"}, b"<a/>"),
        ({"Content-Type": "application/problem+json"}, b"{}"),
        ({"Content-Type": "application/x-unknown"}, "plain text, ünïcode".encode()),
        ({}, b"no content type at all"),
    ],
)
async def test_text_responses_stay_text(server: LocalServer, headers: dict[str, str], body: bytes) -> None:
    result = await run(config(server.serve("/text", body, headers)))
    assert (result.outputs["body"], result.outputs["files"]) == (body.decode(), [])


def test_sniffing_reads_only_the_first_1024_bytes() -> None:
    headers = httpx.Headers({"Content-Type": "application/x-unknown"})
    assert not is_file_response(headers, b"a" * 1024 + b"\x00")
    assert is_file_response(headers, b"a" * 1023 + b"\x00")
    # A multi-byte character cut by the sample's end is still text.
    assert not is_file_response(headers, ("x" * 1023 + "é").encode()[:1024])


# -- timeouts and TLS ---------------------------------------------------------------------------


async def test_read_timeout(server: LocalServer) -> None:
    data = config(server.url("/slow?delay=2"), timeout={"connect": 5, "read": 0.2, "write": 5})
    with pytest.raises(HttpRequestNodeError, match=r"sent nothing for longer than the read timeout \(0\.2 s\)"):
        await run(data)


async def test_write_timeout(server: LocalServer) -> None:
    """The server never reads the upload: once the socket buffers are full, the write times out."""
    server.unread_done.clear()
    data = config(
        server.url("/unread"),
        "post",
        body={"type": "raw-text", "data": [{"value": "{{#start.big#}}"}]},
        timeout={"connect": 5, "read": 5, "write": 0.3},
    )
    try:
        with pytest.raises(HttpRequestNodeError, match=r"longer than the write timeout \(0\.3 s\)"):
            await run(data, {("start", "big"): "x" * (64 * MB)})
    finally:
        server.unread_done.set()


async def test_connect_timeout_covers_name_resolution() -> None:
    async def slow(host: str, port: int) -> Sequence[str]:
        await asyncio.sleep(5)
        return ["127.0.0.1"]

    data = config("http://slow.test/", timeout={"connect": 0.2})
    with pytest.raises(HttpRequestNodeError, match=r"longer than the connect timeout \(0\.2 s\)"):
        await run(data, nodes=node_type(resolver=slow))


def test_timeouts_default_to_the_limits_and_are_capped_by_them() -> None:
    limits = HttpLimits()
    assert limits.timeouts(None) == (10, 60, 20)
    assert limits.timeouts(Timeouts(connect=0, read=0, write=0)) == (10, 60, 20)
    assert limits.timeouts(Timeouts(connect=3, read=30, write=5)) == (3, 30, 5)
    assert limits.timeouts(Timeouts(connect=300, read=3000, write=300)) == (10, 60, 20)


async def test_ssl_verify(tls_server: LocalServer, certificates: Certificates) -> None:
    url = tls_server.url("/echo")
    with pytest.raises(HttpRequestNodeError, match="CERTIFICATE_VERIFY_FAILED"):
        await run(config(url))
    with pytest.raises(HttpRequestNodeError, match="CERTIFICATE_VERIFY_FAILED"):
        await run(config(url, ssl_verify=True))
    result = await run(config(url, ssl_verify=False))
    assert echo_of(result)["method"] == "GET"


# -- refusals, as the node reports them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a cloud metadata address"),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
    ],
)
async def test_the_node_reports_refusals(url: str, message: str) -> None:
    network = RecordingNetwork()
    with pytest.raises(RequestRefusedError) as caught:
        await run(config(url), nodes=node_type(network=network))
    assert caught.value.message == message
    assert caught.value.error_type == "RequestRefusedError"
    assert network.connects == []


async def test_the_node_refuses_a_redirect_to_a_private_address(server: LocalServer) -> None:
    network = RecordingNetwork()
    with pytest.raises(RequestRefusedError, match=r"refused: 10\.2\.3\.4 is a private address \(redirect from"):
        await run(config(server.url("/redirect?to=http://10.2.3.4/")), nodes=node_type(network=network))
    assert network.connects == [("127.0.0.1", server.port)]


async def test_the_node_refuses_loopback_unless_allow_listed(server: LocalServer) -> None:
    network = RecordingNetwork()
    with pytest.raises(RequestRefusedError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        await run(config(server.url("/echo")), nodes=node_type(allow=(), network=network))
    assert network.connects == []


async def test_too_many_redirects(server: LocalServer) -> None:
    with pytest.raises(HttpRequestNodeError, match="more than 10 redirects"):
        await run(config(server.url("/hops/10")))
    result = await run(config(server.url("/hops/3")))
    assert echo_of(result)["path"] == "/echo"


# -- through the plugin contract ----------------------------------------------------------------


async def test_the_registered_node_runs_through_the_plugin_contract(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREADLE_SSRF_ALLOW", "127.0.0.1")
    data = config(server.url("/echo"), "post", body={"type": "raw-text", "data": [{"value": "{{#start.v#}}"}]})
    payload = {"node_id": "http", "config": data, "variables": [[["start", "v"], "from the wire"]]}
    [event] = await ainvoke(treadle_http_node, "node_type", "http-request", "run", payload)
    assert event.type == "result"
    assert json.loads(event.outputs["body"])["body"] == "from the wire"

    monkeypatch.setenv("TREADLE_SSRF_ALLOW", "")
    with pytest.raises(PluginFailed, match=r"refused: 127\.0\.0\.1 is a loopback address") as caught:
        await ainvoke(treadle_http_node, "node_type", "http-request", "run", payload)
    assert caught.value.details == {"error_type": "RequestRefusedError"}


async def test_head_of_a_large_resource_is_fine(server: LocalServer) -> None:
    url = server.serve("/large", b"a" * (10 * MB + 1), {"Content-Type": "text/plain"})
    result = await run(config(url, "head"))
    assert (result.outputs["status_code"], result.outputs["body"]) == (200, "")
    assert result.outputs["headers"]["content-length"] == str(10 * MB + 1)


async def test_an_invalid_redirect_location_is_a_clear_error(server: LocalServer) -> None:
    with pytest.raises(HttpRequestNodeError, match=r"failed: Invalid URL in location header"):
        await run(config(server.url("/redirect?to=http://%5B::1")))
