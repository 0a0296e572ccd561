"""The HTTP side of the provider: one reused ``httpx.AsyncClient`` per event loop, the headers the
Messages API wants, and transport failures mapped to :class:`InvokeConnectionError`."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_errors import InvokeConnectionError

from .api_errors import error_from_status, redact
from .schema import DEFAULT_API_URL

__all__ = ["API_VERSION", "AnthropicClient", "Endpoint"]

API_VERSION = "2023-06-01"

# Long reads: a model may think for minutes before its first token, but a dead host fails fast.
_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class Endpoint:
    """Where and as whom to call: the base URL and API key from a provider's credentials."""

    def __init__(self, credentials: dict[str, Any]) -> None:
        key = credentials.get("anthropic_api_key")
        if not isinstance(key, str) or not key:
            raise PluginInvalidArgument(
                "credential 'anthropic_api_key' is missing: set the Anthropic API key of the provider",
                details={"field": "credentials.anthropic_api_key"},
            )
        self.api_key = key
        base = credentials.get("anthropic_api_url") or DEFAULT_API_URL
        self.base_url = str(base).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise PluginInvalidArgument(
                f"credential 'anthropic_api_url' must be an http(s) URL, not {self.base_url!r}",
                details={"field": "credentials.anthropic_api_url"},
            )

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "anthropic-version": API_VERSION, "content-type": "application/json"}


class AnthropicClient:
    """The provider's HTTP clients, one per event loop (a client's connections belong to the loop
    that opened them), made on first use and reused by every later call on that loop."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = self._clients[loop] = httpx.AsyncClient(timeout=_TIMEOUT)
        return client

    async def aclose(self) -> None:
        """Close the client of the running loop (its pooled connections)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    @asynccontextmanager
    async def post(
        self, endpoint: Endpoint, path: str, body: dict[str, Any], *, model: str
    ) -> AsyncIterator[httpx.Response]:
        """POST ``body`` to ``path``; the response, its body unread, when the status is 2xx, else
        the mapped :class:`~treadle_sdk.model_errors.InvokeError`."""
        url = endpoint.base_url + path
        try:
            async with self._client().stream("POST", url, json=body, headers=endpoint.headers()) as response:
                if response.status_code >= 300:
                    raw = await response.aread()
                    raise error_from_status(
                        response.status_code,
                        raw,
                        response.headers.get("retry-after"),
                        model=model,
                        secret=endpoint.api_key,
                    )
                yield response
        except httpx.TransportError as exc:
            message = redact(f"could not reach Anthropic at {endpoint.base_url}: {type(exc).__name__}: {exc}",
                             endpoint.api_key)
            raise InvokeConnectionError(message) from None
