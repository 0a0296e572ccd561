"""Which plugins load, and where each runs: inline in the kernel, or in which host process."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass

from treadle_sdk.registry import find_entry_points

from ..config import PluginSettings

__all__ = [
    "FIRST_PARTY_DISTRIBUTIONS",
    "FIRST_PARTY_GROUP",
    "INLINE",
    "INLINE_BY_DEFAULT",
    "GroupPlan",
    "PluginSpec",
    "plan_groups",
]

INLINE = "inline"
FIRST_PARTY_GROUP = "first-party"

#: Distributions made in this repository. They share one host process unless placed otherwise; every
#: other distribution is isolated in a host of its own.
FIRST_PARTY_DISTRIBUTIONS = frozenset(
    {
        "treadle-plugin-fake",
        "treadle-plugin-basic-tools",
        "treadle-plugin-core-nodes",
        "treadle-plugin-code-node",
        "treadle-plugin-http-node",
        "treadle-plugin-doc-extractor",
        "treadle-plugin-schedule-trigger",
        "treadle-plugin-openai-compat",
        "treadle-plugin-anthropic",
        "treadle-plugin-local-embeddings",
        "treadle-plugin-llm-nodes",
        "treadle-plugin-knowledge-nodes",
        "treadle-plugin-openapi-tools",
        "treadle-plugin-mcp-tools",
        "treadle-plugin-agent-nodes",
        "treadle-plugin-json-process",
        "treadle-plugin-text-tools",
        "treadle-plugin-webscraper",
        "treadle-plugin-local-storage",
        "treadle-plugin-faiss-store",
        "treadle-plugin-pgvector-store",
        "treadle-plugin-qdrant-store",
    }
)

#: First-party distributions that run inline unless placed otherwise (DESIGN.md, "Default placement",
#: and the note on model providers in docs/plugins/placement.md):
#: - the control-flow, llm-family, knowledge-retrieval and agent node types execute no foreign code
#:   and sit on the engine's hot path;
#: - the network model providers are our own async code that only speaks HTTP, and every streamed
#:   chunk they relay out of process wakes two sleeping processes (measured by bench/model_stream.py:
#:   +130-300 us per chunk on a VM, against a 50 us budget).
INLINE_BY_DEFAULT = frozenset(
    {
        "treadle-plugin-core-nodes",
        "treadle-plugin-agent-nodes",
        "treadle-plugin-llm-nodes",
        "treadle-plugin-knowledge-nodes",
        "treadle-plugin-openai-compat",
        "treadle-plugin-anthropic",
    }
)


@dataclass(frozen=True)
class PluginSpec:
    """A plugin to load: an installed entry point, or an import path (``path``)."""

    name: str
    distribution: str = ""
    version: str = ""
    path: str = ""

    @property
    def first_party(self) -> bool:
        return self.distribution in FIRST_PARTY_DISTRIBUTIONS


@dataclass(frozen=True)
class GroupPlan:
    """One isolation group: its name, whether it runs inline, and its plugins."""

    name: str
    inline: bool
    plugins: tuple[PluginSpec, ...]


def _installed(settings: PluginSettings) -> list[PluginSpec]:
    specs = []
    for ep in find_entry_points(settings.load):
        dist: importlib.metadata.Distribution | None = ep.dist
        specs.append(PluginSpec(ep.name, dist.name if dist else "", dist.version if dist else ""))
    return specs


def plan_groups(settings: PluginSettings) -> list[GroupPlan]:
    """Group the plugins to load by where they run, per ``settings.placement`` and the defaults."""
    members: dict[str, list[PluginSpec]] = {}
    for spec in _installed(settings):
        if spec.distribution in INLINE_BY_DEFAULT:
            default = INLINE
        else:
            default = FIRST_PARTY_GROUP if spec.first_party else (spec.distribution or spec.name)
        members.setdefault(settings.placement.get(spec.name, default), []).append(spec)
    for extra in settings.extra:
        spec = PluginSpec(extra.path, path=extra.path)
        members.setdefault(settings.placement.get(extra.path, extra.group), []).append(spec)
    return [GroupPlan(name, name == INLINE, tuple(specs)) for name, specs in sorted(members.items())]
