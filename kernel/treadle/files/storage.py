"""The kernel's handle on the configured storage backend plugin (``storage.backend``)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from treadle_sdk.extensions import ExtensionKind

__all__ = ["ExtensionInvoker", "PluginStorage"]


class ExtensionInvoker(Protocol):
    """Runs an operation of a registered extension (:meth:`treadle.plugins.PluginSupervisor.invoke`)."""

    def invoke(
        self, kind: ExtensionKind | str, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str = ""
    ) -> AsyncIterator[Any]: ...


class PluginStorage:
    """Saves, reads and deletes bytes through one storage backend, wherever its plugin runs.

    :param backend: the registered storage backend's name (``local``, ``s3``).
    :param config: the backend's configuration, sent with every call.
    :param home: the install's data directory: the ``local`` backend keeps files under
        ``home/files`` unless ``config`` gives a ``root`` (its host process may not know the home).
    """

    def __init__(
        self,
        invoker: ExtensionInvoker,
        backend: str,
        *,
        config: Mapping[str, Any] | None = None,
        home: Path | None = None,
    ) -> None:
        self._invoker = invoker
        self.backend = backend
        self.config = dict(config or {})
        if backend == "local" and "root" not in self.config and home is not None:
            self.config["root"] = str(home / "files")

    def _payload(self, key: str, **extra: Any) -> dict[str, Any]:
        return {"key": key, "config": self.config, **extra}

    async def _call(self, operation: str, payload: dict[str, Any]) -> list[Any]:
        stream = self._invoker.invoke(ExtensionKind.STORAGE, self.backend, operation, payload)
        return [item async for item in stream]

    async def save(self, key: str, data: bytes) -> None:
        await self._call("save", self._payload(key, data=base64.b64encode(data).decode("ascii")))

    async def load(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes, piece by piece as the backend streams them."""
        async for piece in self._invoker.invoke(ExtensionKind.STORAGE, self.backend, "load", self._payload(key)):
            yield base64.b64decode(piece)

    async def exists(self, key: str) -> bool:
        (found,) = await self._call("exists", self._payload(key))
        return bool(found)

    async def delete(self, key: str) -> None:
        await self._call("delete", self._payload(key))
