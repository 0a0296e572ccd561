"""A real ``treadle serve`` process for tests: started on a free port with its own data directory,
waited for until ``/health`` answers, stopped with SIGINT (as an operator's Ctrl-C)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

TREADLE = str(Path(sys.executable).with_name("treadle"))


@contextlib.contextmanager
def server_process(
    home: Path,
    log_path: Path,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
    within: float = 30.0,
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """Yield the ``treadle serve`` process and its ``server.json`` once it answers; everything it printed
    goes to ``log_path``. ``args`` are added to ``serve --port 0``, ``env`` to the environment;
    ``new_session`` starts it as the leader of its own process group (as a shell starts a job), so a
    test can signal the group as a terminal's Ctrl-C does. Still running at the end, it gets SIGINT."""
    full_env = {**os.environ, "TREADLE_HOME": str(home), **(env or {})}
    if env is None or "TREADLE_CONFIG" not in env:
        full_env.pop("TREADLE_CONFIG", None)
    server_file = home / "server.json"
    command = [TREADLE, "serve", "--port", "0", *args]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=new_session
        )
        try:
            deadline = time.monotonic() + within
            info: dict[str, Any] | None = None
            while info is None and time.monotonic() < deadline and proc.poll() is None:
                if server_file.exists():
                    found = json.loads(server_file.read_text())
                    with contextlib.suppress(httpx.TransportError):
                        if httpx.get(f"{found['url']}/health", timeout=2).status_code == 200:
                            info = found
                            break
                time.sleep(0.05)
            if info is None:
                raise AssertionError(f"the server did not come up: {log_path.read_text()}")
            yield proc, info
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def running_server(
    home: Path,
    log_path: Path,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    within: float = 30.0,
) -> Iterator[dict[str, Any]]:
    """Yield the server's ``server.json`` once it answers; everything it printed goes to ``log_path``."""
    with server_process(home, log_path, args=args, env=env, within=within) as (_proc, info):
        yield info
