"""Which installed packages the sandbox shows to Python code (NODE-CODE: Dify's sandbox comes with
numpy and pandas; Treadle adds json-repair): distributions bring what they require."""

from __future__ import annotations

import os

import pytest
from treadle_code_node import CodeExecutionError
from treadle_code_node.packages import package_paths


def names(paths: tuple[str, ...]) -> set[str]:
    return {os.path.basename(path) for path in paths}


def test_a_distribution_brings_the_distributions_it_requires() -> None:
    shown = names(package_paths(("pandas",)))
    assert {"pandas", "numpy", "dateutil"} <= shown
    assert "numpy.libs" in shown or not any(name.endswith(".libs") for name in shown)  # a binary wheel's libraries
    assert not {"pydantic", "treadle_sdk", "pip"} & shown


def test_distribution_and_import_names_both_work() -> None:
    assert names(package_paths(("json-repair",))) == {"json_repair"}
    assert names(package_paths(("json_repair",))) == {"json_repair"}


def test_a_name_that_is_not_installed_is_an_installation_error() -> None:
    with pytest.raises(CodeExecutionError, match="names 'no-such-dist', which is not an installed distribution"):
        package_paths(("json-repair", "no-such-dist"))
