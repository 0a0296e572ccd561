"""``GET /workspaces/current/models/model-types/{model_type}`` (API-MODELS): the models of one type the
workspace can use, by provider: the knowledge key's way to find an embedding or rerank model.

A provider is listed when it offers models of the type and is usable: it has credentials in the
workspace, or none of its credential fields is required.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from treadle_sdk.schemas import ModelProviderSchema, ModelSchema

from ..service import errors
from ..service.routes.common import respond
from ..service.state import service_state
from .common import knowledge_caller, knowledge_endpoint

__all__ = ["MODEL_TYPES", "ROUTES"]

MODEL_TYPES = ("text-embedding", "rerank", "llm", "tts", "speech2text", "moderation")


def _model_view(model: ModelSchema) -> dict[str, Any]:
    return {
        "model": model.model,
        "label": dict(model.label) if model.label else {"en_US": model.model},
        "model_type": model.model_type.value,
        "features": [feature.value for feature in model.features],
        "fetch_from": "predefined-model",
        "model_properties": model.model_properties,
        "deprecated": model.deprecated,
        "status": "active",
        "load_balancing_enabled": False,
    }


@knowledge_endpoint
async def list_models(request: Request) -> Response:
    caller = await knowledge_caller(request)
    model_type = request.path_params["model_type"]
    if model_type not in MODEL_TYPES:
        raise errors.INVALID_PARAM.error(
            f"model_type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}.", params="model_type"
        )
    supervisor = service_state(request).supervisor
    data = []
    for entry in supervisor.extensions("model_provider"):
        schema = ModelProviderSchema.model_validate(entry.schema)
        if model_type not in {kind.value for kind in schema.supported_model_types}:
            continue
        needs_credentials = any(field.required for field in schema.provider_credential_schema)
        if needs_credentials and not await supervisor.model_settings.credentials(
            caller.tenant_id, schema.name
        ):
            continue
        models = [_model_view(m) for m in schema.models if m.model_type.value == model_type and not m.deprecated]
        data.append({
            "provider": schema.name,
            "label": dict(schema.label),
            "icon_small": schema.icon_small,
            "icon_large": schema.icon_large,
            "status": "active",
            "models": models,
        })
    data.sort(key=lambda provider: str(provider["provider"]))
    return respond({"data": data})


ROUTES = [Route("/workspaces/current/models/model-types/{model_type}", list_models, methods=["GET"])]
