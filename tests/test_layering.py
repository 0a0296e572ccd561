"""The kernel's layers (STYLE.md habit 1, DESIGN.md "The engine"): ``treadle.graph`` imports no
store, API, jobs or configuration module of the kernel, and no database, broker or web library,
neither directly nor through another kernel module it imports. There is no exceptions list.

import-linter was tried first; it refuses contracts naming modules that do not exist yet
(``treadle.store``, ``treadle.jobs``), which is exactly when this rule must already hold.
"""

from __future__ import annotations

import ast
from pathlib import Path

import treadle

FORBIDDEN = (
    "treadle.store",
    "treadle.api",
    "treadle.jobs",
    "treadle.config",
    "treadle.server",
    "treadle.cli",
    "sqlite3",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg2",
    "asyncpg",
    "aiosqlite",
    "redis",
    "dramatiq",
    "kombu",
    "celery",
    "starlette",
    "fastapi",
    "uvicorn",
    "httpx",
    "requests",
    "aiohttp",
    "pydantic_settings",
)


def _module_files(root: Path, package: str) -> dict[str, Path]:
    files = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join([package, *parts])] = path
    return files


def _imports(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def violations(root: Path, package: str, source: str, forbidden: tuple[str, ...]) -> list[str]:
    """Chains ``source -> ... -> forbidden`` through the modules of ``package`` found under ``root``."""
    files = _module_files(root, package)
    problems = []
    seen: set[str] = set()
    stack = [(name, [name]) for name in files if name == source or name.startswith(source + ".")]
    while stack:
        module, chain = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        for imported in sorted(_imports(module, files[module])):
            hit = next((f for f in forbidden if imported == f or imported.startswith(f + ".")), None)
            if hit is not None:
                problems.append(" -> ".join([*chain, imported]))
            elif imported in files:
                stack.append((imported, [*chain, imported]))
    return sorted(problems)


def test_graph_imports_no_store_api_jobs_or_infrastructure() -> None:
    root = Path(treadle.__file__).parent
    assert violations(root, "treadle", "treadle.graph", FORBIDDEN) == []


def test_the_check_finds_direct_and_indirect_violations(tmp_path: Path) -> None:
    """The checker itself can fail: a throwaway package with both kinds of violation."""
    pkg = tmp_path / "kern"
    (pkg / "graph").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "graph" / "__init__.py").write_text("from . import engine\n")
    (pkg / "graph" / "engine.py").write_text("import sqlalchemy.orm\nfrom ..util import helper\n")
    (pkg / "util.py").write_text("from .api import routes\n\ndef helper(): ...\n")
    (pkg / "api.py").write_text("import starlette\n")
    found = violations(pkg, "kern", "kern.graph", ("kern.api", "sqlalchemy"))
    assert "kern.graph.engine -> sqlalchemy.orm" in found
    assert any(chain.endswith("kern.util -> kern.api") for chain in found)
