"""The Question Classifier node through real runs (NODE-QUESTION-CLASSIFIER): the class a model
names decides the branch the run takes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from treadle.apps import MemoryConversationHistory, RunRequest, WorkflowApp
from treadle.graph import GraphBuildError
from treadle.graph.events import NodeStarted
from treadle.plugins import PluginSupervisor
from treadle.plugins.node_factory import PluginNodeFactory

from .server import ChatServer
from .support import TENANT, Run, answer, chain, edge, node, run, script_model, server_model, start

CLASSES = [{"id": "1", "name": "After-sales service"}, {"id": "2", "name": "Product usage"}]


def classifier(model: dict[str, Any], **data: Any) -> dict[str, Any]:
    return node(
        "classify",
        "question-classifier",
        model=model,
        query_variable_selector=["sys", "query"],
        classes=data.pop("classes", CLASSES),
        **data,
    )


async def classify(supervisor: PluginSupervisor, classifier_node: dict[str, Any], query: str, **request: Any) -> Run:
    nodes = [
        start(),
        classifier_node,
        answer("service: {{#classify.class_name#}}", node_id="service"),
        answer("usage: {{#classify.class_name#}}", node_id="usage"),
    ]
    edges = [edge("start", "classify"), edge("classify", "service", "1"), edge("classify", "usage", "2")]
    done = await run(supervisor, nodes, edges, mode="advanced-chat", request=RunRequest(query=query, **request))
    assert done.result.status == "succeeded", done.result.error
    return done


def ran(done: Run) -> list[str]:
    return [e.node_id for e in done.events if isinstance(e, NodeStarted)]


def reply(**fields: Any) -> str:
    return json.dumps({"keywords": ["iphone", "contacts"], **fields})


async def test_the_class_the_model_names_decides_the_branch(supervisor: PluginSupervisor) -> None:
    done = await classify(
        supervisor,
        classifier(script_model(reply(category_id="2", category_name="Product usage"))),
        "How do I set up contacts on my iPhone?",
    )
    assert done.result.answer == "usage: Product usage"
    assert "service" not in ran(done)
    outputs = done.node("classify").outputs
    assert (outputs["class_id"], outputs["class_name"]) == ("2", "Product usage")
    assert outputs["usage"]["total_tokens"] > 0
    assert done.node("classify").handle == "2"


async def test_the_prompt_lists_the_classes_and_asks_for_json(supervisor: PluginSupervisor) -> None:
    done = await classify(supervisor, classifier(script_model(reply(category_id="1"))), "Warranty?")
    system, user = done.prompts("classify")
    assert '{"category_id": "1", "category_name": "After-sales service"}' in system["text"]
    assert '"category_id"' in system["text"] and '"keywords"' in system["text"]
    assert user == {"role": "user", "text": "Classify this text:\n<text>\nWarranty?\n</text>", "files": []}


async def test_a_reply_naming_a_class_only_by_name_is_understood(supervisor: PluginSupervisor) -> None:
    done = await classify(
        supervisor, classifier(script_model('```json\n{"category_name": "after-sales SERVICE"}\n```')), "Broken"
    )
    assert done.result.answer == "service: After-sales service"


@pytest.mark.parametrize("answer_text", ["I am not sure.", reply(category_id="9", category_name="Weather")])
async def test_a_reply_that_names_no_class_takes_the_first(supervisor: PluginSupervisor, answer_text: str) -> None:
    """As in Dify: the first class is the fallback."""
    done = await classify(supervisor, classifier(script_model(answer_text)), "What's the weather?")
    assert done.result.answer == "service: After-sales service"
    assert done.node("classify").outputs["class_id"] == "1"


async def test_instructions_and_memory_are_in_the_system_prompt(
    supervisor: PluginSupervisor, history: MemoryConversationHistory
) -> None:
    history.append(TENANT, "c1", "My phone broke.", "Sorry to hear that.")
    classifier_node = classifier(
        script_model(reply(category_id="1")),
        instructions="Anything about {{#sys.query#}} that is broken is after-sales.",
        memory={"window": {"enabled": True, "size": 3}},
    )
    done = await classify(supervisor, classifier_node, "the screen", conversation_id="c1")
    system = done.prompts("classify")[0]["text"]
    assert "Anything about the screen that is broken is after-sales." in system
    assert "Human: My phone broke.\nAssistant: Sorry to hear that." in system


async def test_classifying_over_the_wire(supervisor: PluginSupervisor, server: ChatServer) -> None:
    server.reply("plain", reply(category_id="2"))
    done = await classify(supervisor, classifier(server_model("plain")), "How to export?")
    assert done.result.answer == "usage: Product usage"
    (request,) = server.requests
    assert request["stream"] is False
    assert [m["role"] for m in request["messages"]] == ["system", "user"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"classes": []}, "classes"),
        ({"classes": [{"id": "1", "name": "a"}, {"id": "1", "name": "b"}]}, "classes[1].id"),
        ({"classes": [{"name": "no id"}]}, "classes[0].id"),
        ({"query_variable_selector": None}, "query_variable_selector"),
    ],
)
async def test_bad_configuration_is_reported_with_its_path(
    supervisor: PluginSupervisor, data: dict[str, Any], path: str
) -> None:
    body = classifier(script_model("x"))
    body["data"].update(data)
    nodes = [start(), body]
    with pytest.raises(GraphBuildError) as raised:
        WorkflowApp(mode="workflow", nodes=nodes, edges=chain(*nodes), factory=PluginNodeFactory(supervisor))
    assert path in str(raised.value)
