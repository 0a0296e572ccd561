"""The code sandbox (NODE-CODE; DESIGN.md, "Security"). Network access, reading files outside the
sandbox, a fork bomb, a memory bomb and an endless loop are each stopped with a clear error, while
the test process (standing in for the server, with a TCP server of its own) keeps serving, nothing
the code started is left running, and the next run succeeds."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from treadle_code_node import (
    CodeExecutionError,
    CodeNodeError,
    CodeNodeType,
    CodeSettings,
    SandboxLimitExceeded,
)
from treadle_code_node._jail import UID_BASE

from .support import NODE_TYPE, run

pytestmark = pytest.mark.usefixtures("sandbox")


class EchoServer:
    """A TCP server in the test process: it answers every line with the same line, and counts the
    connections it accepted."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(conn.recv(1024))

    def echo(self, text: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(text)
            return conn.recv(1024)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        self.listener.close()
        self._thread.join(5)


@pytest.fixture
def server() -> Iterator[EchoServer]:
    running = EchoServer()
    try:
        yield running
    finally:
        running.close()


def _sandbox_uids() -> list[tuple[int, int]]:
    """(pid, uid) of the processes running as a sandbox uid anywhere on the machine."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        uid = _status_field(status, "Uid:")
        if uid is not None and uid >= UID_BASE:
            found.append((int(status.parent.name), uid))
    return found


def _status_field(status: Path, name: str) -> int | None:
    try:
        line = next(line for line in status.read_text().splitlines() if line.startswith(name))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1])


def _ours(pid: int) -> bool:
    """Whether ``pid`` is this test process or one of its descendants."""
    while pid > 1:
        if pid == os.getpid():
            return True
        parent = _status_field(Path(f"/proc/{pid}/status"), "PPid:")
        if parent is None:
            return False
        pid = parent
    return False


def left_behind() -> list[int]:
    """Sandbox processes that outlived their jailer, or whose jailer is one of ours. A sandbox runs as
    UID_BASE + its jailer's pid, so the runs of other processes (another pytest-xdist worker) whose
    jailers are alive are not counted; a leak of theirs would be."""
    return [pid for pid, uid in _sandbox_uids()
            if not Path(f"/proc/{uid - UID_BASE}").exists() or _ours(uid - UID_BASE)]


async def assert_unharmed(server: EchoServer) -> None:
    """The test process still serves, nothing of the run is left, and a normal run succeeds."""
    connections = server.connections
    assert server.echo(b"still serving\n") == b"still serving\n"
    assert server.connections == connections + 1
    # A jailer that has just exited has its workers killed with it (PDEATHSIG): let them be reaped.
    deadline = time.monotonic() + 10
    while left_behind() and time.monotonic() < deadline:  # noqa: ASYNC110 - /proc has no event to wait on
        await asyncio.sleep(0.05)
    assert left_behind() == []
    assert await run("def main(a):\n    return {'a': a + 1}\n", {"a": 1}, outputs={"a": "number"}) == {"a": 2}


# -- network -----------------------------------------------------------------------------------


async def test_python_cannot_reach_the_hosts_loopback(server: EchoServer) -> None:
    code = (
        "import socket\ndef main(port):\n    socket.create_connection(('127.0.0.1', port), timeout=5)\n    return {}\n"
    )
    with pytest.raises(CodeNodeError, match=r"OSError: \[Errno 101\] Network is unreachable \(line 3\)"):
        await run(code, {"port": server.port})
    assert server.connections == 0
    await assert_unharmed(server)


async def test_requests_imports_but_reaches_nothing(server: EchoServer) -> None:
    """NODE-CODE: requests is among the sandbox's packages (corpus file form-chat-demo imports it),
    and the sandbox still has no network."""
    code = (
        "import requests\n"
        "def main(port):\n"
        "    try:\n"
        "        requests.get(f'http://127.0.0.1:{port}/', timeout=5)\n"
        "    except requests.ConnectionError:\n"
        "        return {'reached': False}\n"
        "    return {'reached': True}\n"
    )
    assert await run(code, {"port": server.port}, outputs={"reached": "boolean"}) == {"reached": False}
    assert server.connections == 0


async def test_python_cannot_resolve_names_or_reach_outside_addresses() -> None:
    code = (
        "import socket\n"
        "def main():\n"
        "    errors = {}\n"
        "    for name, call in [('dns', lambda: socket.getaddrinfo('example.com', 80)),\n"
        "                       ('ip', lambda: socket.create_connection(('1.1.1.1', 53), timeout=5))]:\n"
        "        try:\n"
        "            call()\n"
        "        except OSError as exc:\n"
        "            errors[name] = type(exc).__name__\n"
        "    return {'errors': errors}\n"
    )
    outputs = await run(code, outputs={"errors": "object"})
    assert outputs == {"errors": {"dns": "gaierror", "ip": "OSError"}}


@pytest.mark.usefixtures("nodejs")
async def test_javascript_cannot_reach_the_hosts_loopback(server: EchoServer) -> None:
    code = (
        "const net = require('net');\n"
        "function main({port}) {\n"
        "  return new Promise((resolve, reject) => {\n"
        "    const socket = net.connect(port, '127.0.0.1', () => resolve({}));\n"
        "    socket.on('error', reject);\n"
        "  });\n"
        "}\n"
    )
    with pytest.raises(CodeNodeError, match=r"Error: connect ENETUNREACH 127\.0\.0\.1"):
        await run(code, {"port": server.port}, language="javascript")
    assert server.connections == 0
    await assert_unharmed(server)


# -- files -------------------------------------------------------------------------------------


async def test_files_outside_the_sandbox_cannot_be_read(tmp_path: Path, server: EchoServer) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's secret")
    paths = [str(secret), "/etc/passwd", "/etc/shadow", str(Path(__file__)), "/proc/self/environ", "/sys/kernel"]
    code = (
        "import os\n"
        "def main(paths):\n"
        "    found = {}\n"
        "    for path in paths:\n"
        "        try:\n"
        "            with open(path) as file:\n"
        "                found[path] = file.read()\n"
        "        except OSError as exc:\n"
        "            found[path] = type(exc).__name__\n"
        "    return {'found': found, 'root': sorted(os.listdir('/')), 'etc': sorted(os.listdir('/etc'))}\n"
    )
    outputs = await run(
        code, {"paths": paths}, outputs={"found": "object", "root": "array[string]", "etc": "array[string]"}
    )
    assert outputs["found"] == {path: "FileNotFoundError" for path in paths}
    assert not {"proc", "sys", "home", "var", "work", "mnt", "opt", "srv", "boot"} & set(outputs["root"])
    assert set(outputs["etc"]) <= {"ld.so.cache"}
    await assert_unharmed(server)


@pytest.mark.usefixtures("nodejs")
async def test_javascript_cannot_read_files_or_start_processes(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the host's secret")
    code = (
        "const fs = require('fs');\n"
        "const child = require('child_process');\n"
        "function main({path}) {\n"
        "  const errors = {};\n"
        "  for (const [name, call] of Object.entries({\n"
        "    secret: () => fs.readFileSync(path, 'utf8'),\n"
        "    passwd: () => fs.readFileSync('/etc/passwd', 'utf8'),\n"
        "    shell: () => child.execSync('id'),\n"
        "  })) {\n"
        "    try { call(); errors[name] = 'none'; } catch (error) { errors[name] = error.code; }\n"
        "  }\n"
        "  return {errors};\n"
        "}\n"
    )
    outputs = await run(code, {"path": str(secret)}, language="javascript", outputs={"errors": "object"})
    assert outputs == {
        "errors": {"secret": "ERR_ACCESS_DENIED", "passwd": "ERR_ACCESS_DENIED", "shell": "ERR_ACCESS_DENIED"}
    }


async def test_the_view_is_read_only_and_tmp_is_small() -> None:
    code = (
        "def main():\n"
        "    try:\n"
        "        open('/usr/lib/planted', 'w')\n"
        "    except OSError as exc:\n"
        "        readonly = exc.strerror\n"
        "    with open('/tmp/scratch', 'w') as file:\n"
        "        file.write('fine')\n"
        "    with open('/tmp/big', 'wb') as file:\n"
        "        file.write(b'x' * (2 << 20))\n"
        "    return {'readonly': readonly}\n"
    )
    with pytest.raises(
        SandboxLimitExceeded, match=r"wrote more than the sandbox allows \(1 MB per file.*File too large \(line 9\)"
    ) as caught:
        await run(code, limits={"max_file_size_mb": 1})
    assert caught.value.limit == "file_size"
    outputs = await run(code.replace("2 << 20", "1000"), outputs={"readonly": "string"})
    assert outputs == {"readonly": "Read-only file system"}
    many = (
        "def main():\n"
        "    for n in range(5):\n"
        "        with open(f'/tmp/{n}', 'wb') as file:\n"
        "            file.write(b'x' * 900_000)\n"
    )
    with pytest.raises(SandboxLimitExceeded, match="No space left on device"):
        await run(many, limits={"max_file_size_mb": 1})


async def test_the_code_runs_as_a_uid_of_its_own_with_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_TEST_SECRET", "s3cr3t")
    code = (
        "import os\n"
        "def main():\n"
        "    try:\n"
        "        os.setuid(0)\n"
        "        became_root = True\n"
        "    except PermissionError:\n"
        "        became_root = False\n"
        "    env = dict(os.environ)\n"
        "    return {'uid': str(os.getuid()), 'env': env, 'became_root': became_root, 'pid': os.getpid()}\n"
    )
    outputs = await run(code, outputs={"uid": "string", "env": "object", "became_root": "boolean", "pid": "number"})
    assert int(outputs["uid"]) >= UID_BASE
    assert "TREADLE_TEST_SECRET" not in outputs["env"]
    assert set(outputs["env"]) <= {"LC_CTYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert outputs["became_root"] is False
    assert outputs["pid"] == 2  # in a PID namespace of its own, under its init


async def test_only_the_allowed_python_packages_can_be_imported() -> None:
    base_site = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})["purelib"]
    code = (
        "import sys\n"
        "def main(site):\n"
        "    sys.path.append(site)\n"
        "    found = {}\n"
        "    for name in ['json_repair', 'numpy', 'dateutil', 'pydantic', 'treadle_sdk', 'pip', 'yaml']:\n"
        "        try:\n"
        "            __import__(name)\n"
        "            found[name] = True\n"
        "        except ImportError:\n"
        "            found[name] = False\n"
        "    return {'found': found}\n"
    )
    outputs = await run(code, {"site": base_site}, outputs={"found": "object"})
    allowed = {"json_repair": True, "numpy": True, "dateutil": True}  # dateutil: pandas requires it
    assert outputs == {"found": {**allowed, "pydantic": False, "treadle_sdk": False, "pip": False, "yaml": False}}
    narrow = CodeNodeType(CodeSettings(python_packages=("json_repair",)))
    outputs = await run(code, {"site": base_site}, node_type=narrow, outputs={"found": "object"})
    assert outputs["found"]["json_repair"] is True
    assert outputs["found"]["numpy"] is False


async def test_package_directories_in_the_view_are_empty() -> None:
    masks = NODE_TYPE.sandbox.view().masks
    assert masks
    code = (
        "import os\n"
        "def main(paths):\n"
        "    return {'listed': {path: os.listdir(path) for path in paths if os.path.isdir(path)}}\n"
    )
    outputs = await run(code, {"paths": list(masks)}, outputs={"listed": "object"})
    assert all(listing == [] for listing in outputs["listed"].values())


# -- resource limits -----------------------------------------------------------------------------


async def test_a_fork_bomb_is_stopped(server: EchoServer) -> None:
    code = "import os\ndef main():\n    while True:\n        os.fork()\n"
    with pytest.raises(
        SandboxLimitExceeded, match=r"more processes or threads than the sandbox allows \(16\)"
    ) as caught:
        await run(code)
    assert caught.value.limit == "processes"
    await assert_unharmed(server)


async def test_processes_the_code_leaves_behind_are_killed(server: EchoServer) -> None:
    code = (
        "import os, time\n"
        "def main():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(60)\n"
        "    return {'left': 'a child behind'}\n"
    )
    assert await run(code, outputs={"left": "string"}) == {"left": "a child behind"}
    await assert_unharmed(server)


async def test_a_python_memory_bomb_is_stopped(server: EchoServer) -> None:
    code = "def main():\n    hog = []\n    while True:\n        hog.append(bytearray(10 ** 7))\n"
    with pytest.raises(
        SandboxLimitExceeded, match=r"ran out of memory \(limit 256 MB\): MemoryError \(line 4\)"
    ) as caught:
        await run(code, limits={"memory_mb": 256})
    assert caught.value.limit == "memory"
    await assert_unharmed(server)


@pytest.mark.usefixtures("nodejs")
async def test_a_javascript_memory_bomb_is_stopped(server: EchoServer) -> None:
    code = "function main() {\n  const hog = [];\n  while (true) hog.push(new Array(1e5).fill(Math.random()));\n}\n"
    with pytest.raises(SandboxLimitExceeded, match=r"ran out of memory \(limit 128 MB\)") as caught:
        await run(code, language="javascript", limits={"memory_mb": 128})
    assert caught.value.limit == "memory"
    await assert_unharmed(server)


async def test_a_python_endless_loop_is_stopped_at_its_cpu_limit(server: EchoServer) -> None:
    code = "def main():\n    n = 0\n    while True:\n        n += 1\n"
    with pytest.raises(
        SandboxLimitExceeded, match=r"more than 1 s of CPU time and was stopped \(line [34]\)"
    ) as caught:
        await run(code, limits={"cpu_seconds": 1})
    assert caught.value.limit == "cpu"
    await assert_unharmed(server)


@pytest.mark.usefixtures("nodejs")
async def test_a_javascript_endless_loop_is_stopped_at_its_cpu_limit(server: EchoServer) -> None:
    with pytest.raises(SandboxLimitExceeded, match=r"more than 1 s of CPU time and was stopped") as caught:
        await run("function main() {\n  while (true) {}\n}\n", language="javascript", limits={"cpu_seconds": 1})
    assert caught.value.limit == "cpu"
    await assert_unharmed(server)


async def test_code_that_waits_forever_is_stopped_at_the_timeout(server: EchoServer) -> None:
    code = "import time\ndef main():\n    time.sleep(3600)\n"
    with pytest.raises(SandboxLimitExceeded, match=r"did not finish within 1 s and was stopped") as caught:
        await run(code, limits={"timeout": 1})
    assert caught.value.limit == "timeout"
    await assert_unharmed(server)


async def test_a_cancelled_run_leaves_nothing_behind(server: EchoServer) -> None:
    task = asyncio.ensure_future(run("import time\ndef main():\n    time.sleep(3600)\n"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_unharmed(server)


async def test_concurrent_runs_are_separate() -> None:
    code = "import os\ndef main(n):\n    return {'n': n, 'uid': str(os.getuid())}\n"
    results = await asyncio.gather(*(run(code, {"n": n}, outputs={"n": "number", "uid": "string"}) for n in range(6)))
    assert [result["n"] for result in results] == list(range(6))
    assert len({result["uid"] for result in results}) == 6


# -- the sandbox itself ---------------------------------------------------------------------------


async def test_a_sandbox_that_cannot_be_built_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    node_type = CodeNodeType(CodeSettings())
    view = node_type.sandbox.view()
    monkeypatch.setattr(node_type.sandbox, "_view", dataclasses.replace(view, binds=(*view.binds, "/no/such/dir")))
    with pytest.raises(
        CodeExecutionError, match=r"could not be set up: mount /no/such/dir on .*TREADLE_CODE_SANDBOX_UNSAFE=1"
    ) as caught:
        await run("def main():\n    return {}\n", node_type=node_type)
    assert caught.value.error_type == "CodeExecutionError"


async def test_an_allowed_package_that_is_not_installed_is_an_installation_error() -> None:
    node_type = CodeNodeType(CodeSettings(python_packages=("json_repair", "no_such_package_here")))
    with pytest.raises(
        CodeExecutionError, match="TREADLE_CODE_PYTHON_PACKAGES names 'no_such_package_here', which is not"
    ):
        await run("def main():\n    return {}\n", node_type=node_type)


async def test_unsafe_mode_runs_code_without_isolation_but_with_limits() -> None:
    node_type = CodeNodeType(CodeSettings(unsafe=True))
    code = (
        "import os, json_repair\n"
        "def main():\n"
        "    return {'uid': os.getuid(), 'passwd': os.path.exists('/etc/passwd')}\n"
    )
    outputs = await run(code, node_type=node_type, outputs={"uid": "number", "passwd": "boolean"})
    assert outputs == {"uid": os.getuid(), "passwd": True}
    with pytest.raises(SandboxLimitExceeded, match="CPU time"):
        await run("def main():\n    while True:\n        pass\n", node_type=node_type, limits={"cpu_seconds": 1})
