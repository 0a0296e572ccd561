"""Reading a ReAct reply (NODE-AGENT, ReAct strategy): the shapes models write actions and answers in,
and the final answer passed on while it streams."""

from __future__ import annotations

import pytest
from treadle_agent_nodes import FinalAnswerStream, ReActStep, parse_react


@pytest.mark.parametrize(
    ("reply", "step"),
    [
        (
            'Thought: I need the time.\nAction:\n```json\n'
            '{"action": "current_time", "action_input": {"timezone": "UTC"}}\n```',
            ReActStep("I need the time.", action="current_time", action_input={"timezone": "UTC"}),
        ),
        (
            'I need the time.\nAction: {"action": "current_time", "action_input": {}}',
            ReActStep("I need the time.", action="current_time", action_input={}),
        ),
        (
            'Thought: the braces {in a thought} are no action.\nAction:\n```\n'
            '{"action": "search", "action_input": "x"}\n```',
            ReActStep("the braces {in a thought} are no action.", action="search", action_input="x"),
        ),
        (
            '{"action": "search"}',
            ReActStep("", action="search", action_input={}),
        ),
        (
            "Thought: I know it.\nFinal Answer: It is 2035.",
            ReActStep("I know it.", final_answer="It is 2035."),
        ),
        (
            "Thought: I know it.\nFinalAnswer:\n  Two lines\nof answer.\n",
            ReActStep("I know it.", final_answer="Two lines\nof answer."),
        ),
        (
            'Thought: done\nAction:\n```\n{"action": "Final Answer", "action_input": "It is 2035."}\n```',
            ReActStep("done", final_answer="It is 2035."),
        ),
        (
            '{"action": "final_answer", "action_input": {"year": 2035}}',
            ReActStep("", final_answer='{"year": 2035}'),
        ),
        (
            'Thought: easy.\nFinal Answer: Use {"action": "x"} blobs.',
            ReActStep("easy.", final_answer='Use {"action": "x"} blobs.'),
        ),
        (
            "Thought: The answer is plainly 4.",
            ReActStep("The answer is plainly 4.", final_answer="The answer is plainly 4."),
        ),
        ("Paris.", ReActStep("Paris.", final_answer="Paris.")),
    ],
)
def test_a_reply_is_an_action_or_the_final_answer(reply: str, step: ReActStep) -> None:
    assert parse_react(reply) == step


def test_an_unparsable_blob_is_not_an_action() -> None:
    step = parse_react('Thought: hm\nAction: {"action": "search", "action_input": {oops}}')
    assert step.action is None and step.final_answer is not None


def _stream(pieces: list[str]) -> tuple[FinalAnswerStream, list[str]]:
    sent: list[str] = []
    stream = FinalAnswerStream(sent.append)
    for piece in pieces:
        stream.feed(piece)
    return stream, sent


def test_the_final_answer_is_passed_on_as_it_comes() -> None:
    stream, sent = _stream(["Thought: I know.\nFinal Ans", "wer:", " It is", " 2035", "."])
    assert sent == ["It is", " 2035", "."]
    assert stream.streaming and stream.text == "It is 2035."


def test_leading_space_after_the_marker_is_held_back() -> None:
    stream, sent = _stream(["Final Answer:", " ", "\n", "Yes"])
    assert sent == ["Yes"] and stream.text == "Yes"


def test_nothing_is_passed_on_for_an_action() -> None:
    stream, sent = _stream(['Thought: x\nAction: {"action": "a", "action_input": {}}\n', "Final Answer: no"])
    assert sent == [] and not stream.streaming
    stream, sent = _stream(["Thought: still thinking", " about it"])
    assert sent == [] and not stream.streaming
