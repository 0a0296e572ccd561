"""Memory (chatflows): past turns of the conversation in the LLM node's prompt (NODE-LLM "Memory"),
read through the kernel from :class:`~treadle.apps.MemoryConversationHistory`."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.apps import MemoryConversationHistory, RunRequest
from treadle.plugins import PluginSupervisor

from .support import TENANT, Run, answer, llm, run, script_model, start


def memory(size: int | None = None, query_template: str | None = None, **prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "role_prefix": {"user": prefix.get("user", ""), "assistant": prefix.get("assistant", "")},
        "window": {"enabled": size is not None, "size": size or 10},
    }
    if query_template is not None:
        data["query_prompt_template"] = query_template
    return data


async def turn(
    supervisor: PluginSupervisor,
    history: MemoryConversationHistory,
    node: dict[str, Any],
    query: str,
    conversation: str = "conv-1",
) -> Run:
    """One chat turn: run the chatflow, then record the turn as the app runtime does."""
    nodes = [start(), node, answer("{{#llm.text#}}")]
    request = RunRequest(query=query, conversation_id=conversation, user_id="u1")
    done = await run(supervisor, nodes, mode="advanced-chat", request=request)
    assert done.result.status == "succeeded", done.result.error
    history.append(TENANT, conversation, query, done.result.answer)
    return done


def texts(done: Run) -> list[tuple[str, str]]:
    return [(p["role"], p["text"]) for p in done.prompts()]


async def test_past_turns_come_after_the_template_and_the_query_last(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    """Dify's order: the template's messages, the past turns, then ``sys.query``."""
    node = llm(
        model=script_model("Hi Ada.", "You are Ada."),
        memory=memory(),
        prompt_template=[{"role": "system", "text": "Be brief."}],
    )
    first = await turn(supervisor, history, node, "I am Ada.")
    second = await turn(supervisor, history, node, "Who am I?")
    assert texts(first) == [("system", "Be brief."), ("user", "I am Ada.")]
    assert texts(second) == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("assistant", "Hi Ada."),
        ("user", "Who am I?"),
    ]
    assert second.result.answer == "You are Ada."


async def test_the_window_keeps_the_last_turns(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    for number in range(1, 5):
        history.append(TENANT, "conv-1", f"q{number}", f"a{number}")
    node = llm(model=script_model(*["x"] * 3), memory=memory(size=2), prompt_template=[{"role": "system", "text": "S"}])
    done = await turn(supervisor, history, node, "q5")
    assert texts(done) == [("system", "S"), ("user", "q3"), ("assistant", "a3"), ("user", "q4"), ("assistant", "a4"),
                           ("user", "q5")]


async def test_conversations_and_tenants_keep_their_own_memory(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "other", "elsewhere", "not here")
    history.append("another-tenant", "conv-1", "not mine", "no")
    node = llm(model=script_model("fresh"), memory=memory(), prompt_template=[{"role": "system", "text": "S"}])
    done = await turn(supervisor, history, node, "hello")
    assert texts(done) == [("system", "S"), ("user", "hello")]


async def test_the_query_prompt_template_is_the_users_message(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "conv-1", "earlier", "reply")
    node = llm(
        model=script_model("a", "b"),
        memory=memory(query_template="Question: {{#sys.query#}} (from {{#sys.user_id#}})"),
        prompt_template=[{"role": "system", "text": "S"}],
    )
    done = await turn(supervisor, history, node, "now?")
    assert texts(done)[-3:] == [("user", "earlier"), ("assistant", "reply"), ("user", "Question: now? (from u1)")]


@pytest.mark.parametrize("query_template", [None, "", "{{#sys.query#}}"])
async def test_a_template_that_sends_the_query_itself_gets_the_past_turns_before_it(
    supervisor: PluginSupervisor, history: MemoryConversationHistory, query_template: str | None
) -> None:
    """The template's user message holds ``{{#sys.query#}}`` (as corpus/memory-test.yml does): the
    query is not sent a second time (Dify would), and the past turns go before that message."""
    history.append(TENANT, "conv-1", "earlier", "reply")
    node = llm(
        model=script_model("a", "b"),
        memory=memory(query_template=query_template),
        prompt_template=[{"role": "system", "text": "S"}, {"role": "user", "text": "{{#sys.query#}}"}],
    )
    done = await turn(supervisor, history, node, "now?")
    assert texts(done) == [("system", "S"), ("user", "earlier"), ("assistant", "reply"), ("user", "now?")]


async def test_a_query_in_the_system_message_does_not_stop_the_users_turn(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    node = llm(
        model=script_model("a"),
        memory=memory(),
        prompt_template=[{"role": "system", "text": "Topic: {{#sys.query#}}"}],
    )
    done = await turn(supervisor, history, node, "tea")
    assert texts(done) == [("system", "Topic: tea"), ("user", "tea")]


async def test_a_workflow_has_no_conversation_to_remember(supervisor: PluginSupervisor) -> None:
    nodes = [
        start(),
        llm(model=script_model("ok"), memory=memory(), prompt_template=[{"role": "user", "text": "hello"}]),
    ]
    done = await run(supervisor, nodes)
    assert done.result.status == "succeeded", done.result.error
    assert texts(done) == [("user", "hello")]


async def test_completion_prompts_get_the_past_turns_as_lines_with_the_role_prefixes(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "conv-1", "Hello", "Hi!")
    template = "Chat so far:\n{{#histories#}}\nHuman: {{#sys.query#}}\nAssistant:"
    node = llm(
        model={**script_model("ok"), "mode": "completion"},
        memory=memory(user="User", assistant="Bot"),
        prompt_template={"text": template},
    )
    done = await turn(supervisor, history, node, "Bye")
    assert texts(done) == [("user", "Chat so far:\nUser: Hello\nBot: Hi!\nHuman: Bye\nAssistant:")]


async def test_completion_prompts_without_a_histories_slot_get_the_past_turns_first(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "conv-1", "Hello", "Hi!")
    node = llm(model={**script_model("ok"), "mode": "completion"}, memory=memory(), prompt_template={"text": "Go on."})
    done = await turn(supervisor, history, node, "Bye")
    assert texts(done) == [("user", "Human: Hello\nAssistant: Hi!\nGo on.")]


# -- the history store itself ------------------------------------------------------------------------


async def test_memory_history_answers_the_last_turns_oldest_first() -> None:
    store = MemoryConversationHistory()
    for number in range(5):
        store.append("t", "c", f"q{number}", f"a{number}", files=[{"type": "image", "url": f"u{number}"}])
    turns = await store.history("t", "c", 2)
    assert turns == [
        {"query": "q3", "answer": "a3", "files": [{"type": "image", "url": "u3"}]},
        {"query": "q4", "answer": "a4", "files": [{"type": "image", "url": "u4"}]},
    ]
    turns[0]["files"].append({"changed": True})
    assert (await store.history("t", "c", 1))[0]["files"] == [{"type": "image", "url": "u4"}]
    assert await store.history("t", "c", 0) == []
    assert await store.history("t", "unknown", 5) == []
    assert await store.history("other", "c", 5) == []


def test_a_turn_needs_a_conversation() -> None:
    with pytest.raises(ValueError, match="conversation"):
        MemoryConversationHistory().append("t", "", "q", "a")
