"""Chat, agent-chat and completion apps (APP-CHATBOT, APP-AGENT, APP-TEXTGEN): ``model_config``
compiled to start → llm/agent → answer and run on the engine with the real supervisor and the fake
provider (``echo`` repeats the last user message, ``script`` replays replies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from treadle.apps import (
    App,
    MemoryConversationHistory,
    ModelConfigApp,
    ModelConfigError,
    RunRequest,
    WorkflowApp,
    compile_model_config,
)
from treadle.apps.features import FileUploadError
from treadle.config import Settings
from treadle.graph.dsl import load_dsl
from treadle.graph.events import Event, NodeSucceeded
from treadle.plugins import GroupPlan, PluginSpec, PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

TENANT = "t-apps"


@pytest.fixture
def history() -> MemoryConversationHistory:
    return MemoryConversationHistory()


@pytest.fixture
async def supervisor(tmp_path: Path, history: MemoryConversationHistory) -> AsyncIterator[PluginSupervisor]:
    plugins = (
        PluginSpec("core-nodes"),
        PluginSpec("llm-nodes"),
        PluginSpec("agent-nodes"),
        PluginSpec("fake"),
        PluginSpec("basic-tools"),
    )
    async with PluginSupervisor(
        Settings.load(home=tmp_path), groups=[GroupPlan("inline", True, plugins)], history=history
    ) as running:
        yield running


def config(**overrides: Any) -> dict[str, Any]:
    """A model_config as Dify exports it, on the fake echo model."""
    base: dict[str, Any] = {
        "model": {"provider": "fake", "name": "echo", "mode": "chat", "completion_params": {}},
        "pre_prompt": "",
        "prompt_type": "simple",
        "user_input_form": [],
        "opening_statement": "",
        "agent_mode": {"enabled": False, "strategy": "function_call", "tools": []},
        "dataset_configs": {"datasets": {"datasets": []}},
        "file_upload": {"enabled": False},
    }
    return {**base, **overrides}


def script(*replies: Any) -> dict[str, Any]:
    return {"provider": "fake", "name": "script", "mode": "chat", "completion_params": {"script": list(replies)}}


async def run(
    supervisor: PluginSupervisor, mode: str, model_config: dict[str, Any], request: RunRequest
) -> tuple[Any, list[Event]]:
    app = ModelConfigApp(mode=mode, model_config=model_config, factory=PluginNodeFactory(supervisor))
    events: list[Event] = []
    with supervisor.kernel_client(tenant_id=TENANT) as kernel:
        result = await app.run(request, kernel=kernel, on_event=events.append)
    return result, events


def prompts(events: list[Event]) -> list[tuple[str, str]]:
    done = [e for e in events if isinstance(e, NodeSucceeded) and e.node_id == "model"]
    assert done and done[-1].process_data is not None
    return [(p["role"], p["text"]) for p in done[-1].process_data["prompts"]]


async def test_a_chat_app_sends_its_prompt_with_variables_and_remembers_the_conversation(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    form = [{"text-input": {"variable": "name", "label": "Name", "required": True}}]
    model_config = config(pre_prompt="You help {{name}}. {{unknown}} stays.", user_input_form=form)
    first, events = await run(
        supervisor, "chat", model_config, RunRequest(inputs={"name": "Ada"}, query="Hello", conversation_id="c1")
    )
    assert first.status == "succeeded", first.error
    assert first.answer == "Hello"
    assert prompts(events) == [("system", "You help Ada. {{unknown}} stays."), ("user", "Hello")]
    history.append(TENANT, "c1", "Hello", first.answer)
    second, events = await run(
        supervisor, "chat", model_config, RunRequest(inputs={"name": "Ada"}, query="Again", conversation_id="c1")
    )
    assert second.answer == "Again"
    assert prompts(events)[1:] == [("user", "Hello"), ("assistant", "Hello"), ("user", "Again")]


async def test_a_chat_app_checks_its_input_form(supervisor: PluginSupervisor) -> None:
    form = [{"select": {"variable": "lang", "label": "Language", "required": True, "options": ["Go", "C"]}}]
    result, _ = await run(
        supervisor,
        "chat",
        config(user_input_form=form),
        RunRequest(inputs={"lang": "Rust"}, query="hi", conversation_id="c1"),
    )
    assert result.status == "failed"
    assert "lang" in result.error


async def test_a_completion_app_without_a_query_field_sends_its_prompt_as_the_message(
    supervisor: PluginSupervisor,
) -> None:
    form = [{"paragraph": {"variable": "code", "label": "Code", "required": True}}]
    result, events = await run(
        supervisor,
        "completion",
        config(pre_prompt="Translate: {{code}}", user_input_form=form),
        RunRequest(inputs={"code": "print(1)"}),
    )
    assert result.status == "succeeded", result.error
    assert result.answer == "Translate: print(1)"
    assert prompts(events) == [("user", "Translate: print(1)")]


async def test_a_completion_app_with_a_query_field_sends_it_after_the_prompt(supervisor: PluginSupervisor) -> None:
    form = [{"paragraph": {"variable": "query", "label": "Query", "required": True}}]
    result, events = await run(
        supervisor,
        "completion",
        config(pre_prompt="Be terse.", user_input_form=form),
        RunRequest(inputs={"query": "What is 2+2?"}),
    )
    assert result.answer == "What is 2+2?"
    assert prompts(events) == [("system", "Be terse."), ("user", "What is 2+2?")]


async def test_an_advanced_prompt_chat_app_uses_its_messages(supervisor: PluginSupervisor) -> None:
    model_config = config(
        prompt_type="advanced", chat_prompt_config={"prompt": [{"role": "system", "text": "S {{#query#}}"}]}
    )
    result, events = await run(supervisor, "chat", model_config, RunRequest(query="q", conversation_id="c1"))
    assert result.status == "succeeded", result.error
    assert prompts(events)[0] == ("system", "S q")


async def test_an_agent_chat_app_calls_its_enabled_tools(supervisor: PluginSupervisor) -> None:
    tools = [
        {
            "enabled": True,
            "provider_id": "time",
            "provider_name": "time",
            "provider_type": "builtin",
            "tool_name": "current_time",
            "tool_parameters": {"format": "", "timezone": "UTC"},
        },
        {
            "enabled": False,
            "provider_id": "nowhere",
            "provider_type": "builtin",
            "tool_name": "absent",
            "tool_parameters": {},
        },
    ]
    model = script({"tool_calls": [{"name": "current_time", "arguments": {}}]}, "It is late.")
    model_config = config(
        model=model,
        pre_prompt="Tell the time.",
        agent_mode={"enabled": True, "strategy": "function_call", "max_iteration": 4, "tools": tools},
    )
    result, events = await run(supervisor, "agent-chat", model_config, RunRequest(query="Time?", conversation_id="c1"))
    assert result.status == "succeeded", result.error
    assert result.answer == "It is late."
    agent = next(e for e in events if isinstance(e, NodeSucceeded) and e.node_id == "model")
    assert "current_time" in str(agent.outputs) + str(agent.process_data)


async def test_a_react_agent_answers(supervisor: PluginSupervisor) -> None:
    model_config = config(
        model=script("Thought: I know.\nFinal Answer: 42"),
        agent_mode={"enabled": True, "strategy": "react", "max_iteration": 2, "tools": []},
    )
    result, _ = await run(supervisor, "agent-chat", model_config, RunRequest(query="6*7?", conversation_id="c1"))
    assert result.status == "succeeded", result.error
    assert result.answer == "42"


def test_the_agent_node_gets_the_strategy_tools_and_iterations() -> None:
    tools = [
        {
            "enabled": True,
            "provider_id": "time",
            "provider_type": "builtin",
            "tool_name": "current_time",
            "tool_parameters": {"format": "%H", "timezone": ""},
        }
    ]
    nodes, edges = compile_model_config(
        "agent-chat", config(agent_mode={"enabled": True, "strategy": "react", "max_iteration": 7, "tools": tools})
    )
    assert [n["data"]["type"] for n in nodes] == ["start", "agent", "answer"]
    agent = nodes[1]["data"]
    assert agent["agent_strategy_name"] == "ReAct"
    assert agent["agent_parameters"]["maximum_iterations"] == {"type": "constant", "value": 7}
    (tool,) = agent["agent_parameters"]["tools"]["value"]
    assert tool["settings"] == {"format": {"value": "%H"}}
    assert [(e["source"], e["target"]) for e in edges] == [("start", "model"), ("model", "answer")]


@pytest.mark.parametrize(
    ("mode", "overrides", "path"),
    [
        ("agent-chat", {"agent_mode": {"strategy": "plan_and_execute"}}, "model_config.agent_mode.strategy"),
        (
            "chat",
            {"dataset_configs": {"datasets": {"datasets": [{"dataset": {"enabled": True}}]}}},
            "model_config.dataset_configs.datasets.datasets[0].dataset.id",
        ),
        (
            "chat",
            {"dataset_configs": {"retrieval_model": "all", "datasets": {"datasets": [{"dataset": {"id": "d"}}]}}},
            "model_config.dataset_configs.retrieval_model",
        ),
        (
            "completion",
            {"dataset_configs": {"datasets": {"datasets": [{"dataset": {"id": "d"}}]}}},
            "model_config.dataset_query_variable",
        ),
        ("chat", {"user_input_form": [{"slider": {"variable": "x"}}]}, "model_config.user_input_form[0]"),
        (
            "chat",
            {"user_input_form": [{"paragraph": {"label": "x"}}]},
            "model_config.user_input_form[0].paragraph.variable",
        ),
        ("chat", {"model": {"provider": "fake"}}, "model_config.model.name"),
        ("workflow", {}, "app.mode"),
    ],
)
def test_a_bad_model_config_names_the_field(mode: str, overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(ModelConfigError) as caught:
        compile_model_config(mode, config(**overrides))
    assert caught.value.path == path
    assert str(caught.value).startswith(path)


async def test_files_outside_the_upload_limits_are_refused_before_the_run(supervisor: PluginSupervisor) -> None:
    upload = {
        "enabled": True,
        "allowed_file_types": ["image"],
        "allowed_file_upload_methods": ["remote_url"],
        "number_limits": 1,
        "image": {"enabled": True, "detail": "low"},
    }
    app = ModelConfigApp(mode="chat", model_config=config(file_upload=upload), factory=PluginNodeFactory(supervisor))
    document = {"type": "document", "transfer_method": "remote_url", "filename": "a.pdf"}
    with pytest.raises(FileUploadError, match=r"files\[0\]\.type: a 'document' file \(\.pdf\) is not accepted"):
        await app.run(RunRequest(query="q", files=[document], conversation_id="c1"))
    assert app.compiled.graph.nodes["model"].data["vision"]["configs"]["detail"] == "low"


async def test_app_from_dsl_gives_every_mode_its_app(supervisor: PluginSupervisor) -> None:
    factory = PluginNodeFactory(supervisor)
    chat = App.from_dsl(
        load_dsl(
            "app: {mode: chat}\nkind: app\nversion: 0.1.5\nmodel_config:\n"
            "  model: {provider: fake, name: echo, mode: chat}\n  opening_statement: Hi\n"
            "  suggested_questions: [What?]\n"
        ),
        factory,
    )
    assert isinstance(chat, ModelConfigApp) and chat.is_chat
    assert (chat.features.opening_statement, chat.features.suggested_questions) == ("Hi", ("What?",))
    assert chat.features.parameters()["opening_statement"] == "Hi"
    workflow = App.from_dsl(
        load_dsl(
            "app: {mode: workflow}\nkind: app\nversion: 0.5.0\nworkflow:\n  graph:\n"
            "    nodes: [{id: s, data: {type: start, title: S, variables: []}}]\n"
            "    edges: []\n"
        ),
        factory,
    )
    assert type(workflow) is WorkflowApp and not workflow.is_chat
    workflow_dsl = load_dsl("app: {mode: workflow}\nkind: app\nversion: 0.5.0\nworkflow: {graph: {nodes: []}}\n")
    with pytest.raises(ModelConfigError, match="a 'workflow' app has no model_config"):
        ModelConfigApp.from_dsl(workflow_dsl, factory)


async def test_a_workflow_checks_files_only_against_upload_limits_it_sets(supervisor: PluginSupervisor) -> None:
    factory = PluginNodeFactory(supervisor)
    head = "app: {mode: workflow}\nkind: app\nversion: 0.5.0\nworkflow:\n"
    graph = "  graph: {nodes: [{id: s, data: {type: start, title: S, variables: []}}], edges: []}\n"
    image = {"type": "image", "transfer_method": "remote_url", "remote_url": "https://example.com/a.png"}
    limited = App.from_dsl(load_dsl(head + graph + "  features: {file_upload: {enabled: false}}\n"), factory)
    with pytest.raises(FileUploadError, match="does not accept files"):
        await limited.run(RunRequest(files=[image]))
    unlimited = App.from_dsl(load_dsl(head + graph), factory)
    assert (await unlimited.run(RunRequest(files=[image]))).status == "succeeded"


# -- knowledge (APP-RETRIEVAL-SETTINGS, NODE-KNOWLEDGE-RETRIEVAL) -------------------------------------


def datasets(*ids: str, **settings: Any) -> dict[str, Any]:
    """``dataset_configs`` as Dify's chat apps write it."""
    return {**settings, "datasets": {"datasets": [{"dataset": {"enabled": True, "id": i}} for i in ids]}}


def test_a_chat_app_with_knowledge_retrieves_before_the_model_and_reads_the_result_as_context() -> None:
    """start → knowledge-retrieval (``sys.query``) → llm (context on) → answer; a simple prompt gets
    Dify's context instructions before ``pre_prompt``; multiple-mode settings carry over, the rerank
    model in the node's ``{provider, model}`` shape."""
    dataset_configs = datasets(
        "ds-1", "ds-2", retrieval_model="multiple", top_k=5, score_threshold_enabled=True, score_threshold=0.3,
        reranking_enabled=True, reranking_mode="reranking_model",
        reranking_model={"reranking_provider_name": "fake", "reranking_model_name": "fake-rerank"},
    )
    nodes, edges = compile_model_config("chat", config(pre_prompt="Be brief.", dataset_configs=dataset_configs))
    assert [n["id"] for n in nodes] == ["start", "knowledge", "model", "answer"]
    assert [(e["source"], e["target"]) for e in edges] == [("start", "knowledge"), ("knowledge", "model"),
                                                           ("model", "answer")]
    knowledge = nodes[1]["data"]
    assert knowledge["type"] == "knowledge-retrieval"
    assert knowledge["dataset_ids"] == ["ds-1", "ds-2"]
    assert knowledge["query_variable_selector"] == ["sys", "query"]
    assert knowledge["retrieval_mode"] == "multiple"
    assert knowledge["multiple_retrieval_config"] == {
        "top_k": 5, "score_threshold": 0.3, "reranking_enable": True, "reranking_mode": "reranking_model",
        "reranking_model": {"provider": "fake", "model": "fake-rerank"}, "weights": None,
    }
    llm = nodes[2]["data"]
    assert llm["context"] == {"enabled": True, "variable_selector": ["knowledge", "result"]}
    (system,) = llm["prompt_template"]
    assert system["role"] == "system"
    assert system["text"].startswith("Use the following context as your learned knowledge")
    assert "<context>\n{{#context#}}\n</context>" in system["text"]
    assert system["text"].endswith("\nBe brief.")


def test_single_retrieval_picks_with_the_apps_model_and_reranking_without_a_model_is_off() -> None:
    nodes, _ = compile_model_config("chat", config(dataset_configs=datasets("ds-1", retrieval_model="single")))
    assert nodes[1]["data"]["single_retrieval_config"] == {"model": config()["model"]}
    nodes, _ = compile_model_config("chat", config(dataset_configs=datasets("ds-1", reranking_enable=True)))
    assert nodes[1]["data"]["multiple_retrieval_config"]["reranking_enable"] is False


def test_a_completion_app_searches_its_dataset_query_variable() -> None:
    form = [{"paragraph": {"variable": "topic", "label": "Topic"}}]
    nodes, _ = compile_model_config("completion", config(
        user_input_form=form, dataset_query_variable="topic", dataset_configs=datasets("ds-1"),
    ))
    assert nodes[1]["data"]["query_variable_selector"] == ["start", "topic"]


def test_an_agent_gets_the_knowledge_as_its_context_and_old_dataset_tools_are_knowledge_bases() -> None:
    """Old agent apps list knowledge bases among their tools (``{dataset: {enabled, id}}``): they join
    ``dataset_configs``' own and are not offered as tools."""
    tools = [{"dataset": {"enabled": True, "id": "ds-tool"}},
             {"provider_id": "time", "provider_type": "builtin", "tool_name": "current_time", "enabled": True}]
    nodes, _ = compile_model_config("agent-chat", config(
        agent_mode={"enabled": True, "strategy": "function_call", "tools": tools}, dataset_configs=datasets("ds-1"),
    ))
    assert nodes[1]["data"]["dataset_ids"] == ["ds-1", "ds-tool"]
    agent = nodes[2]["data"]["agent_parameters"]
    assert agent["context"] == {"type": "variable", "value": ["knowledge", "result"]}
    assert [t["tool_name"] for t in agent["tools"]["value"]] == ["current_time"]


def test_disabled_knowledge_bases_are_not_searched() -> None:
    off = {"datasets": {"datasets": [{"dataset": {"enabled": False, "id": "ds-1"}}]}}
    nodes, _ = compile_model_config("chat", config(dataset_configs=off))
    assert [n["data"]["type"] for n in nodes] == ["start", "llm", "answer"]
