"""Moderation (FEAT-MODERATION, EXT-MODERATION): a user's inputs and the app's answer checked by a
keyword list, a moderation model or an API extension, and replaced by a preset response when flagged.

The DSL writes it in ``features.sensitive_word_avoidance`` (``model_config.sensitive_word_avoidance``)::

    enabled: true
    type: keywords                 # or openai_moderation, or api
    config:
      keywords: "spam\\nscam"      # one a line (keywords)
      api_based_extension_id: ...  # (api)
      provider: openai             # (openai_moderation, optional; else the workspace default)
      model: omni-moderation-latest
      inputs_config: {enabled: true, preset_response: "..."}
      outputs_config: {enabled: true, preset_response: "..."}

An API extension is reached through an injected callable (``point``, ``params``) → response, so the
service neither knows the extension's endpoint nor holds its key. A streamed answer is checked in
100-character chunks: each chunk is let through once the text up to its end has passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from treadle_sdk.context import KernelClient

__all__ = [
    "MAX_KEYWORDS",
    "OUTPUT_CHUNK_CHARS",
    "ApiExtensionCall",
    "ModeratedChunk",
    "Moderation",
    "ModerationConfig",
    "ModerationError",
    "ModerationResult",
]

#: The most keywords a keyword list may have, and each one's longest length (Dify's limits).
MAX_KEYWORDS = 100
_MAX_KEYWORD_CHARS = 100
#: How much streamed answer is checked at a time (EXT-MODERATION).
OUTPUT_CHUNK_CHARS = 100
#: The moderation model used when neither the config nor the workspace names one.
_FALLBACK_MODEL = ("openai", "omni-moderation-latest")

#: Calls the app's moderation API extension: ``(point, params)`` → its JSON response.
ApiExtensionCall = Callable[[str, dict[str, Any]], Awaitable[Mapping[str, Any]]]

Kind = Literal["keywords", "openai_moderation", "api"]


class ModerationError(ValueError):
    """The moderation settings or an extension's answer cannot be used; ``field`` says which part."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


@dataclass(frozen=True)
class _Point:
    enabled: bool = False
    preset_response: str = ""


def _point(data: Any, path: str) -> _Point:
    if data is None:
        return _Point()
    if not isinstance(data, Mapping):
        raise ModerationError(f"must be an object, not {type(data).__name__}", path)
    enabled = bool(data.get("enabled"))
    preset = data.get("preset_response") or ""
    if not isinstance(preset, str):
        raise ModerationError("must be text", f"{path}.preset_response")
    return _Point(enabled, preset)


@dataclass(frozen=True)
class ModerationConfig:
    """Moderation as the app configures it."""

    kind: Kind
    inputs: _Point = field(default_factory=_Point)
    outputs: _Point = field(default_factory=_Point)
    keywords: tuple[str, ...] = ()
    api_extension_id: str = ""
    #: The moderation model (openai_moderation); None: the workspace default.
    model: tuple[str, str] | None = None

    @classmethod
    def parse(cls, data: Any, path: str = "features.sensitive_word_avoidance") -> ModerationConfig | None:
        """The moderation an app's ``sensitive_word_avoidance`` turns on, or None when it is off."""
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ModerationError(f"must be an object, not {type(data).__name__}", path)
        if not data.get("enabled"):
            return None
        kind = data.get("type")
        if kind not in ("keywords", "openai_moderation", "api"):
            raise ModerationError(
                f"unknown moderation type {kind!r} (keywords, openai_moderation or api)", f"{path}.type"
            )
        config = data.get("config") or {}
        if not isinstance(config, Mapping):
            raise ModerationError(f"must be an object, not {type(config).__name__}", f"{path}.config")
        inputs = _point(config.get("inputs_config"), f"{path}.config.inputs_config")
        outputs = _point(config.get("outputs_config"), f"{path}.config.outputs_config")
        if not inputs.enabled and not outputs.enabled:
            raise ModerationError("check inputs, outputs or both", f"{path}.config")
        keywords: tuple[str, ...] = ()
        extension = ""
        model = None
        if kind == "keywords":
            keywords = _keywords(config.get("keywords"), f"{path}.config.keywords")
        elif kind == "api":
            extension = config.get("api_based_extension_id") or ""
            if not isinstance(extension, str) or not extension:
                raise ModerationError(
                    "an API extension moderates only with its id", f"{path}.config.api_based_extension_id"
                )
        elif config.get("model"):
            model = (str(config.get("provider") or _FALLBACK_MODEL[0]), str(config["model"]))
        return cls(kind, inputs, outputs, keywords, extension, model)


def _keywords(raw: Any, path: str) -> tuple[str, ...]:
    if not isinstance(raw, str) or not raw.strip():
        raise ModerationError("a keyword list is required (one keyword a line)", path)
    words = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(words) > MAX_KEYWORDS:
        raise ModerationError(f"at most {MAX_KEYWORDS} keywords, not {len(words)}", path)
    for number, word in enumerate(words, 1):
        if len(word) > _MAX_KEYWORD_CHARS:
            raise ModerationError(f"keyword {number} is longer than {_MAX_KEYWORD_CHARS} characters", path)
    return tuple(word.casefold() for word in words)


@dataclass(frozen=True)
class ModerationResult:
    """What a check found. Flagged with ``direct_output``: answer ``preset_response`` instead;
    with ``overridden``: go on with the replacement ``inputs``/``query`` (input) or ``text`` (output)."""

    flagged: bool = False
    action: Literal["direct_output", "overridden"] = "direct_output"
    preset_response: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    text: str = ""

    @property
    def replacement(self) -> str:
        """The text to show instead of a flagged answer."""
        return self.preset_response if self.action == "direct_output" else self.text


@dataclass(frozen=True)
class ModeratedChunk:
    """A piece of a moderated stream. ``replace``: the answer so far is to be replaced by ``text``
    (Dify's ``message_replace`` event), and nothing follows."""

    text: str
    replace: bool = False


class Moderation:
    """Checks a run's inputs and answer as the app's moderation settings say.

    ``kernel`` runs moderation models (and finds the workspace's default one); ``api_extension``
    calls the app's moderation API extension. Each is needed only by the kind that uses it.
    """

    def __init__(
        self,
        config: ModerationConfig,
        *,
        kernel: KernelClient | None = None,
        api_extension: ApiExtensionCall | None = None,
        app_id: str = "",
    ) -> None:
        if config.kind == "api" and api_extension is None:
            raise ModerationError("API-extension moderation needs a way to call the extension", "api_extension")
        if config.kind == "openai_moderation" and kernel is None:
            raise ModerationError("model moderation needs a kernel client to reach the model", "kernel")
        self.config = config
        self.kernel = kernel
        self.api_extension = api_extension
        self.app_id = app_id

    async def check_input(self, inputs: Mapping[str, Any], query: str = "") -> ModerationResult:
        """Check the user's inputs and message (not flagged when inputs are not checked)."""
        point = self.config.inputs
        if not point.enabled:
            return ModerationResult(inputs=dict(inputs), query=query)
        if self.config.kind == "api":
            params = {"app_id": self.app_id, "inputs": dict(inputs), "query": query}
            return await self._extension("app.moderation.input", params, point, inputs=dict(inputs), query=query)
        text = "\n".join([*(str(v) for v in inputs.values() if v not in (None, "")), query])
        flagged = await self._flagged(text)
        return ModerationResult(flagged, "direct_output", point.preset_response if flagged else "", dict(inputs), query)

    async def check_output(self, text: str) -> ModerationResult:
        """Check (a part of) the answer (not flagged when outputs are not checked)."""
        point = self.config.outputs
        if not point.enabled:
            return ModerationResult(text=text)
        if self.config.kind == "api":
            return await self._extension(
                "app.moderation.output", {"app_id": self.app_id, "text": text}, point, text=text
            )
        flagged = await self._flagged(text)
        return ModerationResult(flagged, "direct_output", point.preset_response if flagged else "", text=text)

    async def moderate_stream(self, chunks: AsyncIterable[str]) -> AsyncIterator[ModeratedChunk]:
        """The answer's chunks, let through once the answer up to them has passed, checked each time
        another 100 characters have come (and at the end). A flagged answer ends the stream with one
        ``replace`` chunk."""
        answer = ""
        held: list[str] = []
        checked = 0
        async for chunk in chunks:
            answer += chunk
            held.append(chunk)
            if len(answer) - checked < OUTPUT_CHUNK_CHARS:
                continue
            result = await self.check_output(answer)
            if result.flagged:
                yield ModeratedChunk(result.replacement, replace=True)
                return
            checked = len(answer)
            for piece in held:
                yield ModeratedChunk(piece)
            held.clear()
        if held:
            result = await self.check_output(answer)
            if result.flagged:
                yield ModeratedChunk(result.replacement, replace=True)
                return
            for piece in held:
                yield ModeratedChunk(piece)

    async def _flagged(self, text: str) -> bool:
        if self.config.kind == "keywords":
            folded = text.casefold()
            return any(word in folded for word in self.config.keywords)
        assert self.kernel is not None  # checked in __init__
        model = self.config.model or await self.kernel.adefault_model("moderation") or _FALLBACK_MODEL
        return await self.kernel.ainvoke_moderation(model[0], model[1], text)

    async def _extension(
        self, point_name: str, params: dict[str, Any], point: _Point, **given: Any
    ) -> ModerationResult:
        assert self.api_extension is not None  # checked in __init__
        response = await self.api_extension(point_name, params)
        where = f"the API extension's answer to {point_name}"
        if not isinstance(response, Mapping) or not isinstance(response.get("flagged"), bool):
            raise ModerationError("must be an object with a boolean 'flagged'", where)
        if not response["flagged"]:
            return ModerationResult(**given)
        action = response.get("action")
        if action == "direct_output":
            preset = response.get("preset_response") or point.preset_response
            return ModerationResult(True, "direct_output", str(preset), **given)
        if action != "overridden":
            raise ModerationError(f"action must be direct_output or overridden, not {action!r}", f"{where}.action")
        replaced: dict[str, Any] = dict(given)
        for key in given:
            if key in response:
                replaced[key] = response[key]
        if "inputs" in replaced and not isinstance(replaced["inputs"], Mapping):
            raise ModerationError("must be an object", f"{where}.inputs")
        return ModerationResult(True, "overridden", "", **replaced)
