"""What a DSL file needs from plugins: tool providers, model providers, agent strategies.

Read the way Dify's dependency analysis reads a file (tool nodes, the model of llm-family nodes,
knowledge retrieval's rerank and embedding models, agent nodes, and for model_config apps their model,
rerank model and agent tools), plus the plugins the file's ``dependencies`` section declares. ``treadle
check`` compares the list with the plugins installed and reports the missing ones (NODE-TOOL).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .dsl import AppDSL
from .dsl_normalize import PLUGIN_TOOL_PROVIDER_TYPES
from .provider_ids import ProviderId, parse_provider_id, plugin_id_of_identifier

__all__ = ["PluginRequirement", "RequirementKind", "dependencies"]

RequirementKind = Literal["tool_provider", "model_provider", "agent_strategy", "plugin"]

#: Node types that call a model given as ``data.model.provider``.
_MODEL_NODE_TYPES = frozenset({"llm", "question-classifier", "parameter-extractor"})


@dataclass(frozen=True)
class PluginRequirement:
    """One thing the DSL needs from a plugin.

    ``kind`` says what: a ``tool_provider``, a ``model_provider``, an ``agent_strategy`` provider, or a
    ``plugin`` the ``dependencies`` section declares and nothing else names. ``provider`` is the
    provider's name in its plugin (``""`` for a bare plugin). ``identifier`` is the declared
    ``organization/plugin:version@checksum`` when the file declares the plugin. ``node_ids`` and
    ``paths`` say where the DSL asks for it.
    """

    kind: RequirementKind
    plugin_id: str
    provider: str = ""
    identifier: str | None = None
    node_ids: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Mention:
    kind: RequirementKind
    provider: ProviderId
    node_id: str
    path: str


def _parsed(value: Any, kind: Literal["tool", "model"]) -> ProviderId | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_provider_id(value, kind)
    except ValueError:
        return None


def _mention(kind: RequirementKind, value: Any, node_id: str, path: str) -> Iterator[_Mention]:
    provider = _parsed(value, "model" if kind == "model_provider" else "tool")
    if provider is not None:
        yield _Mention(kind, provider, node_id, path)


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _knowledge_retrieval(data: Mapping[str, Any], node_id: str, path: str) -> Iterator[_Mention]:
    if data.get("retrieval_mode") == "single":
        yield from _mention(
            "model_provider",
            _get(data, "single_retrieval_config", "model", "provider"),
            node_id,
            f"{path}.single_retrieval_config.model.provider",
        )
        return
    config = data.get("multiple_retrieval_config")
    if not isinstance(config, Mapping):
        return
    config_path = f"{path}.multiple_retrieval_config"
    if config.get("reranking_mode") == "weighted_score":
        yield from _mention(
            "model_provider",
            _get(config, "weights", "vector_setting", "embedding_provider_name"),
            node_id,
            f"{config_path}.weights.vector_setting.embedding_provider_name",
        )
    elif config.get("reranking_enable", True):
        yield from _mention(
            "model_provider",
            _get(config, "reranking_model", "provider"),
            node_id,
            f"{config_path}.reranking_model.provider",
        )


def _agent(data: Mapping[str, Any], node_id: str, path: str) -> Iterator[_Mention]:
    yield from _mention(
        "agent_strategy", data.get("agent_strategy_provider_name"), node_id, f"{path}.agent_strategy_provider_name"
    )
    parameters = data.get("agent_parameters")
    if not isinstance(parameters, Mapping):
        return
    yield from _mention(
        "model_provider",
        _get(parameters, "model", "value", "provider"),
        node_id,
        f"{path}.agent_parameters.model.value.provider",
    )
    tools = _get(parameters, "tools", "value")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        # The agent node uses only tools marked enabled (a missing flag is off, as in Dify).
        if (
            isinstance(tool, Mapping)
            and tool.get("enabled", False)
            and tool.get("type", "builtin") in PLUGIN_TOOL_PROVIDER_TYPES
        ):
            yield from _mention(
                "tool_provider",
                tool.get("provider_name"),
                node_id,
                f"{path}.agent_parameters.tools.value[{index}].provider_name",
            )


def _graph_mentions(app: AppDSL) -> Iterator[_Mention]:
    assert app.workflow is not None
    for index, node in enumerate(app.workflow.graph.nodes):
        data = node.data.model_dump(by_alias=True)
        path = f"{app.node_path(index)}.data"
        node_type = node.data.type
        if node_type == "tool" and data.get("provider_type", "builtin") in PLUGIN_TOOL_PROVIDER_TYPES:
            yield from _mention("tool_provider", data.get("provider_id"), node.id, f"{path}.provider_id")
        elif node_type in _MODEL_NODE_TYPES:
            yield from _mention("model_provider", _get(data, "model", "provider"), node.id, f"{path}.model.provider")
        elif node_type == "knowledge-retrieval":
            yield from _knowledge_retrieval(data, node.id, path)
        elif node_type == "agent":
            yield from _agent(data, node.id, path)


def _model_config_mentions(config: Mapping[str, Any]) -> Iterator[_Mention]:
    yield from _mention("model_provider", _get(config, "model", "provider"), "", "model_config.model.provider")
    datasets = config.get("dataset_configs")
    if isinstance(datasets, Mapping) and datasets.get("reranking_enable"):
        yield from _mention(
            "model_provider",
            _get(datasets, "reranking_model", "reranking_provider_name"),
            "",
            "model_config.dataset_configs.reranking_model.reranking_provider_name",
        )
    tools = _get(config, "agent_mode", "tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if (
            isinstance(tool, Mapping)
            and tool.get("enabled", True)
            and not tool.get("isDeleted")
            and tool.get("provider_type", "builtin") in PLUGIN_TOOL_PROVIDER_TYPES
        ):
            yield from _mention(
                "tool_provider", tool.get("provider_id"), "", f"model_config.agent_mode.tools[{index}].provider_id"
            )


def dependencies(app: AppDSL) -> list[PluginRequirement]:
    """Every plugin-provided thing ``app`` needs, one entry per (kind, plugin, provider), sorted.

    Tools of the workspace (custom API tools, workflow tools, MCP servers) are not plugins and are
    not listed.
    """
    mentions = list(_graph_mentions(app) if app.workflow is not None else ())
    if app.app_model_config is not None:
        mentions.extend(_model_config_mentions(app.app_model_config))

    declared: dict[str, tuple[str, str]] = {}
    for index, dependency in enumerate(app.dependencies):
        identifier = dependency.unique_identifier
        if identifier:
            declared.setdefault(plugin_id_of_identifier(identifier), (identifier, f"dependencies[{index}]"))

    grouped: dict[tuple[RequirementKind, str, str], list[_Mention]] = {}
    for mention in mentions:
        grouped.setdefault((mention.kind, mention.provider.plugin_id, mention.provider.provider), []).append(mention)
    requirements = [
        PluginRequirement(
            kind=kind,
            plugin_id=plugin_id,
            provider=provider,
            identifier=declared.get(plugin_id, (None, ""))[0],
            node_ids=tuple(dict.fromkeys(m.node_id for m in group if m.node_id)),
            paths=tuple(dict.fromkeys(m.path for m in group)),
        )
        for (kind, plugin_id, provider), group in grouped.items()
    ]
    named = {requirement.plugin_id for requirement in requirements}
    requirements.extend(
        PluginRequirement(kind="plugin", plugin_id=plugin_id, identifier=identifier, paths=(path,))
        for plugin_id, (identifier, path) in declared.items()
        if plugin_id not in named
    )
    return sorted(requirements, key=lambda r: (r.kind, r.plugin_id, r.provider))
