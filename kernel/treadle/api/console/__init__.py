"""The console API (``/console/api``): sign-in and sessions, workspaces and members, apps with their
versions and keys, model providers, plugins and run logs, for the people who build apps.

Every route acts in the signed-in account's current workspace and checks its role there against the
tenancy layer's roles matrix (WS-MEMBERS-ROLES).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import apps, auth, dataset_keys, extensions, mcp_server, mcp_tools, members, models, plugins, runs, workspaces

__all__ = ["console_routes"]


def console_routes() -> list[BaseRoute]:
    """Every ``/console/api`` route, relative to the mount point."""
    return [
        *auth.ROUTES,
        *workspaces.ROUTES,
        *members.ROUTES,
        *apps.ROUTES,
        *mcp_server.ROUTES,
        *models.ROUTES,
        *plugins.ROUTES,
        *runs.ROUTES,
        *extensions.ROUTES,
        *dataset_keys.ROUTES,
        *mcp_tools.ROUTES,
    ]
