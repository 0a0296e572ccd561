"""Dify's plugin-qualified provider ids: ``organization/plugin/provider``.

Before plugins (Dify 0.x, DSL 0.1.0 to 0.1.4) a tool or model provider was a bare name (``time``,
``openai``). Since plugins, it is ``langgenius/time/time``: the plugin ``langgenius/time`` and its
provider ``time``. Dify still reads bare names, as providers of the ``langgenius`` plugin of the same
name, with a few plugins renamed; :func:`parse_provider_id` does the same, so a DSL file of any
version names the plugin it needs (used by the DSL loader and by ``treadle check``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["ProviderId", "parse_provider_id", "plugin_id_of_identifier"]

_NAME = r"[a-z0-9_-]+"
_QUALIFIED = re.compile(rf"^({_NAME})/({_NAME})/({_NAME})$")
_BARE = re.compile(rf"^{_NAME}$")

#: Bare tool provider names whose ``langgenius`` plugin has another name (Dify's ToolProviderID).
_TOOL_PLUGIN_RENAMES = {name: f"{name}_tool" for name in ("jina", "siliconflow", "stepfun", "gitee_ai")}
#: The same for model providers (Dify's ModelProviderID).
_MODEL_PLUGIN_RENAMES = {"google": "gemini"}

#: The organisation of the plugins that took over Dify's former built-in providers.
LEGACY_ORGANIZATION = "langgenius"


@dataclass(frozen=True, slots=True)
class ProviderId:
    """A provider of a plugin: ``plugin_id`` (``organization/plugin``) and ``provider``."""

    organization: str
    plugin: str
    provider: str

    @property
    def plugin_id(self) -> str:
        return f"{self.organization}/{self.plugin}"

    def __str__(self) -> str:
        return f"{self.organization}/{self.plugin}/{self.provider}"


def parse_provider_id(value: str, kind: Literal["tool", "model"] = "tool") -> ProviderId:
    """The provider id ``value`` as Dify reads it; raise ``ValueError`` if it is none.

    ``"time"`` is ``langgenius/time/time``; ``"siliconflow"`` as a tool provider is
    ``langgenius/siliconflow_tool/siliconflow``; ``"google"`` as a model provider is
    ``langgenius/gemini/google``; ``"hjlarry/small_pay/small_pay"`` is taken as it is.
    """
    qualified = _QUALIFIED.match(value)
    if qualified:
        return ProviderId(*qualified.groups())
    if not _BARE.match(value):
        raise ValueError(
            f"{value!r} is not a provider id (organization/plugin/provider, or a provider name in "
            "lowercase letters, digits, '_' and '-')"
        )
    renames = _TOOL_PLUGIN_RENAMES if kind == "tool" else _MODEL_PLUGIN_RENAMES
    return ProviderId(LEGACY_ORGANIZATION, renames.get(value, value), value)


def plugin_id_of_identifier(identifier: str) -> str:
    """The plugin id in a plugin's unique identifier: ``langgenius/openai:0.0.23@5b67...`` gives
    ``langgenius/openai``."""
    return identifier.split("@", 1)[0].split(":", 1)[0]
