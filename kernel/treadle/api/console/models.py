"""Model providers of the current workspace: the installed providers, their credentials (validated on
save, masked on read) and the workspace's default models (WS-MODEL-PROVIDERS, WS-MODEL-CREDENTIALS,
WS-DEFAULT-MODELS).

Providers are the model-provider plugins the supervisor runs; credentials live in the supervisor's
:class:`~treadle.models.WorkspaceModelSettings`. Owners and admins configure; every member may see
which providers are installed and which models are the defaults.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from treadle_sdk.schemas import ModelProviderSchema

from ...models import DEFAULT_MODEL_TYPES, WorkspaceModelSettings
from ...models.vault import Credential
from ...plugins import PluginSupervisor
from ...tenancy import Action
from ..errors import ApiError
from ..service.routes.common import json_body, query_params, respond
from .common import Member, endpoint, workspace_member

__all__ = ["ROUTES", "provider_view"]


class CredentialsRequest(BaseModel):
    """``POST /workspaces/current/model-providers/{provider}/credentials``: the form's values, and a
    name (saving under an existing name replaces that credential)."""

    model_config = ConfigDict(extra="ignore")

    credentials: dict[str, Any]
    name: str = Field(default="", max_length=64)
    make_default: bool = False


class CredentialIdRequest(BaseModel):
    """A credential named by id (deleting one, or making it the default)."""

    model_config = ConfigDict(extra="ignore")

    credential_id: str = Field(min_length=1, max_length=64)


class CredentialsQuery(BaseModel):
    """``GET .../credentials``: the default credential, or the one ``credential_id`` names."""

    model_config = ConfigDict(extra="ignore")

    credential_id: str | None = None


class DefaultModelQuery(BaseModel):
    """``GET /workspaces/current/default-model``."""

    model_config = ConfigDict(extra="ignore")

    model_type: str


class DefaultModelSetting(BaseModel):
    """One entry of ``model_settings``; no provider or model clears that type's default."""

    model_config = ConfigDict(extra="ignore")

    model_type: str
    provider: str | None = None
    model: str | None = None


class DefaultModelRequest(BaseModel):
    """``POST /workspaces/current/default-model``."""

    model_config = ConfigDict(extra="ignore")

    model_settings: list[DefaultModelSetting] = Field(min_length=1)


def _supervisor(member: Member) -> PluginSupervisor:
    return member.state.service.supervisor


def _settings(member: Member) -> WorkspaceModelSettings:
    return _supervisor(member).model_settings


def _installed(member: Member) -> list[tuple[str, ModelProviderSchema]]:
    found = [
        (entry.plugin, ModelProviderSchema.model_validate(entry.schema))
        for entry in _supervisor(member).extensions("model_provider")
    ]
    return sorted(found, key=lambda pair: pair[1].name)


def provider_view(plugin: str, schema: ModelProviderSchema, credentials: list[Credential]) -> dict[str, Any]:
    """A provider as the provider list shows it: its schema, and whether credentials are set."""
    own = [c for c in credentials if not c.model]
    current = next((c for c in own if c.is_default), None)
    return {
        "provider": schema.name,
        "plugin": plugin,
        "label": schema.label,
        "description": schema.description,
        "icon_small": schema.icon_small,
        "icon_large": schema.icon_large,
        "supported_model_types": [t.value for t in schema.supported_model_types],
        "configurate_methods": schema.configurate_methods,
        "provider_credential_schema": [f.model_dump(mode="json") for f in schema.provider_credential_schema],
        "model_credential_schema": [f.model_dump(mode="json") for f in schema.model_credential_schema],
        "preferred_provider_type": "custom",
        "custom_configuration": {
            "status": "active" if own else "no-configure",
            "current_credential_id": current.id if current else None,
            "current_credential_name": current.name if current else None,
            "available_credentials": [{"credential_id": c.id, "credential_name": c.name} for c in own],
        },
    }


async def list_providers(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_USE)
    settings = _settings(member)
    data = [
        provider_view(plugin, schema, await settings.credentials(member.tenant_id, schema.name))
        for plugin, schema in _installed(member)
    ]
    return respond({"data": data})


def _credential_view(credential: Credential) -> dict[str, Any]:
    return {
        "credential_id": credential.id,
        "credential_name": credential.name,
        "is_default": credential.is_default,
        "credentials": credential.values,
        "created_at": int(credential.created_at),
    }


async def _provider_credentials(member: Member, provider: str) -> tuple[str, list[Credential]]:
    schema = _settings(member).provider(provider)
    found = await _settings(member).credentials(member.tenant_id, schema.name)
    return schema.name, [c for c in found if not c.model]


async def get_credentials(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_MANAGE)
    query = query_params(request, CredentialsQuery)
    _, found = await _provider_credentials(member, request.path_params["provider"])
    if query.credential_id is not None:
        chosen = next((c for c in found if c.id == query.credential_id), None)
        if chosen is None:
            raise ApiError(404, "not_found", f"Credential {query.credential_id} not found for this provider.")
    else:
        chosen = next((c for c in found if c.is_default), None)
    return respond(
        {
            "credentials": chosen.values if chosen else None,
            "current_credential_id": chosen.id if chosen else None,
            "current_credential_name": chosen.name if chosen else None,
            "available_credentials": [_credential_view(c) for c in found],
        }
    )


async def save_credentials(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_MANAGE)
    body = await json_body(request, CredentialsRequest)
    saved = await _settings(member).save_credentials(
        member.tenant_id, request.path_params["provider"], body.credentials, name=body.name, default=body.make_default
    )
    return respond({"result": "success", **_credential_view(saved)}, 201)


async def _owned(member: Member, request: Request, credential_id: str) -> Credential:
    _, found = await _provider_credentials(member, request.path_params["provider"])
    chosen = next((c for c in found if c.id == credential_id), None)
    if chosen is None:
        raise ApiError(404, "not_found", f"Credential {credential_id} not found for this provider.")
    return chosen


async def _credential_id(request: Request) -> str:
    given = request.query_params.get("credential_id")
    if given:
        return given
    return (await json_body(request, CredentialIdRequest)).credential_id


async def delete_credentials(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_MANAGE)
    credential = await _owned(member, request, await _credential_id(request))
    await _settings(member).delete_credentials(member.tenant_id, credential.id)
    return Response(status_code=204)


async def switch_credentials(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_MANAGE)
    credential = await _owned(member, request, (await json_body(request, CredentialIdRequest)).credential_id)
    await _settings(member).set_default_credentials(member.tenant_id, credential.id)
    return respond({"result": "success"})


def _check_type(model_type: str, field: str) -> None:
    if model_type not in DEFAULT_MODEL_TYPES:
        raise ApiError(
            400, "invalid_param",
            f"{field}: {model_type!r} has no default model (one of {', '.join(DEFAULT_MODEL_TYPES)}).",
            params=field,
        )


async def get_default_model(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_USE)
    query = query_params(request, DefaultModelQuery)
    _check_type(query.model_type, "model_type")
    found = await _settings(member).default_model(member.tenant_id, query.model_type)
    if found is None:
        return respond({"data": None})
    provider, model = found
    schemas = {schema.name: schema for _, schema in _installed(member)}
    schema = schemas.get(provider)
    return respond(
        {
            "data": {
                "model": model,
                "model_type": query.model_type,
                "provider": {
                    "provider": provider,
                    "label": schema.label if schema else {"en_US": provider},
                    "icon_small": schema.icon_small if schema else None,
                    "icon_large": schema.icon_large if schema else None,
                    "supported_model_types": [t.value for t in schema.supported_model_types] if schema else [],
                },
            }
        }
    )


async def set_default_model(request: Request) -> Response:
    member = await workspace_member(request, Action.MODELS_MANAGE)
    body = await json_body(request, DefaultModelRequest)
    for index, setting in enumerate(body.model_settings):
        _check_type(setting.model_type, f"model_settings[{index}].model_type")
    settings = _settings(member)
    for setting in body.model_settings:
        if setting.provider and setting.model:
            await settings.set_default_model(member.tenant_id, setting.model_type, setting.provider, setting.model)
        else:
            await settings.clear_default_model(member.tenant_id, setting.model_type)
    return respond({"result": "success"})


ROUTES = [
    endpoint("/workspaces/current/model-providers", list_providers, ["GET"]),
    endpoint("/workspaces/current/model-providers/{provider}/credentials", get_credentials, ["GET"]),
    endpoint("/workspaces/current/model-providers/{provider}/credentials", save_credentials, ["POST"]),
    endpoint("/workspaces/current/model-providers/{provider}/credentials", delete_credentials, ["DELETE"]),
    endpoint("/workspaces/current/model-providers/{provider}/credentials/switch", switch_credentials, ["POST"]),
    endpoint("/workspaces/current/default-model", get_default_model, ["GET"]),
    endpoint("/workspaces/current/default-model", set_default_model, ["POST"]),
]
