"""The plugins this server runs, as the supervisor reports them (WS-PLUGINS): where each runs, its
state, and what it registers. Every member may see them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...tenancy import Action
from ..service.routes.common import respond
from .common import endpoint, workspace_member

__all__ = ["ROUTES"]


async def list_plugins(request: Request) -> Response:
    member = await workspace_member(request, Action.PLUGINS_VIEW)
    rows = member.state.service.supervisor.table()
    return respond({"plugins": rows, "total": len(rows)})


ROUTES = [endpoint("/workspaces/current/plugins", list_plugins, ["GET"])]
