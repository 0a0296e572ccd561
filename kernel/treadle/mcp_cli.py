"""``treadle mcp stdio``: an app for desktop MCP clients that start a command (issue 7,
PUB-MCP-SERVER).

Claude Desktop and Cursor can start a local command and speak MCP over its stdin and stdout. This
command is that command: it relays to the app's MCP server on a running Treadle server (``--url``,
or the server running on this data directory when the app's MCP server is on), or runs the app in
this process on the data directory's database (``--local``, or when no server is running there).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from .config import Settings

__all__ = ["mcp_group"]


@click.group("mcp")
def mcp_group() -> None:
    """Serve apps to MCP clients."""


@contextlib.asynccontextmanager
async def _local_server(settings: Settings, app_id: str) -> AsyncIterator[Any]:
    """The server running ``app_id`` in this process: the database migrated and the plugins started
    for as long as the client stays."""
    from sqlalchemy import select

    from .api.app import service_runtime
    from .api.mcp import AppTarget
    from .api.mcp.bridge import serve_target
    from .api.service.state import ServiceApp
    from .runtime import AppNotFound, McpServers
    from .store import App, Database, upgrade_to_head

    db = Database.from_settings(settings)
    try:
        await upgrade_to_head(db)
        async with db.session() as session:
            row = await session.scalar(select(App).where(App.id == app_id))
        if row is None:
            raise AppNotFound("app", app_id)
        server = await McpServers(db, row.tenant_id).get(app_id)
        async with service_runtime(settings, database=db) as state:
            yield serve_target(AppTarget(state, ServiceApp.of(row), server))
    finally:
        await db.dispose()


def _running_url(settings: Settings, app_id: str) -> str | None:
    """The URL of the app's MCP server on the server running on this data directory, if both are on."""
    from .runtime import McpServers, workspace_of_app
    from .server import read_server_file
    from .store import Database

    info = read_server_file(settings)
    if info is None:
        return None

    async def look() -> Any:
        db = Database.from_settings(settings)
        try:
            return await McpServers(db, await workspace_of_app(db, app_id)).get(app_id)
        finally:
            await db.dispose()

    server = asyncio.run(look())
    return server.url(str(info["url"])) if server is not None and server.active else None


@mcp_group.command("stdio")
@click.option("--app", "app_id", help="The app to serve (its id).")
@click.option("--url", help="Relay to this MCP server URL (an app's /mcp/server/<code>/mcp on any Treadle server).")
@click.option(
    "--key", envvar="TREADLE_MCP_KEY", help="An app API key sent as a Bearer token with --url (env TREADLE_MCP_KEY)."
)
@click.option("--local", is_flag=True, help="Run the app in this process even if a server is running.")
@click.pass_obj
def mcp_stdio(config: Path | None, app_id: str | None, url: str | None, key: str | None, local: bool) -> None:
    """Serve one app over stdin/stdout for a desktop MCP client.

    \b
    Claude Desktop (claude_desktop_config.json) or Cursor (.cursor/mcp.json):
      {"mcpServers": {"my-app": {"command": "treadle",
                                 "args": ["mcp", "stdio", "--app", "APP_ID"],
                                 "env": {"TREADLE_HOME": "/path/to/data"}}}}

    Without --url, a server running on this data directory is used when the app's MCP server is on
    (treadle app mcp APP_ID --enable); otherwise the app runs here, on the same database.
    """
    from .api.mcp.bridge import relay_server, serve_stdio
    from .cli import _settings
    from .runtime import AppManagerError
    from .store import StoreError

    if url is None and app_id is None:
        raise click.UsageError("name the app with --app APP_ID, or its server's URL with --url")
    if url is not None and local:
        raise click.UsageError("--local runs the app here; --url relays to a server: choose one")
    settings = _settings(config)
    try:
        if url is None and not local:
            assert app_id is not None
            url = _running_url(settings, app_id)
        if url is not None:
            relayed = relay_server(url, {"Authorization": f"Bearer {key}"} if key else {})

            @contextlib.asynccontextmanager
            async def relay() -> AsyncIterator[Any]:
                yield relayed

            asyncio.run(serve_stdio(relay))
        else:
            assert app_id is not None
            asyncio.run(serve_stdio(lambda: _local_server(settings, app_id)))
    except (AppManagerError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    except BaseExceptionGroup as group:  # raised inside the stdio transport's task group
        found = group.subgroup((AppManagerError, StoreError))
        if found is None:
            raise
        leaf: BaseException = found
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        raise click.ClickException(str(leaf)) from None
