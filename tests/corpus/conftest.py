"""Collects one row per corpus file and prints the pass table at the end of the session."""

from __future__ import annotations

from typing import Any

import pytest

#: file name -> column -> cell text (filled by the tests in this folder).
TABLE: dict[str, dict[str, str]] = {}


def record(name: str, column: str, cell: str) -> None:
    TABLE.setdefault(name, {})[column] = cell


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not TABLE:
        return
    columns = ["version", "mode", "import", "check", "run"]
    terminalreporter.section("Dify DSL corpus")
    width = max(len(name) for name in TABLE)
    terminalreporter.write_line(f"{'file':<{width}}  " + "  ".join(f"{c:<10}" for c in columns[:3]) + "  check / run")
    for name in sorted(TABLE):
        row = TABLE[name]
        head = "  ".join(f"{row.get(c, '-'):<10}" for c in columns[:3])
        terminalreporter.write_line(f"{name:<{width}}  {head}  {row.get('check', '-')} / {row.get('run', '-')}")
    runs = [row.get("run", "") for row in TABLE.values()]
    imported = sum(1 for row in TABLE.values() if row.get("import") == "ok")
    terminalreporter.write_line(
        f"{len(TABLE)} files: {imported} import; "
        f"{sum(r.startswith('succeeded') for r in runs)} of {sum(bool(r) and r != '-' for r in runs)} runnable ran"
    )
