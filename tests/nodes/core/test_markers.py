"""Iteration Start, Loop Start and Loop End (NODE-EXIT-LOOP): they mark places and do nothing else."""

from __future__ import annotations

import pytest

from .support import MemoryRuntime, prepare


@pytest.mark.parametrize("name", ["iteration-start", "loop-start", "loop-end"])
def test_markers_succeed_with_no_outputs(name: str) -> None:
    rt = MemoryRuntime()
    result = prepare(name, {"isInLoop": True}).run(rt)
    assert (result.outputs, result.handle) == ({}, "source")
    assert (rt.emitted, rt.assigned) == ([], [])
    assert prepare(name, {}).selectors() == []
