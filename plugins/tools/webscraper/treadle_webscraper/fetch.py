"""Fetching a web page through the SSRF guard, within size and time limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import Message

import httpx
from treadle_sdk.errors import PluginFailed, PluginInvalidArgument, PluginPermissionDenied
from treadle_sdk.ssrf import MAX_REDIRECTS, SSRFGuard, SSRFRefused

__all__ = ["DEFAULT_USER_AGENT", "FetchedPage", "PageFetcher", "ScraperLimits", "normalise_url"]

#: Dify's default for the tool's ``user_agent``: a desktop browser, which some sites insist on.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.1000.0 Safari/537.36"
)

_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5"


@dataclass(frozen=True)
class ScraperLimits:
    """How much one fetch may take: bytes of the (decompressed) body, seconds in all and to connect,
    redirects followed, and links listed in the json output."""

    max_bytes: int = 5 * 1024 * 1024
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_redirects: int = MAX_REDIRECTS
    max_links: int = 200


@dataclass(frozen=True)
class FetchedPage:
    """What the server answered: where the page ended up (after redirects), its type and its bytes."""

    url: str
    final_url: str
    status_code: int
    content_type: str
    charset: str | None
    body: bytes


def normalise_url(url: str) -> str:
    """``url`` trimmed, with ``https://`` put in front of a bare host (``example.com/page``), which
    models often send; other schemes are left for the guard to refuse."""
    url = url.strip()
    if not url:
        raise PluginInvalidArgument("parameter 'url' is required", details={"parameter": "url"})
    if "://" not in url:
        url = f"https://{url.removeprefix('//')}"
    return url


def _content_type(header: str) -> tuple[str, str | None]:
    message = Message()
    message["content-type"] = header or "application/octet-stream"
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) and charset else None


class PageFetcher:
    """Fetches pages with a client of ``guard``: every connection (redirects too) goes to a public
    address or one the operator allow-listed."""

    def __init__(self, guard: SSRFGuard, limits: ScraperLimits) -> None:
        self.guard = guard
        self.limits = limits

    async def fetch(self, url: str, user_agent: str) -> FetchedPage:
        """The page at ``url``. Raises :class:`PluginPermissionDenied` for a refused destination,
        :class:`PluginInvalidArgument` for a URL that is not one, and :class:`PluginFailed` for a
        page that cannot be had (an error status, too large, too slow, a network failure)."""
        limits = self.limits
        timeout = httpx.Timeout(limits.timeout, connect=limits.connect_timeout)
        try:
            async with asyncio.timeout(limits.timeout), self.guard.client(timeout=timeout) as client:
                try:
                    request = client.build_request("GET", url, headers={"User-Agent": user_agent, "Accept": _ACCEPT})
                except httpx.InvalidURL as exc:
                    raise PluginInvalidArgument(
                        f"parameter 'url': {url[:200]!r} is not a URL: {exc}", details={"parameter": "url"}
                    ) from None
                response = await self.guard.send(client, request, max_redirects=limits.max_redirects)
                try:
                    return await self._read(url, response)
                finally:
                    await response.aclose()
        except SSRFRefused as exc:
            raise PluginPermissionDenied(
                f"parameter 'url': {exc.message}",
                details={"parameter": "url", "host": exc.host, "address": exc.address, "reason": exc.reason},
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise self._failed(url, f"no complete answer within {limits.timeout:g} s") from None
        except httpx.TooManyRedirects:
            raise self._failed(url, f"more than {limits.max_redirects} redirects") from None
        except httpx.HTTPError as exc:
            raise self._failed(url, str(exc) or type(exc).__name__) from None

    async def _read(self, url: str, response: httpx.Response) -> FetchedPage:
        final_url = str(response.url)
        if response.status_code >= 400:
            reason = response.reason_phrase or ""
            answer = f"the server answered {response.status_code} {reason}".rstrip()
            raise self._failed(url, answer, status_code=response.status_code, final_url=final_url)
        limit = self.limits.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._failed(url, f"the page is {int(declared)} bytes, more than the {limit}-byte limit")
        body = bytearray()
        # Counted after decompression, so a small compressed answer cannot unpack into gigabytes.
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise self._failed(url, f"the page is larger than the {limit}-byte limit")
        content_type, charset = _content_type(response.headers.get("content-type", ""))
        return FetchedPage(url, final_url, response.status_code, content_type, charset, bytes(body))

    @staticmethod
    def _failed(url: str, reason: str, **details: object) -> PluginFailed:
        return PluginFailed(f"could not fetch {url[:200]}: {reason}", details={"url": url, **details})
