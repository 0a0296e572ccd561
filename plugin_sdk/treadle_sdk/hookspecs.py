"""THE contract between the Treadle kernel and its plugins.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names are hooks below. The
kernel finds plugins through entry points in group ``treadle`` (and, in tests, by direct
registration), loads each isolation group of them into a host process, and calls the registration
hooks once per plugin when the host starts. Each registration hook receives a ``register`` callback:
the plugin hands its extensions to it, and the kernel decides what to do about name collisions,
validation and tenant scoping. A plugin implements only the hooks it needs.

The same hooks run unchanged in process (isolation ``inline``) and out of process.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from .extensions import ModelProvider, NodeType, StorageBackend, ToolProvider, Trigger, VectorStore

__all__ = [
    "PROJECT",
    "hookimpl",
    "hookspec",
    "register_models",
    "register_node_types",
    "register_storage",
    "register_tools",
    "register_triggers",
    "register_vector_stores",
]

#: The pluggy project name; also the entry point group plugins are published under.
PROJECT = "treadle"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Registration: called once per plugin, when its host process (or the inline host) starts
# ---------------------------------------------------------------------------------------------


@hookspec
def register_models(register: Callable[[ModelProvider], None]) -> None:
    """Register model providers.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.ModelProvider` instance the
        plugin offers. A provider's ``schema.name`` must be unique across all loaded plugins; the
        kernel refuses the second of two providers with the same name and names both plugins.
    """


@hookspec
def register_tools(register: Callable[[ToolProvider], None]) -> None:
    """Register tool providers, each with its tools.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.ToolProvider` instance. Its
        ``schema.name`` must be unique among tool providers; its ``tools`` must have distinct names.
    """


@hookspec
def register_node_types(register: Callable[[NodeType], None]) -> None:
    """Register workflow node types.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.NodeType` instance. Its
        ``schema.name`` is the DSL node ``type`` it runs (``if-else``, ``code``) and must be unique.
    """


@hookspec
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Register vector store backends for knowledge bases.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.VectorStore` instance; the
        operator picks one by ``schema.name`` in ``treadle.toml``.
    """


@hookspec
def register_storage(register: Callable[[StorageBackend], None]) -> None:
    """Register file storage backends.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.StorageBackend` instance; the
        operator picks one by ``schema.name`` in ``treadle.toml``.
    """


@hookspec
def register_triggers(register: Callable[[Trigger], None]) -> None:
    """Register triggers: sources of outside events that start workflow runs.

    Called once, when the plugin's host starts, before any call is served.

    :param register: call it with each :class:`~treadle_sdk.extensions.Trigger` instance. Its
        ``schema.name`` must be unique among triggers.
    """
