"""Running user code in a sandbox process, from the plugin host's side (DESIGN.md, "Security").

Each run starts a fresh ``python -I -S _jail.py`` in a new session, with an environment of its own
that holds no secret; the jail (see :mod:`treadle_code_node._jail`) isolates the code with Linux
namespaces, a chroot into a read-only view, resource limits and an unprivileged uid of its own.
This module decides what the view holds, feeds the code and inputs in as JSON on stdin, enforces
the wall-clock timeout by killing the process group, and turns what comes back into a result or a
clear error.

The view: the interpreter's standard library (its site-packages masked by empty mounts), the system
library directories (/lib, /lib64, /usr/lib, /usr/lib64, with the Python and npm package
directories in them masked too) and /etc/ld.so.cache for the dynamic loader, /usr/share/zoneinfo,
the Node.js binary, each allowed Python package under ``/sandbox/python``, /dev/null, /dev/zero,
/dev/random, /dev/urandom, and a writable /tmp of twice ``max_file_size_mb``. Nothing else of the
host's filesystem is there: no /etc, /proc, /sys, /home, /root, /work, no other site-packages.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import signal
import site
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CodeExecutionError, CodeNodeError, SandboxLimitExceeded
from .packages import package_paths
from .settings import CodeSettings, SandboxLimits

__all__ = ["SYSTEM_PACKAGE_DIRS", "SYSTEM_PATHS", "Sandbox"]

_JAIL = Path(__file__).with_name("_jail.py")
#: What the view holds besides the standard library, when present on the host.
SYSTEM_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache", "/usr/share/zoneinfo")
#: Package directories of other interpreters and of npm inside the system library directories:
#: hidden by empty mounts, so that only the allowed packages can be imported.
SYSTEM_PACKAGE_DIRS = (
    "/usr/lib/python3*/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/lib64/python3*/site-packages",
    "/usr/lib/node_modules",
    "/usr/lib64/node_modules",
)
#: How much of the sandbox's stderr is kept for error messages (the end of it).
_STDERR_TAIL = 64 * 1024
#: What stderr holds when a run died of memory exhaustion outside Python's MemoryError.
_OUT_OF_MEMORY = (b"heap out of memory", b"Fatal process OOM", b"MemoryError", b"std::bad_alloc")
#: The sandbox's whole environment: numerical libraries start one thread, not one per core.
_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_UNSAFE_HINT = (
    "The code node's sandbox needs Linux namespaces, which need root or CAP_SYS_ADMIN; on a "
    "development machine, TREADLE_CODE_SANDBOX_UNSAFE=1 runs code without isolation."
)


@dataclass(frozen=True, slots=True)
class _View:
    """What the jail shows of the host (see the module docstring), as the jailer's arguments."""

    root: str
    binds: tuple[str, ...]
    packages: tuple[str, ...]
    masks: tuple[str, ...]


@dataclass(slots=True)
class _Outcome:
    stdout: bytes
    stderr: bytes
    overflow: bool
    timed_out: bool


class Sandbox:
    """Runs code in a fresh jailed process per call; safe to share between concurrent runs."""

    def __init__(self, settings: CodeSettings) -> None:
        self.settings = settings
        self._view: _View | None = None
        self._node_flags: tuple[str, ...] | None = None

    # -- what the sandbox needs ---------------------------------------------------------------

    def node_binary(self) -> str | None:
        """The Node.js binary JavaScript runs with (its real path), or None if there is none."""
        found = shutil.which(self.settings.node or "node")
        return os.path.realpath(found) if found else None

    def missing_node_message(self) -> str:
        where = f"TREADLE_CODE_NODE={self.settings.node}" if self.settings.node else "`node` on PATH"
        return f"JavaScript code needs Node.js, which is not installed here (looked for {where})"

    def view(self) -> _View:
        """The view of the host the jail shows, worked out once."""
        if self._view is None:
            root = os.path.join(tempfile.gettempdir(), "treadle-code-sandbox")
            masks = set(site.getsitepackages([sys.base_prefix, sys.base_exec_prefix]))
            paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
            masks.update((paths["purelib"], paths["platlib"]))
            masks.update(path for pattern in SYSTEM_PACKAGE_DIRS for path in glob.glob(pattern))
            self._view = _View(
                root=root,
                binds=tuple(path for path in SYSTEM_PATHS if os.path.exists(path)),
                packages=package_paths(self.settings.python_packages),
                masks=tuple(sorted(path for path in masks if os.path.isdir(path))),
            )
        return self._view

    async def _node_flags_for(self, node: str) -> tuple[str, ...]:
        """Node.js's permission model (no file system, child processes or workers) where the
        version has it: 20 to 22 as an experimental flag, 23 on as ``--permission``."""
        if self._node_flags is None:
            proc = await asyncio.create_subprocess_exec(
                node, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={}
            )
            out, _ = await proc.communicate()
            try:
                major = int(out.decode().strip().lstrip("v").split(".")[0])
            except ValueError:
                major = 0
            if major >= 23:
                self._node_flags = ("--permission",)
            elif major >= 20:
                self._node_flags = ("--experimental-permission", "--no-warnings")
            else:
                self._node_flags = ()
        return self._node_flags

    async def command(self, language: str, limits: SandboxLimits) -> list[str]:
        """The jailer's command line for one run."""
        if not sys.executable:
            raise CodeExecutionError("the code sandbox needs the path of the Python interpreter, which is unknown")
        argv = [
            sys.executable,
            "-I",
            "-S",
            "-B",
            str(_JAIL),
            f"language={language}",
            f"cpu={limits.cpu_seconds}",
            f"memory={limits.memory_mb}",
            f"nproc={limits.max_processes}",
            f"fsize={limits.max_file_size_mb}",
        ]
        view = self.view()
        argv += [f"package={path}" for path in view.packages]
        if self.settings.unsafe:
            argv.append("unsafe=1")
        else:
            try:
                os.makedirs(view.root, mode=0o755, exist_ok=True)  # a mount point, private to each run
            except OSError as exc:
                raise CodeExecutionError(f"the code sandbox could not be set up: {exc}. {_UNSAFE_HINT}") from None
            argv.append(f"root={view.root}")
            argv += [f"bind={path}" for path in view.binds]
            argv += [f"mask={path}" for path in view.masks]
        if language == "javascript":
            node = self.node_binary()
            if node is None:
                raise CodeExecutionError(self.missing_node_message())
            argv += [f"node={node}", f"bind={node}"]
            argv += [f"node_flag={flag}" for flag in await self._node_flags_for(node)]
        return argv

    # -- one run -------------------------------------------------------------------------------

    async def run(self, language: str, code: str, inputs: Mapping[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        """What ``main()`` returned, as a dict; raises :class:`CodeNodeError` (the code failed or
        passed a limit) or :class:`CodeExecutionError` (the sandbox could not run it)."""
        try:
            payload = json.dumps({"code": code, "inputs": dict(inputs)}).encode()
        except (TypeError, ValueError) as exc:
            raise CodeExecutionError(f"the inputs cannot be passed to the code as JSON: {exc}") from None
        argv = await self.command(language, limits)
        outcome = await self._spawn(argv, payload, limits)
        return self._interpret(outcome, limits)

    async def _spawn(self, argv: list[str], payload: bytes, limits: SandboxLimits) -> _Outcome:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_ENVIRONMENT,  # nothing of the host's environment (secrets) reaches the code
            start_new_session=True,  # its own process group, killed as one
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        cap = limits.max_result_mb << 20
        out, err = bytearray(), bytearray()
        overflow = False

        async def feed() -> None:
            try:
                stdin.write(payload)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the run ended (or failed to start) without reading it all
            finally:
                stdin.close()

        async def read_out() -> None:
            nonlocal overflow
            while chunk := await stdout.read(1 << 16):
                if len(out) + len(chunk) > cap:
                    overflow = True
                else:
                    out.extend(chunk)

        async def read_err() -> None:
            while chunk := await stderr.read(1 << 16):
                err.extend(chunk)
                if len(err) > 2 * _STDERR_TAIL:
                    del err[:-_STDERR_TAIL]

        timed_out = False
        try:
            async with asyncio.timeout(limits.timeout):
                await asyncio.gather(feed(), read_out(), read_err(), proc.wait())
        except TimeoutError:
            timed_out = True
        finally:
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()
        return _Outcome(bytes(out), bytes(err[-_STDERR_TAIL:]), overflow, timed_out)

    # -- what came back ------------------------------------------------------------------------

    def _interpret(self, outcome: _Outcome, limits: SandboxLimits) -> dict[str, Any]:
        if outcome.timed_out:
            raise SandboxLimitExceeded(
                f"the code did not finish within {limits.timeout:g} s and was stopped", limit="timeout"
            )
        head, _, status_line = outcome.stdout.rstrip(b"\n").rpartition(b"\n")
        status = _json(status_line)
        if not isinstance(status, dict):
            raise CodeExecutionError(f"the code sandbox ended without a status{_last_line(outcome.stderr)}")
        if "setup_error" in status:
            raise CodeExecutionError(f"the code sandbox could not be set up: {status['setup_error']}. {_UNSAFE_HINT}")
        if outcome.overflow:
            raise SandboxLimitExceeded(
                f"the code returned more than {limits.max_result_mb} MB of results", limit="output"
            )
        message = _json(head.rstrip(b"\n").rpartition(b"\n")[2])
        if isinstance(message, dict) and "ok" in message:
            if message["ok"] is True and isinstance(message.get("result"), dict):
                result: dict[str, Any] = message["result"]
                return result
            raise _code_error(message, limits)
        raise _crash(status, outcome.stderr, limits)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _last_line(stderr: bytes) -> str:
    """``": <the last line the code or the runtime printed>"``, or nothing."""
    for line in reversed(stderr.decode(errors="replace").splitlines()):
        if line.strip():
            return f": {line.strip()[:500]}"
    return ""


def _code_error(message: Mapping[str, Any], limits: SandboxLimits) -> CodeNodeError:
    """The error for a failure the runner reported: the traceback's last line, and the line."""
    line = message.get("line") if isinstance(message.get("line"), int) else None
    text = str(message.get("message") or "the code failed")
    at = f" (line {line})" if line else ""
    kind = message.get("kind")
    if kind == "cpu":
        return SandboxLimitExceeded(
            f"the code used more than {limits.cpu_seconds} s of CPU time and was stopped{at}", limit="cpu", line=line
        )
    if kind == "memory":
        return SandboxLimitExceeded(
            f"the code ran out of memory (limit {limits.memory_mb} MB): {text}{at}", limit="memory", line=line
        )
    if kind == "processes":
        return SandboxLimitExceeded(
            f"the code tried to start more processes or threads than the sandbox allows "
            f"({limits.max_processes}): {text}{at}",
            limit="processes",
            line=line,
        )
    if kind == "file_size":
        return SandboxLimitExceeded(
            f"the code wrote more than the sandbox allows ({limits.max_file_size_mb} MB per file, "
            f"twice that in /tmp): {text}{at}",
            limit="file_size",
            line=line,
        )
    return CodeNodeError(f"{text}{at}", line=line)


def _crash(status: Mapping[str, Any], stderr: bytes, limits: SandboxLimits) -> CodeNodeError:
    """The error for a run that ended without a result: killed by a limit, or exited early."""
    signum = int(status.get("signal") or 0)
    exit_code = int(status.get("exit") or 0)
    cpu = float(status.get("cpu") or 0.0)
    if signum == signal.SIGXCPU or (signum == signal.SIGKILL and cpu >= limits.cpu_seconds):
        return SandboxLimitExceeded(
            f"the code used more than {limits.cpu_seconds} s of CPU time and was stopped", limit="cpu"
        )
    if any(marker in stderr for marker in _OUT_OF_MEMORY):
        return SandboxLimitExceeded(f"the code ran out of memory (limit {limits.memory_mb} MB)", limit="memory")
    if signum == signal.SIGXFSZ:
        return SandboxLimitExceeded(
            f"the code wrote a file larger than the sandbox allows ({limits.max_file_size_mb} MB)", limit="file_size"
        )
    if signum:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return CodeNodeError(f"the code was killed by {name}{_last_line(stderr)}")
    if exit_code:
        return CodeNodeError(f"the code exited with status {exit_code} before returning a result{_last_line(stderr)}")
    return CodeNodeError(f"the code ended without returning a result{_last_line(stderr)}")
