"""An agent's trace, as Dify's ``agent_log`` events shape it.

Each round is an entry labelled ``ROUND 1``, ``ROUND 2`` ...; under it, one entry for the model's
thought (``<model> Thought``) and one per tool call (``CALL <tool>``). Every entry is sent when it
starts (status ``start``) and again, with the same ``id``, when it ends (``success`` or ``error``),
through :meth:`~treadle_sdk.nodes.NodeRuntime.log`. The entries as they ended also go into the
node's ``json`` output, so later nodes can read the reasoning trace.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from treadle_sdk.model_runtime import LLMUsage
from treadle_sdk.nodes import NodeRuntime

__all__ = ["AgentLog", "usage_metadata"]

Status = Literal["success", "error"]


def usage_metadata(usage: LLMUsage) -> dict[str, Any]:
    """The metadata Dify shows for a model call's cost."""
    return {"total_price": usage.total_price, "currency": usage.currency, "total_tokens": usage.total_tokens}


class AgentLog:
    """The entries of one agent run, sent to the run's trace as they start and end."""

    def __init__(self, rt: NodeRuntime) -> None:
        self._rt = rt
        self._entries: dict[str, dict[str, Any]] = {}
        self._started: dict[str, float] = {}

    def start(
        self, label: str, *, parent: str | None = None, data: Mapping[str, Any] | None = None, **metadata: Any
    ) -> str:
        """Open an entry; its id, to pass to :meth:`end` (and as ``parent`` of entries under it)."""
        entry_id = str(uuid.uuid4())
        now = time.time()
        self._started[entry_id] = time.perf_counter()
        entry = {
            "id": entry_id,
            "label": label,
            "parent_id": parent,
            "status": "start",
            "data": dict(data or {}),
            "metadata": {"started_at": now, **metadata},
            "error": None,
        }
        self._entries[entry_id] = entry
        self._rt.log(dict(entry))
        return entry_id

    def end(
        self,
        entry_id: str,
        *,
        status: Status = "success",
        data: Mapping[str, Any] | None = None,
        error: str | None = None,
        **metadata: Any,
    ) -> None:
        """Close an entry with what came of it (``data`` replaces the entry's data)."""
        entry = self._entries[entry_id]
        elapsed = time.perf_counter() - self._started[entry_id]
        entry["status"] = status
        if data is not None:
            entry["data"] = dict(data)
        entry["metadata"] = {**entry["metadata"], **metadata, "finished_at": time.time(), "elapsed_time": elapsed}
        entry["error"] = error
        self._rt.log(dict(entry))

    def add(self, entry: Mapping[str, Any]) -> None:
        """Pass on an entry made elsewhere (a tool's own log messages)."""
        self._entries[str(entry["id"])] = dict(entry)
        self._rt.log(dict(entry))

    def fail_open(self, error: str) -> None:
        """Close every entry still open as failed (the node is failing)."""
        for entry_id, entry in self._entries.items():
            if entry["status"] == "start":
                self.end(entry_id, status="error", error=error)

    def entries(self) -> list[dict[str, Any]]:
        """Every entry as it stands, in the order they started."""
        return [dict(entry) for entry in self._entries.values()]
