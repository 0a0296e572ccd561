"""The credential vault: credentials checked against their provider's form, secret fields encrypted,
several per provider (or custom model, or tool provider) with one default, listed masked.

Shared by the model settings (:mod:`.workspace`) and the tool credentials
(:mod:`treadle.tools.credentials`); it knows forms and scopes, not what the credentials are for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.schemas import CredentialFormSchema, ProviderConfig

from .encryption import SecretCipher
from .errors import CredentialNotFound, WorkspaceSettingsError
from .store import SettingsStore, StoredCredential

__all__ = ["HIDDEN", "Credential", "CredentialScope", "CredentialVault", "FormField", "mask"]

#: What a client sends back for a secret field it was shown masked, to keep the stored value.
HIDDEN = "[__HIDDEN__]"

_MASK = "******"
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def mask(value: str) -> str:
    """A secret as listings show it: ``sk-******xyz`` (only short secrets lose their ends too)."""
    return f"{value[:3]}{_MASK}{value[-3:]}" if len(value) >= 12 else _MASK


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a credential form (a model provider's ``CredentialFormSchema`` or a tool
    provider's ``ProviderConfig``)."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    options: tuple[str, ...] = ()
    #: ``(variable, value)`` pairs that must all hold for the field to apply; ``__model_type`` is
    #: the type of the model the credentials are for.
    show_on: tuple[tuple[str, str], ...] = ()

    @property
    def secret(self) -> bool:
        return self.type == "secret-input"

    @classmethod
    def of(cls, spec: CredentialFormSchema | ProviderConfig) -> FormField:
        if isinstance(spec, CredentialFormSchema):
            return cls(
                spec.variable,
                spec.type,
                spec.required,
                spec.default,
                tuple(str(o.get("value")) for o in spec.options),
                tuple((str(c.get("variable")), str(c.get("value"))) for c in spec.show_on),
            )
        return cls(spec.name, spec.type, spec.required, spec.default, tuple(o.value for o in spec.options))


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """What a credential is for: a model provider, one custom model of it, or a tool provider."""

    kind: str
    provider: str
    model: str = ""
    model_type: str = ""

    def __str__(self) -> str:
        if self.kind == "tool":
            return f"tool provider {self.provider!r}"
        if self.model:
            return f"{self.model_type} model {self.model!r} of provider {self.provider!r}"
        return f"model provider {self.provider!r}"

    @property
    def default_key(self) -> str:
        return f"default-credential:{self.kind}:{self.provider}:{self.model}:{self.model_type}"

    def holds(self, record: StoredCredential) -> bool:
        return (record.kind, record.provider, record.model, record.model_type) == (
            self.kind,
            self.provider,
            self.model,
            self.model_type,
        )

    @classmethod
    def of(cls, record: StoredCredential) -> CredentialScope:
        return cls(record.kind, record.provider, record.model, record.model_type)


@dataclass(frozen=True, slots=True)
class Credential:
    """A saved credential as it may be shown: secret fields masked."""

    id: str
    kind: str
    provider: str
    name: str
    values: dict[str, Any]
    is_default: bool
    model: str = ""
    model_type: str = ""
    created_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "provider": self.provider,
            "model": self.model or None,
            "model_type": self.model_type or None,
            "name": self.name,
            "is_default": self.is_default,
            "values": self.values,
            "created_at": self.created_at,
        }


ValidateFn = Callable[[dict[str, Any]], Awaitable[None]]


class CredentialVault:
    """Saves, lists, reveals and deletes credentials of a workspace through a :class:`SettingsStore`."""

    def __init__(self, store: SettingsStore, cipher: SecretCipher) -> None:
        self.store = store
        self.cipher = cipher

    # -- checking -----------------------------------------------------------------------------------

    def check(self, scope: CredentialScope, form: Iterable[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked against ``form``, with defaults filled in; the error names the field."""
        fields = {f.name: f for f in form}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise WorkspaceSettingsError(
                f"{scope} has no credential field {unknown[0]!r} (fields: {', '.join(fields) or 'none'})",
                provider=scope.provider,
                field=unknown[0],
            )
        checked: dict[str, Any] = {}
        for spec in fields.values():
            value = values.get(spec.name)
            if value is None or value == "":
                value = spec.default
            if value is None or value == "":
                if spec.required and self._shown(spec, scope, values):
                    raise WorkspaceSettingsError(
                        f"credential field {spec.name!r} of {scope} is required",
                        provider=scope.provider,
                        field=spec.name,
                    )
                continue
            checked[spec.name] = self._value(scope, spec, value)
        return checked

    @staticmethod
    def _shown(spec: FormField, scope: CredentialScope, values: Mapping[str, Any]) -> bool:
        for variable, wanted in spec.show_on:
            actual = scope.model_type if variable == "__model_type" else values.get(variable)
            if str(actual) != wanted:
                return False
        return True

    @staticmethod
    def _value(scope: CredentialScope, spec: FormField, value: Any) -> Any:
        def refuse(why: str) -> WorkspaceSettingsError:
            return WorkspaceSettingsError(
                f"credential field {spec.name!r} of {scope} {why}", provider=scope.provider, field=spec.name
            )

        if spec.type in ("switch", "boolean"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE + _FALSE:
                return text in _TRUE
            raise refuse(f"must be true or false, not {value!r}")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise refuse(f"must be text, not {type(value).__name__}")
        if spec.secret and not isinstance(value, str):
            value = str(value)
        if spec.options and str(value) not in spec.options:
            raise refuse(f"must be one of {', '.join(spec.options)}, not {value!r}")
        return value

    # -- saving -------------------------------------------------------------------------------------

    async def save(
        self,
        tenant_id: str,
        scope: CredentialScope,
        form: Iterable[FormField],
        values: Mapping[str, Any],
        *,
        name: str = "",
        default: bool = False,
        validate: ValidateFn | None = None,
    ) -> Credential:
        """Check, validate (``validate`` gets the plaintext values and raises to refuse them),
        encrypt and store credentials.

        A credential of the same scope and ``name`` is replaced (keeping its id, and its stored secret
        for every secret field given as :data:`HIDDEN` or as its mask); otherwise a new one is added,
        named ``API KEY n`` when no name is given. The first credential of a scope becomes its default.
        """
        form = list(form)
        secrets = tuple(f.name for f in form if f.secret)
        siblings = await self.in_scope(tenant_id, scope)
        name = name.strip()
        existing = next((r for r in siblings if name and r.name == name), None)
        given = dict(values)
        if existing is not None:
            old = self.reveal(existing)
            for field_name in secrets:
                if field_name in old and given.get(field_name) in (HIDDEN, mask(str(old[field_name]))):
                    given[field_name] = old[field_name]
        plain = self.check(scope, form, given)
        if validate is not None:
            await validate(plain)
        record_id = existing.id if existing is not None else uuid.uuid4().hex
        if not name:
            taken = {r.name for r in siblings}
            name = next(f"API KEY {n}" for n in range(1, len(taken) + 2) if f"API KEY {n}" not in taken)
        stored = {
            key: self.cipher.encrypt(tenant_id, str(value), context=f"{record_id}/{key}") if key in secrets else value
            for key, value in plain.items()
        }
        record = StoredCredential(
            id=record_id,
            tenant_id=tenant_id,
            kind=scope.kind,
            provider=scope.provider,
            model=scope.model,
            model_type=scope.model_type,
            name=name,
            values=stored,
            secret_fields=tuple(key for key in secrets if key in stored),
            created_at=existing.created_at if existing is not None else time.time(),
        )
        await self.store.put_credential(record)
        if default or await self.default_id(tenant_id, scope) is None:
            await self.store.put_setting(tenant_id, scope.default_key, record_id)
        return await self.shown(record)

    # -- reading ------------------------------------------------------------------------------------

    def reveal(self, record: StoredCredential) -> dict[str, Any]:
        """The plaintext values of a stored credential."""
        return {
            key: self.cipher.decrypt(record.tenant_id, value, context=f"{record.id}/{key}")
            if key in record.secret_fields
            else value
            for key, value in record.values.items()
        }

    def secrets_of(self, record: StoredCredential, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The secret values among ``values`` (revealed from ``record``), to be kept out of messages."""
        return tuple(str(values[key]) for key in record.secret_fields if key in values)

    async def shown(self, record: StoredCredential) -> Credential:
        """The credential as listings show it."""
        plain = self.reveal(record)
        masked = {key: mask(str(value)) if key in record.secret_fields else value for key, value in plain.items()}
        default = await self.default_id(record.tenant_id, CredentialScope.of(record)) == record.id
        return Credential(
            id=record.id,
            kind=record.kind,
            provider=record.provider,
            name=record.name,
            values=masked,
            is_default=default,
            model=record.model,
            model_type=record.model_type,
            created_at=record.created_at,
        )

    async def listing(self, tenant_id: str, kind: str, provider: str | None = None) -> list[Credential]:
        """The workspace's credentials of a kind (and provider), masked, oldest first."""
        return [await self.shown(r) for r in await self.store.list_credentials(tenant_id, kind, provider)]

    async def get(self, tenant_id: str, kind: str, credential_id: str) -> StoredCredential:
        record = await self.store.get_credential(tenant_id, credential_id)
        if record is None or record.kind != kind:
            raise CredentialNotFound(f"this workspace has no {kind} credential {credential_id!r}")
        return record

    async def in_scope(self, tenant_id: str, scope: CredentialScope) -> list[StoredCredential]:
        records = await self.store.list_credentials(tenant_id, scope.kind, scope.provider)
        return [r for r in records if scope.holds(r)]

    async def default_id(self, tenant_id: str, scope: CredentialScope) -> str | None:
        found = await self.store.get_setting(tenant_id, scope.default_key)
        return found if isinstance(found, str) else None

    async def default(self, tenant_id: str, scope: CredentialScope) -> StoredCredential | None:
        """The scope's default credential, if it has one that still exists."""
        found = await self.default_id(tenant_id, scope)
        record = None if found is None else await self.store.get_credential(tenant_id, found)
        return record if record is not None and scope.holds(record) else None

    # -- changing -----------------------------------------------------------------------------------

    async def set_default(self, tenant_id: str, kind: str, credential_id: str) -> Credential:
        record = await self.get(tenant_id, kind, credential_id)
        await self.store.put_setting(tenant_id, CredentialScope.of(record).default_key, record.id)
        return await self.shown(record)

    async def delete(self, tenant_id: str, kind: str, credential_id: str) -> StoredCredential:
        """Delete a credential. Deleting the default leaves its scope without one until another is
        chosen, as in Dify (a credential saved later becomes the default)."""
        record = await self.get(tenant_id, kind, credential_id)
        await self.store.delete_credential(tenant_id, credential_id)
        scope = CredentialScope.of(record)
        if await self.default_id(tenant_id, scope) == credential_id:
            await self.store.put_setting(tenant_id, scope.default_key, None)
        return record
