"""Fixtures of the workspace settings tests: a local OpenAI-compatible server and supervisors of real
plugins (fake, openai_compat, and the throwaway ones here) on a fresh data directory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from treadle.config import Settings
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor

from .openai_server import KeyedOpenAIServer

#: The package of this directory's throwaway plugins, as this test package is imported.
PLUGINS = f"{__package__}.plugins_for_tests"

#: What the supervisors load besides the throwaway plugins.
INSTALLED = ("fake", "openai-compat", "core-nodes")
THROWAWAY = ("ask_node", "keyed_tools", "leaky_models")


def throwaway(module: str) -> PluginSpec:
    path = f"{PLUGINS}.{module}"
    return PluginSpec(path, path=path)


def groups(placement: str = "inline") -> list[GroupPlan]:
    """Everything inline, or the providers and tools in a host process (``placement == "process"``)."""
    specs = (*(PluginSpec(name) for name in INSTALLED), *(throwaway(m) for m in THROWAWAY))
    if placement == "inline":
        return [GroupPlan("inline", True, specs)]
    nodes = {"core-nodes", f"{PLUGINS}.ask_node"}
    return [
        GroupPlan("inline", True, tuple(s for s in specs if s.name in nodes)),
        GroupPlan("hosted", False, tuple(s for s in specs if s.name not in nodes)),
    ]


@pytest.fixture(scope="module")
def openai() -> Iterator[KeyedOpenAIServer]:
    with KeyedOpenAIServer() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


Supervised = Callable[..., contextlib.AbstractAsyncContextManager[PluginSupervisor]]


@pytest.fixture
def supervised(home: Path) -> Supervised:
    """``async with supervised() as sup``: a started supervisor on the test's data directory."""

    @contextlib.asynccontextmanager
    async def start(placement: str = "inline", **plugin_settings: Any) -> AsyncIterator[PluginSupervisor]:
        settings = Settings.load(home=home, plugins=plugin_settings)
        # Stopping the supervisor closes its extensions (openai_compat's HTTP client among them).
        async with PluginSupervisor(settings, groups=groups(placement)) as supervisor:
            yield supervisor

    return start


CLI = Callable[..., str]


@pytest.fixture
def cli(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """``cli("models", "credentials", "list")``: the output of a ``treadle`` command that succeeded, run
    on the test's data directory with the fake provider and the ``keyed`` tools inline."""
    from click.testing import CliRunner
    from treadle.cli import main

    project = tmp_path / "project"
    project.mkdir()
    (project / "treadle.toml").write_text(
        '[plugins]\nload = ["fake"]\nplacement = {fake = "inline"}\n'
        f'[[plugins.extra]]\npath = "{PLUGINS}.keyed_tools"\ngroup = "inline"\n'
    )
    monkeypatch.setenv("TREADLE_HOME", str(home))
    monkeypatch.delenv("TREADLE_CONFIG", raising=False)
    monkeypatch.delenv("TREADLE_LOAD_PLUGINS", raising=False)
    monkeypatch.chdir(project)

    def run(*args: str, ok: bool = True) -> str:
        result = CliRunner().invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, f"treadle {' '.join(args)}: {result.output}"
        else:
            assert result.exit_code != 0, f"treadle {' '.join(args)} succeeded: {result.output}"
        return result.output

    return run
