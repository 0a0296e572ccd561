"""The sandbox process of one code node run: it builds the jail, then runs the user's code in it.

Never imported by the plugin host. :mod:`treadle_code_node.sandbox` starts it as
``python -I -S _jail.py KEY=VALUE ...`` with an empty environment, so it uses the standard library
only and sees no site-packages. Three processes take part:

* the **jailer** (this script's first process, root, trusted code only) makes new mount, network,
  PID, IPC, UTS and cgroup namespaces, and in its private mount namespace builds the read-only view
  the code may see: a tmpfs holding bind mounts of the interpreter's standard library, the system
  library directories, the allowed packages, the Node.js binary, a few /dev nodes and a small
  writable /tmp. It forks the init, waits for it and writes the status line.
* the **init** (PID 1 of the new PID namespace) forks the worker and reaps; when it exits, the kernel
  kills every process left in the namespace, so nothing the code started outlives the run.
* the **worker** chroots into the view, sets its resource limits, drops to a uid of its own with no
  capabilities and ``no_new_privs``, then runs the code: Python in this same interpreter (the code
  and inputs arrive on stdin, parsed only here, inside the jail), JavaScript by exec'ing Node.js
  with ``runner.js``.

Output on stdout: the worker's result, one JSON line written to fd 3, then, once the run has ended,
the jailer's status line ``{"exit": N, "signal": N, "cpu": SECONDS}`` or ``{"setup_error": TEXT}``.
Whatever the code prints goes to stderr.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

TYPE_CHECKING = False  # importing typing would add 10 ms to every run's start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

#: The worker runs as UID_BASE + the jailer's pid: a uid no one else uses, so that RLIMIT_NPROC
#: counts this run's processes only.
UID_BASE = 1_000_000_000
#: Where the user's Python packages appear inside the jail.
PACKAGES = "/sandbox/python"
#: Address space Node.js reserves for itself (code range, thread stacks) on top of its heap.
NODE_RESERVE_MB = 1024
#: Descriptor of the result inside the worker (the original stdout).
RESULT_FD = 3
#: The filename user code is compiled under; tracebacks are searched for it.
CODE_FILENAME = "<code>"

_libc = ctypes.CDLL(None, use_errno=True)
#: Forks keep it: the init and the worker know the jailer's pid.
_JAILER_PID = os.getpid()


class SetupError(Exception):
    """A step of building the jail failed."""


class Options:
    """The jailer's arguments: ``KEY=VALUE`` words, list keys repeated."""

    def __init__(self, argv: list[str]) -> None:
        values: dict[str, list[str]] = {}
        for word in argv:
            key, _, value = word.partition("=")
            values.setdefault(key, []).append(value)
        self.language = values["language"][0]
        self.root = values.get("root", [""])[0]
        self.cpu = int(values["cpu"][0])
        self.memory_mb = int(values["memory"][0])
        self.nproc = int(values["nproc"][0])
        self.fsize_mb = int(values["fsize"][0])
        self.unsafe = values.get("unsafe", ["0"])[0] == "1"
        self.binds = values.get("bind", [])
        self.packages = values.get("package", [])
        self.masks = values.get("mask", [])
        self.node = values.get("node", [""])[0]
        self.node_flags = [flag for flag in values.get("node_flag", []) if flag]
        #: The JavaScript runner's source, read before the jail hides this directory.
        self.runner = ""
        if self.language == "javascript":
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.js"), encoding="utf-8") as file:
                self.runner = file.read()


# ---------------------------------------------------------------------------------------------
# The jailer
# ---------------------------------------------------------------------------------------------


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what} failed: {os.strerror(errno)} (errno {errno})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def _bind(source: str, target: str, flags: int) -> None:
    """Bind ``source`` on ``target`` (created as a directory or an empty file), then make it
    read-only with ``flags``."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | flags)


def _outermost(paths: list[str]) -> list[str]:
    """The paths that are not inside another one of them (a bind shows what is beneath it)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == top or path.startswith(top.rstrip("/") + "/") for top in kept):
            kept.append(path)
    return kept


def build_view(opts: Options) -> None:
    """New namespaces, and the read-only view of the filesystem mounted at ``opts.root``."""
    _check(
        _libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP),
        "unshare (new mount, network, PID, IPC, UTS and cgroup namespaces)",
    )
    root = opts.root
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    readonly = MS_RDONLY | MS_NOSUID | MS_NODEV
    # The standard library of this interpreter, as -I -S sees it, plus what the sandbox module chose.
    stdlib = [path for path in sys.path if path and os.path.exists(path)]
    for path in _outermost([*stdlib, *opts.binds]):
        _bind(path, root + path, readonly)
    for path in opts.packages:
        _bind(path, f"{root}{PACKAGES}/{os.path.basename(path)}", readonly)
    for path in opts.masks:
        if os.path.isdir(root + path):
            _mount("tmpfs", root + path, "tmpfs", readonly, "size=4k,mode=755")
    os.makedirs(f"{root}{PACKAGES}", exist_ok=True)
    for device in ("null", "zero", "random", "urandom"):
        _bind(f"/dev/{device}", f"{root}/dev/{device}", MS_NOSUID | MS_NOEXEC)
    os.makedirs(f"{root}/tmp")
    # Twice the largest file: one file too large fails on RLIMIT_FSIZE, many on the tmpfs's size.
    tmp_size = 2 * opts.fsize_mb
    _mount("tmpfs", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={tmp_size}m,mode=1777")
    _mount(None, root, None, MS_REMOUNT | readonly)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _status(text: str) -> None:
    _write_all(1, b"\n" + text.encode() + b"\n")


def _forked(body: Callable[..., NoReturn], *args: Any) -> NoReturn:
    """Run ``body`` in a forked process, which must never return into its parent's code."""
    try:
        body(*args)
    except BaseException:
        import traceback

        traceback.print_exc()  # reaches the host's stderr: a fault of the sandbox, not the code
    finally:
        os._exit(70)


def jailer(argv: list[str]) -> int:
    opts = Options(argv)
    if not opts.unsafe:
        try:
            build_view(opts)
        except (SetupError, OSError) as exc:
            import json

            _status(json.dumps({"setup_error": str(exc)}))
            return 0
    alive_r, alive_w = os.pipe()  # closes when the jailer dies: the init checks it once
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        _forked(init, opts, alive_r)
    os.close(alive_r)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    exit_code, signum = (code, 0) if code >= 0 else (0, -code)
    if exit_code > 128:  # the init passes on the worker's death by a signal as 128 + signal
        exit_code, signum = 0, exit_code - 128
    _status(f'{{"exit": {exit_code}, "signal": {signum}, "cpu": {usage.ru_utime + usage.ru_stime:.3f}}}')
    return 0


# ---------------------------------------------------------------------------------------------
# The init
# ---------------------------------------------------------------------------------------------


def init(opts: Options, alive: int) -> NoReturn:
    """Fork the worker, reap every child until it ends, exit with its status: its exit code (at
    most 127), or 128 + the signal that killed it."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    import select

    if select.select([alive], [], [], 0)[0]:  # the jailer died before the line above
        os._exit(71)
    os.close(alive)
    worker_pid = os.fork()
    if worker_pid == 0:
        _forked(worker, opts)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(72)
        if pid == worker_pid:
            break
    try:  # what the worker left behind (in unsafe mode there is no PID namespace to do it)
        os.killpg(worker_pid, signal.SIGKILL)
    except OSError:
        pass
    code = os.waitstatus_to_exitcode(status)
    os._exit(min(code, 127) if code >= 0 else 128 - code)


# ---------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------


def worker(opts: Options) -> NoReturn:
    """Enter the jail, then run the code."""
    os.setpgid(0, 0)
    memory = opts.memory_mb + (NODE_RESERVE_MB if opts.language == "javascript" else 0)
    limits = [
        (resource.RLIMIT_CPU, opts.cpu, opts.cpu + 1),
        (resource.RLIMIT_AS, memory << 20, memory << 20),
        (resource.RLIMIT_FSIZE, opts.fsize_mb << 20, opts.fsize_mb << 20),
        (resource.RLIMIT_NOFILE, 256, 256),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if not opts.unsafe:
        os.chroot(opts.root)
        os.chdir("/")
        limits.append((resource.RLIMIT_NPROC, opts.nproc, opts.nproc))
    for kind, soft, hard in limits:
        resource.setrlimit(kind, (soft, hard))
    if not opts.unsafe:
        uid = UID_BASE + _JAILER_PID
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after the uid change, which clears it
    os.dup2(1, RESULT_FD)
    os.dup2(2, 1)
    os.closerange(RESULT_FD + 1, 1024)
    if opts.language == "javascript":
        os.execve(
            opts.node,
            [
                "node",
                f"--max-old-space-size={opts.memory_mb}",
                "--v8-pool-size=1",
                *opts.node_flags,
                "-e",
                opts.runner,
            ],
            {"UV_THREADPOOL_SIZE": "1"},
        )
    run_python(opts)


class CPUTimeExceeded(BaseException):
    """Raised in the code when its CPU time runs out (SIGXCPU), so the error has a line number."""


def _on_sigxcpu(signum: int, frame: Any) -> None:
    raise CPUTimeExceeded


def _user_line(tb: TracebackType | None) -> int | None:
    """The line of the innermost frame of the user's code in a traceback."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CODE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _failure(exc: BaseException) -> dict[str, Any]:
    """The result describing an error raised by the user's code."""
    import errno
    import traceback

    if isinstance(exc, SyntaxError) and exc.filename == CODE_FILENAME:
        line = exc.lineno
    else:
        line = _user_line(exc.__traceback__)
    kind = "exception"
    if isinstance(exc, CPUTimeExceeded):
        kind = "cpu"
    elif isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(exc, BlockingIOError) and exc.errno == errno.EAGAIN:
        kind = "processes"
    elif isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        kind = "processes"
    elif isinstance(exc, OSError) and exc.errno in (errno.EFBIG, errno.ENOSPC):
        kind = "file_size"
    elif isinstance(exc, SyntaxError):
        kind = "syntax"
    message = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return {"ok": False, "kind": kind, "message": message, "line": line}


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _call(code: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run the code's ``main(**inputs)``; the result line, success or failure."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        compiled = compile(code, CODE_FILENAME, "exec")
        exec(compiled, namespace)
        main = namespace.get("main")
        if not callable(main):
            return {"ok": False, "kind": "contract", "message": "the code defines no main() function", "line": None}
        result = main(**inputs)
        if hasattr(result, "__await__"):  # an async main
            import asyncio

            result = asyncio.run(_awaited(result))
    except BaseException as exc:
        return _failure(exc)
    if not isinstance(result, dict):
        return {
            "ok": False,
            "kind": "contract",
            "message": f"main() must return a dict, not {type(result).__name__}",
            "line": None,
        }
    return {"ok": True, "result": result}


def _encode(message: dict[str, Any]) -> bytes:
    import json

    try:
        return json.dumps(message).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        for name, value in message.get("result", {}).items():
            try:
                json.dumps(value)
            except (TypeError, ValueError, RecursionError):
                reason = f"output {name!r} is a {type(value).__name__} JSON cannot encode ({exc})"
                break
        else:
            reason = f"main() returned a value JSON cannot encode ({exc})"
        return json.dumps({"ok": False, "kind": "contract", "message": reason, "line": None}).encode()


def run_python(opts: Options) -> NoReturn:
    """Read the request, call ``main(**inputs)``, write the result line."""
    import json

    if opts.unsafe:
        sys.path.extend(dict.fromkeys(os.path.dirname(path) for path in opts.packages))
    else:
        sys.path.append(PACKAGES)
    with os.fdopen(0, "rb") as stdin:
        request = json.loads(stdin.read())
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    me = os.getpid()
    message = _call(request["code"], request["inputs"])
    if os.getpid() != me:  # a process the code forked: only the worker reports
        os._exit(0)
    _write_all(RESULT_FD, _encode(message) + b"\n")
    os._exit(0)


if __name__ == "__main__":
    sys.exit(jailer(sys.argv[1:]))
