"""The packages type-check under mypy --strict and pass ruff (STYLE.md habit 6): CI runs both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "plugin_sdk/treadle_sdk",
    "kernel/treadle",
    *sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("plugins/*/*/*/__init__.py")),
]


@pytest.mark.slow
def test_mypy_strict_on_every_package() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_on_the_tree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "plugin_sdk", "kernel", "plugins", "tests", "bench", "dev.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
