"""Which installed Python packages user code may import, and where they live on the host.

The allow-list names distributions (``pandas``, ``json-repair``) or top-level import names
(``json_repair``). A distribution brings the distributions it requires, so ``pandas`` alone makes
numpy, python-dateutil, pytz and tzdata importable too; each distribution contributes the
top-level entries of its installed files (packages, modules, and the ``*.libs`` directories of
binary wheels), which the sandbox shows side by side under ``/sandbox/python``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re

from .errors import CodeExecutionError

__all__ = ["package_paths"]

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")


def _distribution(name: str) -> importlib.metadata.Distribution | None:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _requirements(dist: importlib.metadata.Distribution) -> list[str]:
    """The distributions ``dist`` requires, extras left out."""
    names = []
    for requirement in dist.requires or []:
        if _EXTRA.search(requirement.partition(";")[2]):
            continue
        match = _REQUIREMENT_NAME.match(requirement)
        if match:
            names.append(match.group(1))
    return names


def _top_level(dist: importlib.metadata.Distribution) -> list[str]:
    """The host paths of a distribution's top-level packages and modules."""
    entries: dict[str, None] = {}
    for file in dist.files or []:
        first = file.parts[0]
        if first in {"..", "__pycache__"} or first.endswith((".dist-info", ".egg-info", ".pth", ".data")):
            continue
        entries[first] = None
    paths = [os.path.realpath(str(dist.locate_file(entry))) for entry in entries]
    return [path for path in paths if os.path.exists(path)]


def _module(name: str) -> str | None:
    """The host path of an importable top-level module or package without distribution metadata."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return os.path.realpath(next(iter(spec.submodule_search_locations)))
    if spec.origin and os.path.isfile(spec.origin):
        return os.path.realpath(spec.origin)
    return None


def package_paths(names: tuple[str, ...]) -> tuple[str, ...]:
    """The host paths to show under ``/sandbox/python`` for ``names`` and what they require; each
    name must be installed (:class:`CodeExecutionError` otherwise), a requirement need not be."""
    paths: dict[str, str] = {}  # by the name the path takes in the sandbox
    seen: set[str] = set()
    pending = [(name, True) for name in names]
    while pending:
        name, required = pending.pop(0)
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        dist = _distribution(name)
        if dist is not None:
            for path in _top_level(dist):
                paths.setdefault(os.path.basename(path), path)
            pending += [(requirement, False) for requirement in _requirements(dist)]
            continue
        module = _module(name) if "." not in name else None
        if module is not None:
            paths.setdefault(os.path.basename(module), module)
        elif required:
            raise CodeExecutionError(
                f"TREADLE_CODE_PYTHON_PACKAGES names {name!r}, which is not an installed distribution or top-level "
                "package"
            )
    return tuple(paths.values())
