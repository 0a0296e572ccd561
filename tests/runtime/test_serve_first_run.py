"""``treadle serve`` on an empty data directory: migrates, creates the first workspace, says how to sign in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

TREADLE = str(Path(sys.executable).with_name("treadle"))


def _serve_until_up(home: Path, log_path: Path) -> None:
    env = {**os.environ, "TREADLE_HOME": str(home)}
    env.pop("TREADLE_CONFIG", None)
    with log_path.open("w") as log:
        proc = subprocess.Popen([TREADLE, "serve", "--port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                if (home / "server.json").exists():
                    url = json.loads((home / "server.json").read_text())["url"]
                    try:
                        if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                time.sleep(0.05)
            raise AssertionError(f"the server did not come up: {log_path.read_text()}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_first_serve_prints_the_sign_in_and_the_api_url_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _serve_until_up(home, tmp_path / "first.log")
    first = (tmp_path / "first.log").read_text()
    assert "Sign in as admin@treadle.local with password" in first
    assert "Service API: http://127.0.0.1:" in first and "/v1" in first
    _serve_until_up(home, tmp_path / "second.log")
    assert "Sign in as" not in (tmp_path / "second.log").read_text()
