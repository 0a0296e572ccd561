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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

TREADLE = str(Path(sys.executable).with_name("treadle"))


@contextlib.contextmanager
def running_server(home: Path, log_path: Path, *, within: float = 30.0) -> Iterator[dict[str, Any]]:
    """Yield the server's ``server.json`` once it answers; everything it printed goes to ``log_path``."""
    env = {**os.environ, "TREADLE_HOME": str(home)}
    env.pop("TREADLE_CONFIG", None)
    server_file = home / "server.json"
    with log_path.open("w") as log:
        proc = subprocess.Popen([TREADLE, "serve", "--port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT)
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
            yield info
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
