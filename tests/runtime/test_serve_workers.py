"""``treadle serve --workers N``: one server process that migrates once, writes ``server.json`` and
supervises N worker processes on its listening socket; replaced when they die, all stopped on SIGINT.

Real ``treadle serve`` processes on a PostgreSQL database of each test's own (several workers refuse
SQLite); the worker processes are found through /proc."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from support.serve import TREADLE, server_process
from support.servers import POSTGRES_URL
from treadle.cli import main
from treadle.config import ConfigError, Settings

#: How long a worker may take to start (imports, plugin hosts) on a loaded two-CPU machine.
WORKER_START = 60.0


async def _execute(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def database_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards: the server migrates it itself."""
    name = f"treadle_workers_{uuid.uuid4().hex[:12]}"
    asyncio.run(_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _is_worker(pid: int) -> bool:
    """A process started by multiprocessing's spawn (the resource tracker, also a child, is not one)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _workers(parent: int) -> set[int]:
    return {pid for pid in _children(parent) if _is_worker(pid) and _alive(pid)}


def _wait_for_workers(parent: int, count: int, *, besides: set[int] | None = None, within: float) -> set[int]:
    """The parent's live workers once there are ``count``, none of them in ``besides``."""
    besides = besides or set()
    deadline = time.monotonic() + within
    while True:
        workers = _workers(parent)
        if len(workers) == count and not workers & besides:
            return workers
        if time.monotonic() > deadline:
            raise AssertionError(f"server pid {parent} has workers {workers}, not {count} new ones")
        time.sleep(0.05)


def _health(url: str) -> int:
    return httpx.get(f"{url}/health", timeout=10).status_code


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for child in _children(pid):
        found |= {child, *_descendants(child)}
    return found


@pytest.mark.postgres
def test_two_workers_serve_behind_one_server_and_stop_on_sigint(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    log_path = tmp_path / "serve.log"
    env = {"TREADLE_DATABASE__URL": database_url}
    with server_process(home, log_path, args=["--workers", "2"], env=env, within=WORKER_START) as (proc, info):
        assert info["pid"] == proc.pid
        workers = _wait_for_workers(proc.pid, 2, within=WORKER_START)
        assert _health(info["url"]) == 200
        # Each worker runs its own plugin hosts: stopping must leave none of them behind either.
        _wait_for_log(log_path, "Application startup complete.", count=2)
        family = set().union(*(_descendants(worker) for worker in workers)) | workers
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=45) == 0
    log = log_path.read_text()
    assert log.count("Sign in as admin@treadle.local with password") == 1
    assert log.count("Service API: http://127.0.0.1:") == 1
    assert "2 workers: pids " in log and all(str(pid) in log for pid in workers)
    assert log.count("Application shutdown complete.") == 2
    assert not (home / "server.json").exists()
    assert not [pid for pid in family if _alive(pid)]
    assert "Traceback" not in log


@pytest.mark.postgres
def test_a_killed_worker_is_replaced_and_ctrl_c_on_the_group_stops_all(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    log_path = tmp_path / "serve.log"
    # The number of workers from the configuration ([server] workers) this time, not the option.
    env = {"TREADLE_DATABASE__URL": database_url, "TREADLE_SERVER__WORKERS": "2"}
    with server_process(home, log_path, env=env, new_session=True, within=WORKER_START) as (proc, info):
        first = _wait_for_workers(proc.pid, 2, within=WORKER_START)
        _wait_for_log(log_path, "Application startup complete.", count=2)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        second = _wait_for_workers(proc.pid, 2, besides={victim}, within=WORKER_START)
        assert len(second & first) == 1  # the other worker was left alone
        assert _health(info["url"]) == 200
        log = log_path.read_text()
        assert f"(pid {victim}) was killed by SIGKILL" in log
        # A terminal's Ctrl-C signals the whole foreground process group: the server and its workers.
        _wait_for_log(log_path, "Application startup complete.", count=3)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=45) == 0
    log = log_path.read_text()
    assert not (home / "server.json").exists()
    assert not [pid for pid in first | second if _alive(pid)]
    # Both live workers shut down gracefully (the second SIGINT that would have made uvicorn skip that
    # was not sent: the server stops its workers with SIGTERM).
    assert log.count("Application shutdown complete.") == 2
    assert "Traceback" not in log and "KeyboardInterrupt" not in log


def _wait_for_log(log_path: Path, text: str, *, count: int, within: float = WORKER_START) -> None:
    deadline = time.monotonic() + within
    while log_path.read_text().count(text) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear {count} times: {log_path.read_text()}")
        time.sleep(0.05)


@pytest.mark.postgres
def test_workers_failing_at_start_up_are_retried_with_backoff_and_reported(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    # The plugin KV store, which each worker opens at start-up (the server process does not), cannot be.
    (home / "plugin_kv.sqlite3").mkdir(parents=True)
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "TREADLE_HOME": str(home), "TREADLE_DATABASE__URL": database_url}
    env.pop("TREADLE_CONFIG", None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [TREADLE, "serve", "--port", "0", "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_log(log_path, "Every worker has failed at start-up 3 times in a row", count=1, within=120)
        assert (home / "server.json").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=45) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log_path.read_text()
    # Each slot waited 1 s, then 2 s, then 4 s: no busy restart loop.
    assert text.count("exited with code 3 before it served") == 6
    for delay in ("1.0", "2.0", "4.0"):
        assert text.count(f"; starting another in {delay} s") == 2, text
    assert not (home / "server.json").exists()


def test_several_workers_refuse_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "TREADLE_HOME": str(home)}
    for name in ("TREADLE_CONFIG", "TREADLE_DATABASE__URL", "TREADLE_SERVER__WORKERS"):
        env.pop(name, None)
    result = subprocess.run(
        [TREADLE, "serve", "--port", "0", "--workers", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "2 workers need PostgreSQL ([database] url" in result.stderr
    assert "SQLite takes one writer at a time" in result.stderr
    assert "Started server process" not in result.stdout + result.stderr
    assert not (home / "server.json").exists()
    assert not (home / "treadle.db").exists()  # refused before anything was migrated


def test_serve_help_mentions_workers() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--workers" in result.output and "PostgreSQL" in result.output


def test_workers_setting_comes_from_the_environment_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.setenv("TREADLE_SERVER__WORKERS", "3")
    assert Settings.load().server.workers == 3
    monkeypatch.setenv("TREADLE_SERVER__WORKERS", "0")
    with pytest.raises(ConfigError, match=r"server\.workers"):
        Settings.load()
    assert Settings.load(server={"workers": 1}).server.workers == 1


def test_workers_option_must_be_positive() -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "0"])
    assert result.exit_code != 0
    assert "--workers" in result.output
