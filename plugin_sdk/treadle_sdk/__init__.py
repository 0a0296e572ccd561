"""The Treadle plugin SDK: the contract between the kernel and plugins.

Plugins import only this package. ``hookspecs`` holds the hooks, ``extensions`` the base classes of
what plugins register, ``schemas`` the descriptions they carry, ``errors`` the typed failures.
"""

from .context import CallContext, KernelClient
from .errors import ErrorCode, PluginError
from .extensions import (
    Extension,
    ExtensionKind,
    ModelProvider,
    NodeType,
    StorageBackend,
    Tool,
    ToolProvider,
    Trigger,
    VectorStore,
)
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "CallContext",
    "ErrorCode",
    "Extension",
    "ExtensionKind",
    "KernelClient",
    "ModelProvider",
    "NodeType",
    "PluginError",
    "StorageBackend",
    "Tool",
    "ToolProvider",
    "Trigger",
    "VectorStore",
    "hookimpl",
]
