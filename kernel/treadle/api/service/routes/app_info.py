"""What a client learns about the app its key opens: ``GET /parameters``, ``/info``, ``/meta``,
``/site``, and ``GET /end-users/{end_user_id}`` (API-APP-PARAMS, API-APP-INFO, API-APP-META,
API-APP-SITE, API-ENDUSER-GET).

``/parameters`` describes the version that runs (the published workflow, or the app's
``model_config``): its feature switches, its input form in Dify's ``user_input_form`` shape, and the
server's upload limits. ``/site`` answers the web app settings kept in the app row's ``site``
document, with the app's name and icon where it sets none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....files import IMAGE_PREVIEW, UploadLimits
from ....store import Account, EndUser, Tenant
from .. import errors
from ..state import LoadedApp, ServiceApp, ServiceState
from .common import authenticated, respond

__all__ = ["ROUTES", "input_fields"]

#: Where Dify's console serves a built-in tool provider's icon (``tool_icons`` of ``/meta``).
_BUILTIN_ICON = "/console/api/workspaces/current/tool-provider/builtin/{provider}/icon"
#: The icon Dify gives a custom (API) tool whose provider has none.
_DEFAULT_TOOL_ICON = {"background": "#252525", "content": "\U0001f601"}
_GRAPH_MODES = ("workflow", "advanced-chat")


def _start_form(loaded: LoadedApp) -> list[dict[str, Any]]:
    """The Start node's variables, each as ``{<type>: {variable, label, type, required, ...}}``
    (Dify's ``user_input_form`` shape for workflow apps)."""
    workflow = loaded.dsl.workflow
    if workflow is None:
        return []
    for node in workflow.graph.nodes:
        if node.data.type == "start" and node.parent_id is None:
            variables = (node.data.model_extra or {}).get("variables") or []
            return [
                {str(variable["type"]): dict(variable)}
                for variable in variables
                if isinstance(variable, Mapping) and isinstance(variable.get("type"), str)
            ]
    return []


def _model_config_form(app: ServiceApp, loaded: LoadedApp) -> list[dict[str, Any]]:
    """The ``user_input_form`` of a chat, agent-chat or completion app, as its configuration holds it."""
    config = loaded.dsl.app_model_config or app.model_config
    form = config.get("user_input_form") or []
    if not isinstance(form, list):
        return []
    return [dict(entry) for entry in form if isinstance(entry, Mapping) and len(entry) == 1]


def input_fields(app: ServiceApp, loaded: LoadedApp) -> list[dict[str, Any]]:
    """The app's input fields, each flat: ``{variable, label, type, required, ...}`` (the Start
    node's variables, or a model_config app's ``user_input_form``)."""
    form = _start_form(loaded) if app.mode in _GRAPH_MODES else _model_config_form(app, loaded)
    return [{**fields, "type": fields.get("type") or kind} for entry in form for kind, fields in entry.items()]


async def parameters(request: Request) -> Response:
    """API-APP-PARAMS: the feature switches, the input form and the upload limits."""
    state, app = await authenticated(request)
    loaded = await state.load(app)
    form = _start_form(loaded) if app.mode in _GRAPH_MODES else _model_config_form(app, loaded)
    limits = state.files.limits if state.files is not None else UploadLimits()
    body = loaded.app.features.parameters()
    body["user_input_form"] = form
    body["system_parameters"] = limits.system_parameters()
    return respond(body)


async def _creator(state: ServiceState, app: ServiceApp) -> Account | None:
    if app.created_by is None:
        return None
    async with state.db.session() as session:
        return await session.get(Account, app.created_by)


async def info(request: Request) -> Response:
    """API-APP-INFO: the app's name, description, tags, mode and author."""
    state, app = await authenticated(request)
    author = await _creator(state, app)
    return respond({
        "name": app.name,
        "description": app.description,
        "tags": [],
        "mode": app.mode,
        "author_name": author.name if author is not None else None,
    })


def _tools(app: ServiceApp, loaded: LoadedApp | None) -> Sequence[Mapping[str, Any]]:
    """The tools the app uses: tool nodes of its published workflow, or its agent's tools."""
    if app.mode in _GRAPH_MODES:
        if loaded is None or loaded.dsl.workflow is None:
            return []
        return [
            node.data.model_extra or {} for node in loaded.dsl.workflow.graph.nodes if node.data.type == "tool"
        ]
    agent = app.model_config.get("agent_mode") or {}
    tools = agent.get("tools") if isinstance(agent, Mapping) else None
    return [tool for tool in tools or [] if isinstance(tool, Mapping)]


def _api_icon(icon: str) -> Any:
    try:
        parsed = json.loads(icon) if icon else None
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, Mapping) else _DEFAULT_TOOL_ICON


async def meta(request: Request) -> Response:
    """API-APP-META: the icon of each tool the app uses, by tool name: a URL for built-in tools,
    ``{background, content}`` for custom (API) tools."""
    state, app = await authenticated(request)
    loaded = await state.load(app) if app.mode in _GRAPH_MODES and app.workflow_id else None
    icons: dict[str, Any] = {}
    api_providers: dict[str, str] | None = None
    for tool in _tools(app, loaded):
        name, kind = tool.get("tool_name"), tool.get("provider_type")
        provider = str(tool.get("provider_id") or tool.get("provider_name") or "")
        if not isinstance(name, str) or not name:
            continue
        if kind == "builtin":
            icons[name] = _BUILTIN_ICON.format(provider=provider)
        elif kind == "api":
            if api_providers is None:
                api_providers = {}
                for found in await state.supervisor.api_tools.providers(app.tenant_id):
                    api_providers[found.id] = api_providers[found.name] = found.icon
            icons[name] = _api_icon(api_providers.get(provider, ""))
    return respond({"tool_icons": icons})


async def _icon_url(state: ServiceState, app: ServiceApp, icon_type: str, icon: str) -> str | None:
    """A URL of an image icon: a signed preview of the workspace's upload it names, or the icon
    itself when it is a URL already; None for emoji icons."""
    if icon_type != "image" or not icon:
        return None
    if icon.startswith(("http://", "https://")):
        return icon
    if state.files is None:
        return None
    record = await state.files.records.get(icon)
    if record is None or record.tenant_id != app.tenant_id:
        return None
    return state.files.signer.url(record.id, purpose=IMAGE_PREVIEW)


async def site(request: Request) -> Response:
    """API-APP-SITE: the web app's settings; 403 ``forbidden`` when the workspace is archived."""
    state, app = await authenticated(request)
    async with state.db.session() as session:
        tenant = await session.get(Tenant, app.tenant_id)
        author = await session.get(Account, app.created_by) if app.created_by else None
    if tenant is None or tenant.status == "archive":
        raise errors.FORBIDDEN.error("The app's workspace is archived.")
    settings = app.site
    icon_type = str(settings.get("icon_type") or app.icon_type)
    icon = str(settings.get("icon") or app.icon)
    language = settings.get("default_language") or (author.interface_language if author is not None else "en-US")
    return respond({
        "title": settings.get("title") or app.name,
        "chat_color_theme": settings.get("chat_color_theme"),
        "chat_color_theme_inverted": bool(settings.get("chat_color_theme_inverted", False)),
        "icon_type": icon_type,
        "icon": icon,
        "icon_background": settings.get("icon_background") or app.icon_background,
        "icon_url": await _icon_url(state, app, icon_type, icon),
        "description": settings.get("description", app.description),
        "copyright": settings.get("copyright"),
        "privacy_policy": settings.get("privacy_policy"),
        "custom_disclaimer": settings.get("custom_disclaimer") or "",
        "default_language": language,
        "show_workflow_steps": bool(settings.get("show_workflow_steps", True)),
        "use_icon_as_answer_icon": bool(settings.get("use_icon_as_answer_icon", False)),
    })


async def end_user(request: Request) -> Response:
    """API-ENDUSER-GET: an end user of this app (an upload's ``created_by``, a run's creator)."""
    state, app = await authenticated(request)
    end_user_id = request.path_params["end_user_id"]
    async with state.db.session() as session:
        found = await session.scalar(select(EndUser).where(EndUser.id == end_user_id, EndUser.app_id == app.id))
    if found is None:
        raise errors.END_USER_NOT_FOUND.error(f"End user {end_user_id!r} not found among this app's end users.")
    return respond({
        "id": found.id,
        "tenant_id": found.tenant_id,
        "app_id": found.app_id,
        "type": found.type,
        "external_user_id": found.session_id,
        "name": found.name,
        "is_anonymous": found.is_anonymous,
        "session_id": found.session_id,
        "created_at": found.created_at.isoformat(),
        "updated_at": found.updated_at.isoformat(),
    })


ROUTES = [
    Route("/parameters", parameters, methods=["GET"]),
    Route("/info", info, methods=["GET"]),
    Route("/meta", meta, methods=["GET"]),
    Route("/site", site, methods=["GET"]),
    Route("/end-users/{end_user_id}", end_user, methods=["GET"]),
]
