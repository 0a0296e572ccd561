"""Chat, agent-chat and completion apps: their ``model_config`` compiled to a graph for the engine.

A ``model_config`` app has no graph of its own; it is a model, a prompt and a set of features. It
becomes the same kind of graph a chatflow is, built from the node types every install has, so one
engine runs all five modes (APP-CHATBOT, APP-AGENT, APP-TEXTGEN):

- ``chat``: start → llm → answer. ``pre_prompt`` is the system message, memory is on (the past turns,
  then the user's message), images in ``sys.files`` reach the model when image upload is on;
- ``completion``: start → llm → answer, no memory. With no ``query`` form field, the prompt is sent as
  the user's message, as Dify does; with one, the prompt is the system message and ``query`` the user's;
- ``agent-chat``: start → agent → answer. The agent runs ``agent_mode.strategy`` (``function_call``
  or ``react``) over the app's enabled tools for at most ``agent_mode.max_iteration`` rounds.

Knowledge (APP-RETRIEVAL-SETTINGS, NODE-KNOWLEDGE-RETRIEVAL): when ``dataset_configs.datasets``
enables knowledge bases (or, in old agent apps, ``agent_mode.tools`` lists ``dataset`` entries), a
``knowledge-retrieval`` node runs between start and the model, searching for ``sys.query`` (a
completion app: the form field ``dataset_query_variable``). ``dataset_configs.retrieval_model``
``multiple`` pools every knowledge base (``top_k``, ``score_threshold`` when
``score_threshold_enabled``, ``reranking_enabled`` / ``reranking_mode`` / ``reranking_model`` /
``weights``); ``single`` lets the app's model pick one. Its ``result`` is the llm node's context: a
simple prompt gets Dify's context instructions before ``pre_prompt``, an advanced prompt places
``{{#context#}}`` itself; the agent gets it as its ``context``. The chunks the llm node read become
the answer's citations.

Prompt variables (APP-PROMPT-VARS) are written ``{{name}}``; each one the input form declares becomes
a reference to the Start node's value (``{{#start.name#}}``), ``{{#query#}}`` becomes ``{{#sys.query#}}``.
The opening statement and the other features are not part of the graph (see :mod:`treadle.apps.features`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ANSWER_NODE",
    "KNOWLEDGE_NODE",
    "MODEL_NODE",
    "START_NODE",
    "ModelConfigError",
    "compile_model_config",
    "form_variables",
]

START_NODE = "start"
#: The knowledge-retrieval node, present when the app uses knowledge bases.
KNOWLEDGE_NODE = "knowledge"
#: The node that calls the model: the llm node, or the agent node of agent-chat apps.
MODEL_NODE = "model"
ANSWER_NODE = "answer"

#: Input form field types, as ``user_input_form`` entries name them (``{type: {variable, ...}}``).
_FORM_TYPES = frozenset(
    {
        "text-input",
        "paragraph",
        "select",
        "number",
        "checkbox",
        "file",
        "file-list",
        "json_object",
        "external_data_tool",
    }
)
#: ``agent_mode.strategy`` values and the agent node's strategy each one runs (``router`` and
#: ``react_router`` are what Dify's oldest agent apps wrote for the same two strategies).
_STRATEGIES = {
    "function_call": "function_calling",
    "router": "function_calling",
    "react": "ReAct",
    "react_router": "ReAct",
}
_PROMPT_VARIABLE = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,29})\}\}")
#: What a simple prompt says before ``pre_prompt`` when the app uses knowledge: Dify's own words
#: (``context_prompt`` of its prompt templates), so imported apps prompt their models as they did.
CONTEXT_PROMPT = (
    "Use the following context as your learned knowledge, inside <context></context> XML tags.\n\n"
    "<context>\n{{#context#}}\n</context>\n\n"
    "When answer to user:\n"
    "- If you don't know, just say that you don't know.\n"
    "- If you don't know when you are not sure, ask for clarification.\n"
    "Avoid mentioning that you obtained the information from the context.\n"
    "And answer according to the language of the user's question.\n"
)


class ModelConfigError(ValueError):
    """A ``model_config`` cannot become an app; ``path`` is the DSL path of what is wrong."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


def _mapping(value: Any, path: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ModelConfigError(f"must be an object, not {type(value).__name__}", path)
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ModelConfigError(f"must be a list, not {type(value).__name__}", path)
    return value


def form_variables(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Start node's variables for ``user_input_form`` (``[{paragraph: {variable, label, ...}}]``)."""
    variables = []
    for index, entry in enumerate(_list(config.get("user_input_form"), "model_config.user_input_form")):
        path = f"model_config.user_input_form[{index}]"
        entry = _mapping(entry, path, required=True)
        if len(entry) != 1:
            raise ModelConfigError(f"must have exactly one key, the field type, not {sorted(entry)}", path)
        ((kind, spec),) = entry.items()
        if kind not in _FORM_TYPES:
            raise ModelConfigError(f"unknown field type {kind!r} (one of {', '.join(sorted(_FORM_TYPES))})", path)
        spec = _mapping(spec, f"{path}.{kind}", required=True)
        name = spec.get("variable")
        if not isinstance(name, str) or not name:
            raise ModelConfigError("a form field needs a variable name", f"{path}.{kind}.variable")
        variables.append({**spec, "type": kind, "label": spec.get("label") or name})
    return variables


def _prompt_text(source: Any, path: str, names: frozenset[str]) -> str:
    """A prompt in the llm node's template syntax: form variables and ``{{#query#}}`` as references."""
    if source is None:
        return ""
    if not isinstance(source, str):
        raise ModelConfigError(f"must be text, not {type(source).__name__}", path)

    def reference(match: re.Match[str]) -> str:
        name = match.group(1)
        # Dify leaves a placeholder no form field fills as it is written; so does the llm node.
        return f"{{{{#{START_NODE}.{name}#}}}}" if name in names else match.group(0)

    return _PROMPT_VARIABLE.sub(reference, source).replace("{{#query#}}", "{{#sys.query#}}")


def _model(config: Mapping[str, Any]) -> dict[str, Any]:
    model = _mapping(config.get("model"), "model_config.model", required=True)
    for key in ("provider", "name"):
        if not isinstance(model.get(key), str) or not model[key]:
            raise ModelConfigError("is required", f"model_config.model.{key}")
    return {
        "provider": model["provider"],
        "name": model["name"],
        "mode": model.get("mode") or "chat",
        "completion_params": dict(_mapping(model.get("completion_params"), "model_config.model.completion_params")),
    }


def _vision(config: Mapping[str, Any]) -> dict[str, Any]:
    upload = _mapping(config.get("file_upload"), "model_config.file_upload")
    image = _mapping(upload.get("image"), "model_config.file_upload.image")
    types = upload.get("allowed_file_types") or []
    on = bool(upload.get("enabled")) and ("image" in types or bool(image.get("enabled")))
    if not on and image.get("enabled") and "allowed_file_types" not in upload:
        on = True  # the oldest shape: only an ``image`` block
    if not on:
        return {"enabled": False}
    return {
        "enabled": True,
        "configs": {"variable_selector": ["sys", "files"], "detail": image.get("detail") or "high"},
    }


def _llm_prompt(
    mode: str, config: Mapping[str, Any], names: frozenset[str], *, knowledge: bool = False
) -> list[dict[str, Any]] | dict[str, Any]:
    """The llm node's ``prompt_template`` for a chat or completion app (simple or advanced prompt);
    with ``knowledge``, a simple prompt starts with the context instructions."""
    model_mode = _model(config)["mode"]
    if config.get("prompt_type") == "advanced":
        if model_mode == "completion":
            path = "model_config.completion_prompt_config.prompt"
            prompt = _mapping(_mapping(config.get("completion_prompt_config"), path).get("prompt"), path)
            return {"text": _prompt_text(prompt.get("text"), f"{path}.text", names)}
        path = "model_config.chat_prompt_config.prompt"
        messages = _list(_mapping(config.get("chat_prompt_config"), path).get("prompt"), path)
        template = []
        for index, message in enumerate(messages):
            message = _mapping(message, f"{path}[{index}]", required=True)
            text = _prompt_text(message.get("text"), f"{path}[{index}].text", names)
            template.append({"role": message.get("role") or "user", "text": text})
        return template
    pre_prompt = _prompt_text(config.get("pre_prompt"), "model_config.pre_prompt", names)
    if knowledge:
        pre_prompt = CONTEXT_PROMPT + pre_prompt
    if model_mode == "completion":
        if mode == "completion":
            return {"text": pre_prompt}
        return {"text": f"{pre_prompt}\n\n{{{{#histories#}}}}\n\nHuman: {{{{#sys.query#}}}}\n\nAssistant: "}
    if mode == "completion":
        if "query" in names:
            system = [{"role": "system", "text": pre_prompt}] if pre_prompt else []
            return [*system, {"role": "user", "text": f"{{{{#{START_NODE}.query#}}}}"}]
        return [{"role": "user", "text": pre_prompt}]
    return [{"role": "system", "text": pre_prompt}] if pre_prompt else []


def _agent_tools(agent_mode: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = []
    for index, tool in enumerate(_list(agent_mode.get("tools"), "model_config.agent_mode.tools")):
        path = f"model_config.agent_mode.tools[{index}]"
        tool = _mapping(tool, path, required=True)
        if "dataset" in tool:
            continue  # a knowledge base, searched by the knowledge-retrieval node (see _dataset_ids)
        if not tool.get("enabled", True) or tool.get("isDeleted"):
            continue
        settings = {
            str(name): {"value": value}
            for name, value in _mapping(tool.get("tool_parameters"), f"{path}.tool_parameters").items()
            if value not in (None, "")
        }
        tools.append(
            {
                "enabled": True,
                "provider_name": tool.get("provider_id") or tool.get("provider_name"),
                "type": tool.get("provider_type") or "builtin",
                "tool_name": tool.get("tool_name"),
                "parameters": {},
                "settings": settings,
            }
        )
    return tools


def _dataset_ids(config: Mapping[str, Any]) -> list[str]:
    """The enabled knowledge bases: ``dataset_configs.datasets.datasets[].dataset``, then the
    ``dataset`` entries old agent apps list among their tools."""
    path = "model_config.dataset_configs.datasets.datasets"
    dataset_configs = _mapping(config.get("dataset_configs"), "model_config.dataset_configs")
    listed = _list(_mapping(dataset_configs.get("datasets"), "model_config.dataset_configs.datasets").get("datasets"),
                   path)
    entries = [(f"{path}[{i}]", entry) for i, entry in enumerate(listed)]
    agent_mode = _mapping(config.get("agent_mode"), "model_config.agent_mode")
    tools = _list(agent_mode.get("tools"), "model_config.agent_mode.tools")
    entries += [(f"model_config.agent_mode.tools[{i}]", t) for i, t in enumerate(tools)
                if isinstance(t, Mapping) and "dataset" in t]
    found: list[str] = []
    for where, entry in entries:
        dataset = _mapping(_mapping(entry, where, required=True).get("dataset"), f"{where}.dataset", required=True)
        dataset_id = dataset.get("id")
        if not isinstance(dataset_id, str) or not dataset_id:
            raise ModelConfigError("a knowledge base entry needs its id", f"{where}.dataset.id")
        if dataset.get("enabled", True) and dataset_id not in found:
            found.append(dataset_id)
    return found


def _reranking_model(raw: Any) -> dict[str, str] | None:
    """``{reranking_provider_name, reranking_model_name}`` as the node's ``{provider, model}``."""
    model = _mapping(raw, "model_config.dataset_configs.reranking_model")
    provider, name = model.get("reranking_provider_name"), model.get("reranking_model_name")
    if isinstance(provider, str) and provider and isinstance(name, str) and name:
        return {"provider": provider, "model": name}
    return None


def _knowledge_node(mode: str, config: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any] | None:
    """The knowledge-retrieval node's ``data`` for the app's knowledge bases, or None without any."""
    dataset_ids = _dataset_ids(config)
    if not dataset_ids:
        return None
    path = "model_config.dataset_configs"
    raw = _mapping(config.get("dataset_configs"), path)
    if mode == "completion":
        variable = config.get("dataset_query_variable")
        if not isinstance(variable, str) or variable not in names:
            raise ModelConfigError(
                "a completion app with knowledge bases needs the input form field whose text is searched",
                "model_config.dataset_query_variable",
            )
        query: list[str] = [START_NODE, variable]
    else:
        query = ["sys", "query"]
    strategy = raw.get("retrieval_model") or "multiple"
    if strategy not in ("single", "multiple"):
        raise ModelConfigError(f"must be single or multiple, not {strategy!r}", f"{path}.retrieval_model")
    data: dict[str, Any] = {
        "type": "knowledge-retrieval",
        "title": "Knowledge Retrieval",
        "dataset_ids": dataset_ids,
        "query_variable_selector": query,
        "retrieval_mode": strategy,
        "metadata_filtering_mode": raw.get("metadata_filtering_mode") or "disabled",
    }
    if strategy == "single":
        data["single_retrieval_config"] = {"model": _model(config)}
    else:
        reranking_model = _reranking_model(raw.get("reranking_model"))
        # Dify's apps write ``reranking_enabled`` (some exports ``reranking_enable``); on without a
        # model to rerank with, Dify reranks nothing, so neither does the node.
        enabled = raw.get("reranking_enabled", raw.get("reranking_enable", True))
        reranking_mode = raw.get("reranking_mode") or "reranking_model"
        weights = raw.get("weights")
        if reranking_mode == "reranking_model" and reranking_model is None:
            enabled = False
        if reranking_mode == "weighted_score" and weights is None:
            enabled = False
        data["multiple_retrieval_config"] = {
            "top_k": raw.get("top_k") or 4,
            "score_threshold": raw.get("score_threshold") if raw.get("score_threshold_enabled") else None,
            "reranking_enable": bool(enabled),
            "reranking_mode": reranking_mode,
            "reranking_model": reranking_model,
            "weights": weights,
        }
    if raw.get("metadata_model_config") is not None:
        data["metadata_model_config"] = raw["metadata_model_config"]
    if raw.get("metadata_filtering_conditions") is not None:
        data["metadata_filtering_conditions"] = raw["metadata_filtering_conditions"]
    return data


def _agent_node(config: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    agent_mode = _mapping(config.get("agent_mode"), "model_config.agent_mode")
    raw = agent_mode.get("strategy") or "function_call"
    strategy = _STRATEGIES.get(str(raw))
    if strategy is None:
        raise ModelConfigError(
            f"unknown strategy {raw!r} (one of {', '.join(_STRATEGIES)})", "model_config.agent_mode.strategy"
        )
    model = _model(config)
    instruction = _prompt_text(config.get("pre_prompt"), "model_config.pre_prompt", names)
    parameters: dict[str, Any] = {
        "model": {"type": "constant", "value": {**model, "model": model["name"], "model_type": "llm"}},
        "tools": {"type": "constant", "value": _agent_tools(agent_mode)},
        "instruction": {"type": "constant", "value": instruction},
        "query": {"type": "constant", "value": "{{#sys.query#}}"},
    }
    if agent_mode.get("max_iteration") is not None:
        parameters["maximum_iterations"] = {"type": "constant", "value": agent_mode["max_iteration"]}
    return {
        "type": "agent",
        "title": "Agent",
        "agent_strategy_provider_name": "langgenius/agent/agent",
        "agent_strategy_name": strategy,
        "agent_parameters": parameters,
        "memory": {"window": {"enabled": False}},
    }


def compile_model_config(mode: str, config: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The graph (``nodes``, ``edges``, as a DSL writes them) that runs a chat, agent-chat or
    completion app. Raises :class:`ModelConfigError` naming the field that cannot be used."""
    if mode not in ("chat", "agent-chat", "completion"):
        raise ModelConfigError(f"a model_config app is chat, agent-chat or completion, not {mode!r}", "app.mode")
    variables = form_variables(config)
    names = frozenset(str(v["variable"]) for v in variables)
    start = {"id": START_NODE, "data": {"type": "start", "title": "Start", "variables": variables}}
    knowledge = _knowledge_node(mode, config, names)
    context = [KNOWLEDGE_NODE, "result"] if knowledge is not None else []
    if mode == "agent-chat":
        agent = _agent_node(config, names)
        if knowledge is not None:
            agent["agent_parameters"]["context"] = {"type": "variable", "value": context}
        model_node = {"id": MODEL_NODE, "data": agent}
    else:
        data: dict[str, Any] = {
            "type": "llm",
            "title": "LLM",
            "model": _model(config),
            "prompt_template": _llm_prompt(mode, config, names, knowledge=knowledge is not None),
            "context": {"enabled": knowledge is not None, "variable_selector": context},
            "vision": _vision(config),
            "variables": [],
        }
        if mode == "chat":
            data["memory"] = {"window": {"enabled": False}, "role_prefix": {"user": "", "assistant": ""}}
        model_node = {"id": MODEL_NODE, "data": data}
    answer = {
        "id": ANSWER_NODE,
        "data": {"type": "answer", "title": "Answer", "answer": f"{{{{#{MODEL_NODE}.text#}}}}"},
    }
    nodes = [start, model_node, answer]
    edges = [{"id": "model-answer", "source": MODEL_NODE, "target": ANSWER_NODE, "sourceHandle": "source"}]
    if knowledge is None:
        edges.insert(0, {"id": "start-model", "source": START_NODE, "target": MODEL_NODE, "sourceHandle": "source"})
    else:
        nodes.insert(1, {"id": KNOWLEDGE_NODE, "data": knowledge})
        edges[:0] = [
            {"id": "start-knowledge", "source": START_NODE, "target": KNOWLEDGE_NODE, "sourceHandle": "source"},
            {"id": "knowledge-model", "source": KNOWLEDGE_NODE, "target": MODEL_NODE, "sourceHandle": "source"},
        ]
    return nodes, edges
