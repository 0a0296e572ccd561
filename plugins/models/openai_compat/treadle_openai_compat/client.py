"""The HTTP side of the provider: where to call (the credentials' endpoint), with which headers, and
HTTP failures turned into the SDK's ``Invoke*`` errors. One ``httpx.AsyncClient`` per event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_errors import InvokeServerUnavailableError

from .http_errors import error_for_response, error_for_transport

__all__ = ["OpenAIClient", "endpoint_of", "served_model"]

# Long reads: a model may take minutes to answer, but a dead host fails fast.
_TIMEOUT = httpx.Timeout(300.0, connect=10.0)

#: What may travel in a multipart form: ``(filename, bytes, content type)`` by field name.
Files = dict[str, tuple[str, bytes, str]]


def endpoint_of(credentials: dict[str, Any]) -> str:
    """The API base URL of the credentials, without a trailing slash."""
    url = str(credentials.get("endpoint_url") or "").strip()
    if not url.startswith(("http://", "https://")):
        raise PluginInvalidArgument(
            "credential 'endpoint_url' must be an http:// or https:// URL such as https://api.openai.com/v1",
            details={"field": "credentials.endpoint_url"},
        )
    return url.rstrip("/")


def served_model(model: str, credentials: dict[str, Any]) -> str:
    """The name the server knows the model by (``endpoint_model_name``, else the model's own)."""
    return str(credentials.get("endpoint_model_name") or model)


def _headers(credentials: dict[str, Any]) -> dict[str, str]:
    headers = {}
    if credentials.get("api_key"):
        headers["Authorization"] = f"Bearer {credentials['api_key']}"
    if credentials.get("organization"):
        headers["OpenAI-Organization"] = str(credentials["organization"])
    return headers


class OpenAIClient:
    """Requests to an OpenAI-compatible server, on a client reused by every call of one event loop."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        # A client's connections belong to the loop that opened them.
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @asynccontextmanager
    async def post(
        self,
        path: str,
        credentials: dict[str, Any],
        *,
        json: dict[str, Any] | None = None,
        files: Files | None = None,
        data: dict[str, str] | None = None,
        stream: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """POST a JSON body (``json``) or a multipart form (``files`` and ``data``) to ``path``.

        Yields the response when its status is below 400, its body read unless ``stream``; raises
        the mapped :class:`~treadle_sdk.model_errors.InvokeError` otherwise, the key blanked out.
        """
        url = f"{endpoint_of(credentials)}{path}"
        where = f"POST {url}"
        api_key = credentials.get("api_key") or None
        request = self._http().build_request(
            "POST", url, json=json, files=files, data=data, headers=_headers(credentials)
        )
        try:
            response = await self._http().send(request, stream=True)
        except httpx.TransportError as exc:
            raise error_for_transport(exc, where, api_key) from None
        try:
            if response.status_code >= 400:
                raise error_for_response(response, await response.aread(), where, api_key)
            if not stream:
                await response.aread()
            yield response
        except httpx.TransportError as exc:
            raise error_for_transport(exc, where, api_key) from None
        finally:
            await response.aclose()

    async def post_json(
        self,
        path: str,
        credentials: dict[str, Any],
        *,
        json: dict[str, Any] | None = None,
        files: Files | None = None,
        data: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST and return the answer's JSON object."""
        async with self.post(path, credentials, json=json, files=files, data=data) as response:
            try:
                answer = response.json()
            except ValueError:
                raise InvokeServerUnavailableError(
                    f"POST {path} answered {response.status_code} with a body that is not JSON"
                ) from None
        if not isinstance(answer, dict):
            raise InvokeServerUnavailableError(f"POST {path} answered with JSON that is not an object")
        return answer

    async def get(self, path: str, credentials: dict[str, Any]) -> httpx.Response:
        """GET ``path``; the response when its status is below 400."""
        url = f"{endpoint_of(credentials)}{path}"
        api_key = credentials.get("api_key") or None
        try:
            response = await self._http().get(url, headers=_headers(credentials))
        except httpx.TransportError as exc:
            raise error_for_transport(exc, f"GET {url}", api_key) from None
        if response.status_code >= 400:
            raise error_for_response(response, response.content, f"GET {url}", api_key)
        return response
