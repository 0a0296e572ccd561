"""A workspace's model settings: provider and custom-model credentials (WS-MODEL-CREDENTIALS), default
models per type (WS-DEFAULT-MODELS) and load-balanced credential pools (WS-LOAD-BALANCING).

:class:`WorkspaceModelSettings` is the :class:`~treadle.models.CredentialSource` the model manager
asks for credentials on every call. Credentials are validated by the provider's
``validate_credentials`` operation before they are saved.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from treadle_sdk.errors import PluginError
from treadle_sdk.model_errors import InvokeAuthorizationError, InvokeRateLimitError
from treadle_sdk.registry import ExtensionEntry
from treadle_sdk.schemas import ModelProviderSchema, ModelType

from .errors import CredentialNotFound, CredentialsRefused, WorkspaceSettingsError, scrub
from .manager import CredentialPick
from .mapping import provider_name
from .store import StoredCredential
from .vault import Credential, CredentialScope, CredentialVault, FormField

__all__ = [
    "COOLDOWNS",
    "DEFAULT_MODEL_TYPES",
    "INHERIT",
    "LoadBalancing",
    "PluginCatalog",
    "WorkspaceModelSettings",
    "refused",
]

#: The model types a workspace has a default model for: the system reasoning model (llm), then
#: embedding, rerank, text-to-speech and speech-to-text.
DEFAULT_MODEL_TYPES = (
    ModelType.LLM.value,
    ModelType.TEXT_EMBEDDING.value,
    ModelType.RERANK.value,
    ModelType.TTS.value,
    ModelType.SPEECH2TEXT.value,
)

#: A pool entry that stands for the model's default credential (Dify's "Default Config").
INHERIT = "__inherit__"

#: Seconds a credential of a load-balanced pool is out of rotation after an error of a type: a minute
#: after a rate limit, ten seconds after a refused key or a failed connection (as Dify does).
COOLDOWNS: Mapping[str, float] = {
    "InvokeRateLimitError": 60.0,
    "InvokeAuthorizationError": 10.0,
    "InvokeConnectionError": 10.0,
}

_DEFAULT_MODELS = "default-models"
_LOAD_BALANCING = "load-balancing"
_MODEL = "model"


class PluginCatalog(Protocol):
    """What the settings need of the plugin supervisor: the registered providers, and a way to call
    their ``validate_credentials``."""

    def extensions(self, kind: Any = None) -> list[ExtensionEntry]: ...

    def invoke(
        self, kind: Any, name: str, operation: str, payload: dict[str, Any], *, tenant_id: str = ...
    ) -> AsyncIterator[Any]: ...


@dataclass(frozen=True, slots=True)
class LoadBalancing:
    """The credential pool of one model. Entries are credential ids or :data:`INHERIT`; an id listed
    twice gets twice the share of calls."""

    provider: str
    model: str
    model_type: str
    enabled: bool
    pool: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}:{self.model_type}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "model_type": self.model_type,
            "enabled": self.enabled,
            "pool": list(self.pool),
        }


def refused(
    scope: CredentialScope, form: Sequence[FormField], exc: PluginError, secrets: Sequence[str]
) -> CredentialsRefused:
    """The error for credentials a provider's ``validate_credentials`` refused: its explanation with
    the secrets blanked out, naming the field when the provider said which (or when a refused key
    can only be the form's one secret field)."""
    details = exc.details
    found = details.get("cause")
    cause: dict[str, Any] = found if isinstance(found, dict) else {}
    field = str(details.get("field") or "").removeprefix("credentials.")
    if not field:
        error_types = {details.get("error_type"), cause.get("error_type")}
        statuses = {details.get("status"), cause.get("status")}
        secret_fields = [f.name for f in form if f.secret]
        if len(secret_fields) == 1 and ("InvokeAuthorizationError" in error_types or statuses & {401, 403}):
            field = secret_fields[0]
    where = f" (field {field!r})" if field else ""
    message = scrub(exc.message, secrets)
    return CredentialsRefused(
        f"{scope} refused the credentials{where}: {message}", provider=scope.provider, field=field
    )


class WorkspaceModelSettings:
    """The model settings of every workspace, kept in a :class:`CredentialVault`.

    ``plugins`` (the supervisor) lists the installed providers and validates credentials. Round-robin
    positions and cooldowns live in this object (one kernel process); ``clock`` (seconds, monotonic)
    and ``cooldowns`` are injectable for tests.
    """

    def __init__(
        self,
        vault: CredentialVault,
        plugins: PluginCatalog,
        *,
        clock: Callable[[], float] = time.monotonic,
        cooldowns: Mapping[str, float] = COOLDOWNS,
    ) -> None:
        self.vault = vault
        self._plugins = plugins
        self._clock = clock
        self._cooldowns = dict(cooldowns)
        self._next: dict[tuple[str, str], int] = {}
        self._pools: dict[tuple[str, str], tuple[str, ...]] = {}
        self._cooling: dict[tuple[str, str, str], float] = {}

    # -- providers ----------------------------------------------------------------------------------

    def provider(self, name: str) -> ModelProviderSchema:
        """The installed model provider ``name`` (a bare name or an ``org/plugin/provider`` id)."""
        installed = {e.name: e for e in self._plugins.extensions("model_provider")}
        for candidate in (name, provider_name(name)):
            if candidate in installed:
                return ModelProviderSchema.model_validate(installed[candidate].schema)
        raise CredentialNotFound(
            f"model provider {name!r} is not installed (installed model providers: "
            f"{', '.join(sorted(installed)) or 'none'})",
            provider=name,
        )

    def _check_model(self, schema: ModelProviderSchema, model: str, model_type: str) -> None:
        try:
            wanted = ModelType(model_type)
        except ValueError:
            raise WorkspaceSettingsError(
                f"{model_type!r} is not a model type (types: {', '.join(t.value for t in ModelType)})",
                provider=schema.name,
                field="model_type",
            ) from None
        if any(m.model == model and m.model_type == wanted for m in schema.models):
            return
        if "customizable-model" in schema.configurate_methods and wanted in schema.supported_model_types:
            return
        offered = [m.model for m in schema.models if m.model_type == wanted]
        raise CredentialNotFound(
            f"model provider {schema.name!r} has no {wanted.value} model {model!r} "
            f"({wanted.value} models: {', '.join(offered) or 'none'})",
            provider=schema.name,
            field="model",
        )

    # -- credentials --------------------------------------------------------------------------------

    async def save_credentials(
        self,
        tenant_id: str,
        provider: str,
        values: Mapping[str, Any],
        *,
        model: str = "",
        model_type: str = "",
        name: str = "",
        default: bool = False,
    ) -> Credential:
        """Validate and store credentials of a provider, or of one custom model of a
        ``customizable-model`` provider when ``model`` is given (``model_type`` defaults to llm).

        Raises :class:`WorkspaceSettingsError` (naming the field) for values that do not fit the
        provider's form and :class:`CredentialsRefused` when the provider refuses them.
        """
        schema = self.provider(provider)
        if model:
            model_type = model_type or ModelType.LLM.value
            if "customizable-model" not in schema.configurate_methods:
                raise WorkspaceSettingsError(
                    f"model provider {schema.name!r} has only predefined models: save credentials for the "
                    "provider, without a model",
                    provider=schema.name,
                    field="model",
                )
            self._check_model(schema, model, model_type)
            specs = schema.model_credential_schema
        elif model_type:
            raise WorkspaceSettingsError(
                "a model type only applies to the credentials of a custom model: name the model too",
                provider=schema.name,
                field="model_type",
            )
        else:
            specs = schema.provider_credential_schema
        scope = CredentialScope(_MODEL, schema.name, model, model_type)
        form = [FormField.of(spec) for spec in specs]

        async def validate(plain: dict[str, Any]) -> None:
            if "validate_credentials" not in self._operations(schema.name):
                return
            payload = {"model": model, "model_type": model_type, "credentials": plain}
            secrets = [str(plain[f.name]) for f in form if f.secret and f.name in plain]
            try:
                async for _ in self._plugins.invoke(
                    "model_provider", schema.name, "validate_credentials", payload, tenant_id=tenant_id
                ):
                    pass
            except PluginError as exc:
                raise refused(scope, form, exc, secrets) from None

        return await self.vault.save(tenant_id, scope, form, values, name=name, default=default, validate=validate)

    def _operations(self, provider: str) -> tuple[str, ...]:
        for entry in self._plugins.extensions("model_provider"):
            if entry.name == provider:
                return entry.operations
        return ()

    async def credentials(self, tenant_id: str, provider: str | None = None) -> list[Credential]:
        """The workspace's model credentials (of one installed provider, if given), masked."""
        return await self.vault.listing(tenant_id, _MODEL, provider)

    async def set_default_credentials(self, tenant_id: str, credential_id: str) -> Credential:
        """Make a credential the default of its provider (or of its custom model)."""
        return await self.vault.set_default(tenant_id, _MODEL, credential_id)

    async def delete_credentials(self, tenant_id: str, credential_id: str) -> None:
        """Delete a credential. A custom model whose only credential it was is gone with it."""
        await self.vault.delete(tenant_id, _MODEL, credential_id)

    # -- default models -----------------------------------------------------------------------------

    async def set_default_model(self, tenant_id: str, model_type: str, provider: str, model: str) -> None:
        """Make ``provider``/``model`` the workspace's default of ``model_type`` (one of
        :data:`DEFAULT_MODEL_TYPES`)."""
        if model_type not in DEFAULT_MODEL_TYPES:
            raise WorkspaceSettingsError(
                f"a workspace has no default {model_type!r} model (types with defaults: "
                f"{', '.join(DEFAULT_MODEL_TYPES)})",
                field="model_type",
            )
        schema = self.provider(provider)
        self._check_model(schema, model, model_type)
        defaults = await self._default_models(tenant_id)
        defaults[model_type] = {"provider": schema.name, "model": model}
        await self.vault.store.put_setting(tenant_id, _DEFAULT_MODELS, defaults)

    async def clear_default_model(self, tenant_id: str, model_type: str) -> None:
        defaults = await self._default_models(tenant_id)
        if defaults.pop(model_type, None) is not None:
            await self.vault.store.put_setting(tenant_id, _DEFAULT_MODELS, defaults or None)

    async def _default_models(self, tenant_id: str) -> dict[str, dict[str, str]]:
        found = await self.vault.store.get_setting(tenant_id, _DEFAULT_MODELS)
        return dict(found) if isinstance(found, dict) else {}

    async def default_models(self, tenant_id: str) -> dict[str, tuple[str, str]]:
        """The workspace's default ``(provider, model)`` by model type."""
        return {kind: (v["provider"], v["model"]) for kind, v in (await self._default_models(tenant_id)).items()}

    async def default_model(self, tenant_id: str, model_type: str) -> tuple[str, str] | None:
        return (await self.default_models(tenant_id)).get(model_type)

    # -- load balancing -----------------------------------------------------------------------------

    async def _balancing(self, tenant_id: str) -> dict[str, dict[str, Any]]:
        found = await self.vault.store.get_setting(tenant_id, _LOAD_BALANCING)
        return dict(found) if isinstance(found, dict) else {}

    async def load_balancing(self, tenant_id: str) -> list[LoadBalancing]:
        """Every model's credential pool in the workspace (enabled or kept for later)."""
        return [
            LoadBalancing(v["provider"], v["model"], v["model_type"], v["enabled"], tuple(v["pool"]))
            for v in (await self._balancing(tenant_id)).values()
        ]

    async def set_load_balancing(
        self,
        tenant_id: str,
        provider: str,
        model: str,
        model_type: str = ModelType.LLM.value,
        *,
        pool: Sequence[str] | None = None,
        enabled: bool = True,
    ) -> LoadBalancing:
        """Set a model's credential pool and turn balancing on or off; ``pool`` None keeps the pool
        (switching back to a single credential keeps it for later, as Dify does). Enabled pools need
        at least two entries: credential ids of the provider (or of this custom model), or
        :data:`INHERIT`."""
        schema = self.provider(provider)
        self._check_model(schema, model, model_type)
        configs = await self._balancing(tenant_id)
        key = f"{schema.name}:{model}:{model_type}"
        if pool is None:
            pool = tuple(configs.get(key, {}).get("pool", ()))
        else:
            usable = {
                r.id
                for r in await self.vault.store.list_credentials(tenant_id, _MODEL, schema.name)
                if r.model in ("", model) and r.model_type in ("", model_type)
            }
            for entry in pool:
                if entry != INHERIT and entry not in usable:
                    raise CredentialNotFound(
                        f"load-balancing pool of {model_type} model {model!r} of provider {schema.name!r}: "
                        f"{entry!r} is not a credential of that provider or model",
                        provider=schema.name,
                        field="pool",
                    )
        if enabled and len(pool) < 2:
            raise WorkspaceSettingsError(
                f"load balancing of {model_type} model {model!r} of provider {schema.name!r} needs at least two "
                f"credentials in its pool; it has {len(pool)}",
                provider=schema.name,
                field="pool",
            )
        balancing = LoadBalancing(schema.name, model, model_type, enabled, tuple(pool))
        configs[key] = balancing.as_dict()
        await self.vault.store.put_setting(tenant_id, _LOAD_BALANCING, configs)
        self._next.pop((tenant_id, key), None)
        return balancing

    # -- the credential source of the model manager ---------------------------------------------------

    async def pick(self, tenant_id: str, provider: str, model: str, model_type: str) -> CredentialPick | None:
        """The credentials for one call: the next of the model's load-balanced pool that is not
        cooling down, else the model's own default credential, else the provider's."""
        try:
            config = (await self._balancing(tenant_id)).get(f"{provider}:{model}:{model_type}")
            if config is not None and config.get("enabled"):
                picked = await self._balanced(tenant_id, provider, model, model_type, tuple(config["pool"]))
                if picked is not None:
                    return picked
            record = await self._default_record(tenant_id, provider, model, model_type)
            if record is None:
                return None
            values = self.vault.reveal(record)
        except WorkspaceSettingsError as exc:  # a credential that no longer decrypts
            raise InvokeAuthorizationError(exc.message, details={"provider": provider, "model": model}) from None
        return CredentialPick(record.id, values, secrets=self.vault.secrets_of(record, values))

    async def _default_record(
        self, tenant_id: str, provider: str, model: str, model_type: str
    ) -> StoredCredential | None:
        scopes = (CredentialScope(_MODEL, provider, model, model_type), CredentialScope(_MODEL, provider))
        for scope in scopes:
            record = await self.vault.default(tenant_id, scope)
            if record is not None:
                return record
        for scope in scopes:
            if await self.vault.in_scope(tenant_id, scope):
                raise InvokeAuthorizationError(
                    f"{scope} has credentials but none is its default since the default was deleted; "
                    "choose one (treadle models credentials default ID)",
                    details={"provider": provider, "model": model},
                )
        return None

    async def _balanced(
        self, tenant_id: str, provider: str, model: str, model_type: str, entries: tuple[str, ...]
    ) -> CredentialPick | None:
        records = {r.id: r for r in await self.vault.store.list_credentials(tenant_id, _MODEL, provider)}
        inherited = None
        pool: list[str] = []
        for entry in entries:
            if entry == INHERIT:
                inherited = inherited or await self._default_record(tenant_id, provider, model, model_type)
                entry = inherited.id if inherited is not None else ""
            if entry in records:
                pool.append(entry)
        if not pool:
            return None
        key = f"{provider}:{model}:{model_type}"
        self._pools[(tenant_id, key)] = tuple(pool)
        now = self._clock()
        start = self._next.get((tenant_id, key), 0)
        for step in range(len(pool)):
            index = (start + step) % len(pool)
            credential_id = pool[index]
            if self._cooling.get((tenant_id, key, credential_id), 0.0) > now:
                continue
            self._next[(tenant_id, key)] = index + 1
            record = records[credential_id]
            values = self.vault.reveal(record)
            return CredentialPick(credential_id, values, secrets=self.vault.secrets_of(record, values), pool=key)
        wait = min(self._cooling[(tenant_id, key, c)] for c in pool) - now
        raise InvokeRateLimitError(
            f"every credential in the load-balancing pool of {model_type} model {model!r} of provider "
            f"{provider!r} is cooling down after errors; the first is back in {wait:.0f} s",
            retry_after=round(wait, 3),
            details={"provider": provider, "model": model, "pool": len(pool)},
        )

    def report_failure(self, tenant_id: str, pick: CredentialPick, error: PluginError) -> bool:
        """Take a pooled credential out of rotation after a rate limit (60 s), a refused key or a failed
        connection (10 s); True while another credential of its pool is in rotation."""
        if not pick.pool:
            return False
        cooldown = self._cooldowns.get(str(error.details.get("error_type")))
        if cooldown is None:
            return False
        now = self._clock()
        self._cooling[(tenant_id, pick.pool, pick.id)] = now + cooldown
        pool = self._pools.get((tenant_id, pick.pool), ())
        return any(self._cooling.get((tenant_id, pick.pool, c), 0.0) <= now for c in pool)
