"""Model mapping: which installed provider (and model) serves a provider and model a DSL names.

A DSL file written for OpenAI names ``langgenius/openai/openai`` and ``gpt-4o``; an operator can
run it on a local Ollama through ``openai_compat``, or on ``fake`` in tests, without editing it. The
rules come from ``[models] map`` and from ``treadle run --models``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from treadle_sdk.errors import PluginNotFound

from ..graph.provider_ids import parse_provider_id

__all__ = ["ModelMapping", "ModelTarget", "provider_name"]


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """An installed provider extension and the model of it to run."""

    provider: str
    model: str


def provider_name(provider: str) -> str:
    """The provider part of a DSL provider id: ``langgenius/openai/openai`` and ``openai`` give
    ``openai``; anything that is not a provider id is returned as it is."""
    try:
        return parse_provider_id(provider, "model").provider
    except ValueError:
        return provider


def _split(rule: str) -> tuple[str, str | None]:
    provider, _, model = rule.partition(":")
    return provider.strip(), (model.strip() or None)


class ModelMapping:
    """Rules ``source -> target``, where a source is ``provider``, ``provider:model`` or ``*``
    and a target is ``provider`` or ``provider:model``.

    A request is matched by ``provider:model`` first, then ``provider``, then ``*``; a target
    without a model keeps the requested model's name. Providers in sources match by their provider
    name, so ``openai`` also covers ``langgenius/openai/openai``.
    """

    def __init__(self, rules: Mapping[str, str] | None = None) -> None:
        self._rules: dict[tuple[str, str | None], tuple[str, str | None]] = {}
        for source, target in (rules or {}).items():
            src_provider, src_model = _split(source)
            dst_provider, dst_model = _split(target)
            if not src_provider or not dst_provider:
                raise ValueError(f"model mapping {source!r} = {target!r}: both sides need a provider")
            key = "*" if src_provider == "*" else provider_name(src_provider)
            self._rules[(key, src_model)] = (dst_provider, dst_model)

    @classmethod
    def parse_option(cls, value: str, base: Mapping[str, str] | None = None) -> ModelMapping:
        """The mapping of a ``--models`` option: ``PROVIDER[:MODEL]`` sends everything there, and
        ``SOURCE=PROVIDER[:MODEL]`` (comma-separated) adds single rules; ``base`` rules stay
        unless overridden."""
        rules = dict(base or {})
        for part in filter(None, (p.strip() for p in value.split(","))):
            source, eq, target = part.partition("=")
            if eq:
                rules[source.strip()] = target.strip()
            else:
                rules["*"] = part
        return cls(rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def resolve(self, provider: str, model: str, installed: Collection[str]) -> ModelTarget:
        """The installed provider and model that serve ``provider``/``model``.

        Without a matching rule, an installed provider of the same name (or provider name) serves
        it. Raises :class:`PluginNotFound`, naming the provider, when nothing does.
        """
        name = provider_name(provider)
        for key in ((name, model), (name, None), ("*", model), ("*", None)):
            rule = self._rules.get(key)
            if rule is not None:
                target, target_model = rule
                if target not in installed:
                    raise PluginNotFound(
                        f"model mapping sends {provider!r} to provider {target!r}, which is not installed "
                        f"(installed model providers: {', '.join(sorted(installed)) or 'none'})",
                        details={"provider": provider, "model": model, "target": target},
                    )
                return ModelTarget(target, target_model or model)
        for candidate in (provider, name):
            if candidate in installed:
                return ModelTarget(candidate, model)
        raise PluginNotFound(
            f"model provider {provider!r} (model {model!r}) is not installed and no model mapping covers it; "
            f"installed model providers: {', '.join(sorted(installed)) or 'none'}. Map it with [models] map "
            "in treadle.toml or treadle run --models PROVIDER[:MODEL]",
            details={"provider": provider, "model": model, "installed": sorted(installed)},
        )
