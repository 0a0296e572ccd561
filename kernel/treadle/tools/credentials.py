"""A workspace's credentials of plugin tool providers (WS-TOOLS): several per provider, one default,
validated by the provider's ``validate_credentials`` on save, secret fields encrypted at rest.

:class:`WorkspaceToolCredentials` is the :class:`~treadle.tools.ToolCredentialSource` of
:class:`~treadle.tools.PluginTools`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.errors import PluginError, PluginFailed, PluginNotFound
from treadle_sdk.schemas import ToolProviderSchema

from ..models.errors import CredentialNotFound, WorkspaceSettingsError
from ..models.vault import Credential, CredentialScope, CredentialVault, FormField
from ..models.workspace import PluginCatalog, refused
from .manager import plugin_provider_name

__all__ = ["WorkspaceToolCredentials"]

_TOOL = "tool"


class WorkspaceToolCredentials:
    """Tool provider credentials of every workspace, kept in a :class:`CredentialVault`."""

    def __init__(self, vault: CredentialVault, plugins: PluginCatalog) -> None:
        self.vault = vault
        self._plugins = plugins

    def provider(self, name: str) -> ToolProviderSchema:
        """The installed tool provider ``name`` (a bare name or an ``org/plugin/provider`` id)."""
        installed = {e.name: e for e in self._plugins.extensions("tool_provider")}
        for candidate in (name, plugin_provider_name(name)):
            if candidate in installed:
                return ToolProviderSchema.model_validate(installed[candidate].schema)
        raise CredentialNotFound(
            f"tool provider {name!r} is not installed (installed tool providers: "
            f"{', '.join(sorted(installed)) or 'none'})",
            provider=name,
        )

    async def save_credentials(
        self, tenant_id: str, provider: str, values: Mapping[str, Any], *, name: str = "", default: bool = False
    ) -> Credential:
        """Validate and store credentials of a tool provider; a credential of the same ``name`` is
        replaced. Errors name the field."""
        schema = self.provider(provider)
        scope = CredentialScope(_TOOL, schema.name)
        form = [FormField.of(spec) for spec in schema.credentials]
        operations = next(
            (e.operations for e in self._plugins.extensions("tool_provider") if e.name == schema.name), ()
        )

        async def validate(plain: dict[str, Any]) -> None:
            if "validate_credentials" not in operations:
                return
            secrets = [str(plain[f.name]) for f in form if f.secret and f.name in plain]
            try:
                async for _ in self._plugins.invoke(
                    "tool_provider", schema.name, "validate_credentials", {"credentials": plain}, tenant_id=tenant_id
                ):
                    pass
            except PluginError as exc:
                raise refused(scope, form, exc, secrets) from None

        return await self.vault.save(tenant_id, scope, form, values, name=name, default=default, validate=validate)

    async def credentials(self, tenant_id: str, provider: str | None = None) -> list[Credential]:
        """The workspace's tool credentials (of one installed provider, if given), masked."""
        return await self.vault.listing(tenant_id, _TOOL, provider)

    async def set_default_credentials(self, tenant_id: str, credential_id: str) -> Credential:
        return await self.vault.set_default(tenant_id, _TOOL, credential_id)

    async def delete_credentials(self, tenant_id: str, credential_id: str) -> None:
        await self.vault.delete(tenant_id, _TOOL, credential_id)

    async def tool_credentials(self, tenant_id: str, provider: str, credential_id: str | None) -> dict[str, Any]:
        """The credentials a call of ``provider``'s tools runs with: ``credential_id``'s (a tool
        node's ``credential_id``), else the provider's default, else none."""
        scope = CredentialScope(_TOOL, provider)
        if credential_id:
            record = await self.vault.store.get_credential(tenant_id, credential_id)
            if record is None or not scope.holds(record):
                raise PluginNotFound(
                    f"this workspace has no credential {credential_id!r} of tool provider {provider!r}",
                    details={"provider": provider, "field": "credential_id"},
                )
        else:
            record = await self.vault.default(tenant_id, scope)
            if record is None:
                return {}
        try:
            return self.vault.reveal(record)
        except WorkspaceSettingsError as exc:
            raise PluginFailed(exc.message, details={"provider": provider, "credential_id": record.id}) from None
