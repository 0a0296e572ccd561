"""Engine events into Dify's SSE events and blocking bodies (API-SSE-*, API-CHAT-SEND, API-COMPL-SEND,
API-WF-RUN), compared field by field with the examples of Dify's OpenAPI documents."""

from __future__ import annotations

from typing import Any

import pytest
from graph.nodes_for_tests import chain, node, run_dsl
from treadle.api.errors import ApiError
from treadle.api.service import EventTranslator, StreamContext
from treadle.graph import events as ev

TASK = "c3800678-a077-43df-a102-53f23ed20b88"
RUN = "fb47b2e6-5e43-4f90-be01-d5c5a088d156"
WORKFLOW = "7c3e33d4-2a8b-4e5f-9b1a-d3c6e8f12345"
MESSAGE = "9da23599-e713-473b-982c-4328d4f5c78a"
CONVERSATION = "45701982-8118-4bc5-8e9b-64562b4555f2"
CREATED = 1705407629

NODE_STARTED_FIELDS = {"id", "node_id", "node_type", "title", "index", "predecessor_node_id", "inputs",
                       "inputs_truncated", "created_at", "extras", "iteration_id", "loop_id"}
NODE_FINISHED_FIELDS = (NODE_STARTED_FIELDS - {"extras"}) | {
    "process_data", "process_data_truncated", "outputs", "outputs_truncated", "status", "error", "elapsed_time",
    "execution_metadata", "finished_at", "files"}
WORKFLOW_FINISHED_FIELDS = {"id", "workflow_id", "status", "outputs", "error", "elapsed_time", "total_tokens",
                            "total_steps", "created_at", "finished_at", "created_by", "exceptions_count", "files"}

USAGE = {
    "prompt_tokens": 1033, "prompt_unit_price": "0.001", "prompt_price_unit": "0.001", "prompt_price": "0.0010330",
    "completion_tokens": 128, "completion_unit_price": "0.002", "completion_price_unit": "0.001",
    "completion_price": "0.0002560", "total_tokens": 1161, "total_price": "0.0012890", "currency": "USD",
    "latency": 0.7682376249867957,
}
RESOURCE = {
    "position": 1, "dataset_id": "101b4c97-fc2e-463c-90b1-5261a4cdcafb", "dataset_name": "iPhone",
    "document_id": "8dd1ad74-0b5f-4175-b735-7d98bbbb4e00", "document_name": "iPhone List",
    "segment_id": "ed599c7f-2766-4294-9d1d-e5235a61270a", "score": 0.98457545, "content": "\"Model\",\"iPhone 13\"",
}


def context(mode: str, **fields: Any) -> StreamContext:
    ids = iter(f"exec-{n}" for n in range(1, 1000))
    base: dict[str, Any] = {"mode": mode, "task_id": TASK, "workflow_run_id": RUN, "workflow_id": WORKFLOW,
                            "created_at": CREATED, "clock": lambda: CREATED + 0.4, "new_id": lambda: next(ids)}
    if mode != "workflow":
        base["message_id"] = MESSAGE
    if mode in {"chat", "agent-chat", "advanced-chat"}:
        base["conversation_id"] = CONVERSATION
    return StreamContext(**{**base, **fields})


def feed(translator: EventTranslator, *events: ev.Event) -> list[dict[str, Any]]:
    return [out for event in events for out in translator.translate(event)]


def llm_done(node_id: str = "llm", **extra: Any) -> ev.NodeSucceeded:
    return ev.NodeSucceeded(RUN, node_id=node_id, node_type="llm", outputs={"text": "Bonjour", "usage": USAGE},
                            process_data={"usage": USAGE, "retriever_resources": [RESOURCE]}, elapsed=0.7, **extra)


# -- workflow apps --------------------------------------------------------------------------------


def test_workflow_stream_matches_the_documented_example() -> None:
    """openapi_workflow.json, /workflows/run, streamingResponse: workflow_started, text_chunk and
    workflow_finished as documented (our extra fields are the ones the event schemas list)."""
    translator = EventTranslator(context("workflow"))
    sent = feed(
        translator,
        ev.RunStarted(RUN, inputs={"query": "Translate this"}),
        ev.StreamChunk(RUN, node_id="end", text="Bonjour", selector=("node_1", "text")),
        ev.RunSucceeded(RUN, outputs={"result": "Bonjour le monde"}, steps=3, elapsed=1.23),
    )
    assert sent[0] == {"event": "workflow_started", "task_id": TASK, "workflow_run_id": RUN, "data": {
        "id": RUN, "workflow_id": WORKFLOW, "inputs": {"query": "Translate this"}, "created_at": CREATED,
        "reason": "initial"}}
    assert sent[1] == {"event": "text_chunk", "task_id": TASK, "workflow_run_id": RUN,
                       "data": {"text": "Bonjour", "from_variable_selector": ["node_1", "text"]}}
    finished = sent[2]
    assert {k: finished[k] for k in ("event", "task_id", "workflow_run_id")} == {
        "event": "workflow_finished", "task_id": TASK, "workflow_run_id": RUN}
    documented = {"id": RUN, "workflow_id": WORKFLOW, "status": "succeeded", "outputs": {"result": "Bonjour le monde"},
                  "elapsed_time": 1.23, "total_tokens": 0, "total_steps": 3, "created_at": CREATED,
                  "finished_at": CREATED}
    assert {k: finished["data"][k] for k in documented} == documented
    assert set(finished["data"]) == WORKFLOW_FINISHED_FIELDS
    assert finished["data"]["error"] is None and finished["data"]["exceptions_count"] == 0


def test_workflow_blocking_body_matches_the_documented_example() -> None:
    translator = EventTranslator(context("workflow"))
    feed(translator, ev.RunStarted(RUN), llm_done(),
         ev.RunSucceeded(RUN, outputs={"result": "Bonjour le monde"}, steps=3, elapsed=1.23))
    assert translator.blocking_response() == {
        "task_id": TASK,
        "workflow_run_id": RUN,
        "data": {"id": RUN, "workflow_id": WORKFLOW, "status": "succeeded", "outputs": {"result": "Bonjour le monde"},
                 "error": None, "elapsed_time": 1.23, "total_tokens": 1161, "total_steps": 3, "created_at": CREATED,
                 "finished_at": CREATED},
    }


def test_a_failed_workflow_answers_blocking_with_status_failed() -> None:
    translator = EventTranslator(context("workflow"))
    sent = feed(translator, ev.RunStarted(RUN), ev.RunFailed(RUN, error="code: boom", error_type="NodeRunError"))
    assert [e["event"] for e in sent] == ["workflow_started", "workflow_finished"]
    body = translator.blocking_response()
    assert body["data"]["status"] == "failed" and body["data"]["error"] == "code: boom"


def test_no_blocking_body_before_the_run_ends() -> None:
    translator = EventTranslator(context("workflow"))
    feed(translator, ev.RunStarted(RUN))
    with pytest.raises(RuntimeError, match="has not ended"):
        translator.blocking_response()


async def test_a_real_run_with_an_iteration_streams_every_event_in_order() -> None:
    result, harness = await run_dsl(
        [
            node("start", "start", outputs={"items": ["x", "y"]}),
            node("it", "iteration", iterator_selector=["start", "items"], output_selector=["copy", "v"],
                 start_node_id="it-start"),
            node("it-start", "iteration-start", iteration_id="it"),
            node("copy", "copy", iteration_id="it", inputs={"v": ["it", "item"]}),
            node("llm", "stream", chunks=["Hel", "lo"]),
            node("end", "end", outputs=[{"variable": "text", "value_selector": ["llm", "text"]},
                                        {"variable": "all", "value_selector": ["it", "output"]}]),
        ],
        [*chain("start", "it", "llm", "end"), *chain("it-start", "copy")],
    )
    assert result.status == "succeeded"
    translator = EventTranslator(context("workflow", workflow_run_id=""))
    sent = feed(translator, *harness.events)
    names = [e["event"] for e in sent]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert names.count("iteration_started") == 1 and names.count("iteration_completed") == 1
    assert names.count("iteration_next") == 2
    assert names.index("iteration_started") < names.index("iteration_next") < names.index("iteration_completed")
    # Containers report through their own events, as Dify's do.
    assert not any(e["data"]["node_id"] == "it" for e in sent if e["event"] in {"node_started", "node_finished"})
    assert all(e["workflow_run_id"] == "run-1" and e["task_id"] == TASK for e in sent)
    for event in sent:
        if event["event"] == "node_started":
            assert set(event["data"]) == NODE_STARTED_FIELDS
        if event["event"] == "node_finished":
            assert set(event["data"]) == NODE_FINISHED_FIELDS
            assert event["data"]["status"] == "succeeded"
    inside = [e["data"] for e in sent if e["event"] == "node_finished" and e["data"]["node_id"] == "copy"]
    assert [d["iteration_id"] for d in inside] == ["it", "it"]
    assert [d["execution_metadata"]["iteration_index"] for d in inside] == [0, 1]
    started = {e["data"]["node_id"]: e["data"] for e in sent if e["event"] == "node_started"}
    finished = {e["data"]["node_id"]: e["data"] for e in sent if e["event"] == "node_finished"}
    assert started["llm"]["id"] == finished["llm"]["id"] and started["llm"]["title"] == "LLM"
    completed = next(e["data"] for e in sent if e["event"] == "iteration_completed")
    assert completed["steps"] == 2 and completed["outputs"] == {"output": ["x", "y"]}
    assert "".join(e["data"]["text"] for e in sent if e["event"] == "text_chunk") == "Hello"
    assert sent[-1]["data"]["outputs"] == {"text": "Hello", "all": ["x", "y"]}
    assert sent[-1]["data"]["total_steps"] == result.steps


def test_retries_exceptions_and_agent_logs_in_a_workflow() -> None:
    translator = EventTranslator(context("workflow"))
    sent = feed(
        translator,
        ev.RunStarted(RUN),
        ev.NodeStarted(RUN, node_id="http", node_type="http-request", title="HTTP", index=1),
        ev.NodeRetrying(RUN, node_id="http", node_type="http-request", attempt=1, error="503"),
        ev.NodeException(RUN, node_id="http", node_type="http-request", error="503", error_type="HTTPError",
                         outputs={"body": ""}, handle="fail-branch", elapsed=0.2),
        ev.NodeStarted(RUN, node_id="agent", node_type="agent", title="Agent", index=2),
        ev.AgentLog(RUN, node_id="agent", node_type="agent", entry={
            "id": "log-1", "label": "ROUND 1", "parent_id": None, "status": "start", "data": {},
            "metadata": {"started_at": 1.0}, "error": None}),
        ev.RunSucceeded(RUN, steps=2, elapsed=0.5),
    )
    retry = sent[2]
    assert retry["event"] == "node_retry"
    assert retry["data"]["retry_index"] == 0 and retry["data"]["status"] == "retry" and retry["data"]["error"] == "503"
    assert set(retry["data"]) == NODE_FINISHED_FIELDS | {"retry_index"}
    exception = sent[3]["data"]
    assert (exception["status"], exception["error"], exception["outputs"]) == ("exception", "503", {"body": ""})
    assert sent[5] == {"event": "agent_log", "task_id": TASK, "workflow_run_id": RUN, "data": {
        "node_execution_id": sent[4]["data"]["id"], "id": "log-1", "label": "ROUND 1", "parent_id": None,
        "error": None, "status": "start", "data": {}, "metadata": {"started_at": 1.0}, "node_id": "agent"}}
    assert sent[-1]["data"]["status"] == "partial-succeeded" and sent[-1]["data"]["exceptions_count"] == 1


def test_a_pause_names_the_nodes_waiting() -> None:
    translator = EventTranslator(context("workflow"))
    sent = feed(
        translator,
        ev.RunStarted(RUN),
        ev.NodeStarted(RUN, node_id="approval", node_type="human-input", title="Approval", index=1),
        ev.RunPaused(RUN, reason="waiting for approval", checkpoint_id=RUN),
    )
    assert sent[-1]["event"] == "workflow_paused"
    data = sent[-1]["data"]
    assert (data["workflow_run_id"], data["status"], data["paused_nodes"], data["total_steps"]) == (
        RUN, "paused", ["approval"], 1)
    assert translator.finished


# -- chatflows ------------------------------------------------------------------------------------


def test_chatflow_events_carry_the_message_fields_and_close_with_message_end_then_workflow_finished() -> None:
    """openapi_chatflow.json streamingResponseWorkflow: every event has conversation_id, message_id and
    created_at; workflow and node events add workflow_run_id; message_end comes before workflow_finished."""
    translator = EventTranslator(context("advanced-chat"))
    sent = feed(
        translator,
        ev.RunStarted(RUN, inputs={"city": "San Francisco"}),
        ev.NodeStarted(RUN, node_id="node_llm_1", node_type="llm", title="LLM", index=1),
        ev.StreamChunk(RUN, node_id="answer", text=" I", selector=("node_llm_1", "text")),
        llm_done("node_llm_1"),
        ev.AgentLog(RUN, node_id="node_llm_1", node_type="llm", entry={"id": "l", "label": "x", "status": "start"}),
        ev.RunSucceeded(RUN, outputs={}, steps=2, elapsed=2.5),
    )
    assert [e["event"] for e in sent] == ["workflow_started", "node_started", "message", "node_finished",
                                          "agent_log", "message_end", "workflow_finished"]
    for event in sent:
        assert (event["conversation_id"], event["message_id"], event["created_at"], event["task_id"]) == (
            CONVERSATION, MESSAGE, CREATED, TASK)
        expects_run = event["event"] not in {"message", "message_end", "agent_log"}
        assert ("workflow_run_id" in event) is expects_run, event["event"]
    assert sent[2] == {"event": "message", "conversation_id": CONVERSATION, "message_id": MESSAGE,
                       "created_at": CREATED, "task_id": TASK, "id": MESSAGE, "answer": " I"}
    assert sent[5]["metadata"] == {"usage": USAGE, "retriever_resources": [RESOURCE]}
    assert sent[3]["data"]["execution_metadata"] == {"total_tokens": 1161, "total_price": "0.0012890",
                                                     "currency": "USD"}


def test_a_failed_chatflow_sends_workflow_finished_then_an_error_without_task_id() -> None:
    translator = EventTranslator(context("advanced-chat"))
    sent = feed(translator, ev.RunStarted(RUN),
                ev.RunFailed(RUN, error="openai: slow down", error_type="InvokeRateLimitError"))
    assert [e["event"] for e in sent] == ["workflow_started", "workflow_finished", "error"]
    assert sent[-1] == {"event": "error", "conversation_id": CONVERSATION, "message_id": MESSAGE,
                        "created_at": CREATED, "status": 429, "code": "rate_limit_error",
                        "message": "openai: slow down"}
    with pytest.raises(ApiError) as caught:
        translator.blocking_response()
    assert (caught.value.status, caught.value.code) == (429, "rate_limit_error")


def test_chat_blocking_body_matches_the_documented_example() -> None:
    """openapi_chatflow.json, /chat-messages, blockingResponse (``id`` is the message id)."""
    translator = EventTranslator(context("advanced-chat", task_id=TASK))
    feed(translator, ev.RunStarted(RUN),
         ev.StreamChunk(RUN, node_id="answer", text="iPhone 13 Pro Max specs are listed here:..."),
         llm_done(), ev.RunSucceeded(RUN, steps=3, elapsed=0.8))
    assert translator.blocking_response() == {
        "event": "message",
        "task_id": TASK,
        "id": MESSAGE,
        "message_id": MESSAGE,
        "conversation_id": CONVERSATION,
        "mode": "advanced-chat",
        "answer": "iPhone 13 Pro Max specs are listed here:...",
        "metadata": {"usage": USAGE, "retriever_resources": [RESOURCE]},
        "created_at": CREATED,
    }


# -- chat, agent-chat, completion -----------------------------------------------------------------


def test_a_chat_app_streams_only_reply_events() -> None:
    translator = EventTranslator(context("chat"))
    sent = feed(
        translator,
        ev.RunStarted(RUN),
        ev.NodeStarted(RUN, node_id="llm", node_type="llm", title="LLM", index=1),
        ev.StreamChunk(RUN, node_id="answer", text="Hi"),
        llm_done(),
        ev.RunSucceeded(RUN, steps=2, elapsed=0.3),
    )
    assert [e["event"] for e in sent] == ["message", "message_end"]
    assert sent[1] == {"event": "message_end", "conversation_id": CONVERSATION, "message_id": MESSAGE,
                       "created_at": CREATED, "task_id": TASK, "id": MESSAGE,
                       "metadata": {"usage": USAGE, "retriever_resources": [RESOURCE]}}


def test_completion_events_and_body_have_no_conversation() -> None:
    """openapi_completion.json: completion events carry message_id and created_at, no conversation_id."""
    translator = EventTranslator(context("completion", retriever_resources=False))
    sent = feed(translator, ev.RunStarted(RUN), ev.StreamChunk(RUN, node_id="answer", text="Hello"),
                llm_done(), ev.RunSucceeded(RUN, steps=2, elapsed=0.3))
    assert sent[0] == {"event": "message", "message_id": MESSAGE, "created_at": CREATED, "task_id": TASK,
                       "id": MESSAGE, "answer": "Hello"}
    body = translator.blocking_response()
    assert "conversation_id" not in body
    assert body == {"event": "message", "task_id": TASK, "id": MESSAGE, "message_id": MESSAGE, "mode": "completion",
                    "answer": "Hello", "metadata": {"usage": USAGE, "retriever_resources": []},
                    "created_at": CREATED}


def test_an_agent_chat_app_sends_agent_messages_and_one_thought_per_round() -> None:
    translator = EventTranslator(context("agent-chat"))
    call = {"id": "call-1", "label": "CALL weather", "parent_id": "round-1", "status": "success",
            "data": {"tool_name": "weather", "tool_call_args": {"city": "Paris"}, "output": "sunny"}}
    round_end = {"id": "round-1", "label": "ROUND 1", "parent_id": None, "status": "success",
                 "data": {"output": {"llm_response": "Let me check the weather.", "tool_responses": [
                     {"tool_call_id": "t1", "tool_call_name": "weather", "tool_response": "sunny"}]}}}
    sent = feed(
        translator,
        ev.RunStarted(RUN),
        ev.AgentLog(RUN, node_id="agent", node_type="agent", entry={**round_end, "status": "start", "data": {}}),
        ev.AgentLog(RUN, node_id="agent", node_type="agent", entry=call),
        ev.AgentLog(RUN, node_id="agent", node_type="agent", entry=round_end),
        ev.StreamChunk(RUN, node_id="answer", text="It is sunny."),
        ev.RunSucceeded(RUN, steps=3, elapsed=1.0),
    )
    assert [e["event"] for e in sent] == ["agent_thought", "agent_message", "message_end"]
    assert sent[0] == {"event": "agent_thought", "conversation_id": CONVERSATION, "message_id": MESSAGE,
                       "created_at": CREATED, "task_id": TASK, "id": "round-1", "position": 1,
                       "thought": "Let me check the weather.", "observation": '{"weather": "sunny"}',
                       "tool": "weather", "tool_labels": {}, "tool_input": '{"weather": {"city": "Paris"}}',
                       "message_files": []}
    assert sent[1]["answer"] == "It is sunny." and sent[1]["id"] == MESSAGE


def test_builders_for_events_the_engine_does_not_make() -> None:
    translator = EventTranslator(context("chat"))
    feed(translator, ev.StreamChunk(RUN, node_id="answer", text="bad words"))
    replaced = translator.message_replace("***", reason="moderation")
    assert {k: replaced[k] for k in ("event", "answer", "reason", "conversation_id")} == {
        "event": "message_replace", "answer": "***", "reason": "moderation", "conversation_id": CONVERSATION}
    assert translator.answer == "***"
    file_event = translator.message_file("file-1", type="image", url="https://x/file-1.png")
    assert {k: file_event[k] for k in ("id", "type", "belongs_to", "url", "conversation_id")} == {
        "id": "file-1", "type": "image", "belongs_to": "assistant", "url": "https://x/file-1.png",
        "conversation_id": CONVERSATION}
    assert translator.tts_message("SUQz")["audio"] == "SUQz"
    end = translator.tts_message_end()
    assert (end["event"], end["audio"], end["task_id"]) == ("tts_message_end", "", TASK)
    workflow_tts = EventTranslator(context("workflow")).tts_message("SUQz")
    assert set(workflow_tts) == {"event", "task_id", "workflow_run_id", "audio", "created_at"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "assistant"}, "app mode must be one of"),
        ({"mode": "chat", "message_id": ""}, "needs the message_id"),
        ({"mode": "chat", "conversation_id": ""}, "needs its conversation_id"),
        ({"mode": "workflow", "task_id": ""}, "needs a task_id"),
    ],
)
def test_a_context_missing_what_its_mode_needs_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        context(fields.pop("mode"), **fields)


def test_a_chunk_two_llm_nodes_read_is_cited_once() -> None:
    """API-SSE-MSG-END: citations gather over the run's LLM nodes; the same segment is listed once."""
    other = {**RESOURCE, "position": 2, "segment_id": "0b9ad1a2-5c1e-4f53-8d55-3d7b8e9f0a11", "content": "iPhone 14"}
    translator = EventTranslator(context("advanced-chat"))
    second = ev.NodeSucceeded(RUN, node_id="llm2", node_type="llm", outputs={"text": "", "usage": USAGE},
                              process_data={"retriever_resources": [RESOURCE, other]}, elapsed=0.1)
    sent = feed(translator, ev.RunStarted(RUN), llm_done(), second, ev.RunSucceeded(RUN, steps=3, elapsed=1.0))
    (end,) = [e for e in sent if e["event"] == "message_end"]
    assert end["metadata"]["retriever_resources"] == [RESOURCE, other]
