"""File storage in a local directory (the embedded default; ``storage.backend = "local"``).

Registers the storage backend ``local``: keys are relative POSIX paths confined to one root
directory, writes are atomic, and files are read back as a stream of base64 pieces.
"""

from __future__ import annotations

from collections.abc import Callable

from treadle_sdk.extensions import StorageBackend
from treadle_sdk.hookspecs import hookimpl

from .backend import CHUNK_BYTES, LocalStorage, LocalStorageConfig, resolve_key

__all__ = ["CHUNK_BYTES", "LocalStorage", "LocalStorageConfig", "register_storage", "resolve_key"]


@hookimpl
def register_storage(register: Callable[[StorageBackend], None]) -> None:
    """Register the ``local`` storage backend."""
    register(LocalStorage())
