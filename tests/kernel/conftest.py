"""Fixtures of the kernel tests: a supervisor of the throwaway plugins, inline and out of process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from treadle.plugins import PluginSpec, PluginSupervisor

from .plugins_for_tests import misbehaving
from .support import plan, settings_in, short_home, spec

#: The largest KV value the throwaway supervisor accepts.
KV_LIMIT = 1024

THROWAWAY_PLUGINS = (
    spec("misbehaving"),
    spec("streaming"),
    spec("kernel_calls", "KV_A"),
    spec("kernel_calls", "KV_B"),
    spec("kernel_calls", "CALLER"),
    PluginSpec("basic-tools"),  # the ``maths`` provider, for nested tool calls
)


@pytest.fixture(scope="module", params=["inline", "process"])
def placement(request: pytest.FixtureRequest) -> str:
    """Where the throwaway plugins run: the behaviour tested must be the same in both."""
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def throwaway(placement: str) -> AsyncIterator[PluginSupervisor]:
    """One supervisor of all the throwaway plugins, shared by the tests of a module that neither kill
    nor reconfigure it."""
    misbehaving.RELEASE.clear()
    with short_home() as home:
        supervisor = PluginSupervisor(
            settings_in(home, kv_max_value_bytes=KV_LIMIT), groups=[plan("tests", placement, *THROWAWAY_PLUGINS)]
        )
        try:
            async with supervisor:
                yield supervisor
        finally:
            # Worker threads of the inline host blocked in ``hang`` must end before the interpreter does.
            misbehaving.RELEASE.set()
