"""The ``treadle`` command: config, plugins (with and without a running server), serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support.serve import running_server
from treadle.cli import main

TREADLE = str(Path(sys.executable).with_name("treadle"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TREADLE_HOME", str(tmp_path))
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_config_prints_effective_values_with_their_source(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "treadle.toml").write_text("[server]\nport = 6001\n[plugins]\ncall_timeout = 30\n")
    monkeypatch.setenv("TREADLE_PLUGINS__CALL_TIMEOUT", "45")
    result = CliRunner().invoke(main, ["config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] == str(home / "treadle.toml")
    assert data["config"]["server"]["port"] == 6001  # from the file
    assert data["config"]["plugins"]["call_timeout"] == 45  # the environment wins over the file
    assert data["config"]["home"] == str(home)
    toml = CliRunner().invoke(main, ["config"])
    assert "port = 6001" in toml.output


def test_config_error_names_the_file_and_key(home: Path) -> None:
    (home / "treadle.toml").write_text("[server]\nport = 'not a port'\n")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 1
    assert str(home / "treadle.toml") in result.output
    assert "server.port" in result.output


def test_plugins_without_a_server_loads_and_describes_them(home: Path) -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"].startswith("loaded now")
    rows = {row["name"]: row for row in data["plugins"]}
    assert rows["fake"]["isolation"] == "process"
    assert rows["fake"]["state"] == "running"
    assert rows["fake"]["group"] == "first-party"
    assert isinstance(rows["fake"]["pid"], int)
    text = CliRunner().invoke(main, ["plugins"])
    assert "model_provider:fake" in text.output


def test_plugins_allow_list(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_LOAD_PLUGINS", "basic-tools")
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert [row["name"] for row in json.loads(result.output)["plugins"]] == ["basic-tools"]


@pytest.fixture
def server(home: Path) -> Iterator[dict[str, str]]:
    """A real `treadle serve` process on a free port, with its own data directory."""
    with running_server(home, home / "serve.log") as info:
        yield info
    assert not (home / "server.json").exists(), "server.json must be removed when the server stops"


def _table(home: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run([TREADLE, "plugins", "--json"], env={**os.environ, "TREADLE_HOME": str(home)},
                         capture_output=True, text=True, check=True).stdout
    return {row["name"]: row for row in json.loads(out)["plugins"]}


@pytest.mark.slow
def test_live_table_and_host_restart_after_kill_9(home: Path, server: dict[str, str]) -> None:
    """Issue 2 acceptance: `treadle plugins --json` shows live pids; after `kill -9` of a host pid
    the host runs again (new pid) within 5 s."""
    rows = _table(home)
    pid = rows["fake"]["pid"]
    assert isinstance(pid, int)
    os.kill(pid, 0)  # alive
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    while time.monotonic() - killed_at < 5:
        health = httpx.get(f"{server['url']}/health", timeout=2).json()
        host = health["plugin_hosts"]["first-party"]
        if host["state"] == "running" and host["pid"] not in (None, pid):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the host was not running again within 5 s: {host}")
    rows = _table(home)
    assert rows["fake"]["pid"] == host["pid"]
    assert rows["fake"]["restarts"] == 1
    assert rows["fake"]["state"] == "running"


def test_serve_refuses_a_taken_port(home: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([TREADLE, "serve", "--port", str(port)], capture_output=True, text=True,
                                env={**os.environ, "TREADLE_HOME": str(home)}, timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
