"""The agent node against a local server that answers like a tool-using model (NODE-AGENT): a task
that needs two tools in turn, with the function-calling and the ReAct strategy; the iteration limit;
tool errors told to the model; the agent log; and configurations that cannot run."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from treadle.apps import RunRequest
from treadle.graph import GraphBuildError
from treadle.plugins import PluginSupervisor

from .model_server import COMPLETION_TOKENS, PROMPT_TOKENS, AgentModelServer
from .support import QUESTION, Outcome, PastTurns, agent_node, chatflow, run_app, tool_entry, workflow

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _years() -> set[int]:
    # The task reads the clock; a run across New Year sees either year.
    return {datetime.now(UTC).year, datetime.now(UTC).year + 1}


async def ask(supervisor: PluginSupervisor, data: dict[str, Any], query: str = QUESTION) -> Outcome:
    nodes, edges = chatflow(data)
    return await run_app(supervisor, nodes, edges, RunRequest(query=query, conversation_id=""), mode="advanced-chat")


def _calls(outcome: Outcome) -> list[tuple[str, str]]:
    """(label, final status) of every tool call entry of the agent log, in order."""
    return [(e["label"], e["status"]) for e in outcome.final_logs().values() if e["label"].startswith("CALL ")]


def _check_log_tree(outcome: Outcome, rounds: int, model: str) -> None:
    """Dify's agent log shape: ROUND n entries at the top, a thought and the tool calls under each;
    every entry sent first with status start, then once more when it ended."""
    sent = outcome.logs()
    final = outcome.final_logs()
    assert all(set(entry) == {"id", "label", "parent_id", "status", "data", "metadata", "error"} for entry in sent)
    for entry_id, entry in final.items():
        statuses = [e["status"] for e in sent if e["id"] == entry_id]
        assert statuses[0] == "start" and statuses[-1] in ("success", "error") and len(statuses) == 2, entry
        assert {"started_at", "finished_at", "elapsed_time"} <= set(entry["metadata"])
    tops = [e for e in final.values() if e["parent_id"] is None]
    assert [e["label"] for e in tops] == [f"ROUND {n}" for n in range(1, rounds + 1)]
    for top in tops:
        children = [e["label"] for e in final.values() if e["parent_id"] == top["id"]]
        assert children[0] == f"{model} Thought"
        assert all(label.startswith("CALL ") for label in children[1:])
        thought = next(e for e in final.values() if e["parent_id"] == top["id"])
        assert thought["metadata"]["provider"] == "langgenius/openai/openai"
        assert thought["metadata"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS


# -- the acceptance task -------------------------------------------------------------------------


async def test_function_calling_agent_runs_two_tools_in_turn_to_answer(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """NODE-AGENT (Function Calling): the model calls current_time, then eval_expression with the
    year it read in the first tool's result, then answers with the second tool's result."""
    outcome = await ask(supervisor, agent_node("function_calling", "fc"))
    result = outcome.result
    assert result.status == "succeeded", result.error

    # The server saw each tool's result before it asked for the next step.
    [(_, first, time_text), (_, second, sum_text)] = server.seen[-2:]
    assert (first, second) == ("current_time", "eval_expression")
    year = int(time_text[:4])
    assert year in _years()
    assert sum_text.splitlines()[0] == str(year + 10)
    assert result.answer == f"The current year plus 10 is {year + 10}."

    # Three calls: tools offered to the first two, none to the last allowed round.
    assert len(server.requests) == 3
    offered = [sorted(t["function"]["name"] for t in body.get("tools", [])) for body in server.requests]
    assert offered == [["current_time", "eval_expression"]] * 2 + [[]]
    first_request = server.requests[0]
    assert first_request["model"] == "fc" and first_request["temperature"] == 0.2
    assert [m["role"] for m in first_request["messages"]] == ["system", "user"]
    assert first_request["messages"][1]["content"] == QUESTION
    clock = next(t["function"] for t in first_request["tools"] if t["function"]["name"] == "current_time")
    # Only the parameters the model fills: 'format' is a form parameter the node sets.
    assert set(clock["parameters"]["properties"]) == {"timezone"}
    # The tool results went back as tool messages answering the calls by id.
    last = server.requests[2]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert last[3]["tool_call_id"] == last[2]["tool_calls"][0]["id"]
    assert json.loads(last[4]["tool_calls"][0]["function"]["arguments"]) == {"expression": f"{year} + 10"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", last[3]["content"])  # the format setting applied

    assert _calls(outcome) == [("CALL current_time", "success"), ("CALL eval_expression", "success")]
    _check_log_tree(outcome, rounds=3, model="fc")
    node = outcome.succeeded("agent")
    assert node.outputs["text"] == result.answer
    assert node.outputs["iterations"] == 3
    usage = node.outputs["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (3 * PROMPT_TOKENS, 3 * COMPLETION_TOKENS)
    trace = node.outputs["json"]
    assert [entry["label"] for entry in trace if "label" in entry][:3] == ["ROUND 1", "fc Thought", "CALL current_time"]
    assert {"result": year + 10} in trace  # the maths tool's JSON, after the trace
    assert node.outputs["files"] == []
    assert node.inputs is not None and node.inputs["tools"] == ["current_time", "eval_expression"]
    assert "".join(outcome.chunks("agent")) == result.answer


async def test_react_agent_runs_two_tools_in_turn_to_answer(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """NODE-AGENT (ReAct): the same task in text — Thought, an Action JSON blob, the Observation —
    with 'Observation' as a stop word, and the final answer streamed as the model writes it."""
    outcome = await ask(supervisor, agent_node("ReAct", "react"))
    result = outcome.result
    assert result.status == "succeeded", result.error

    observations = [text for _, _, text in server.seen]
    assert len(observations) == 3  # round 2 saw the time; round 3 saw the time and the sum
    year = int(observations[0][:4])
    assert year in _years()
    assert observations[2] == str(year + 10)
    assert result.answer == f"The current year plus 10 is {year + 10}."

    assert len(server.requests) == 3
    for body in server.requests:
        assert "Observation" in body["stop"]
        assert "tools" not in body  # the tools are described in the prompt, not offered natively
    system = server.requests[0]["messages"][0]["content"]
    assert '"name": "current_time"' in system and '"name": "eval_expression"' in system
    assert "Use the tools to answer." in system  # the instruction
    # What the model invented after its action (a made-up observation) was cut by the stop word.
    assert all("1999" not in text for text in observations)
    scratchpad = server.requests[2]["messages"][-2]
    assert scratchpad["role"] == "assistant" and scratchpad["content"].count("Observation: ") == 2

    assert _calls(outcome) == [("CALL current_time", "success"), ("CALL eval_expression", "success")]
    _check_log_tree(outcome, rounds=3, model="react")
    thoughts = [e["data"] for e in outcome.final_logs().values() if e["label"] == "react Thought"]
    assert thoughts[0]["action"] == "current_time" and thoughts[0]["action_input"] == {"timezone": "UTC"}
    assert thoughts[2] == {"thought": "I know the answer now.", "action": "Final Answer",
                           "action_input": result.answer}
    # The final answer streamed in pieces as it arrived, and nothing of the thoughts did.
    chunks = outcome.chunks("agent")
    assert len(chunks) > 1 and "".join(chunks) == result.answer
    assert outcome.succeeded("agent").outputs["iterations"] == 3


# -- the iteration limit -------------------------------------------------------------------------


@pytest.mark.parametrize(("strategy", "model"), [("function_calling", "fc"), ("ReAct", "react")])
async def test_the_last_round_allowed_offers_no_tools(
    supervisor: PluginSupervisor, server: AgentModelServer, strategy: str, model: str
) -> None:
    """Maximum Iterations: with 2 rounds, the model gets one tool call, then must answer."""
    outcome = await ask(supervisor, agent_node(strategy, model, max_iterations=2))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert len(server.requests) == 2
    assert _calls(outcome) == [("CALL current_time", "success")]
    if strategy == "function_calling":
        assert "tools" in server.requests[0] and "tools" not in server.requests[1]
        assert outcome.result.answer.startswith("It is ") and "may not calculate" in outcome.result.answer
    else:
        assert "eval_expression" not in server.requests[1]["messages"][0]["content"]
        assert outcome.result.answer.startswith("I ran out of steps; the year is ")
    assert outcome.succeeded("agent").outputs["iterations"] == 2


async def test_one_round_means_no_tools_at_all(supervisor: PluginSupervisor, server: AgentModelServer) -> None:
    outcome = await ask(supervisor, agent_node("function_calling", "fc", max_iterations=1))
    assert outcome.result.answer == "I have no tool to find the time."
    assert "tools" not in server.requests[0]
    assert _calls(outcome) == []


async def test_maximum_iterations_may_come_from_a_variable(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    data = agent_node("function_calling", "fc", max_iterations=None)
    data["agent_parameters"]["maximum_iterations"] = {"type": "mixed", "value": "{{#start.rounds#}}"}
    nodes, edges = workflow(data, variables=[{"variable": "rounds", "type": "number", "label": "R"}],
                            outputs=("text", "iterations"), node_id="agent")
    outcome = await run_app(supervisor, nodes, edges, RunRequest(inputs={"rounds": 2}))
    assert outcome.result.status == "succeeded", outcome.result.error
    assert outcome.result.outputs["iterations"] == 2
    failed = await run_app(supervisor, nodes, edges, RunRequest(inputs={"rounds": 99}))
    assert failed.result.status == "failed"
    assert failed.result.error_type == "AgentNodeError"
    assert "maximum_iterations must be between 1 and 30, not 99" in failed.result.error


# -- tool errors go back to the model ------------------------------------------------------------


async def test_a_tool_error_is_told_to_the_model_which_answers(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """A failed tool call does not fail the node: the model reads the error and answers."""
    outcome = await ask(supervisor, agent_node("function_calling", "fc-typo"))
    assert outcome.result.status == "succeeded", outcome.result.error
    [(_, name, told)] = server.seen
    assert name == "eval_expression"
    assert told.startswith("Error: tool 'eval_expression' of builtin provider 'langgenius/maths/maths' failed:")
    assert "invalid syntax" in told
    assert outcome.result.answer == f"The calculator refused: {told}"
    [call] = [e for e in outcome.final_logs().values() if e["label"] == "CALL eval_expression"]
    assert call["status"] == "error" and "invalid syntax" in call["error"]
    assert call["data"]["tool_call_args"] == {"expression": "2025 +* 10"}


async def test_a_tool_the_agent_does_not_have_is_told_to_the_model(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    outcome = await ask(supervisor, agent_node("ReAct", "react-unknown-tool"))
    assert outcome.result.status == "succeeded", outcome.result.error
    [(_, _, told)] = server.seen
    assert told == "Error: there is no tool named 'weather' (the tools are: current_time, eval_expression)"
    assert outcome.result.answer == f"The tool failed: {told}"
    assert _calls(outcome) == [("CALL weather", "error")]


async def test_fixed_parameters_are_not_offered_and_are_given_to_the_tool(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """A parameter set to a fixed value (auto: 0) is the node's, not the model's: the timezone here
    comes from a workflow variable."""
    clock = tool_entry(
        "time", "current_time",
        parameters={"timezone": {"auto": 0, "value": {"type": "mixed", "value": "{{#start.zone#}}"}}},
        settings={"format": "%Y %Z"}, description="What time it is.",
    )
    data = agent_node("function_calling", "fc", tools=[clock, tool_entry("maths", "eval_expression")])
    nodes, edges = workflow(data, variables=[{"variable": "zone", "type": "text-input", "label": "Z"}],
                            outputs=("text",), node_id="agent")
    outcome = await run_app(supervisor, nodes, edges, RunRequest(inputs={"zone": "Asia/Tokyo"}))
    assert outcome.result.status == "succeeded", outcome.result.error
    [tool] = [t["function"] for t in server.requests[0]["tools"] if t["function"]["name"] == "current_time"]
    assert tool["description"] == "What time it is."
    assert tool["parameters"]["properties"] == {}
    assert server.seen[0][2].endswith(" JST")


# -- strategies and configurations that cannot run -----------------------------------------------


async def test_a_strategy_from_another_plugin_fails_when_it_runs(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """A file using a strategy this server lacks (agentflow.yml's TOD) loads, and fails to run
    saying which strategy it needs."""
    data = {
        "type": "agent", "title": "Agent", "agent_strategy_name": "TOD",
        "agent_strategy_provider_name": "afeaad50-3ca8-4d6b-8e95-ca6993bb2951/agent/agent",
        "agent_parameters": {"query": {"type": "constant", "value": "{{#sys.query#}}"},
                             "task_schema": {"type": "constant", "value": "{}"}},
    }
    outcome = await ask(supervisor, data)
    assert outcome.result.status == "failed"
    assert outcome.result.error_type == "AgentStrategyNotFoundError"
    assert "agent strategy 'TOD' of afeaad50-3ca8-4d6b-8e95-ca6993bb2951/agent/agent" in outcome.result.error
    assert server.requests == []


async def test_a_missing_tool_provider_fails_the_node(supervisor: PluginSupervisor, server: AgentModelServer) -> None:
    data = agent_node("function_calling", "fc", tools=[tool_entry("langgenius/tavily/tavily", "tavily_search")])
    outcome = await ask(supervisor, data)
    assert outcome.result.status == "failed"
    assert outcome.result.error_type == "ToolProviderNotFoundError"
    assert "tavily" in outcome.result.error
    assert server.requests == []


async def test_a_model_error_fails_the_node_with_its_invoke_error_type(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    outcome = await ask(supervisor, agent_node("function_calling", "no-such-model"))
    assert outcome.result.status == "failed"
    assert outcome.result.error_type.startswith("Invoke"), outcome.result.error_type
    [(round_status, thought_status)] = [
        (e["status"], t["status"])
        for e in outcome.final_logs().values()
        for t in outcome.final_logs().values()
        if e["label"] == "ROUND 1" and t["parent_id"] == e["id"]
    ]
    assert (round_status, thought_status) == ("error", "error")


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d["agent_parameters"].pop("query"), "agent_parameters.query", "needs a query"),
        (lambda d: d["agent_parameters"]["maximum_iterations"].update(value=0),
         "agent_parameters.maximum_iterations.value", "between 1 and 30"),
        (lambda d: d["agent_parameters"].pop("model"), "agent_parameters.model", "the agent needs a model"),
        (lambda d: d["agent_parameters"]["model"]["value"].pop("model"),
         "agent_parameters.model.value.name", "a model name is required"),
        (lambda d: d["agent_parameters"].update(model={"type": "variable", "value": ["a", "b"]}),
         "agent_parameters.model.type", "must be a constant"),
        (lambda d: d["agent_parameters"]["tools"]["value"].append(tool_entry("other", "eval_expression")),
         "agent_parameters.tools.value[2].tool_name", "two enabled tools are named 'eval_expression'"),
        (lambda d: d["agent_parameters"]["tools"]["value"][0].update(type="magic"),
         "agent_parameters.tools.value[0].type", "must be one of builtin"),
        (lambda d: d["agent_parameters"]["query"].update(type="variable", value="sys.query"),
         "agent_parameters.query.value", "needs a selector"),
        (lambda d: d.pop("agent_strategy_name"), "agent_strategy_name", "an agent strategy name is required"),
    ],
)
async def test_configuration_errors_name_the_field(
    supervisor: PluginSupervisor, change: Any, path: str, message: str
) -> None:
    data = agent_node("function_calling", "fc")
    change(data)
    nodes, edges = chatflow(data)
    with pytest.raises(GraphBuildError) as caught:
        await run_app(supervisor, nodes, edges, RunRequest(query="x"), mode="advanced-chat")
    [problem] = caught.value.problems
    assert (problem.node_id, problem.path) == ("agent", f"data.{path}")
    assert message in problem.message


async def test_disabled_tools_are_left_out(supervisor: PluginSupervisor, server: AgentModelServer) -> None:
    tools = [tool_entry("time", "current_time", enabled=False), tool_entry("maths", "eval_expression")]
    outcome = await ask(supervisor, agent_node("function_calling", "fc", tools=tools))
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["eval_expression"]
    assert outcome.result.answer == "I have no tool to find the time."


async def test_memory_puts_the_last_turns_before_the_query(
    supervisor: PluginSupervisor, server: AgentModelServer, past_turns: PastTurns
) -> None:
    """Memory (a TokenBufferMemory window): the conversation's last turns, oldest first."""
    past_turns.turns["c-1"] = [
        {"query": "Hi", "answer": "Hello!"},
        {"query": "Who are you?", "answer": "An agent."},
        {"query": "Can you count?", "answer": "With a calculator."},
    ]
    data = agent_node("function_calling", "fc", max_iterations=1,
                      extra={"memory": {"window": {"enabled": True, "size": 2}}})
    nodes, edges = chatflow(data)
    request = RunRequest(query=QUESTION, conversation_id="c-1")
    outcome = await run_app(supervisor, nodes, edges, request, mode="advanced-chat")
    assert outcome.result.status == "succeeded", outcome.result.error
    assert past_turns.asked[-1] == ("c-1", 2)
    assert [(m["role"], m["content"]) for m in server.requests[0]["messages"][1:]] == [
        ("user", "Who are you?"), ("assistant", "An agent."),
        ("user", "Can you count?"), ("assistant", "With a calculator."),
        ("user", QUESTION),
    ]


async def test_context_joins_the_instruction(supervisor: PluginSupervisor, server: AgentModelServer) -> None:
    """Context (knowledge retrieval results, objects with 'content') goes to the model with the instruction."""
    data = agent_node("function_calling", "fc", max_iterations=1)
    data["agent_parameters"]["context"] = {"type": "variable", "value": ["start", "found", "result"]}
    nodes, edges = workflow(data, variables=[{"variable": "found", "type": "json_object", "label": "F"}],
                            outputs=("text",), node_id="agent")
    found = [{"content": "Treadle runs Dify DSL files.", "title": "a"}, {"content": "It is a platform.", "title": "b"}]
    outcome = await run_app(supervisor, nodes, edges, RunRequest(inputs={"found": {"result": found}}))
    assert outcome.result.status == "succeeded", outcome.result.error
    system = server.requests[0]["messages"][0]["content"]
    assert system.startswith("Use the tools to answer. Never do arithmetic yourself.\n\n")
    assert "<context>\nTreadle runs Dify DSL files.\nIt is a platform.\n</context>" in system


async def test_react_with_a_completion_model_sends_one_prompt(
    supervisor: PluginSupervisor, server: AgentModelServer
) -> None:
    """A model of mode 'completion' continues one prompt text after 'Thought:'."""
    data = agent_node("ReAct", "react")
    data["agent_parameters"]["model"]["value"]["mode"] = "completion"
    outcome = await ask(supervisor, data)
    assert outcome.result.status == "succeeded", outcome.result.error
    year = int(server.seen[0][2][:4])
    assert outcome.result.answer == f"The current year plus 10 is {year + 10}."
    [message] = server.requests[2]["messages"]
    assert message["role"] == "user"
    assert message["content"].endswith("Thought:")
    assert f"\nQuestion: {QUESTION}\nThought: " in message["content"]
