"""Answer and End streaming in template order (EXEC-ANSWER-STREAM) and End output merging
(EXEC-OUTPUT-MERGE)."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.graph import VariablePool
from treadle.graph import events as ev

from .nodes_for_tests import Harness, chain, edge, node, run_dsl


def _timeline(run: Harness, *, chunks_of: str = "answer") -> list[tuple[str, str]]:
    """Node starts and successes, and the chunks streamed by ``chunks_of``, in order."""
    timeline = []
    for event in run.events:
        if isinstance(event, ev.StreamChunk) and event.node_id == chunks_of:
            timeline.append(("chunk", event.text))
        elif isinstance(event, ev.NodeStarted):
            timeline.append(("started", event.node_id))
        elif isinstance(event, ev.NodeSucceeded):
            timeline.append(("succeeded", event.node_id))
    return timeline


async def test_template_order_decides_not_the_order_nodes_finish_in() -> None:
    """EXEC-ANSWER-STREAM: ``A -> B -> Answer`` with ``{{#B.x#}}{{#A.x#}}`` streams nothing of A
    before B is done; A's chunks wait, B's pass straight through."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("A", "stream", chunks=["a1", "a2"]),
            node("B", "stream", chunks=["b1", "b2"]),
            node("answer", "answer", answer="{{#B.text#}}{{#A.text#}}"),
        ],
        chain("start", "A", "B", "answer"),
    )
    assert result.status == "succeeded"
    assert _timeline(run) == [
        ("started", "start"),
        ("succeeded", "start"),
        ("started", "A"),
        ("succeeded", "A"),
        ("started", "B"),
        ("chunk", "b1"),
        ("chunk", "b2"),
        ("succeeded", "B"),
        ("chunk", "a1"),
        ("chunk", "a2"),
        ("started", "answer"),
        ("succeeded", "answer"),
    ]
    assert [e.selector for e in run.of(ev.StreamChunk)] == [("B", "text")] * 2 + [("A", "text")] * 2
    assert result.answer == "b1b2a1a2"


async def test_chunks_pass_through_while_the_node_streams() -> None:
    """EXEC-ANSWER-STREAM: the first literal goes out when the stream opens (at once here), each
    chunk of the LLM-like node as it is emitted, the rest of the template when it is done."""
    harness = Harness(
        [
            node("start", "start"),
            node("llm", "stream", chunks=["Hel", "lo", "!"]),
            node("answer", "answer", answer="Bot: {{#llm.text#}} (done)"),
        ],
        chain("start", "llm", "answer"),
    )

    def note_chunk(event: ev.Event) -> None:
        if isinstance(event, ev.StreamChunk):
            harness.journal.record(f"streamed {event.text}", event.node_id)

    harness.listeners.append(note_chunk)
    result = await harness.go()
    assert _timeline(harness) == [
        ("chunk", "Bot: "),
        ("started", "start"),
        ("succeeded", "start"),
        ("started", "llm"),
        ("chunk", "Hel"),
        ("chunk", "lo"),
        ("chunk", "!"),
        ("succeeded", "llm"),
        ("chunk", " (done)"),
        ("started", "answer"),
        ("succeeded", "answer"),
    ]
    # Each chunk reaches the answer's stream before the node emits its next one.
    assert [what for what, _ in harness.journal.log if what.startswith(("chunk", "streamed"))] == [
        "streamed Bot: ",
        "streamed Hel",
        "chunk Hel",
        "streamed lo",
        "chunk lo",
        "streamed !",
        "chunk !",
        "streamed  (done)",
    ]
    assert result.answer == "Bot: Hello! (done)"


async def test_literals_up_to_the_first_unresolved_variable_go_out_when_the_stream_opens() -> None:
    """A stream behind a branch opens when the branch decides (here an if/else whose ``false``
    handle is not connected): its leading text, and variables known from the start like
    sys.query, go out before the variable's node starts."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("if", "branch", handle="true"),
            node("llm", "stream", chunks=["x"]),
            node("answer", "answer", answer="You said {{#sys.query#}}. Reply: {{#llm.text#}}"),
        ],
        [*chain("start", "if"), edge("if", "llm", "true"), *chain("llm", "answer")],
        pool=VariablePool.for_run(system={"query": "hi"}),
    )
    assert _timeline(run)[3:8] == [
        ("succeeded", "if"),
        ("chunk", "You said "),
        ("chunk", "hi"),
        ("chunk", ". Reply: "),
        ("started", "llm"),
    ]
    assert result.answer == "You said hi. Reply: x"


@pytest.mark.parametrize("handle", ["true", "false"])
async def test_an_answer_on_a_branch_not_taken_streams_nothing(handle: str) -> None:
    """Regression: the stream of an Answer behind an if/else opened (and sent its first literal)
    when the if/else finished, before the skip reached it."""
    result, run = await run_dsl(
        [
            node("start", "start", outputs={"name": "Ada"}),
            node("if", "branch", handle=handle),
            node("yes", "answer", answer="Yes, {{#start.name#}}"),
            node("no", "answer", answer="No, {{#start.name#}}"),
        ],
        [*chain("start", "if"), edge("if", "yes", "true"), edge("if", "no", "false")],
    )
    taken, other = ("yes", "no") if handle == "true" else ("no", "yes")
    assert run.streamed(other) == []
    assert result.answer == f"{taken.capitalize()}, Ada"


async def test_an_answer_behind_a_branch_with_one_connected_handle_waits_for_it() -> None:
    """Regression: an if/else with only its ``true`` edge connected was not seen as a branch, so
    the Answer after it streamed its text at once, even when the if/else went the other way."""
    result, run = await run_dsl(
        [node("start", "start"), node("if", "branch", handle="false"), node("yes", "answer", answer="Yes!")],
        [*chain("start", "if"), edge("if", "yes", "true")],
    )
    assert result.status == "succeeded"
    assert run.streamed() == []
    assert result.answer == ""


async def test_two_answers_in_a_row_stream_one_after_the_other() -> None:
    """Several Answer nodes per flow (EXEC-ANSWER-STREAM): the second's text follows the first's,
    and RunResult.answer is everything streamed, concatenated. Regression: the second Answer's
    leading literal used to go out when the run started, before anything of the first."""
    result, run = await run_dsl(
        [
            node("start", "start"),
            node("llm1", "stream", chunks=["think", "ing"]),
            node("first", "answer", answer="[{{#llm1.text#}}]\n"),
            node("llm2", "stream", chunks=["ans", "wer"]),
            node("second", "answer", answer="Final: {{#llm2.text#}}"),
        ],
        chain("start", "llm1", "first", "llm2", "second"),
    )
    assert [(e.node_id, e.text) for e in run.of(ev.StreamChunk)] == [
        ("first", "["),
        ("first", "think"),
        ("first", "ing"),
        ("first", "]\n"),
        ("second", "Final: "),
        ("second", "ans"),
        ("second", "wer"),
    ]
    assert result.answer == "[thinking]\nFinal: answer"


async def test_a_variable_whose_node_was_skipped_renders_as_nothing() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start"),
            node("if", "branch", handle="true"),
            node("t", "constant", outputs={"v": "T"}),
            node("f", "constant", outputs={"v": "F"}),
            node("answer", "answer", answer="<{{#f.v#}}|{{#t.v#}}>"),
        ],
        [
            *chain("start", "if"),
            edge("if", "t", "true"),
            edge("if", "f", "false"),
            *chain("t", "answer"),
            *chain("f", "answer"),
        ],
    )
    assert result.answer == "<|T>"


async def test_an_answer_inside_a_container_streams_its_text_when_done() -> None:
    result, run = await run_dsl(
        [
            node("start", "start", outputs={"items": ["a", "b"]}),
            node("it", "iteration", iterator_selector=["start", "items"], output_selector=["say", "answer"]),
            node("it-start", "iteration-start", iteration_id="it"),
            node("say", "answer", iteration_id="it", answer="item {{#it.item#}};"),
        ],
        [*chain("start", "it"), *chain("it-start", "say")],
    )
    assert run.streamed("say") == ["item a;", "item b;"]
    assert result.answer == "item a;item b;"


# -- End nodes ------------------------------------------------------------------------------------


async def test_an_end_node_streams_the_chunks_of_its_outputs_in_order() -> None:
    """End nodes stream the chunks of their variables (in output order), never literal values;
    their values arrive in the outputs. RunResult.answer is for Answer nodes only."""
    result, run = await run_dsl(
        [
            node("start", "start", outputs={"n": 1}),
            node("first", "stream", chunks=["f1", "f2"]),
            node("second", "stream", chunks=["s1", "s2"]),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": "n", "value_selector": ["start", "n"]},
                    {"variable": "s", "value_selector": ["second", "text"]},
                    {"variable": "f", "value_selector": ["first", "text"]},
                ],
            ),
        ],
        [*chain("start", "first", "end"), *chain("start", "second", "end")],
    )
    assert run.streamed("end") == ["s1", "s2", "f1", "f2"]
    assert result.outputs == {"n": 1, "s": "s1s2", "f": "f1f2"}
    assert result.answer == ""


def _two_ends(first_turns: int, second_turns: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [
        node("start", "start"),
        node("w1", "work", turns=first_turns, outputs={"k": "from end1", "a": 1}),
        node("w2", "work", turns=second_turns, outputs={"k": "from end2", "b": 2}),
        node(
            "end1",
            "end",
            outputs=[
                {"variable": "k", "value_selector": ["w1", "k"]},
                {"variable": "a", "value_selector": ["w1", "a"]},
            ],
        ),
        node(
            "end2",
            "end",
            outputs=[
                {"variable": "k", "value_selector": ["w2", "k"]},
                {"variable": "b", "value_selector": ["w2", "b"]},
            ],
        ),
    ]
    return nodes, [*chain("start", "w1", "end1"), *chain("start", "w2", "end2")]


@pytest.mark.parametrize(("first_turns", "second_turns", "last"), [(0, 5, "end2"), (5, 0, "end1")])
async def test_outputs_of_parallel_end_nodes_merge_and_the_later_duplicate_wins(
    first_turns: int, second_turns: int, last: str
) -> None:
    """EXEC-OUTPUT-MERGE: every End node that runs adds its outputs; across parallel branches the
    one finishing first adds first, so a later duplicate key overwrites; the run goes on after an
    End node."""
    result, run = await run_dsl(*_two_ends(first_turns, second_turns))
    assert result.status == "succeeded"
    assert run.succeeded()[-1] == last
    assert result.outputs == {"k": f"from {last}", "a": 1, "b": 2}


async def test_end_nodes_on_one_branch_merge_in_node_order_and_untaken_ones_add_nothing() -> None:
    result, _ = await run_dsl(
        [
            node("start", "start", outputs={"x": "one", "y": "two"}),
            node("end1", "end", outputs=[{"variable": "v", "value_selector": ["start", "x"]}]),
            node("if", "branch", handle="true"),
            node("end2", "end", outputs=[{"variable": "v", "value_selector": ["start", "y"]}]),
            node("end3", "end", outputs=[{"variable": "never", "value_selector": ["start", "x"]}]),
        ],
        [*chain("start", "end1", "if"), edge("if", "end2", "true"), edge("if", "end3", "false")],
    )
    assert result.outputs == {"v": "two"}
