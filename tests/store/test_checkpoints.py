"""The SQL checkpoint store beyond the engine's contract tests (tests/graph/test_run_control.py)."""

from __future__ import annotations

import pytest
from treadle.graph import Checkpoint
from treadle.store import CheckpointEncodingError, Database, SqlCheckpointStore


def _checkpoint(status: str = "paused", **variables: object) -> Checkpoint:
    return Checkpoint(run_id="run-1", status=status, variables={"n": dict(variables)}, remaining={"b": 1},
                      taken=["e1"], ready=["b"], done=["a"], outputs={}, answer="Hi", steps=2)  # fmt: skip


async def test_a_save_replaces_the_run_s_checkpoint_and_delete_forgets_it(db: Database) -> None:
    store = SqlCheckpointStore(db)
    assert await store.load("run-1") is None
    await store.save(_checkpoint(v=[1, "a"]))
    await store.save(_checkpoint("interrupted", v=(2, None), nested={"x": [{"y": 1.5}]}))
    loaded = await store.load("run-1")
    assert loaded == _checkpoint("interrupted", v=[2, None], nested={"x": [{"y": 1.5}]})
    await store.delete("run-1")
    assert await store.load("run-1") is None


@pytest.mark.parametrize(
    ("value", "where", "what"),
    [({"k": b"raw"}, "checkpoint.variables.n.v.k", "bytes"), ([float("nan")], "checkpoint.variables.n.v[0]",
     "non-finite float"), ({1: "x"}, "checkpoint.variables.n.v (key 1)", "int key")],
)  # fmt: skip
async def test_a_value_json_cannot_hold_is_refused_with_its_place(
    db: Database, value: object, where: str, what: str
) -> None:
    with pytest.raises(CheckpointEncodingError) as caught:
        await SqlCheckpointStore(db).save(_checkpoint(v=value))
    assert (caught.value.run_id, caught.value.path) == ("run-1", where)
    assert what in str(caught.value)
