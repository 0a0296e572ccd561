"""The corpus pass table: one row per Dify DSL file, filled by tests/corpus and printed at the end
of the session.

Under pytest-xdist the tests run in worker processes and the summary is printed by the controller,
so each cell travels on its test's report (``user_properties``) and is gathered from the reports by
the root conftest; without xdist the same path runs in one process."""

from __future__ import annotations

from typing import Any

#: file name -> column -> cell text (in the process that prints the summary).
TABLE: dict[str, dict[str, str]] = {}
#: Cells recorded by the test running now, attached to its report when it ends.
PENDING: list[tuple[str, str, str]] = []
PROPERTY = "dify_corpus_cell"


def record(name: str, column: str, cell: str) -> None:
    PENDING.append((name, column, cell))


def take_pending() -> list[tuple[str, Any]]:
    """The pending cells as report properties, and none left pending."""
    cells = [(PROPERTY, cell) for cell in PENDING]
    PENDING.clear()
    return cells


def gather(properties: list[tuple[str, Any]]) -> None:
    for key, value in properties:
        if key == PROPERTY:
            name, column, cell = value
            TABLE.setdefault(name, {})[column] = cell


def summary_lines() -> list[str]:
    if not TABLE:
        return []
    columns = ["version", "mode", "import"]
    width = max(len(name) for name in TABLE)
    lines = [f"{'file':<{width}}  " + "  ".join(f"{c:<10}" for c in columns) + "  check / run"]
    for name in sorted(TABLE):
        row = TABLE[name]
        head = "  ".join(f"{row.get(c, '-'):<10}" for c in columns)
        lines.append(f"{name:<{width}}  {head}  {row.get('check', '-')} / {row.get('run', '-')}")
    runs = [row.get("run", "") for row in TABLE.values()]
    imported = sum(1 for row in TABLE.values() if row.get("import") == "ok")
    lines.append(
        f"{len(TABLE)} files: {imported} import; "
        f"{sum(r.startswith('succeeded') for r in runs)} of {sum(bool(r) and r != '-' for r in runs)} runnable ran"
    )
    return lines
