"""Custom tools (``provider_type`` ``api``): a workspace's OpenAPI documents, each a tool provider
whose tools are its operations (WS-TOOLS, custom tools).

The kernel keeps the documents and credentials (:mod:`treadle.tools.api_store`), parses them into
tools (:mod:`treadle.tools.openapi`) and builds each call's request
(:mod:`treadle.tools.api_request`); the request is sent by the ``openapi_request`` tool of the
``treadle-plugin-openapi-tools`` plugin, in a plugin host behind the SSRF guard, so the kernel makes
no outbound HTTP itself.

Install it on a supervisor's tool manager::

    api_tools = ApiTools(supervisor.invoke, MemoryApiToolStore())
    supervisor.tools.add_source("api", api_tools)
    await api_tools.save_provider("tenant-1", "petstore", spec_text, credentials={...})
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from treadle_sdk.errors import PluginError, PluginNotFound
from treadle_sdk.schemas import ToolSchema

from ..models.errors import scrubbed
from .api_request import ApiToolCredentials, build_request
from .api_store import ApiToolProvider, ApiToolStore, MemoryApiToolStore
from .manager import InvokeFn, jsonable
from .openapi import ApiSpec, parse_api_spec

__all__ = ["REQUEST_PROVIDER", "REQUEST_TOOL", "ApiTools"]

#: The plugin tool that sends the requests.
REQUEST_PROVIDER = "openapi_request"
REQUEST_TOOL = "request"

_NOT_FOUND = "ToolProviderNotFoundError"


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a custom tool provider needs a name")
    if name != name.strip() or len(name) > 128 or any(ord(ch) < 32 for ch in name):
        raise ValueError(
            f"{name[:140]!r} is not a usable custom tool provider name: at most 128 characters, "
            "no control characters, no spaces at either end"
        )
    return name


class ApiTools:
    """The ``api`` tool source: custom tool providers by workspace.

    :param invoke: how the request tool is invoked (``PluginSupervisor.invoke``).
    :param store: where providers are kept (in memory by default).
    """

    def __init__(self, invoke: InvokeFn, store: ApiToolStore | None = None) -> None:
        self._invoke = invoke
        self.store: ApiToolStore = store if store is not None else MemoryApiToolStore()
        self._parsed: dict[tuple[str, str], tuple[str, str, ApiSpec]] = {}

    # -- managing providers -----------------------------------------------------------------------

    async def save_provider(
        self,
        tenant_id: str,
        name: str,
        spec: str | bytes | Mapping[str, Any],
        *,
        credentials: Mapping[str, Any] | ApiToolCredentials | None = None,
        label: str = "",
        description: str = "",
        icon: str = "",
        privacy_policy: str = "",
        custom_disclaimer: str = "",
        spec_url: str = "",
    ) -> ApiToolProvider:
        """Create the provider ``name`` of the workspace from an OpenAPI document, or replace it
        (keeping its id). Raises :class:`~treadle.tools.errors.OpenAPISpecError` naming where a bad
        document is wrong, and :class:`ValueError` naming a bad credential field."""
        _check_name(name)
        parsed = parse_api_spec(spec, base_url=spec_url or None)
        if not isinstance(credentials, ApiToolCredentials):
            credentials = ApiToolCredentials.parse(credentials)
        text = spec if isinstance(spec, str) else spec.decode("utf-8-sig") if isinstance(spec, bytes) else _dump(spec)
        existing = await self.store.get(tenant_id, name)
        provider = ApiToolProvider(
            tenant_id=tenant_id,
            id=existing.id if existing is not None else str(uuid.uuid4()),
            name=name,
            spec=text,
            credentials=credentials,
            label=label or parsed.title or name,
            description=description or parsed.description,
            icon=icon,
            privacy_policy=privacy_policy,
            custom_disclaimer=custom_disclaimer,
            spec_url=spec_url,
        )
        await self.store.save(provider)
        self._parsed[(tenant_id, name)] = (text, spec_url, parsed)
        return provider

    async def update_credentials(
        self, tenant_id: str, provider: str, credentials: Mapping[str, Any] | ApiToolCredentials
    ) -> ApiToolProvider:
        """Replace the credentials of a provider (named or by id)."""
        found = await self.provider(tenant_id, provider)
        if not isinstance(credentials, ApiToolCredentials):
            credentials = ApiToolCredentials.parse(credentials)
        updated = replace(found, credentials=credentials)
        await self.store.save(updated)
        return updated

    async def delete_provider(self, tenant_id: str, provider: str) -> None:
        """Remove a provider (named or by id); workflows using its tools then fail to find them."""
        found = await self.provider(tenant_id, provider)
        await self.store.delete(tenant_id, found.name)
        self._parsed.pop((tenant_id, found.name), None)

    async def providers(self, tenant_id: str) -> list[ApiToolProvider]:
        """The workspace's custom tool providers, by name."""
        return await self.store.providers(tenant_id)

    async def provider(self, tenant_id: str, provider: str) -> ApiToolProvider:
        """The provider called ``provider``, or whose id it is (DSL files name both)."""
        found = await self.store.get(tenant_id, provider)
        if found is not None:
            return found
        every = await self.store.providers(tenant_id)
        for candidate in every:
            if candidate.id == provider:
                return candidate
        raise PluginNotFound(
            f"the workspace has no custom tool provider {provider!r} (custom tool providers: "
            f"{', '.join(p.name for p in every) or 'none'})",
            details={"provider": provider, "provider_type": "api", "error_type": _NOT_FOUND},
        )

    async def spec(self, tenant_id: str, provider: str) -> tuple[ApiToolProvider, ApiSpec]:
        """A provider and its parsed document (parsed once per version of the document)."""
        found = await self.provider(tenant_id, provider)
        cached = self._parsed.get((tenant_id, found.name))
        if cached is not None and cached[0] == found.spec and cached[1] == found.spec_url:
            return found, cached[2]
        parsed = parse_api_spec(found.spec, base_url=found.spec_url or None)
        self._parsed[(tenant_id, found.name)] = (found.spec, found.spec_url, parsed)
        return found, parsed

    async def fetch_spec(self, tenant_id: str, url: str, *, depth: int = 0) -> str:
        """The text of the document at ``url`` ("import from URL"), fetched by the request tool
        behind the SSRF guard. Pass the text and ``spec_url=url`` to :meth:`save_provider`."""
        parameters = {"method": "GET", "url": url, "headers": '{"Accept": "application/json, application/yaml"}'}
        texts = [
            message.get("text", "")
            async for message in self._request(tenant_id, parameters, depth)
            if isinstance(message, dict) and message.get("type") == "text"
        ]
        return texts[-1] if texts else ""

    # -- the tool source --------------------------------------------------------------------------

    async def describe(self, tenant_id: str, provider: str, tool: str) -> ToolSchema:
        found, parsed = await self.spec(tenant_id, provider)
        operation = parsed.operation(tool)
        if operation is None:
            raise self._no_tool(found, parsed, tool)
        return operation.tool

    async def invoke(
        self, tenant_id: str, provider: str, tool: str, parameters: dict[str, Any], *, depth: int
    ) -> AsyncIterator[Any]:
        found, parsed = await self.spec(tenant_id, provider)
        operation = parsed.operation(tool)
        if operation is None:
            raise self._no_tool(found, parsed, tool)
        request = build_request(operation, parameters, found.credentials)
        try:
            async for message in self._request(tenant_id, request, depth):
                yield message
        except PluginError as exc:
            # A server may echo the key it refused; it must not reach run records or logs.
            credentials = found.credentials
            secrets = [credentials.secret, credentials.header_value()] if credentials.secret else []
            raise scrubbed(exc, secrets) from None

    def _request(self, tenant_id: str, parameters: dict[str, Any], depth: int) -> AsyncIterator[Any]:
        payload = {"tool": REQUEST_TOOL, "parameters": parameters, "credentials": {}}
        try:
            stream = self._invoke(
                "tool_provider", REQUEST_PROVIDER, "invoke_tool", payload, tenant_id=tenant_id, depth=depth
            )
        except PluginNotFound as exc:
            raise PluginNotFound(
                f"custom tools send their requests through the tool provider {REQUEST_PROVIDER!r} of the "
                "treadle-plugin-openapi-tools plugin, which is not loaded",
                details={**exc.details, "error_type": _NOT_FOUND},
            ) from None
        return _messages(stream)

    @staticmethod
    def _no_tool(found: ApiToolProvider, parsed: ApiSpec, tool: str) -> PluginNotFound:
        return PluginNotFound(
            f"custom tool provider {found.name!r} has no tool {tool!r} "
            f"(tools: {', '.join(op.name for op in parsed.operations)})",
            details={"provider": found.name, "tool": tool, "error_type": _NOT_FOUND},
        )


async def _messages(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for message in stream:
        yield jsonable(message)


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)
