"""Host processes under supervision: a host killed with SIGKILL comes back, the call it was serving fails
at once with a typed error, and stopping the supervisor leaves no process and no socket behind."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from treadle.plugins import PluginSupervisor, RemoteHost
from treadle_sdk.errors import PluginUnavailable
from treadle_sdk.tool_runtime import TextMessage

from .support import call_tool, eventually, pid_alive, plan, plugin_path, row_of, settings_in, short_home, spec

STREAMING = plugin_path("streaming")
MISBEHAVING = plugin_path("misbehaving")


@pytest_asyncio.fixture
async def supervisor() -> AsyncIterator[PluginSupervisor]:
    """A supervisor of its own (these tests kill its host): one process group, ``victim``."""
    with short_home() as home:
        async with PluginSupervisor(
            settings_in(home), groups=[plan("victim", "process", spec("streaming"), spec("misbehaving"))]
        ) as supervisor:
            yield supervisor


def victim(supervisor: PluginSupervisor) -> RemoteHost:
    host = supervisor.hosts["victim"]
    assert isinstance(host, RemoteHost)
    return host


def sockets(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.sock"))


async def running_again(supervisor: PluginSupervisor, old_pid: int) -> dict[str, object]:
    """The plugin's row once its host runs again under a new pid (within 5 s)."""

    def restarted() -> dict[str, object] | None:
        row = row_of(supervisor, STREAMING)
        fresh = row["state"] == "running" and row["pid"] not in (None, old_pid)
        return row if fresh else None

    return await eventually(restarted, within=5.0, what="the killed host running again")


async def test_a_host_killed_with_sigkill_runs_again_under_a_new_pid(supervisor: PluginSupervisor) -> None:
    before = row_of(supervisor, STREAMING)
    assert (before["state"], before["restarts"], before["isolation"]) == ("running", 0, "process")
    old_pid = before["pid"]
    assert isinstance(old_pid, int) and pid_alive(old_pid)

    os.kill(old_pid, signal.SIGKILL)
    after = await running_again(supervisor, old_pid)

    assert after["restarts"] == 1
    assert pid_alive(after["pid"])  # type: ignore[arg-type]
    assert row_of(supervisor, MISBEHAVING)["pid"] == after["pid"]  # the whole group moved
    assert await call_tool(supervisor, "misbehaving_thread", "echo", text="back") == [TextMessage(text="back")]
    assert await call_tool(supervisor, "streamer", "count", n=3) == [TextMessage(text=str(i)) for i in range(3)]


async def test_a_call_in_flight_when_its_host_is_killed_fails_at_once(supervisor: PluginSupervisor) -> None:
    """Not at its deadline (30 s here): as soon as the connection drops, with PluginUnavailable naming
    the plugin and the call."""
    loop = asyncio.get_running_loop()
    old_pid = row_of(supervisor, STREAMING)["pid"]
    stream = supervisor.invoke("tool_provider", "streamer", "invoke_tool", {"tool": "start_then_hang"}, timeout=30)
    assert await anext(stream) == TextMessage(text="started")  # the plugin is inside the call now

    killed = loop.time()
    os.kill(old_pid, signal.SIGKILL)
    with pytest.raises(PluginUnavailable) as info:
        await anext(stream)
    waited = loop.time() - killed

    assert waited < 5.0, f"the call failed {waited:.1f} s after the kill"
    assert (info.value.plugin, info.value.call) == (STREAMING, "tool_provider/streamer.invoke_tool")
    assert "plugin host 'victim'" in info.value.message
    await running_again(supervisor, old_pid)
    assert await call_tool(supervisor, "streamer", "count", n=2) == [TextMessage(text="0"), TextMessage(text="1")]


async def test_a_call_made_while_the_host_restarts_waits_for_it(supervisor: PluginSupervisor) -> None:
    old_pid = row_of(supervisor, STREAMING)["pid"]
    os.kill(old_pid, signal.SIGKILL)
    await eventually(lambda: row_of(supervisor, STREAMING)["state"] == "restarting", what="the kill being noticed")

    assert await call_tool(supervisor, "misbehaving_thread", "echo", text="waited") == [TextMessage(text="waited")]
    assert row_of(supervisor, STREAMING)["pid"] not in (None, old_pid)


async def test_stop_ends_every_host_process_and_removes_the_sockets() -> None:
    """Two host processes, one of them busy with a call that would never end on its own."""
    with short_home() as home:
        supervisor = PluginSupervisor(
            settings_in(home),
            groups=[plan("one", "process", spec("streaming")), plan("two", "process", spec("misbehaving"))],
        )
        await supervisor.start()
        pids = {row["pid"] for row in supervisor.table()}
        directories = {host.socket_dir for host in supervisor.hosts.values() if isinstance(host, RemoteHost)}
        assert len(pids) == 2 and all(isinstance(pid, int) and pid_alive(pid) for pid in pids)
        assert directories == {home / "run"}
        assert len(sockets(home / "run")) == 2
        marker = home / "hanging"
        stuck = asyncio.ensure_future(call_tool(supervisor, "misbehaving_thread", "hang", marker=str(marker)))
        await eventually(marker.exists, what="the hanging call starting")

        loop = asyncio.get_running_loop()
        stopping = loop.time()
        await supervisor.stop()
        # Well within the 5 s a host gets to exit on SIGTERM before it is killed.
        assert loop.time() - stopping < 4.0

        assert [pid for pid in pids if pid_alive(pid)] == []
        assert sockets(home / "run") == []
        assert {row["state"] for row in supervisor.table()} == {"stopped"}
        assert {row["pid"] for row in supervisor.table()} == {None}
        with pytest.raises(PluginUnavailable):
            await stuck


async def test_a_killed_host_leaves_no_socket_behind() -> None:
    """A host that dies without cleaning up leaves its socket file; the supervisor removes it, so
    neither a restart nor stop() leaves stale sockets in the data directory."""
    with short_home() as home:
        async with PluginSupervisor(settings_in(home), groups=[plan("victim", "process", spec("streaming"))]) as sup:
            old_pid = row_of(sup, STREAMING)["pid"]
            (first,) = sockets(home / "run")
            os.kill(old_pid, signal.SIGKILL)
            await running_again(sup, old_pid)
            (second,) = sockets(home / "run")
            assert second != first
            os.kill(row_of(sup, STREAMING)["pid"], signal.SIGKILL)
            await eventually(lambda: row_of(sup, STREAMING)["state"] != "running", what="the second kill noticed")
        assert sockets(home / "run") == []


async def test_sockets_go_to_a_private_temporary_directory_when_the_data_directory_path_is_long() -> None:
    """Unix socket paths hold about 107 bytes.

    Regression: the fallback directory (made with mkdtemp) was left behind in the temporary directory
    by every supervisor that used one; stop() now removes it."""
    with short_home() as home:
        deep = home / ("d" * 70)
        async with PluginSupervisor(settings_in(deep), groups=[plan("g", "process", spec("streaming"))]) as sup:
            host = sup.hosts["g"]
            assert isinstance(host, RemoteHost)
            directory = host.socket_dir
            assert not directory.is_relative_to(deep)
            assert len(sockets(directory)) == 1
            assert await call_tool(sup, "streamer", "count", n=1) == [TextMessage(text="0")]
        assert not directory.exists()
