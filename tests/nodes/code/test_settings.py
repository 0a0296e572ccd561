"""The code node's limits (NODE-CODE): defaults, the operator's environment variables, and a node's
``data.limits``, which may lower them only."""

from __future__ import annotations

import pytest
from treadle_code_node import CodeSettings, OutputLimits, SandboxLimits
from treadle_sdk.nodes import NodeConfigError


def test_the_defaults_are_the_documented_limits() -> None:
    settings = CodeSettings.from_env({})
    assert settings.limits == SandboxLimits(timeout=15.0, cpu_seconds=15, memory_mb=512, max_processes=16)
    assert settings.outputs == OutputLimits(
        max_string_length=80_000, max_number=999_999_999, min_number=-999_999_999, max_precision=10, max_depth=5
    )
    assert settings.python_packages == ("json-repair", "numpy", "pandas", "requests")
    assert settings.unsafe is False


def test_the_environment_overrides_the_defaults() -> None:
    settings = CodeSettings.from_env(
        {
            "TREADLE_CODE_TIMEOUT": "2.5",
            "TREADLE_CODE_MEMORY_MB": "256",
            "TREADLE_CODE_MAX_PROCESSES": "4",
            "TREADLE_CODE_PYTHON_PACKAGES": "json_repair, yaml",
            "TREADLE_CODE_NODE": "/opt/node/bin/node",
            "TREADLE_CODE_SANDBOX_UNSAFE": "1",
            "CODE_MAX_STRING_LENGTH": "400000",
            "CODE_MIN_NUMBER": "-9223372036854775808",
            "CODE_MAX_STRING_ARRAY_LENGTH": "30",
        }
    )
    assert settings.limits.timeout == 2.5
    assert settings.limits.cpu_seconds == 3  # follows the timeout unless set
    assert settings.limits.memory_mb == 256
    assert settings.limits.max_processes == 4
    assert settings.python_packages == ("json_repair", "yaml")
    assert settings.node == "/opt/node/bin/node"
    assert settings.unsafe is True
    assert settings.outputs.max_string_length == 400_000
    assert settings.outputs.min_number == -(2**63)
    assert settings.outputs.max_string_array_length == 30
    assert CodeSettings.from_env({"TREADLE_CODE_PYTHON_PACKAGES": ""}).python_packages == ()


@pytest.mark.parametrize(
    ("name", "value"), [("TREADLE_CODE_TIMEOUT", "soon"), ("TREADLE_CODE_MEMORY_MB", "0"), ("CODE_MAX_DEPTH", "2.5")]
)
def test_a_malformed_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        CodeSettings.from_env({name: value})


def test_a_node_may_lower_the_limits() -> None:
    limits = SandboxLimits().lowered({"timeout": 2, "memory_mb": 128}, "limits")
    assert limits.timeout == 2.0
    assert limits.memory_mb == 128
    assert limits.cpu_seconds == SandboxLimits().cpu_seconds
    assert SandboxLimits().lowered(None, "limits") == SandboxLimits()


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"timeout": 60}, "limits.timeout", "above the installation's limit of 15"),
        ({"memory_mb": 0}, "limits.memory_mb", "positive number"),
        ({"max_processes": 2.5}, "limits.max_processes", "whole number"),
        ({"network": True}, "limits.network", "unknown limit"),
        ([1], "limits", "must be an object"),
    ],
)
def test_a_node_cannot_raise_or_invent_limits(raw: object, path: str, message: str) -> None:
    with pytest.raises(NodeConfigError, match=message) as caught:
        SandboxLimits().lowered(raw, "limits")
    assert caught.value.path == path
