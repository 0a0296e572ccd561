"""API-based extensions of a workspace: HTTP endpoints its apps call at extension points
(``app.moderation.input`` and ``app.moderation.output`` today), as Dify's API extensions are.

The endpoint gets ``POST {"point": ..., "params": {...}}`` with ``Authorization: Bearer <api key>``
and answers JSON. An extension is checked when it is saved: it must answer the ``ping`` point with
``{"result": "pong"}``. Keys are sealed with the workspace cipher and shown masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..apps.features import ApiExtensionCall
from ..store import ApiBasedExtension, Database
from ..tenancy import SecretCipher

__all__ = ["ApiExtensionError", "ApiExtensionNotFound", "ApiExtensionView", "ApiExtensions"]

#: Seconds to connect to an extension, and to wait for its answer.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
_MAX_NAME = 255


class ApiExtensionError(ValueError):
    """An extension cannot be saved or did not answer as it should; ``field`` says which part."""

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class ApiExtensionNotFound(ApiExtensionError, LookupError):
    """No extension with this id in the workspace (another workspace's is not found either)."""


@dataclass(frozen=True)
class ApiExtensionView:
    """An extension as the console shows it: the key masked."""

    id: str
    name: str
    api_endpoint: str
    api_key: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "api_endpoint": self.api_endpoint, "api_key": self.api_key,
                "created_at": int(self.created_at.timestamp())}


def _mask(key: str) -> str:
    return f"{key[:3]}{'*' * 8}{key[-2:]}" if len(key) > 8 else "*" * len(key)


def _context(extension_id: str) -> str:
    return f"api_based_extensions/{extension_id}/api_key"


class ApiExtensions:
    """The API extensions of workspace ``tenant_id``."""

    def __init__(
        self, db: Database, cipher: SecretCipher, tenant_id: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.tenant_id = tenant_id
        self._transport = transport

    # -- calling ------------------------------------------------------------------------------------

    async def call(self, extension_id: str, point: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Call extension ``extension_id`` at ``point``; its JSON answer (an object)."""
        async with self.db.session() as session:
            row = await self._row(session, extension_id)
            endpoint, sealed = row.api_endpoint, row.api_key
        key = self.cipher.decrypt(self.tenant_id, sealed, context=_context(extension_id))
        return await self._post(endpoint, key, point, params)

    def caller(self, extension_id: str) -> ApiExtensionCall:
        """``call`` bound to one extension, as :class:`~treadle.apps.features.Moderation` takes it."""

        async def call(point: str, params: dict[str, Any]) -> Mapping[str, Any]:
            return await self.call(extension_id, point, params)

        return call

    async def _post(self, endpoint: str, key: str, point: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        headers = {"Authorization": f"Bearer {key}"}
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                response = await client.post(endpoint, json={"point": point, "params": dict(params)}, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiExtensionError(f"the API extension at {endpoint} cannot be reached: {exc}") from None
        if response.status_code != 200:
            raise ApiExtensionError(
                f"the API extension at {endpoint} answered {response.status_code} to {point}: {response.text[:200]}"
            )
        try:
            body = response.json()
        except ValueError:
            raise ApiExtensionError(f"the API extension at {endpoint} did not answer JSON to {point}") from None
        if not isinstance(body, Mapping):
            raise ApiExtensionError(f"the API extension at {endpoint} answered {point} with a non-object")
        return body

    # -- managing -----------------------------------------------------------------------------------

    async def create(self, name: str, api_endpoint: str, api_key: str) -> ApiExtensionView:
        """Save a new extension once it answers ``ping`` with ``pong``."""
        name, api_endpoint = self._checked(name, api_endpoint, api_key)
        await self._ping(api_endpoint, api_key)
        row = ApiBasedExtension(tenant_id=self.tenant_id, name=name, api_endpoint=api_endpoint, api_key="")
        try:
            async with self.db.session() as session:
                session.add(row)
                await session.flush()
                row.api_key = self.cipher.encrypt(self.tenant_id, api_key, context=_context(row.id))
        except IntegrityError:
            raise ApiExtensionError(f"an API extension named {name!r} exists already", "name") from None
        return self._view(row, api_key)

    async def update(self, extension_id: str, name: str, api_endpoint: str, api_key: str) -> ApiExtensionView:
        """Change an extension; a masked ``api_key`` (as :meth:`list` shows it) keeps the stored one."""
        async with self.db.session() as session:
            row = await self._row(session, extension_id)
            current = self.cipher.decrypt(self.tenant_id, row.api_key, context=_context(row.id))
        key = current if api_key == _mask(current) else api_key
        name, api_endpoint = self._checked(name, api_endpoint, key)
        await self._ping(api_endpoint, key)
        try:
            async with self.db.session() as session:
                row = await self._row(session, extension_id)
                row.name, row.api_endpoint = name, api_endpoint
                row.api_key = self.cipher.encrypt(self.tenant_id, key, context=_context(row.id))
        except IntegrityError:
            raise ApiExtensionError(f"an API extension named {name!r} exists already", "name") from None
        return self._view(row, key)

    async def list(self) -> list[ApiExtensionView]:
        """The workspace's extensions, newest first, keys masked."""
        async with self.db.session() as session:
            rows = list(await session.scalars(
                select(ApiBasedExtension).where(ApiBasedExtension.tenant_id == self.tenant_id)
                .order_by(ApiBasedExtension.created_at.desc(), ApiBasedExtension.id)
            ))
        return [self._view(row, self.cipher.decrypt(self.tenant_id, row.api_key, context=_context(row.id)))
                for row in rows]

    async def get(self, extension_id: str) -> ApiExtensionView:
        async with self.db.session() as session:
            row = await self._row(session, extension_id)
        return self._view(row, self.cipher.decrypt(self.tenant_id, row.api_key, context=_context(row.id)))

    async def delete(self, extension_id: str) -> None:
        async with self.db.session() as session:
            await session.delete(await self._row(session, extension_id))

    # -- helpers ------------------------------------------------------------------------------------

    async def _ping(self, endpoint: str, key: str) -> None:
        answer = await self._post(endpoint, key, "ping", {})
        if answer.get("result") != "pong":
            raise ApiExtensionError(
                f"the API extension at {endpoint} must answer the ping point with {{\"result\": \"pong\"}}, "
                f"not {dict(answer)!r}", "api_endpoint",
            )

    @staticmethod
    def _checked(name: str, api_endpoint: str, api_key: str) -> tuple[str, str]:
        name, api_endpoint = name.strip(), api_endpoint.strip()
        if not name or len(name) > _MAX_NAME:
            raise ApiExtensionError(f"name: 1 to {_MAX_NAME} characters", "name")
        parts = urlsplit(api_endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiExtensionError(f"api_endpoint: an http(s) URL, not {api_endpoint!r}", "api_endpoint")
        if len(api_key) < 5:
            raise ApiExtensionError("api_key: at least 5 characters", "api_key")
        return name, api_endpoint

    async def _row(self, session: Any, extension_id: str) -> ApiBasedExtension:
        row: ApiBasedExtension | None = await session.scalar(select(ApiBasedExtension).where(
            ApiBasedExtension.id == extension_id, ApiBasedExtension.tenant_id == self.tenant_id
        ))
        if row is None:
            raise ApiExtensionNotFound(f"API extension {extension_id!r} not found", "id")
        return row

    @staticmethod
    def _view(row: ApiBasedExtension, key: str) -> ApiExtensionView:
        return ApiExtensionView(row.id, row.name, row.api_endpoint, _mask(key), row.created_at)
