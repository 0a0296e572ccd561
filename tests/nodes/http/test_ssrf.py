"""The SSRF guard (DESIGN.md "Security"; NODE-HTTP-REQUEST, SH-COMP-SSRF): loopback, private,
link-local and metadata destinations are refused before any connection is attempted, also behind a
host name, after a redirect, and in IPv6 clothing; connections go to exactly the address checked."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
from treadle_sdk.ssrf import (
    GuardedNetworkBackend,
    Resolver,
    SSRFGuard,
    SSRFPolicy,
    SSRFRefused,
    refusal_reason,
)

from .conftest import Certificates
from .server import LocalServer
from .support import RecordingNetwork, guard


def resolver_of(table: Mapping[str, Sequence[str]], calls: list[str] | None = None) -> Resolver:
    """A resolver answering from ``table`` (recording each name asked in ``calls``)."""

    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"{host} is not in the test resolver")
        return table[host]

    return resolve


async def no_resolving(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"{host} should have been refused without resolving it")


async def fetch(g: SSRFGuard, url: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async with g.client() as client:
        response = await g.send(client, client.build_request(method, url, **kwargs))
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response


# -- which addresses are refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.45.6.7", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.254", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("100.64.0.1", "a carrier-grade NAT (shared) address"),
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.1", "a non-public address"),
        ("198.18.0.1", "a non-public address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a non-public address"),
        ("::ffff:127.0.0.1", "a loopback address (IPv4 127.0.0.1 inside IPv6)"),
        ("::ffff:10.0.0.1", "a private address (IPv4 10.0.0.1 inside IPv6)"),
        ("::ffff:169.254.169.254", "a cloud metadata address (IPv4 169.254.169.254 inside IPv6)"),
        ("::a00:1", "a private address (IPv4 10.0.0.1 inside IPv6)"),
        ("64:ff9b::7f00:1", "a loopback address (IPv4 127.0.0.1 inside IPv6)"),
        ("2002:a9fe:a9fe::1", "a cloud metadata address (IPv4 169.254.169.254 inside IPv6)"),
    ],
)
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


# -- refused before any connection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:{port}/echo", "refused: 127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/", "refused: 10.1.2.3 is a private address"),
        ("http://10.255.255.1:8080/admin", "refused: 10.255.255.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:{port}/echo", "refused: ::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/", "refused: ::ffff:"),
        ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
        ("http://metadata.google.internal/computeMetadata/v1/", "refused: metadata.google.internal is a cloud"),
        ("http://METADATA.google.internal./", "refused: metadata.google.internal is a cloud metadata host name"),
    ],
)
async def test_refused_destinations_are_never_connected_to(server: LocalServer, url: str, message: str) -> None:
    network = RecordingNetwork()
    g = SSRFGuard(environ={}, resolver=no_resolving, network_backend=network)
    with pytest.raises(SSRFRefused) as caught:
        await fetch(g, url.format(port=server.port))
    assert str(caught.value).startswith(message)
    assert "loopback address (IPv4 127.0.0.1 inside IPv6)" in str(caught.value) or "::ffff:" not in message
    assert network.connects == []


async def test_a_name_resolving_to_a_private_address_is_refused_naming_both() -> None:
    network, calls = RecordingNetwork(), list[str]()
    g = guard(allow=(), resolver=resolver_of({"example.internal": ["10.0.0.5"]}, calls), network=network)
    with pytest.raises(SSRFRefused) as caught:
        await fetch(g, "http://example.internal/")
    assert str(caught.value) == "refused: 10.0.0.5 (resolved from example.internal) is a private address"
    assert (caught.value.host, caught.value.address, caught.value.reason) == (
        "example.internal",
        "10.0.0.5",
        "a private address",
    )
    assert calls == ["example.internal"]
    assert network.connects == []


async def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    network = RecordingNetwork()
    answers = {"mixed.example": ["93.184.216.34", "2606:2800:220:1::1", "10.0.0.1"]}
    g = guard(allow=(), resolver=resolver_of(answers), network=network)
    with pytest.raises(SSRFRefused, match=r"10\.0\.0\.1 \(resolved from mixed.example\) is a private address"):
        await fetch(g, "http://mixed.example/")
    assert network.connects == []


async def test_localhost_is_refused_through_the_system_resolver(server: LocalServer) -> None:
    network = RecordingNetwork()
    g = SSRFGuard(environ={}, network_backend=network)
    with pytest.raises(SSRFRefused, match=r"\(resolved from localhost\) is a loopback address"):
        await fetch(g, f"http://localhost:{server.port}/echo")
    assert network.connects == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1"])
async def test_numeric_spellings_of_loopback_are_refused(server: LocalServer, host: str) -> None:
    network = RecordingNetwork()
    g = SSRFGuard(environ={}, network_backend=network)
    with pytest.raises(SSRFRefused, match=rf"refused: 127\.0\.0\.1 \(resolved from {host}\) is a loopback address"):
        await fetch(g, f"http://{host}:{server.port}/echo")
    assert network.connects == []


@pytest.mark.parametrize("url", ["ftp://example.com/file", "file:///etc/passwd", "gopher://example.com/"])
async def test_only_http_and_https_are_sent(url: str) -> None:
    network = RecordingNetwork()
    with pytest.raises(SSRFRefused, match="is not an http or https URL"):
        await fetch(guard(network=network), url)
    assert network.connects == []


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedNetworkBackend(guard())
    with pytest.raises(SSRFRefused, match="Unix socket"):
        await backend.connect_unix_socket("/var/run/docker.sock")


# -- redirects ----------------------------------------------------------------------------------


async def test_a_redirect_to_a_private_address_is_refused(server: LocalServer) -> None:
    network = RecordingNetwork()
    start = server.url("/redirect?to=http://10.0.0.5/secret")
    with pytest.raises(SSRFRefused) as caught:
        await fetch(guard(network=network), start)
    assert str(caught.value) == f"refused: 10.0.0.5 is a private address (redirect from {start})"
    assert network.connects == [("127.0.0.1", server.port)]


async def test_a_redirect_to_the_metadata_service_is_refused(server: LocalServer) -> None:
    network = RecordingNetwork()
    start = server.url("/redirect?to=http://169.254.169.254/latest/meta-data/iam/&status=307")
    with pytest.raises(SSRFRefused, match=r"^refused: 169\.254\.169\.254 is a cloud metadata address \(redirect"):
        await fetch(guard(network=network), start)
    assert network.connects == [("127.0.0.1", server.port)]


async def test_a_redirect_to_a_name_resolving_privately_is_refused(server: LocalServer) -> None:
    network = RecordingNetwork()
    g = guard(resolver=resolver_of({"intranet.example": ["192.168.0.10"]}), network=network)
    with pytest.raises(SSRFRefused, match=r"192\.168\.0\.10 \(resolved from intranet.example\) is a private"):
        await fetch(g, server.url("/redirect?to=http://intranet.example/"))
    assert network.connects == [("127.0.0.1", server.port)]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO"])
async def test_a_redirect_to_another_scheme_is_refused(server: LocalServer, target: str) -> None:
    network = RecordingNetwork()
    with pytest.raises(SSRFRefused, match=r"is not an http or https URL \(redirect from"):
        await fetch(guard(network=network), server.url(f"/redirect?to={target}"))
    assert network.connects == [("127.0.0.1", server.port)]


async def test_redirects_are_followed_up_to_ten(server: LocalServer) -> None:
    response = await fetch(guard(), server.url("/hops/9"))  # 9 hops, then /echo: 10 redirects
    assert response.status_code == 200
    assert json.loads(response.content)["path"] == "/echo"
    with pytest.raises(httpx.TooManyRedirects, match="more than 10 redirects"):
        await fetch(guard(), server.url("/hops/10"))


async def test_credentials_stay_with_their_origin_across_redirects(server: LocalServer) -> None:
    g = guard(resolver=resolver_of({"other.test": ["127.0.0.1"]}))
    headers = {"Authorization": "Bearer secret", "X-Kept": "yes"}
    same = await fetch(g, server.url("/redirect?to=/echo"), headers=headers)
    assert dict(json.loads(same.content)["headers"])["authorization"] == "Bearer secret"
    other = await fetch(g, server.url(f"/redirect?to=http://other.test:{server.port}/echo"), headers=headers)
    seen = dict(json.loads(other.content)["headers"])
    assert "authorization" not in seen
    assert seen["x-kept"] == "yes"
    assert seen["host"] == f"other.test:{server.port}"


@pytest.mark.parametrize(("status", "method", "body"), [(303, "GET", ""), (302, "GET", ""), (307, "POST", "payload")])
async def test_redirected_posts_change_method_as_browsers_do(
    server: LocalServer, status: int, method: str, body: str
) -> None:
    response = await fetch(guard(), server.url(f"/redirect?to=/echo&status={status}"), "POST", content=b"payload")
    echo = json.loads(response.content)
    assert (echo["method"], echo["body"]) == (method, body)


# -- connecting to the address checked ----------------------------------------------------------


async def test_the_connection_goes_to_the_address_checked_not_a_second_answer() -> None:
    """DNS rebinding: the name answers a public address when checked and loopback afterwards; the
    connection still goes to the public address checked (the test network refuses to reach it)."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return next(answers)

    network = RecordingNetwork()
    with pytest.raises(httpx.ConnectError, match=r"does not reach 93\.184\.216\.34"):
        await fetch(guard(allow=(), resolver=rebinding, network=network), "http://rebind.example/")
    assert calls == ["rebind.example"]
    assert network.connects == [("93.184.216.34", 80)]


async def test_tls_to_a_pinned_address_still_checks_the_host_name(
    tls_server: LocalServer, certificates: Certificates
) -> None:
    network = RecordingNetwork()
    g = guard(resolver=resolver_of({"api.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]}), network=network)
    async with g.client(verify=certificates.client_context()) as client:
        request = client.build_request("GET", f"https://api.test:{tls_server.port}/echo")
        response = await g.send(client, request)
        await response.aread()
        await response.aclose()
        assert response.status_code == 200
        assert dict(json.loads(response.content)["headers"])["host"] == f"api.test:{tls_server.port}"
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname"):
            await g.send(client, client.build_request("GET", f"https://wrong.test:{tls_server.port}/echo"))
    assert network.connects == [("127.0.0.1", tls_server.port)] * 2


# -- the operator's allow-list ------------------------------------------------------------------


async def test_the_allow_list_comes_from_the_environment_and_the_constructor(server: LocalServer) -> None:
    from_env = SSRFGuard(environ={"TREADLE_SSRF_ALLOW": " 127.0.0.1/32 , api.internal,*.corp.example"})
    assert from_env.policy == SSRFPolicy(
        (ipaddress.ip_network("127.0.0.1/32"),), frozenset({"api.internal"}), (".corp.example",)
    )
    response = await fetch(from_env, server.url("/echo"))
    assert response.status_code == 200
    both = SSRFGuard(allow=["10.0.0.0/8"], environ={"TREADLE_SSRF_ALLOW": "127.0.0.1"})
    assert [str(n) for n in both.policy.networks] == ["127.0.0.1/32", "10.0.0.0/8"]


async def test_allowed_networks_open_nothing_more(server: LocalServer) -> None:
    network = RecordingNetwork()
    g = guard(allow=["127.0.0.1/32"], network=network)
    with pytest.raises(SSRFRefused, match=r"127\.0\.0\.2 is a loopback address"):
        await fetch(g, f"http://127.0.0.2:{server.port}/echo")
    assert await g.vet("127.0.0.1", 80) == ["127.0.0.1"]
    assert [ipaddress.ip_address(a) for a in await g.vet("::ffff:127.0.0.1", 80)] == [
        ipaddress.ip_address("::ffff:127.0.0.1")
    ]
    assert network.connects == []


async def test_allowed_host_names_may_resolve_anywhere() -> None:
    answers = {"api.internal": ["10.9.9.9"], "db.corp.example": ["10.1.1.1"], "corp.example": ["10.1.1.2"]}
    g = guard(allow=["api.internal", "*.corp.example"], resolver=resolver_of(answers))
    assert await g.vet("api.internal", 443) == ["10.9.9.9"]
    assert await g.vet("DB.corp.example.", 443) == ["10.1.1.1"]
    with pytest.raises(SSRFRefused, match=r"resolved from corp\.example"):
        await g.vet("corp.example", 443)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "http://x.example/", "999.1.1.1"])
def test_a_bad_allow_list_entry_is_an_error_naming_the_variable(entry: str) -> None:
    with pytest.raises(ValueError, match=rf"TREADLE_SSRF_ALLOW: '{entry}' is neither a CIDR nor a host name"):
        SSRFGuard(environ={"TREADLE_SSRF_ALLOW": f"127.0.0.1,{entry}"})


async def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    with pytest.raises(httpx.ConnectError, match=r"cannot resolve nowhere\.test"):
        await fetch(guard(allow=(), resolver=resolver_of({})), "http://nowhere.test/")
