"""The LLM node run in real workflows and chatflows through a real supervisor (NODE-LLM): prompts,
variables, Jinja2, context and citations, vision, streaming, outputs, errors."""

from __future__ import annotations

from typing import Any

import pytest
from treadle.apps import RunRequest, WorkflowApp
from treadle.graph import GraphBuildError
from treadle.graph.events import NodeException, NodeSucceeded, StreamChunk
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

from .server import ChatServer, Reply
from .support import (
    answer,
    chain,
    edge,
    end,
    fixture,
    llm,
    run,
    script_model,
    server_model,
    start,
    text_input,
)

IMAGE = {
    "dify_model_identity": "__dify__file__",
    "type": "image",
    "transfer_method": "remote_url",
    "remote_url": "https://example.com/cat.png",
    "url": "https://example.com/cat.png",
    "filename": "cat.png",
    "extension": ".png",
    "mime_type": "image/png",
    "size": 2048,
}
DOCUMENT = {**IMAGE, "type": "document", "filename": "a.pdf", "mime_type": "application/pdf", "url": "https://e.x/a.pdf"}


def chat(*messages: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"role": role, "text": text, "edition_type": "basic"} for role, text in messages]


# -- prompts and streaming -------------------------------------------------------------------------


async def test_a_chat_prompt_renders_variables_and_the_answer_streams_as_it_comes(supervisor: PluginSupervisor) -> None:
    """NODE-LLM, EXEC-ANSWER-STREAM: ``{{#node.var#}}`` in each message; the model's chunks reach the
    Answer while the LLM node is still running, in order."""
    nodes = [
        start(text_input("topic")),
        llm(
            model=script_model({"content": "Cats are curious animals.", "delay_ms": 5}),
            prompt_template=chat(("system", "You write about {{#start.topic#}}."), ("user", "{{#sys.query#}}")),
        ),
        answer("Said: {{#llm.text#}}"),
    ]
    request = RunRequest(inputs={"topic": "cats"}, query="Tell me something")
    done = await run(supervisor, nodes, mode="advanced-chat", request=request)
    assert done.result.status == "succeeded", done.result.error
    assert done.result.answer == "Said: Cats are curious animals."
    assert done.chunks() == ["Said: ", "Cats ", "are ", "curious ", "animals."]
    assert done.prompts() == [
        {"role": "system", "text": "You write about cats.", "files": []},
        {"role": "user", "text": "Tell me something", "files": []},
    ]
    finished = done.events.index(done.node("llm"))
    streamed = [i for i, e in enumerate(done.events) if isinstance(e, StreamChunk) and e.selector == ("llm", "text")]
    assert len(streamed) == 4 and max(streamed) < finished


async def test_outputs_are_text_usage_finish_reason_and_the_process_data_names_the_model(
    supervisor: PluginSupervisor,
) -> None:
    """NODE-LLM outputs: ``text``, ``reasoning_content``, ``usage`` (LLMUsage), ``finish_reason``."""
    nodes = [
        start(),
        llm(model=script_model("one two three"), prompt_template=chat(("user", "count"))),
        end(text=["llm", "text"], usage=["llm", "usage"], reason=["llm", "finish_reason"]),
    ]
    done = await run(supervisor, nodes)
    assert done.outputs["text"] == "one two three"
    assert done.outputs["reason"] == "stop"
    usage = done.outputs["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (1, 3, 4)
    assert set(usage) >= {"prompt_price", "completion_price", "total_price", "currency", "latency"}
    succeeded = done.node("llm")
    assert succeeded.outputs["reasoning_content"] == ""
    assert succeeded.process_data is not None
    assert succeeded.process_data["model_provider"] == "fake"
    assert succeeded.process_data["model_name"] == "script"
    assert succeeded.process_data["model_mode"] == "chat"
    assert succeeded.process_data["usage"] == usage


async def test_stop_sequences_and_parameters_reach_the_model(supervisor: PluginSupervisor) -> None:
    model = script_model("alpha beta STOP gamma")
    model["completion_params"]["stop"] = ["STOP"]
    nodes = [start(), llm(model=model, prompt_template=chat(("user", "go"))), end(text=["llm", "text"])]
    assert (await run(supervisor, nodes)).outputs == {"text": "alpha beta "}


async def test_a_completion_prompt_is_one_user_message(supervisor: PluginSupervisor) -> None:
    """NODE-LLM: completion models take plain text (``prompt_template: {text}``)."""
    nodes = [
        start(text_input("word")),
        llm(
            model={**script_model("done"), "mode": "completion"},
            prompt_template={"text": "Define {{#start.word#}}.\nDefinition:", "edition_type": "basic"},
        ),
        end(text=["llm", "text"]),
    ]
    done = await run(supervisor, nodes, request=RunRequest(inputs={"word": "treadle"}))
    assert done.outputs == {"text": "done"}
    assert done.prompts() == [{"role": "user", "text": "Define treadle.\nDefinition:", "files": []}]
    assert done.node("llm").process_data["model_mode"] == "completion"  # type: ignore[index]


async def test_a_variable_that_does_not_exist_reads_as_nothing(supervisor: PluginSupervisor) -> None:
    nodes = [start(), llm(model=script_model("ok"), prompt_template=chat(("user", "[{{#ghost.value#}}]")))]
    done = await run(supervisor, nodes)
    assert done.prompts() == [{"role": "user", "text": "[]", "files": []}]


async def test_an_empty_prompt_fails_the_node(supervisor: PluginSupervisor) -> None:
    template = chat(("system", ""), ("user", "{{#sys.query#}}"))
    nodes = [start(), llm(model=script_model("never"), prompt_template=template)]
    done = await run(supervisor, nodes)
    assert done.result.status == "failed"
    assert done.result.error_type == "NoPromptFoundError"


# -- Jinja2 ------------------------------------------------------------------------------------------


async def test_jinja2_messages_render_with_loops_over_their_variables(supervisor: PluginSupervisor) -> None:
    """NODE-LLM: ``edition_type: jinja2`` with ``prompt_config.jinja2_variables``."""
    results = [{"title": "Alpha", "content": "first"}, {"title": "Beta", "content": "second"}]
    template = "{% for item in results %}{{ loop.index }}. {{ item.title }}: {{ item.content }}\n{% endfor %}"
    nodes = [
        start(),
        fixture("search", results=results),
        llm(
            model=script_model("ok"),
            prompt_template=[
                {"role": "system", "text": "Use {{#search.results#}}", "edition_type": "basic"},
                {"role": "user", "text": "", "jinja2_text": template, "edition_type": "jinja2"},
            ],
            prompt_config={"jinja2_variables": [{"variable": "results", "value_selector": ["search", "results"]}]},
        ),
    ]
    done = await run(supervisor, nodes)
    prompts = done.prompts()
    assert prompts[0]["text"].startswith('Use [{"title": "Alpha"')
    assert prompts[1] == {"role": "user", "text": "1. Alpha: first\n2. Beta: second\n", "files": []}


async def test_jinja2_runs_in_a_sandbox(supervisor: PluginSupervisor) -> None:
    template = "{{ ''.__class__.__mro__ }}"
    nodes = [start(), llm(model=script_model("never"), prompt_template=[
        {"role": "user", "text": template, "edition_type": "jinja2"}])]
    done = await run(supervisor, nodes)
    assert done.result.status == "failed"
    assert done.result.error_type == "TemplateError"
    assert "prompt_template[0]" in done.result.error


async def test_a_jinja2_syntax_error_is_reported_when_the_graph_is_built(supervisor: PluginSupervisor) -> None:
    nodes = [start(), llm(model=script_model("x"), prompt_template=[
        {"role": "system", "text": "fine"}, {"role": "user", "jinja2_text": "{% for %}", "edition_type": "jinja2"}])]
    with pytest.raises(GraphBuildError) as raised:
        WorkflowApp(mode="workflow", nodes=nodes, edges=chain(*nodes), factory=PluginNodeFactory(supervisor))
    assert "prompt_template[1].jinja2_text" in str(raised.value)
    assert "Jinja2 syntax error" in str(raised.value)


# -- context -----------------------------------------------------------------------------------------


def chunk(content: str, position: int, *, source: str = "knowledge") -> dict[str, Any]:
    return {
        "content": content,
        "title": f"doc{position}.md",
        "metadata": {
            "_source": source,
            "position": position,
            "dataset_id": "ds-1",
            "dataset_name": "Handbook",
            "document_id": f"doc-{position}",
            "document_name": f"doc{position}.md",
            "data_source_type": "upload_file",
            "segment_id": f"seg-{position}",
            "retriever_from": "workflow",
            "score": 0.9 - position / 10,
            "segment_hit_count": 3,
            "segment_word_count": 12,
            "segment_position": position,
            "segment_index_node_hash": f"hash-{position}",
            "doc_metadata": {"lang": "en"},
        },
    }


async def test_a_knowledge_retrieval_result_becomes_the_context_and_its_citations(supervisor: PluginSupervisor) -> None:
    """NODE-LLM "Context": ``{{#context#}}`` gets the chunks' text; knowledge chunks become
    retriever resources (citations)."""
    result = [chunk("Treadles drive looms.", 1), chunk("Pedals, really.", 2, source="external"), "a plain line"]
    nodes = [
        start(),
        fixture("retrieval", result=result),
        llm(
            model=script_model("ok"),
            context={"enabled": True, "variable_selector": ["retrieval", "result"]},
            prompt_template=chat(("system", "Answer from:\n{{#context#}}\nEnd."), ("user", "What is a treadle?")),
        ),
    ]
    done = await run(supervisor, nodes)
    assert done.prompts()[0]["text"] == "Answer from:\nTreadles drive looms.\nPedals, really.\na plain line\nEnd."
    succeeded = done.node("llm")
    assert succeeded.inputs == {"#context#": "Treadles drive looms.\nPedals, really.\na plain line"}
    assert succeeded.process_data is not None
    (citation,) = succeeded.process_data["retriever_resources"]
    assert citation == {
        "position": 1,
        "dataset_id": "ds-1",
        "dataset_name": "Handbook",
        "document_id": "doc-1",
        "document_name": "doc1.md",
        "data_source_type": "upload_file",
        "segment_id": "seg-1",
        "retriever_from": "workflow",
        "score": 0.8,
        "hit_count": 3,
        "word_count": 12,
        "segment_position": 1,
        "index_node_hash": "hash-1",
        "page": None,
        "doc_metadata": {"lang": "en"},
        "content": "Treadles drive looms.",
    }


async def test_a_text_can_be_the_context(supervisor: PluginSupervisor) -> None:
    nodes = [
        start(),
        llm(
            model=script_model("ok"),
            context={"enabled": True, "variable_selector": ["sys", "query"]},
            prompt_template=chat(("user", "Context: {{#context#}}")),
        ),
    ]
    done = await run(supervisor, nodes, mode="advanced-chat", request=RunRequest(query="weaving"))
    assert done.prompts() == [{"role": "user", "text": "Context: weaving", "files": []}]
    assert done.node("llm").process_data["retriever_resources"] == []  # type: ignore[index]


async def test_a_context_chunk_without_content_fails_the_node_naming_it(supervisor: PluginSupervisor) -> None:
    nodes = [
        start(),
        fixture("retrieval", result=[chunk("fine", 1), {"title": "no content"}]),
        llm(
            model=script_model("never"),
            context={"enabled": True, "variable_selector": ["retrieval", "result"]},
            prompt_template=chat(("user", "{{#context#}}")),
        ),
    ]
    done = await run(supervisor, nodes)
    assert done.result.error_type == "InvalidContextStructureError"
    assert "retrieval.result[1]" in done.result.error


# -- vision --------------------------------------------------------------------------------------------


def vision(detail: str = "low", selector: list[str] | None = None) -> dict[str, Any]:
    configs: dict[str, Any] = {"detail": detail}
    if selector is not None:
        configs["variable_selector"] = selector
    return {"enabled": True, "configs": configs}


async def test_vision_images_join_the_last_user_message_at_the_chosen_detail(
    supervisor: PluginSupervisor, server: ChatServer
) -> None:
    """NODE-LLM "Vision": the files of ``sys.files`` (the default selector), as ``image_url`` parts
    with ``detail``, for a model whose features list ``vision``; other files are left out.

    Regression: the kernel client sent prompt messages without their default fields, so an image
    part at the default detail lost its ``type`` and reached the provider as a text part."""
    server.reply("gpt-native", "A cat.")
    nodes = [
        start(),
        llm(
            model=server_model("gpt-native", provider="openai_native"),
            vision=vision("low"),
            prompt_template=chat(("system", "Describe images."), ("user", "What is this?")),
        ),
        end(text=["llm", "text"]),
    ]
    done = await run(supervisor, nodes, request=RunRequest(files=[IMAGE, DOCUMENT]))
    assert done.outputs == {"text": "A cat."}
    (request,) = server.requests
    assert request["messages"][-1] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
            {"type": "text", "text": "What is this?"},
        ],
    }
    assert done.prompts()[-1]["files"] == [{"type": "image", "data": "https://example.com/cat.png", "detail": "low"}]
    assert done.node("llm").inputs == {"#files#": [IMAGE, DOCUMENT]}


async def test_models_added_by_the_user_get_images_too(supervisor: PluginSupervisor, server: ChatServer) -> None:
    """A model of a ``customizable-model`` provider has no features the kernel knows of: its
    provider decides, so images are sent (here from a file variable of the node's choosing, as
    base64 data)."""
    server.reply("local-vl", "Two dots.")
    inline = {**IMAGE, "url": None, "remote_url": None, "transfer_method": "tool_file", "base64_data": "iVBORw0KGgo="}
    nodes = [
        start(),
        fixture("upload", picture=inline),
        llm(
            model=server_model("local-vl"),
            vision=vision("high", ["upload", "picture"]),
            prompt_template=chat(("user", "Count the dots.")),
        ),
    ]
    done = await run(supervisor, nodes)
    assert done.result.status == "succeeded", done.result.error
    (request,) = server.requests
    image = request["messages"][0]["content"][0]
    assert image == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}}


async def test_images_are_left_out_for_models_that_cannot_see(supervisor: PluginSupervisor) -> None:
    """The fake ``script`` model lists features without ``vision``: its prompt keeps the text only."""
    nodes = [
        start(),
        llm(model=script_model("blind"), vision=vision(), prompt_template=chat(("user", "Look."))),
    ]
    done = await run(supervisor, nodes, request=RunRequest(files=[IMAGE]))
    assert done.prompts() == [{"role": "user", "text": "Look.", "files": []}]


async def test_a_file_variable_in_a_prompt_becomes_an_image_part(
    supervisor: PluginSupervisor, server: ChatServer
) -> None:
    server.reply("gpt-native", "Seen.")
    nodes = [
        start(),
        fixture("upload", picture=IMAGE),
        llm(
            model=server_model("gpt-native", provider="openai_native"),
            prompt_template=chat(("user", "Look at {{#upload.picture#}} please")),
        ),
    ]
    done = await run(supervisor, nodes)
    assert done.result.status == "succeeded", done.result.error
    (request,) = server.requests
    assert request["messages"] == [
        {"role": "user", "content": "Look at  please"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": IMAGE["url"], "detail": "high"}}]},
    ]


async def test_an_image_with_nothing_to_send_fails_the_node(supervisor: PluginSupervisor) -> None:
    stored = {**IMAGE, "url": None, "remote_url": None, "transfer_method": "local_file", "related_id": "f-1"}
    nodes = [start(), fixture("upload", picture=stored), llm(
        model=script_model("never"), vision=vision("low", ["upload", "picture"]), prompt_template=chat(("user", "x")))]
    done = await run(supervisor, nodes)
    assert done.result.error_type == "InvalidFileError"
    assert "upload.picture" in done.result.error and "cat.png" in done.result.error


# -- errors ------------------------------------------------------------------------------------------


async def test_a_rate_limited_server_fails_the_node_with_invoke_rate_limit_error(
    supervisor: PluginSupervisor, server: ChatServer
) -> None:
    """Model errors surface with Dify's invoke error types (a 429 from the server)."""
    server.reply("busy", Reply(status=429, error="Rate limit reached for requests", headers={"Retry-After": "3"}))
    nodes = [start(), llm(model=server_model("busy"), prompt_template=chat(("user", "hi")))]
    done = await run(supervisor, nodes)
    assert done.result.status == "failed"
    assert done.result.error_type == "InvokeRateLimitError"
    assert "Rate limit reached" in done.result.error
    assert done.result.failed_node == "llm"


async def test_a_retry_after_a_rate_limit_answers(supervisor: PluginSupervisor, server: ChatServer) -> None:
    """Error handling: ``retry_config`` runs the node again after a model error."""
    server.reply("busy", Reply(status=429, error="slow down"), "Second try.")
    retry = {"retry_enabled": True, "max_retries": 2, "retry_interval": 1}
    nodes = [start(), llm(model=server_model("busy"), prompt_template=chat(("user", "hi")), retry_config=retry),
             end(text=["llm", "text"])]
    done = await run(supervisor, nodes)
    assert done.outputs == {"text": "Second try."}
    assert len(server.requests) == 2


async def test_the_fail_branch_takes_model_errors(supervisor: PluginSupervisor, server: ChatServer) -> None:
    """Error handling: ``error_strategy: fail-branch`` routes a model failure to the fail branch."""
    server.reply("busy", Reply(status=429, error="slow down"))
    nodes = [
        start(),
        llm(model=server_model("busy"), prompt_template=chat(("user", "hi")), error_strategy="fail-branch"),
        answer("ok: {{#llm.text#}}", node_id="ok"),
        answer("sorry ({{#llm.error_type#}})", node_id="sorry"),
    ]
    edges = [
        edge("start", "llm"),
        edge("llm", "ok", "source"),
        edge("llm", "sorry", "fail-branch"),
    ]
    done = await run(supervisor, nodes, edges, mode="advanced-chat", request=RunRequest(query="hi"))
    assert done.result.status == "succeeded", done.result.error
    assert done.result.answer == "sorry (InvokeRateLimitError)"
    (caught,) = [e for e in done.events if isinstance(e, NodeException)]
    assert caught.error_type == "InvokeRateLimitError" and caught.handle == "fail-branch"
    assert not [e for e in done.events if isinstance(e, NodeSucceeded) and e.node_id == "ok"]


async def test_a_model_no_provider_serves_fails_the_node_saying_so(supervisor: PluginSupervisor) -> None:
    model = {"provider": "langgenius/nowhere/nowhere", "name": "m", "mode": "chat", "completion_params": {}}
    nodes = [start(), llm(model=model, prompt_template=chat(("user", "hi")))]
    done = await run(supervisor, nodes)
    assert done.result.status == "failed"
    assert "nowhere" in done.result.error
    assert done.result.error_type  # the kernel's reason, typed


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"prompt_template": None}, "prompt_template"),
        ({"prompt_template": [{"role": "robot", "text": "x"}]}, "prompt_template[0].role"),
        ({"model": {"provider": "fake"}}, "model.name"),
        ({"reasoning_format": "hidden"}, "reasoning_format"),
        ({"structured_output_enabled": True}, "structured_output.schema"),
        ({"vision": {"enabled": True, "configs": {"detail": "huge"}}}, "vision.configs.detail"),
        ({"context": {"enabled": True, "variable_selector": "retrieval"}}, "context.variable_selector"),
        ({"memory": {"window": {"enabled": True, "size": 0}}}, "memory.window.size"),
    ],
)
async def test_bad_configuration_is_reported_with_its_path(
    supervisor: PluginSupervisor, data: dict[str, Any], path: str
) -> None:
    nodes = [start(), llm(**{"model": script_model("x"), "prompt_template": chat(("user", "x")), **data})]
    with pytest.raises(GraphBuildError) as raised:
        WorkflowApp(mode="workflow", nodes=nodes, edges=chain(*nodes), factory=PluginNodeFactory(supervisor))
    assert path in str(raised.value)
