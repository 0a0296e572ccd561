"""The variable pool: every value of a run, addressed by selector ``[node_id, name, *path]``.

Namespaces besides node ids: ``sys`` (query, files, user_id, conversation_id, ...), ``env``
(environment variables, constants), ``conversation`` (conversation variables, writable). A
container run gets a child pool layered over its parent's: it sees everything above it, and what
its nodes produce stays in the layer (so parallel iteration items never see each other's values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from treadle_sdk.nodes import NodeRunError, VariableNotFound

__all__ = ["CONVERSATION", "ENVIRONMENT", "SYSTEM", "VariablePool"]

SYSTEM = "sys"
ENVIRONMENT = "env"
CONVERSATION = "conversation"


#: Attributes of a file object that selectors name differently from its keys (Dify's File: a
#: selector ``[start, doc, name]`` reads the file's ``filename``).
_FILE_ATTRIBUTES = {"name": "filename", "upload_file_id": "related_id"}
_FILE_MARKER = "__dify__file__"


def _walk(value: Any, path: Sequence[str], selector: Sequence[str]) -> Any:
    for part in path:
        if isinstance(value, Mapping):
            if part not in value:
                alias = _FILE_ATTRIBUTES.get(part)
                if alias is None or value.get("dify_model_identity") != _FILE_MARKER or alias not in value:
                    raise VariableNotFound(selector)
                part = alias
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise VariableNotFound(selector)
    return value


class VariablePool:
    """Values by ``(scope, name)``; nested paths walk objects and arrays."""

    __slots__ = ("_parent", "_scopes", "_writable")

    def __init__(self, parent: VariablePool | None = None) -> None:
        self._scopes: dict[str, dict[str, Any]] = {}
        self._parent = parent
        # Scopes that nodes may write through assign(): conversation variables and loop variables.
        self._writable: set[str] = set()

    @classmethod
    def for_run(
        cls,
        *,
        system: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
        conversation: dict[str, Any] | None = None,
    ) -> VariablePool:
        """A top-level pool; ``conversation`` is used as is, so the caller sees what nodes assign."""
        pool = cls()
        pool._scopes[SYSTEM] = dict(system or {})
        pool._scopes[ENVIRONMENT] = dict(environment or {})
        pool._scopes[CONVERSATION] = conversation if conversation is not None else {}
        pool._writable.add(CONVERSATION)
        return pool

    def child(self) -> VariablePool:
        """A layer for one container run."""
        return VariablePool(self)

    # -- reading ----------------------------------------------------------------------------------

    def get(self, selector: Sequence[str]) -> Any:
        """The value at ``selector``; raises :class:`VariableNotFound`."""
        if len(selector) < 2:
            raise VariableNotFound(selector)
        scope_name, name = selector[0], selector[1]
        pool: VariablePool | None = self
        while pool is not None:
            scope = pool._scopes.get(scope_name)
            if scope is not None and name in scope:
                value = scope[name]
                return _walk(value, selector[2:], selector) if len(selector) > 2 else value
            pool = pool._parent
        raise VariableNotFound(selector)

    def has(self, selector: Sequence[str]) -> bool:
        try:
            self.get(selector)
        except VariableNotFound:
            return False
        return True

    def scope(self, scope_name: str) -> dict[str, Any] | None:
        """The values of one node (or namespace) in the nearest layer that has it."""
        pool: VariablePool | None = self
        while pool is not None:
            if scope_name in pool._scopes:
                return pool._scopes[scope_name]
            pool = pool._parent
        return None

    # -- writing ----------------------------------------------------------------------------------

    def set_outputs(self, node_id: str, outputs: dict[str, Any]) -> None:
        """Record a node's outputs in this layer (a node that runs again replaces them)."""
        self._scopes[node_id] = outputs

    def bind_scope(self, scope_name: str, values: dict[str, Any], *, writable: bool = False) -> None:
        """Make ``values`` (kept by reference) readable as ``[scope_name, key]`` in this layer."""
        self._scopes[scope_name] = values
        if writable:
            self._writable.add(scope_name)

    def assign(self, selector: Sequence[str], value: Any) -> None:
        """Write a writable variable (VAR-IMMUTABILITY): conversation or loop variables."""
        if len(selector) != 2:
            raise NodeRunError(f"only whole variables can be assigned, not {'.'.join(selector)}")
        scope_name, name = selector[0], selector[1]
        pool: VariablePool | None = self
        while pool is not None:
            if scope_name in pool._writable:
                pool._scopes[scope_name][name] = value
                return
            pool = pool._parent
        raise NodeRunError(
            f"{'.'.join(selector)} cannot be assigned: only conversation variables and loop variables can",
            error_type="VariableNotWritable",
        )

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The values of this layer (for checkpoints): scope -> name -> value."""
        return {scope: dict(values) for scope, values in self._scopes.items()}

    def restore(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        for scope, scope_values in values.items():
            if scope in self._scopes and scope in self._writable:
                self._scopes[scope].clear()
                self._scopes[scope].update(scope_values)
            else:
                self._scopes[scope] = dict(scope_values)
