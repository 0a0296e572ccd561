"""The SSRF guard: outbound HTTP from nodes and tools reaches public addresses only (DESIGN.md, "Security").

A user who edits a workflow chooses the URLs it requests, so without a guard an HTTP request node is a
way into the network the server sits in: the cloud metadata service, databases on private addresses,
admin ports on loopback. :class:`SSRFGuard` decides, for every connection, whether its destination is
public:

* the host name is resolved here, and the connection is refused if **any** resolved address is
  loopback, private, link-local (the metadata address 169.254.169.254 among them), unspecified,
  multicast, reserved, carrier-grade NAT, or another non-public address, also when written as an IPv6
  form that embeds such an IPv4 address; well-known metadata host names are refused by name;
* the connection is then made to exactly the address that was checked (the TLS handshake still names
  and verifies the original host), so DNS that answers differently a moment later (rebinding) cannot
  move it;
* redirects are followed one hop at a time, each hop checked again (:meth:`SSRFGuard.send`).

The check runs inside the client's network layer (:class:`GuardedNetworkBackend`), so every request
made with :meth:`SSRFGuard.client` is guarded, whoever builds it. Operators allow-list what their
workflows may reach on purpose (an internal API, a local test server) with CIDRs and host names, in
``TREADLE_SSRF_ALLOW`` (comma-separated) or the guard's ``allow`` argument.

It needs httpx and httpcore (the SDK's `http` extra); nodes and tools of any plugin use it. Clients of
httpx2 (the HTTP stack of the MCP SDK) get the same guard from :mod:`treadle_sdk.ssrf_httpx2`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import certifi
import httpcore
import httpx

__all__ = [
    "ALLOW_ENV",
    "MAX_REDIRECTS",
    "METADATA_HOST_NAMES",
    "GuardedNetworkBackend",
    "GuardedTransport",
    "Resolver",
    "SSRFGuard",
    "SSRFPolicy",
    "SSRFRefused",
    "refusal_reason",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: A connected stream of a network layer (httpcore's or httpcore2's).
Stream = TypeVar("Stream")

#: Resolves ``(host, port)`` to the addresses to connect to, as text ("93.184.216.34", "2606:2800::1").
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

#: The environment variable holding the operator's allow-list: CIDRs and host names, comma-separated.
ALLOW_ENV = "TREADLE_SSRF_ALLOW"

#: How many redirects :meth:`SSRFGuard.send` follows before giving up.
MAX_REDIRECTS = 10

#: Host names of cloud metadata services, refused by name whatever they resolve to.
METADATA_HOST_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)

_METADATA = "a cloud metadata address"
_PRIVATE = "a private address"

# Checked in order, so that the most telling reason wins (the metadata address before link-local).
_REFUSED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("169.254.169.254/32", _METADATA),  # AWS, GCP, Azure, DigitalOcean, OpenStack ...
        ("100.100.100.200/32", _METADATA),  # Alibaba Cloud
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_REFUSED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("fd00:ec2::254/128", _METADATA),  # AWS over IPv6
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"),
        ("fc00::/7", _PRIVATE),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

_HOST_NAME = re.compile(r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62})?)(\.[a-z0-9_]([a-z0-9_-]{0,62})?)*$")


class SSRFRefused(PermissionError):
    """A request was refused because its destination is not a public address.

    ``host`` is the host asked for, ``address`` the address refused (``None`` when the host name
    itself is refused), ``reason`` what the address is ("a private address").
    """

    def __init__(self, message: str, *, host: str, address: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.address = address
        self.reason = reason

    def __str__(self) -> str:
        return self.message


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: mapped, 6to4, NAT64 or IPv4-compatible forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be reached ("a loopback address", "a private address" ...), or ``None``
    when it is a public address."""
    if isinstance(ip, ipaddress.IPv4Address):
        for net, why in _REFUSED_V4:
            if ip in net:
                return why
    else:
        for net6, why in _REFUSED_V6:
            if ip in net6:
                return why
        inner = _embedded_ipv4(ip)
        if inner is not None:
            why_inner = refusal_reason(inner)
            return None if why_inner is None else f"{why_inner} (IPv4 {inner} inside IPv6)"
    if not ip.is_global:
        return "a non-public address"
    return None


def _parse_ip(text: str) -> IPAddress | None:
    """``text`` as an IP address (brackets and an IPv6 zone allowed), or ``None`` for a host name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class SSRFPolicy:
    """What the operator allows beyond public addresses: networks, host names and ``*.suffix`` names.

    An address inside an allowed network may be reached whatever it is; a host name on the list may be
    reached whatever it resolves to.
    """

    networks: tuple[IPNetwork, ...] = ()
    host_names: frozenset[str] = frozenset()
    host_suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], *, source: str = "allow-list") -> SSRFPolicy:
        """A policy from entries like ``127.0.0.1``, ``10.8.0.0/16``, ``api.internal``, ``*.corp.example``.

        Raises :class:`ValueError` naming ``source`` for an entry that is neither a CIDR nor a host name.
        """
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.rstrip(".")
            if not _HOST_NAME.match(name) or name.replace(".", "").replace("/", "").isdigit():
                raise ValueError(f"{source}: {raw.strip()!r} is neither a CIDR nor a host name")
            if name.startswith("*."):
                suffixes.append(name[1:])
            else:
                names.add(name)
        return cls(tuple(networks), frozenset(names), tuple(suffixes))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> SSRFPolicy:
        """The policy of ``TREADLE_SSRF_ALLOW`` (comma-separated) plus the ``extra`` entries."""
        environ = os.environ if environ is None else environ
        from_env = cls.parse(environ.get(ALLOW_ENV, "").split(","), source=ALLOW_ENV)
        given = cls.parse(extra)
        return cls(
            from_env.networks + given.networks,
            from_env.host_names | given.host_names,
            from_env.host_suffixes + given.host_suffixes,
        )

    def allows_host(self, host: str) -> bool:
        return host in self.host_names or any(host.endswith(suffix) for suffix in self.host_suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        return any(addr.version == net.version and addr in net for addr in candidates for net in self.networks)


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves ``host`` to, without duplicates, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


class SSRFGuard:
    """Decides which destinations outbound HTTP may reach, and makes clients that obey it.

    :param allow: allow-list entries (CIDRs, host names, ``*.suffix``), added to ``TREADLE_SSRF_ALLOW``.
    :param resolver: how host names are resolved (tests give their own; the default asks the system).
    :param environ: where ``TREADLE_SSRF_ALLOW`` is read (``os.environ`` by default).
    :param network_backend: the network under the guard, which connects to the checked addresses
        (httpcore's own by default; tests give one that records connections).
    """

    def __init__(
        self,
        *,
        allow: Iterable[str] = (),
        resolver: Resolver | None = None,
        environ: Mapping[str, str] | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = SSRFPolicy.from_env(environ, extra=allow)
        self._resolver = resolver or system_resolver
        self._network_backend = network_backend
        self._ssl_contexts: dict[bool, ssl.SSLContext] = {}

    # -- checks -------------------------------------------------------------------------------------

    def check_url(self, url: httpx.URL | str) -> httpx.URL:
        """``url`` parsed, if its scheme is http(s) and its host is not refused without resolving it
        (an IP literal or a metadata host name); raises :class:`SSRFRefused` otherwise."""
        url = httpx.URL(url)
        if url.scheme not in ("http", "https"):
            raise SSRFRefused(
                f"refused: {str(url)[:200]!r} is not an http or https URL", host=url.host, reason="scheme"
            )
        if not url.host:
            raise SSRFRefused(f"refused: {str(url)[:200]!r} has no host", host="", reason="no host")
        host = url.host.lower().rstrip(".")
        literal = _parse_ip(host)
        if literal is not None:
            self._check_address(literal, host, resolved=False)
        else:
            self._check_name(host)
        return url

    async def vet(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` may be reached at (all of them checked); raises :class:`SSRFRefused`
        if any is refused, or :class:`OSError` if the name does not resolve."""
        host = host.lower().rstrip(".")
        literal = _parse_ip(host)
        if literal is not None:
            self._check_address(literal, host, resolved=False)
            return [str(literal)]
        self._check_name(host)
        addresses = list(await self._resolver(host, port))
        if not addresses:
            raise OSError(f"{host} resolves to no address")
        if self.policy.allows_host(host):
            return addresses
        for text in addresses:
            ip = _parse_ip(text)
            if ip is None:
                raise OSError(f"{host} resolved to {text!r}, which is not an IP address")
            self._check_address(ip, host, resolved=True)
        return addresses

    async def connect(
        self,
        host: str,
        port: int,
        timeout: float | None,
        dial: Callable[[str, float | None], Awaitable[Stream]],
        *,
        timeout_error: type[Exception],
        connect_error: type[Exception],
    ) -> Stream:
        """Vet ``host`` (:meth:`vet`), then ``dial`` its checked addresses in turn, each with what is
        left of ``timeout``, until one connects. ``timeout_error`` and ``connect_error`` are the network
        layer's own exception types (httpcore's or httpcore2's), raised for a slow or failed resolution;
        a ``connect_error`` from the last address is raised as it is. :class:`SSRFRefused` passes through.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.vet(host, port)
        except TimeoutError:
            raise timeout_error(f"resolving {host} took longer than {timeout:g} s") from None
        except SSRFRefused:
            raise
        except OSError as exc:
            raise connect_error(f"cannot resolve {host}: {exc}") from exc
        last: Exception | None = None
        for address in addresses:
            remaining = None if timeout is None else max(timeout - (loop.time() - started), 0.001)
            try:
                return await dial(address, remaining)
            except connect_error as exc:
                last = exc
        assert last is not None
        raise last

    def _check_name(self, host: str) -> None:
        if host in METADATA_HOST_NAMES and not self.policy.allows_host(host):
            raise SSRFRefused(
                f"refused: {host} is a cloud metadata host name", host=host, reason="a cloud metadata host name"
            )

    def _check_address(self, ip: IPAddress, host: str, *, resolved: bool) -> None:
        reason = refusal_reason(ip)
        if reason is None or self.policy.allows_address(ip):
            return
        origin = f" (resolved from {host})" if resolved else ""
        raise SSRFRefused(f"refused: {ip}{origin} is {reason}", host=host, address=str(ip), reason=reason)

    # -- clients ------------------------------------------------------------------------------------

    def ssl_context(self, verify: bool = True) -> ssl.SSLContext:
        """The TLS settings of guarded clients: certifi's roots, or no verification at all."""
        if verify not in self._ssl_contexts:
            context = ssl.create_default_context(cafile=certifi.where())
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl_contexts[verify] = context
        return self._ssl_contexts[verify]

    def transport(self, *, verify: bool | ssl.SSLContext = True) -> GuardedTransport:
        """An httpx transport whose every connection goes through this guard."""
        context = verify if isinstance(verify, ssl.SSLContext) else self.ssl_context(verify)
        return GuardedTransport(GuardedNetworkBackend(self, self._network_backend), context)

    def client(
        self, *, verify: bool | ssl.SSLContext = True, timeout: httpx.Timeout | float = 10.0
    ) -> httpx.AsyncClient:
        """An httpx client guarded by this guard. It does not follow redirects itself (use
        :meth:`send`) and ignores proxy settings of the environment, which would bypass the check."""
        return httpx.AsyncClient(
            transport=self.transport(verify=verify),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    async def send(
        self, client: httpx.AsyncClient, request: httpx.Request, *, max_redirects: int = MAX_REDIRECTS
    ) -> httpx.Response:
        """Send ``request``, following up to ``max_redirects`` redirects one hop at a time and checking
        each new destination before it is contacted. The response is streamed: read it, then close it.

        Raises :class:`SSRFRefused` for a refused destination (on a redirect, naming where it came from)
        and :class:`httpx.TooManyRedirects` past ``max_redirects``.
        """
        self.check_url(request.url)
        hops = 0
        while True:
            response = await client.send(request, stream=True)
            # httpx prepares the next request as browsers would (303, and 301/302 after a POST, turn
            # into a GET without a body; credentials stay with their origin) and refuses a Location
            # that is not a URL. It is sent only once its destination passes.
            following = response.next_request
            if following is None:
                return response
            await response.aclose()
            if hops == max_redirects:
                raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=request)
            hops += 1
            target = following.url
            try:
                self.check_url(target)
                await self.vet(target.host, target.port or (443 if target.scheme == "https" else 80))
            except SSRFRefused as exc:
                raise SSRFRefused(
                    f"{exc.message} (redirect from {request.url})",
                    host=exc.host,
                    address=exc.address,
                    reason=exc.reason,
                ) from None
            request = following


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, checking each destination with the guard and connecting to the very
    address checked. TLS is started by httpcore afterwards with the original host name (SNI and
    certificate verification are unchanged)."""

    def __init__(self, guard: SSRFGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        async def dial(address: str, remaining: float | None) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_tcp(address, port, remaining, local_address, socket_options)

        return await self._guard.connect(
            host, port, timeout, dial, timeout_error=httpcore.ConnectTimeout, connect_error=httpcore.ConnectError
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise SSRFRefused(f"refused: the Unix socket {path} is not a network destination", host=path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpcore's exceptions as httpx's, most specific first (what httpx's own transport does).
_ERRORS: tuple[tuple[type[Exception], type[httpx.RequestError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc) or type(exc).__name__) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            with _httpx_errors():
                await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport on an httpcore connection pool whose network layer is guarded."""

    def __init__(self, backend: GuardedNetworkBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
