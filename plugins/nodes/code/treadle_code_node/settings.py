"""The code node's limits: what the sandbox allows a run, and what outputs may hold.

Defaults follow NODE-CODE (Dify's documented limits). The operator changes them with environment
variables read once, when the plugin registers the node type: ``TREADLE_CODE_*`` for the sandbox,
Dify's own ``CODE_MAX_*`` names for the output checks so that a migrated ``.env`` keeps working.
A node's DSL ``data.limits`` may lower the sandbox limits for that node, never raise them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from treadle_sdk.nodes import NodeConfigError

__all__ = ["DEFAULT_PYTHON_PACKAGES", "NODE_LIMITS", "CodeSettings", "OutputLimits", "SandboxLimits"]

#: The sandbox limits a node's ``data.limits`` may lower, with their types.
NODE_LIMITS: dict[str, type[int] | type[float]] = {
    "timeout": float,
    "cpu_seconds": int,
    "memory_mb": int,
    "max_processes": int,
    "max_file_size_mb": int,
}
#: What Python code may import besides the standard library, unless TREADLE_CODE_PYTHON_PACKAGES
#: says otherwise: json-repair, which Dify workflows use to mend JSON written by models, and the
#: numpy, pandas and requests Dify's sandbox comes with (NODE-CODE); each with what it requires.
#: The sandbox has no network, so requests imports (as in corpus file form-chat-demo) but cannot
#: reach anything.
DEFAULT_PYTHON_PACKAGES = ("json-repair", "numpy", "pandas", "requests")
_Number = TypeVar("_Number", int, float)


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """What one run may use. Each run is a fresh process; the limits are per run."""

    #: Wall-clock seconds before the run's processes are killed.
    timeout: float = 15.0
    #: CPU seconds (RLIMIT_CPU) of the process running the code.
    cpu_seconds: int = 15
    #: Address space (RLIMIT_AS) of each process running Python code; for JavaScript the V8 heap
    #: limit, with Node.js's own reservations added to the address-space limit.
    memory_mb: int = 512
    #: Processes and threads the run may have at once (RLIMIT_NPROC, on a uid of its own).
    max_processes: int = 16
    #: Largest file the code may write (RLIMIT_FSIZE), and the size of its writable /tmp.
    max_file_size_mb: int = 10
    #: Largest result (JSON of what main() returned) read back from the sandbox.
    max_result_mb: int = 16

    def lowered(self, raw: Any, path: str) -> SandboxLimits:
        """These limits with a node's ``data.limits`` applied; raises :class:`NodeConfigError`
        for an unknown key, a value that is not a positive number, or one above the operator's."""
        if raw is None:
            return self
        if not isinstance(raw, Mapping):
            raise NodeConfigError("must be an object", path)
        changes: dict[str, Any] = {}
        for key, value in raw.items():
            kind = NODE_LIMITS.get(key)
            if kind is None:
                raise NodeConfigError(f"unknown limit; known: {', '.join(NODE_LIMITS)}", f"{path}.{key}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise NodeConfigError("must be a positive number", f"{path}.{key}")
            if kind is int and value != int(value):
                raise NodeConfigError("must be a whole number", f"{path}.{key}")
            ceiling = getattr(self, key)
            if value > ceiling:
                raise NodeConfigError(f"{value:g} is above the installation's limit of {ceiling:g}", f"{path}.{key}")
            changes[key] = kind(value)
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The checks on what ``main()`` returns (NODE-CODE)."""

    max_string_length: int = 80_000
    max_number: int = 999_999_999
    min_number: int = -999_999_999
    #: Floats are rounded to this many decimal places.
    max_precision: int = 10
    #: Objects and arrays nest at most this deep; the output value itself is level 1.
    max_depth: int = 5
    #: Longest ``array[string]`` / ``array[number]`` / ``array[object]`` output; None: no limit
    #: (Dify's self-hosted defaults are 30, 1000 and 30; its documentation names none).
    max_string_array_length: int | None = None
    max_number_array_length: int | None = None
    max_object_array_length: int | None = None


@dataclass(frozen=True, slots=True)
class CodeSettings:
    """Everything the installation decides about code nodes."""

    limits: SandboxLimits = field(default_factory=SandboxLimits)
    outputs: OutputLimits = field(default_factory=OutputLimits)
    #: Installed distributions (or top-level import names) Python code may import besides the
    #: standard library; each brings the distributions it requires.
    python_packages: tuple[str, ...] = DEFAULT_PYTHON_PACKAGES
    #: The Node.js binary; None: ``node`` on PATH.
    node: str | None = None
    #: Run code without namespaces, chroot or a uid of its own (development only).
    unsafe: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CodeSettings:
        """Defaults overridden by the environment; raises ValueError naming a malformed variable."""
        env = os.environ if environ is None else environ
        sandbox, checks = SandboxLimits(), OutputLimits()
        timeout = _number(env, "TREADLE_CODE_TIMEOUT", float, sandbox.timeout)
        limits = SandboxLimits(
            timeout=timeout,
            cpu_seconds=_number(env, "TREADLE_CODE_CPU_SECONDS", int, math.ceil(timeout)),
            memory_mb=_number(env, "TREADLE_CODE_MEMORY_MB", int, sandbox.memory_mb),
            max_processes=_number(env, "TREADLE_CODE_MAX_PROCESSES", int, sandbox.max_processes),
            max_file_size_mb=_number(env, "TREADLE_CODE_MAX_FILE_SIZE_MB", int, sandbox.max_file_size_mb),
            max_result_mb=_number(env, "TREADLE_CODE_MAX_RESULT_MB", int, sandbox.max_result_mb),
        )
        outputs = OutputLimits(
            max_string_length=_number(env, "CODE_MAX_STRING_LENGTH", int, checks.max_string_length),
            max_number=_number(env, "CODE_MAX_NUMBER", int, checks.max_number, signed=True),
            min_number=_number(env, "CODE_MIN_NUMBER", int, checks.min_number, signed=True),
            max_precision=_number(env, "CODE_MAX_PRECISION", int, checks.max_precision),
            max_depth=_number(env, "CODE_MAX_DEPTH", int, checks.max_depth),
            max_string_array_length=_optional(env, "CODE_MAX_STRING_ARRAY_LENGTH"),
            max_number_array_length=_optional(env, "CODE_MAX_NUMBER_ARRAY_LENGTH"),
            max_object_array_length=_optional(env, "CODE_MAX_OBJECT_ARRAY_LENGTH"),
        )
        packages = env.get("TREADLE_CODE_PYTHON_PACKAGES")
        return cls(
            limits=limits,
            outputs=outputs,
            python_packages=(
                DEFAULT_PYTHON_PACKAGES
                if packages is None
                else tuple(name.strip() for name in packages.split(",") if name.strip())
            ),
            node=env.get("TREADLE_CODE_NODE") or None,
            unsafe=env.get("TREADLE_CODE_SANDBOX_UNSAFE", "").strip().lower() in {"1", "true", "yes"},
        )


def _number(
    env: Mapping[str, str], name: str, kind: type[_Number], default: _Number, *, signed: bool = False
) -> _Number:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = kind(text.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a {'whole ' if kind is int else ''}number") from None
    if not signed and value <= 0:
        raise ValueError(f"{name}={text!r} must be positive")
    return value


def _optional(env: Mapping[str, str], name: str) -> int | None:
    if not env.get(name, "").strip():
        return None
    return _number(env, name, int, 0)
