"""The model manager: every model call from a node or a plugin goes through here.

It maps the provider and model a caller names to an installed provider (:mod:`.mapping`), adds the
workspace's credentials for it (picking one when the model is load-balanced, and setting aside a
credential that hit a rate limit), and invokes the provider's operation for the model type.
Callers never see or send credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from treadle_sdk.errors import PluginError, PluginInvalidArgument, PluginNotFound
from treadle_sdk.schemas import ModelProviderSchema, ModelSchema, ModelType

from .errors import invoke_error
from .mapping import ModelMapping, ModelTarget

__all__ = ["OPERATIONS", "CredentialPick", "CredentialSource", "ModelManager"]

#: The provider operation that serves each model type.
OPERATIONS = {
    ModelType.LLM: "invoke_llm",
    ModelType.TEXT_EMBEDDING: "invoke_text_embedding",
    ModelType.RERANK: "invoke_rerank",
    ModelType.TTS: "invoke_tts",
    ModelType.SPEECH2TEXT: "invoke_speech2text",
    ModelType.MODERATION: "invoke_moderation",
}


@dataclass(frozen=True, slots=True)
class CredentialPick:
    """The credentials chosen for one call; ``id`` names them in reports (never the values).

    ``secrets`` are the values to blank out of any error the call raises; ``pool`` names the
    load-balanced pool the credentials came from (empty when the model is not balanced).
    """

    id: str
    values: dict[str, Any]
    secrets: tuple[str, ...] = ()
    pool: str = ""


class CredentialSource(Protocol):
    """Where the workspace's model credentials and default models come from."""

    async def pick(self, tenant_id: str, provider: str, model: str, model_type: str) -> CredentialPick | None:
        """The credentials for one call (round-robin over a load-balanced pool), or None."""

    def report_failure(self, tenant_id: str, pick: CredentialPick, error: PluginError) -> bool:
        """Tell the source a call with ``pick`` failed; True if another credential should be tried."""

    async def default_model(self, tenant_id: str, model_type: str) -> tuple[str, str] | None:
        """The workspace's default (provider, model) of a type."""


class InvokeFn(Protocol):
    def __call__(
        self, kind: str, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str, depth: int
    ) -> AsyncIterator[Any]: ...



class ModelManager:
    """Serves ``invoke_model``, ``describe_model`` and ``default_model`` for a set of installed
    providers (``providers()`` returns their schemas by name)."""

    def __init__(
        self,
        invoke: InvokeFn,
        providers: Callable[[], dict[str, ModelProviderSchema]],
        *,
        mapping: ModelMapping | None = None,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._invoke = invoke
        self._providers = providers
        self.mapping = mapping or ModelMapping()
        self.credentials = credentials

    def installed(self) -> Collection[str]:
        return self._providers().keys()

    def resolve(self, provider: str, model: str) -> ModelTarget:
        return self.mapping.resolve(provider, model, self.installed())

    def model_schema(self, target: ModelTarget, model_type: str) -> ModelSchema:
        """The schema of the target model: the provider's predefined one, or a bare schema of the
        type for providers that take any model name (``customizable-model``)."""
        schema = self._providers()[target.provider]
        try:
            wanted = ModelType(model_type)
        except ValueError:
            raise PluginInvalidArgument(
                f"{model_type!r} is not a model type (types: {', '.join(t.value for t in ModelType)})",
                details={"field": "model_type"},
            ) from None
        for candidate in schema.models:
            if candidate.model == target.model and candidate.model_type == wanted:
                return candidate
        if "customizable-model" in schema.configurate_methods and wanted in schema.supported_model_types:
            return ModelSchema(model=target.model, model_type=wanted)
        offered = [m.model for m in schema.models if m.model_type == wanted]
        raise PluginNotFound(
            f"provider {target.provider!r} has no {wanted.value} model {target.model!r} "
            f"({wanted.value} models: {', '.join(offered) or 'none'})",
            details={"provider": target.provider, "model": target.model, "models": offered},
        )

    async def describe(self, tenant_id: str, provider: str, model: str, model_type: str) -> dict[str, Any]:
        target = self.resolve(provider, model)
        schema = self.model_schema(target, model_type)
        return {"provider": target.provider, "model": target.model, "schema": schema.model_dump(mode="json")}

    async def default_model(self, tenant_id: str, model_type: str) -> dict[str, str] | None:
        if self.credentials is None:
            return None
        found = await self.credentials.default_model(tenant_id, model_type)
        return None if found is None else {"provider": found[0], "model": found[1]}

    async def invoke(self, tenant_id: str, payload: dict[str, Any], *, depth: int) -> AsyncIterator[Any]:
        """Run one model call: ``payload`` holds ``provider``, ``model``, ``model_type`` and the
        operation's other arguments (without credentials).

        A failure leaves as a plugin error whose ``details["error_type"]`` is one of Dify's invoke
        error types (:data:`~treadle.models.errors.INVOKE_ERROR_TYPES`), with the credentials'
        secrets blanked out of its message and details.
        """
        args = dict(payload)
        provider, model = args.pop("provider", None), args.pop("model", None)
        model_type = str(args.pop("model_type", None) or ModelType.LLM.value)
        tried: set[str] = set()
        pick: CredentialPick | None = None
        try:
            if not isinstance(provider, str) or not provider or not isinstance(model, str) or not model:
                raise PluginInvalidArgument("a model call needs a 'provider' and a 'model' name")
            if "credentials" in args:
                raise PluginInvalidArgument("model calls may not carry credentials: the workspace's are used")
            target = self.resolve(provider, model)
            self.model_schema(target, model_type)
            operation = OPERATIONS[ModelType(model_type)]
            while True:
                pick = None
                if self.credentials is not None:
                    pick = await self.credentials.pick(tenant_id, target.provider, target.model, model_type)
                call = {**args, "model": target.model, "credentials": pick.values if pick else {}}
                started = False
                try:
                    async for item in self._invoke(
                        "model_provider", target.provider, operation, call, tenant_id=tenant_id, depth=depth
                    ):
                        started = True
                        # As the provider gave it: an inline caller takes the object itself, and
                        # the remote kernel service serialises it on the way out.
                        yield item
                    return
                except PluginError as exc:
                    error = invoke_error(exc, pick.secrets if pick else ())
                    # Another credential of a load-balanced pool may be tried, unless output already
                    # left (a stream cannot be taken back) or every credential has failed.
                    retry = (
                        pick is not None
                        and self.credentials is not None
                        and self.credentials.report_failure(tenant_id, pick, error)
                    )
                    if not retry or started or pick is None or pick.id in tried:
                        raise error from None
                    tried.add(pick.id)
        except PluginError as exc:
            raise invoke_error(exc, pick.secrets if pick else ()) from None
