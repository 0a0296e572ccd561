"""Loading plugins and collecting what they register.

A :class:`Registry` owns one pluggy ``PluginManager``. Each plugin's registration hooks are called
separately, so every extension is attributed to the plugin that registered it, and a plugin whose
hooks fail (or that registers something invalid or already taken) is rejected whole, with the reason
kept, while the others load.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, RegistrationError
from .extensions import Extension, ExtensionKind, ToolProvider, base_class

log = logging.getLogger(__name__)

__all__ = ["REGISTRATION_HOOKS", "ExtensionEntry", "ExtensionTable", "LoadedPlugin", "Registry", "find_entry_points"]

#: Which registration hook registers which extension kind.
REGISTRATION_HOOKS: dict[str, ExtensionKind] = {
    "register_models": ExtensionKind.MODEL_PROVIDER,
    "register_tools": ExtensionKind.TOOL_PROVIDER,
    "register_node_types": ExtensionKind.NODE_TYPE,
    "register_vector_stores": ExtensionKind.VECTOR_STORE,
    "register_storage": ExtensionKind.STORAGE,
    "register_triggers": ExtensionKind.TRIGGER,
}


@dataclass
class LoadedPlugin:
    """A plugin the registry tried to load; ``load_error`` is empty when it loaded."""

    name: str
    distribution: str = ""
    version: str = ""
    load_error: str = ""


@dataclass(frozen=True)
class ExtensionEntry:
    """One registered extension as the rest of the system sees it."""

    kind: ExtensionKind
    name: str
    plugin: str
    schema: dict[str, Any]
    operations: tuple[str, ...]
    extension: Extension | None = field(default=None, compare=False, repr=False)


def schema_of(ext: Extension) -> dict[str, Any]:
    """The JSON form of an extension's schema (tool providers include their tools)."""
    schema = ext.describe() if isinstance(ext, ToolProvider) else ext.schema
    return schema.model_dump(mode="json")


class ExtensionTable:
    """Extensions by kind and name; the second claim on a name is refused, naming both plugins."""

    def __init__(self) -> None:
        self._entries: dict[tuple[ExtensionKind, str], ExtensionEntry] = {}

    def check(self, entry: ExtensionEntry) -> None:
        taken = self._entries.get((entry.kind, entry.name))
        if taken is not None and taken.plugin != entry.plugin:
            raise RegistrationError(
                f"{entry.kind.value} {entry.name!r} is already registered by plugin {taken.plugin!r}",
                plugin=entry.plugin,
                details={"kind": entry.kind.value, "name": entry.name, "registered_by": taken.plugin},
            )
        if taken is not None:
            raise RegistrationError(
                f"{entry.kind.value} {entry.name!r} is registered twice", plugin=entry.plugin
            )

    def add_all(self, entries: list[ExtensionEntry]) -> None:
        """Add entries all or none."""
        seen: set[tuple[ExtensionKind, str]] = set()
        for entry in entries:
            self.check(entry)
            key = (entry.kind, entry.name)
            if key in seen:
                raise RegistrationError(f"{entry.kind.value} {entry.name!r} is registered twice", plugin=entry.plugin)
            seen.add(key)
        for entry in entries:
            self._entries[(entry.kind, entry.name)] = entry

    def remove_plugin(self, plugin: str) -> None:
        for key in [k for k, e in self._entries.items() if e.plugin == plugin]:
            del self._entries[key]

    def get(self, kind: ExtensionKind | str, name: str) -> ExtensionEntry | None:
        return self._entries.get((ExtensionKind(kind), name))

    def names(self, kind: ExtensionKind | str) -> list[str]:
        kind = ExtensionKind(kind)
        return sorted(name for k, name in self._entries if k is kind)

    def __iter__(self) -> Iterator[ExtensionEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        """Let every extension release what it holds (:meth:`Extension.aclose`), once each, when
        its host stops; a failure is logged and the others still close."""
        closed: set[int] = set()
        for entry in self:
            ext = entry.extension
            if ext is None or id(ext) in closed:
                continue
            closed.add(id(ext))
            try:
                await ext.aclose()
            except Exception:
                log.exception("closing %s %r of plugin %r failed", entry.kind.value, entry.name, entry.plugin)


def find_entry_points(names: Iterable[str] | None = None) -> list[importlib.metadata.EntryPoint]:
    """Installed entry points of group ``treadle``, optionally only those named."""
    eps = list(importlib.metadata.entry_points(group=hookspecs.PROJECT))
    if names is not None:
        wanted = set(names)
        eps = [ep for ep in eps if ep.name in wanted]
    return sorted(eps, key=lambda ep: ep.name)


def _import_object(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class Registry:
    """The plugins of one host (or of the inline host) and the extensions they registered."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self.extensions = ExtensionTable()

    # -- loading --------------------------------------------------------------------------------

    def load_entry_point(self, ep: importlib.metadata.EntryPoint) -> LoadedPlugin:
        dist = ep.dist
        info = LoadedPlugin(ep.name, dist.name if dist else "", dist.version if dist else "")
        try:
            obj = ep.load()
        except Exception as exc:  # an import failure is reported per plugin, not fatal to the host
            info.load_error = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
            self.plugins[ep.name] = info
            return info
        return self.add_plugin(obj, info)

    def load_path(self, path: str) -> LoadedPlugin:
        """Load a plugin by import path, ``package.module`` or ``package.module:attribute``."""
        info = LoadedPlugin(path)
        try:
            obj = _import_object(path)
        except Exception as exc:
            info.load_error = f"import of {path!r} failed: {type(exc).__name__}: {exc}"
            self.plugins[path] = info
            return info
        return self.add_plugin(obj, info)

    def add_plugin(self, obj: Any, info: LoadedPlugin | str) -> LoadedPlugin:
        """Register a plugin object (module, class or instance) and run its registration hooks."""
        if isinstance(info, str):
            info = LoadedPlugin(info)
        if info.name in self.plugins and not self.plugins[info.name].load_error:
            info.load_error = f"a plugin named {info.name!r} is already loaded"
            return info
        self.plugins[info.name] = info
        try:
            self.pm.register(obj, name=info.name)
        except ValueError as exc:  # the object or the name is registered already
            info.load_error = f"pluggy refused the plugin: {exc}"
            return info
        except pluggy.PluginValidationError as exc:  # a hookimpl takes arguments its hookspec lacks
            # pluggy before 1.6 leaves the plugin half registered when validation fails.
            if self.pm.get_plugin(info.name) is obj:
                self.pm.unregister(name=info.name)
            info.load_error = f"pluggy refused the plugin: {exc}"
            return info
        unknown = self._unknown_hooks(info.name)
        if unknown:
            # pluggy accepts hookimpls without a hookspec; here they are typos that would register nothing.
            self.pm.unregister(name=info.name)
            info.load_error = (
                f"the plugin implements {', '.join(unknown)}, which is not a treadle hook; "
                f"the hooks are {', '.join(sorted(REGISTRATION_HOOKS))} "
                "(mark a hook of a newer SDK with @hookimpl(optionalhook=True))"
            )
            return info
        try:
            self.extensions.add_all(self._collect(info.name))
        except PluginError as exc:
            info.load_error = exc.message
            self.pm.unregister(name=info.name)
        except Exception as exc:  # a hook raised: reject the plugin, keep the reason
            info.load_error = f"a registration hook raised {type(exc).__name__}: {exc}"
            self.pm.unregister(name=info.name)
        return info

    def remove_plugin(self, name: str) -> None:
        self.extensions.remove_plugin(name)
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)

    def _unknown_hooks(self, plugin: str) -> list[str]:
        callers = self.pm.get_hookcallers(self.pm.get_plugin(plugin)) or []
        return sorted(
            caller.name
            for caller in callers
            if not caller.has_spec()
            and any(impl.plugin_name == plugin and not impl.optionalhook for impl in caller.get_hookimpls())
        )

    def _collect(self, plugin: str) -> list[ExtensionEntry]:
        collected: list[ExtensionEntry] = []
        for hook_name, kind in REGISTRATION_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                if impl.plugin_name != plugin:
                    continue
                # As pluggy calls hooks: an implementation may take fewer arguments than the spec.
                arguments = {"register": self._register_callback(plugin, hook_name, kind, collected)}
                impl.function(*(arguments[name] for name in impl.argnames))
        return collected

    def _register_callback(
        self, plugin: str, hook_name: str, kind: ExtensionKind, into: list[ExtensionEntry]
    ) -> Callable[[Extension], None]:
        expected = base_class(kind)

        def register(ext: Extension) -> None:
            if not isinstance(ext, expected):
                raise RegistrationError(
                    f"{hook_name} was given a {type(ext).__name__}; it takes {expected.__name__} instances",
                    plugin=plugin,
                )
            try:
                ext.check()
            except RegistrationError as exc:
                raise RegistrationError(exc.message, plugin=plugin, details=exc.details) from None
            into.append(
                ExtensionEntry(kind, ext.name, plugin, schema_of(ext), tuple(ext.operations()), ext)
            )

        return register
