"""Helpers of the kernel tests: throwaway plugin paths, short data directories, bounded waits."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from support.waiting import eventually
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

__all__ = [
    "PLUGINS",
    "call_tool",
    "eventually",
    "pid_alive",
    "plan",
    "plugin_path",
    "row_of",
    "settings_in",
    "short_home",
    "spec",
    "text_of",
]

T = TypeVar("T")

#: The package of the throwaway plugins, named as this test package is imported (``kernel`` when
#: pytest puts tests/ on sys.path, ``tests.kernel`` when the repository root is a package root).
#: Host processes get the kernel's sys.path, so the same name imports there.
PLUGINS = f"{__package__}.plugins_for_tests"


def plugin_path(module: str, attribute: str = "") -> str:
    """The import path of a throwaway plugin: ``module`` of plugins_for_tests, optionally ``:attribute``."""
    return f"{PLUGINS}.{module}" + (f":{attribute}" if attribute else "")


def spec(module: str, attribute: str = "") -> PluginSpec:
    path = plugin_path(module, attribute)
    return PluginSpec(path, path=path)


def plan(name: str, placement: str, *specs: PluginSpec) -> GroupPlan:
    """A group running inline (``placement == "inline"``) or in a host process of its own."""
    return GroupPlan(name, placement == "inline", specs)


@contextlib.contextmanager
def short_home() -> Iterator[Path]:
    """A data directory whose path is short enough for host sockets to live in its ``run/``."""
    path = Path(tempfile.mkdtemp(prefix="trk-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def row_of(supervisor: PluginSupervisor, plugin: str) -> dict[str, Any]:
    """The supervisor's table row of one plugin."""
    (row,) = [row for row in supervisor.table() if row["name"] == plugin]
    return row


def text_of(path: Path) -> str:
    """The text of a file, or "" while it does not exist."""
    return path.read_text() if path.exists() else ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def call_tool(
    supervisor: PluginSupervisor,
    provider: str,
    tool: str,
    *,
    tenant_id: str = "",
    timeout: float | None = None,
    **parameters: Any,
) -> list[Any]:
    """The messages of one tool call through the supervisor."""
    payload = {"tool": tool, "parameters": parameters}
    options: dict[str, Any] = {"tenant_id": tenant_id}
    if timeout is not None:
        options["timeout"] = timeout
    result: list[Any] = await supervisor.call("tool_provider", provider, "invoke_tool", payload, **options)
    return result


def settings_in(home: Path, **plugins: Any) -> Settings:
    """Settings with data directory ``home`` and the given ``[plugins]`` values."""
    return Settings.load(home=home, plugins=plugins)
