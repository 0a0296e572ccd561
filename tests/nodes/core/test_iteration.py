"""The Iteration node (NODE-ITERATION): item and index, output in input order, sequential and
parallel runs, the three error modes, and flattening."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from treadle_core_nodes.iteration import IterationError
from treadle_sdk.nodes import NodeConfigError, NodeRunError

from .support import MemoryRuntime, Round, node_type, prepare, run


def iteration(**data: Any) -> Any:
    return prepare(
        "iteration",
        {
            "iterator_selector": ["code", "items"],
            "output_selector": ["llm", "text"],
            "start_node_id": "it1start",
            **data,
        },
        node_id="it1",
    )


def double(variables: dict[str, Any]) -> dict[str, Any]:
    return {"llm.text": variables["item"] * 2}


def fail_on(*bad: Any) -> Any:
    def children(variables: dict[str, Any]) -> dict[str, Any]:
        if variables["item"] in bad:
            raise NodeRunError(f"the model refused {variables['item']!r}", error_type="InvokeError")
        return {"llm.text": f"r{variables['item']}"}

    return children


async def test_each_item_runs_the_children_with_item_and_index() -> None:
    """NODE-ITERATION: built-ins item and index (0-based); results in input order."""
    rt = MemoryRuntime({"code.items": [1, 2, 3]}, node_id="it1", children=double)
    result = await run(iteration(), rt)
    assert result.outputs == {"output": [2, 4, 6]}
    assert rt.child_runs == [{"item": 1, "index": 0}, {"item": 2, "index": 1}, {"item": 3, "index": 2}]
    assert result.inputs == {"iterator_selector": [1, 2, 3]}


async def test_the_children_read_item_through_the_container() -> None:
    """Children see ``[iteration_id, item]``; the output variable may be a nested path."""

    def children(variables: dict[str, Any]) -> Round:
        return Round({"code2.result": {"url": f"https://x/{variables['item']['id']}"}})

    rt = MemoryRuntime({"code.items": [{"id": 7}, {"id": 8}]}, node_id="it1", children=children)
    result = await run(iteration(output_selector=["code2", "result", "url"]), rt)
    assert result.outputs == {"output": ["https://x/7", "https://x/8"]}


@pytest.mark.parametrize("empty", [[], None])
async def test_an_empty_array_runs_nothing(empty: Any) -> None:
    rt = MemoryRuntime({"code.items": empty}, node_id="it1", children=double)
    assert (await run(iteration(), rt)).outputs == {"output": []}
    assert rt.child_runs == []


async def test_an_output_the_children_did_not_produce_is_null() -> None:
    rt = MemoryRuntime(
        {"code.items": ["a", "b"]}, node_id="it1", children=lambda v: {"llm.text": "yes"} if v["index"] == 0 else {}
    )
    assert (await run(iteration(), rt)).outputs == {"output": ["yes", None]}


async def test_without_an_output_variable_each_result_is_null() -> None:
    rt = MemoryRuntime({"code.items": ["a", "b"]}, node_id="it1", children=double)
    assert (await run(iteration(output_selector=[]), rt)).outputs == {"output": [None, None]}


@pytest.mark.parametrize(("value", "message"), [("abc", "must be an array"), ({"a": 1}, "not dict")])
async def test_the_iterated_value_must_be_an_array(value: Any, message: str) -> None:
    rt = MemoryRuntime({"code.items": value}, node_id="it1", children=double)
    with pytest.raises(IterationError, match=message):
        await run(iteration(), rt)


async def test_a_missing_array_is_named() -> None:
    with pytest.raises(IterationError, match=r"code\.items, does not exist"):
        await run(iteration(), MemoryRuntime(node_id="it1", children=double))


# -- error modes -----------------------------------------------------------------------------------


async def test_terminated_stops_at_the_first_failure() -> None:
    """NODE-ITERATION: ``terminated`` (default) stops at the first failure."""
    rt = MemoryRuntime({"code.items": [1, 2, 3]}, node_id="it1", children=fail_on(2))
    with pytest.raises(IterationError, match=r"item 1 failed: the model refused 2") as caught:
        await run(iteration(), rt)
    assert [r["item"] for r in rt.child_runs] == [1, 2]
    assert caught.value.error_type == "IterationNodeError"
    assert isinstance(caught.value.__cause__, NodeRunError)


async def test_continue_on_error_puts_null_in_place() -> None:
    """``[1,2,3]`` with item 2 failing gives ``[r1, null, r3]``."""
    rt = MemoryRuntime({"code.items": [1, 2, 3]}, node_id="it1", children=fail_on(2))
    result = await run(iteration(error_handle_mode="continue-on-error"), rt)
    assert result.outputs == {"output": ["r1", None, "r3"]}


async def test_remove_abnormal_output_leaves_failed_items_out() -> None:
    """``[1,2,3]`` with item 2 failing gives ``[r1, r3]``; a legitimate null result stays."""

    def children(variables: dict[str, Any]) -> dict[str, Any]:
        if variables["item"] == 2:
            raise NodeRunError("boom")
        return {"llm.text": None if variables["item"] == 4 else f"r{variables['item']}"}

    rt = MemoryRuntime({"code.items": [1, 2, 3, 4]}, node_id="it1", children=children)
    result = await run(iteration(error_handle_mode="remove-abnormal-output"), rt)
    assert result.outputs == {"output": ["r1", "r3", None]}


async def test_every_item_failing_gives_all_nulls_or_nothing() -> None:
    rt = MemoryRuntime({"code.items": [1, 2]}, node_id="it1", children=fail_on(1, 2))
    assert (await run(iteration(error_handle_mode="continue-on-error"), rt)).outputs == {"output": [None, None]}
    assert (await run(iteration(error_handle_mode="remove-abnormal-output"), rt)).outputs == {"output": []}


async def test_errors_that_are_not_node_failures_are_never_swallowed() -> None:
    """A stop or a run limit (not a NodeRunError) passes through whatever the error mode."""

    def children(variables: dict[str, Any]) -> None:
        raise asyncio.CancelledError

    rt = MemoryRuntime({"code.items": [1]}, node_id="it1", children=children)
    with pytest.raises(asyncio.CancelledError):
        await run(iteration(error_handle_mode="continue-on-error"), rt)


# -- flattening ------------------------------------------------------------------------------------


async def test_lists_are_flattened_by_default() -> None:
    """flatten_output (default true): results that are all arrays are concatenated."""
    rt = MemoryRuntime({"code.items": [1, 2]}, node_id="it1", children=lambda v: {"llm.text": [v["item"]] * 2})
    assert (await run(iteration(), rt)).outputs == {"output": [1, 1, 2, 2]}
    assert (await run(iteration(flatten_output=False), rt)).outputs == {"output": [[1, 1], [2, 2]]}


async def test_mixed_results_are_not_flattened() -> None:
    rt = MemoryRuntime(
        {"code.items": [1, 2]}, node_id="it1", children=lambda v: {"llm.text": [v["item"]] if v["item"] == 1 else "two"}
    )
    assert (await run(iteration(), rt)).outputs == {"output": [[1], "two"]}


async def test_flattening_drops_nulls_of_failed_items() -> None:
    def children(variables: dict[str, Any]) -> dict[str, Any]:
        if variables["item"] == 2:
            raise NodeRunError("boom")
        return {"llm.text": [variables["item"]]}

    rt = MemoryRuntime({"code.items": [1, 2, 3]}, node_id="it1", children=children)
    assert (await run(iteration(error_handle_mode="continue-on-error"), rt)).outputs == {"output": [1, 3]}


# -- parallel --------------------------------------------------------------------------------------


class Tracker:
    """Children that sleep (later items less, so they finish out of order) and count how many run at once."""

    def __init__(self, fail: Any = None) -> None:
        self.active = 0
        self.most = 0
        self.finished: list[int] = []
        self.cancelled: list[int] = []
        self.fail = fail

    async def __call__(self, variables: dict[str, Any]) -> dict[str, Any]:
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(0.002 * (5 - variables["index"] % 5))
            if variables["item"] == self.fail:
                raise NodeRunError(f"item {variables['item']} broke")
            self.finished.append(variables["index"])
            return {"llm.text": variables["item"] * 10}
        except asyncio.CancelledError:
            self.cancelled.append(variables["index"])
            raise
        finally:
            self.active -= 1


async def test_parallel_items_run_at_most_parallel_nums_at_once_and_keep_input_order() -> None:
    """NODE-ITERATION: parallel mode runs up to ``parallel_nums`` items at once; output in input order."""
    tracker = Tracker()
    rt = MemoryRuntime({"code.items": list(range(12))}, node_id="it1", children=tracker)
    result = await run(iteration(is_parallel=True, parallel_nums=3), rt)
    assert result.outputs == {"output": [i * 10 for i in range(12)]}
    assert tracker.most == 3
    assert tracker.finished != sorted(tracker.finished)  # they did finish out of order


async def test_parallelism_is_capped_at_ten() -> None:
    tracker = Tracker()
    rt = MemoryRuntime({"code.items": list(range(25))}, node_id="it1", children=tracker)
    await run(iteration(is_parallel=True, parallel_nums=50), rt)
    assert tracker.most == 10


async def test_sequential_mode_runs_one_at_a_time() -> None:
    tracker = Tracker()
    rt = MemoryRuntime({"code.items": list(range(5))}, node_id="it1", children=tracker)
    result = await run(iteration(is_parallel=False, parallel_nums=10), rt)
    assert tracker.most == 1
    assert tracker.finished == [0, 1, 2, 3, 4]
    assert result.outputs == {"output": [0, 10, 20, 30, 40]}


async def test_parallel_terminated_cancels_the_items_still_running() -> None:
    tracker = Tracker(fail=4)
    rt = MemoryRuntime({"code.items": list(range(10))}, node_id="it1", children=tracker)
    with pytest.raises(IterationError, match="item 4 failed: item 4 broke"):
        await run(iteration(is_parallel=True, parallel_nums=5), rt)
    assert tracker.cancelled  # items 0..3 were still sleeping when item 4 failed
    assert tracker.active == 0
    assert len(rt.child_runs) < 10


@pytest.mark.parametrize(
    ("mode", "output"),
    [
        ("continue-on-error", [0, 10, None, 30, 40, 50, None, 70]),
        ("remove-abnormal-output", [0, 10, 30, 40, 50, 70]),
    ],
)
async def test_parallel_error_modes_keep_input_order(mode: str, output: list[Any]) -> None:
    async def children(variables: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.001 * (8 - variables["index"]))
        if variables["item"] in {2, 6}:
            raise NodeRunError("boom")
        return {"llm.text": variables["item"] * 10}

    rt = MemoryRuntime({"code.items": list(range(8))}, node_id="it1", children=children)
    assert (await run(iteration(is_parallel=True, parallel_nums=4, error_handle_mode=mode), rt)).outputs == {
        "output": output
    }


async def test_cancelling_a_parallel_iteration_cancels_its_items() -> None:
    """A stopped run leaves no item running."""
    started = asyncio.Event()

    async def children(variables: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(10)

    rt = MemoryRuntime({"code.items": list(range(6))}, node_id="it1", children=children)
    task = asyncio.create_task(run(iteration(is_parallel=True, parallel_nums=3), rt))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert all(t.done() for t in asyncio.all_tasks() if t is not asyncio.current_task())


# -- configuration ---------------------------------------------------------------------------------


def test_the_corpus_shape_prepares() -> None:
    """36kr-hot-articles.yml's iteration."""
    node = prepare(
        "iteration",
        {
            "error_handle_mode": "terminated",
            "height": 201,
            "is_parallel": False,
            "iterator_selector": ["1731576019023", "result"],
            "output_selector": ["1731576166736", "text"],
            "output_type": "array[string]",
            "parallel_nums": 10,
            "start_node_id": "1731576069313start",
            "width": 996,
        },
    )
    assert node.iteration.parallelism == 1
    assert node.iteration.flatten is True


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"iterator_selector": None}, "iterator_selector"),
        ({"output_selector": "llm.text"}, "output_selector"),
        ({"error_handle_mode": "ignore"}, "error_handle_mode"),
        ({"is_parallel": True, "parallel_nums": 0}, "parallel_nums"),
        ({"flatten_output": "sometimes"}, "flatten_output"),
    ],
)
def test_bad_configurations_name_the_field(data: dict[str, Any], path: str) -> None:
    with pytest.raises(NodeConfigError) as caught:
        iteration(**data)
    assert caught.value.path == path


def test_iteration_is_a_container() -> None:
    assert node_type("iteration").schema.container is True
