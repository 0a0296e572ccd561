"""``treadle models`` and ``treadle tools``: workspace credentials, default models, load balancing and
MCP servers (``treadle tools mcp``) from the command line, for operators until the console API has them.

Commands that save validate through the installed plugins, so they start them (and stop them again);
listings only read the data directory. Secret values are only ever printed masked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .config import ConfigError, Settings

if TYPE_CHECKING:
    from .models import Credential
    from .plugins import PluginSupervisor

__all__ = ["models_group", "tools_group"]

T = TypeVar("T")

_WORKSPACE = click.option(
    "--workspace",
    "-w",
    default="",
    show_default="the CLI's workspace, as used by treadle run",
    help="The workspace (tenant) id.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(config: Path | None, work: Callable[[PluginSupervisor], Awaitable[T]], *, start: bool) -> T:
    """Run ``work`` with a supervisor of this data directory (its plugins started if ``start``);
    settings errors become clean CLI errors."""
    from .models import WorkspaceSettingsError
    from .plugins import PluginSupervisor

    try:
        settings = Settings.load(config_file=config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None

    async def go() -> T:
        supervisor = PluginSupervisor(settings)
        if start:
            await supervisor.start()
        try:
            return await work(supervisor)
        finally:
            await supervisor.stop()

    try:
        return asyncio.run(go())
    except WorkspaceSettingsError as exc:
        raise click.ClickException(exc.message) from None


def _values(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="VALUES")
        values[key.strip()] = value
    return values


def _provider_model(text: str) -> tuple[str, str]:
    provider, sep, model = text.partition(":")
    if not sep or not provider.strip() or not model.strip():
        raise click.BadParameter(f"{text!r} is not PROVIDER:MODEL", param_hint="PROVIDER:MODEL")
    return provider.strip(), model.strip()


def _echo_credentials(rows: list[Credential], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([row.as_dict() for row in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no credentials")
        return
    for row in rows:
        scope = row.provider + (f" {row.model_type} model {row.model}" if row.model else "")
        values = ", ".join(f"{key}={value}" for key, value in row.values.items())
        mark = " (default)" if row.is_default else ""
        click.echo(f"{row.id}  {scope}  {row.name!r}{mark}  {values}")


def _saved(row: Credential) -> None:
    click.echo(f"saved credential {row.id} ({row.name!r}{', default' if row.is_default else ''}) of {row.provider}")


# -- treadle models ---------------------------------------------------------------------------------


@click.group("models")
def models_group() -> None:
    """Workspace model settings: provider credentials, default models, load balancing."""


@models_group.group("credentials")
def model_credentials() -> None:
    """Credentials of model providers and custom models (secret fields encrypted, listed masked)."""


@model_credentials.command("set")
@click.argument("provider")
@click.argument("values", nargs=-1, metavar="KEY=VALUE...")
@click.option("--model", default="", help="Credentials of this custom model (customizable-model providers).")
@click.option("--model-type", default="", help="The custom model's type (default: llm).")
@click.option("--name", default="", help="Credential name; saving under an existing name replaces it.")
@click.option("--default", "make_default", is_flag=True, help="Make it the default credential.")
@_WORKSPACE
@click.pass_obj
def set_model_credentials(config: Path | None, provider: str, values: tuple[str, ...], model: str, model_type: str,
                          name: str, make_default: bool, workspace: str) -> None:
    """Validate credentials with the provider and save them."""
    given = _values(values)

    async def work(sup: PluginSupervisor) -> Credential:
        return await sup.model_settings.save_credentials(
            workspace, provider, given, model=model, model_type=model_type, name=name, default=make_default
        )

    _saved(_run(config, work, start=True))


@model_credentials.command("list")
@click.option("--provider", default=None, help="Only this provider's.")
@_WORKSPACE
@_JSON
@click.pass_obj
def list_model_credentials(config: Path | None, provider: str | None, workspace: str, as_json: bool) -> None:
    """List the workspace's model credentials, secrets masked."""

    async def work(sup: PluginSupervisor) -> list[Credential]:
        return await sup.model_settings.credentials(workspace, provider)

    _echo_credentials(_run(config, work, start=False), as_json)


@model_credentials.command("default")
@click.argument("credential_id")
@_WORKSPACE
@click.pass_obj
def default_model_credentials(config: Path | None, credential_id: str, workspace: str) -> None:
    """Make a credential the default of its provider (or custom model)."""

    async def work(sup: PluginSupervisor) -> Credential:
        return await sup.model_settings.set_default_credentials(workspace, credential_id)

    row = _run(config, work, start=False)
    click.echo(f"credential {row.id} ({row.name!r}) is now the default of {row.provider}")


@model_credentials.command("delete")
@click.argument("credential_id")
@_WORKSPACE
@click.pass_obj
def delete_model_credentials(config: Path | None, credential_id: str, workspace: str) -> None:
    """Delete a credential."""

    async def work(sup: PluginSupervisor) -> None:
        await sup.model_settings.delete_credentials(workspace, credential_id)

    _run(config, work, start=False)
    click.echo(f"deleted credential {credential_id}")


@models_group.group("default")
def default_models() -> None:
    """The workspace's default model of each type (llm, text-embedding, rerank, tts, speech2text)."""


@default_models.command("set")
@click.argument("model_type")
@click.argument("target", metavar="PROVIDER:MODEL")
@_WORKSPACE
@click.pass_obj
def set_default_model(config: Path | None, model_type: str, target: str, workspace: str) -> None:
    """Set the default model of MODEL_TYPE (llm is the system reasoning model)."""
    provider, model = _provider_model(target)

    async def work(sup: PluginSupervisor) -> None:
        await sup.model_settings.set_default_model(workspace, model_type, provider, model)

    _run(config, work, start=True)
    click.echo(f"default {model_type} model: {provider}:{model}")


@default_models.command("unset")
@click.argument("model_type")
@_WORKSPACE
@click.pass_obj
def unset_default_model(config: Path | None, model_type: str, workspace: str) -> None:
    """Remove the default model of MODEL_TYPE."""

    async def work(sup: PluginSupervisor) -> None:
        await sup.model_settings.clear_default_model(workspace, model_type)

    _run(config, work, start=False)
    click.echo(f"no default {model_type} model")


@default_models.command("list")
@_WORKSPACE
@_JSON
@click.pass_obj
def list_default_models(config: Path | None, workspace: str, as_json: bool) -> None:
    """List the default models."""
    from .models import DEFAULT_MODEL_TYPES

    async def work(sup: PluginSupervisor) -> dict[str, tuple[str, str]]:
        return await sup.model_settings.default_models(workspace)

    found = _run(config, work, start=False)
    if as_json:
        click.echo(json.dumps({k: {"provider": p, "model": m} for k, (p, m) in found.items()}, indent=2))
        return
    for model_type in DEFAULT_MODEL_TYPES:
        provider_model = found.get(model_type)
        click.echo(f"{model_type:<16}{':'.join(provider_model) if provider_model else '-'}")


@models_group.group("balance")
def balance() -> None:
    """Load balancing: round-robin over a pool of credentials per model (list an id twice to double
    its share; __inherit__ stands for the model's default credential)."""


@balance.command("set")
@click.argument("target", metavar="PROVIDER:MODEL")
@click.argument("pool", nargs=-1, required=True, metavar="CREDENTIAL_ID...")
@click.option("--model-type", default="llm", show_default=True)
@_WORKSPACE
@click.pass_obj
def set_balance(config: Path | None, target: str, pool: tuple[str, ...], model_type: str, workspace: str) -> None:
    """Balance a model's calls over a pool of at least two credentials."""
    provider, model = _provider_model(target)

    async def work(sup: PluginSupervisor) -> None:
        await sup.model_settings.set_load_balancing(workspace, provider, model, model_type, pool=pool)

    _run(config, work, start=True)
    click.echo(f"load balancing of {provider}:{model} over {len(pool)} credentials")


@balance.command("off")
@click.argument("target", metavar="PROVIDER:MODEL")
@click.option("--model-type", default="llm", show_default=True)
@_WORKSPACE
@click.pass_obj
def balance_off(config: Path | None, target: str, model_type: str, workspace: str) -> None:
    """Go back to the model's single default credential (the pool is kept)."""
    provider, model = _provider_model(target)

    async def work(sup: PluginSupervisor) -> None:
        await sup.model_settings.set_load_balancing(workspace, provider, model, model_type, enabled=False)

    _run(config, work, start=True)
    click.echo(f"load balancing of {provider}:{model} is off")


@balance.command("list")
@_WORKSPACE
@_JSON
@click.pass_obj
def list_balance(config: Path | None, workspace: str, as_json: bool) -> None:
    """List the models' credential pools."""

    async def work(sup: PluginSupervisor) -> list[dict[str, Any]]:
        return [b.as_dict() for b in await sup.model_settings.load_balancing(workspace)]

    rows = _run(config, work, start=False)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "on" if row["enabled"] else "off"
        click.echo(f"{row['provider']}:{row['model']} ({row['model_type']}) {state}: {' '.join(row['pool'])}")


# -- treadle tools ----------------------------------------------------------------------------------


@click.group("tools")
def tools_group() -> None:
    """Workspace tool settings."""


@tools_group.group("credentials")
def tool_credentials() -> None:
    """Credentials of tool providers (secret fields encrypted, listed masked)."""


@tool_credentials.command("set")
@click.argument("provider")
@click.argument("values", nargs=-1, metavar="KEY=VALUE...")
@click.option("--name", default="", help="Credential name; saving under an existing name replaces it.")
@click.option("--default", "make_default", is_flag=True, help="Make it the provider's default credential.")
@_WORKSPACE
@click.pass_obj
def set_tool_credentials(config: Path | None, provider: str, values: tuple[str, ...], name: str,
                         make_default: bool, workspace: str) -> None:
    """Validate credentials with the tool provider and save them."""
    given = _values(values)

    async def work(sup: PluginSupervisor) -> Credential:
        return await sup.tool_credentials.save_credentials(workspace, provider, given, name=name, default=make_default)

    _saved(_run(config, work, start=True))


@tool_credentials.command("list")
@click.option("--provider", default=None, help="Only this provider's.")
@_WORKSPACE
@_JSON
@click.pass_obj
def list_tool_credentials(config: Path | None, provider: str | None, workspace: str, as_json: bool) -> None:
    """List the workspace's tool credentials, secrets masked."""

    async def work(sup: PluginSupervisor) -> list[Credential]:
        return await sup.tool_credentials.credentials(workspace, provider)

    _echo_credentials(_run(config, work, start=False), as_json)


@tool_credentials.command("default")
@click.argument("credential_id")
@_WORKSPACE
@click.pass_obj
def default_tool_credentials(config: Path | None, credential_id: str, workspace: str) -> None:
    """Make a credential the default of its tool provider."""

    async def work(sup: PluginSupervisor) -> Credential:
        return await sup.tool_credentials.set_default_credentials(workspace, credential_id)

    row = _run(config, work, start=False)
    click.echo(f"credential {row.id} ({row.name!r}) is now the default of {row.provider}")


@tool_credentials.command("delete")
@click.argument("credential_id")
@_WORKSPACE
@click.pass_obj
def delete_tool_credentials(config: Path | None, credential_id: str, workspace: str) -> None:
    """Delete a tool credential."""

    async def work(sup: PluginSupervisor) -> None:
        await sup.tool_credentials.delete_credentials(workspace, credential_id)

    _run(config, work, start=False)
    click.echo(f"deleted credential {credential_id}")


# -- treadle tools mcp ------------------------------------------------------------------------------


def _mcp_run(config: Path | None, work: Callable[[PluginSupervisor], Awaitable[T]], *, start: bool) -> T:
    """:func:`_run` for the MCP commands: a refused setting or a server that fails becomes a clean
    CLI error naming it."""
    from treadle_sdk.errors import PluginError

    from .tools import McpServerError

    try:
        return _run(config, work, start=start)
    except McpServerError as exc:
        where = f" ({exc.field})" if exc.field else ""
        raise click.ClickException(f"{exc.message}{where}") from None
    except PluginError as exc:
        raise click.ClickException(exc.message) from None


def _echo_servers(views: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(views, indent=2, ensure_ascii=False))
        return
    if not views:
        click.echo("no MCP servers")
        return
    for view in views:
        over = view["connected_over"] or view["transport"]
        click.echo(f"{view['server_identifier']}  {view['name']!r}  {view['server_url']}  ({over})")
        if view["error"]:
            click.echo(f"  unconfigured: {view['error']}")
        for tool in view["tools"]:
            click.echo(f"  {tool['label']}: {tool['description']}")


_MCP_OPTIONS = [
    click.option("--header", "headers", multiple=True, metavar="NAME=VALUE",
                 help="A header sent with every request (an API key); repeat for more."),
    click.option("--icon", default=None, help="An icon URL or emoji (default: the server's own icon)."),
    click.option("--transport", type=click.Choice(["auto", "streamable_http", "sse"]), default=None,
                 help="How to reach the server (default auto: streamable HTTP, then SSE)."),
    click.option("--timeout", type=float, default=None, help="Seconds for each HTTP exchange (default 30)."),
    click.option("--sse-read-timeout", type=float, default=None,
                 help="Seconds to wait for the server's answer (default 300)."),
]


def _mcp_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_MCP_OPTIONS):
        command = option(command)
    return command


@tools_group.group("mcp")
def mcp_servers() -> None:
    """MCP servers whose tools apps use (provider_type mcp; apps name a server by its Server ID)."""


@mcp_servers.command("add")
@click.argument("server_id")
@click.argument("name")
@click.argument("url")
@_mcp_options
@_WORKSPACE
@_JSON
@click.pass_obj
def add_mcp_server(config: Path | None, server_id: str, name: str, url: str, headers: tuple[str, ...],
                   icon: str | None, transport: str | None, timeout: float | None, sse_read_timeout: float | None,
                   workspace: str, as_json: bool) -> None:
    """Add an MCP server and list its tools. SERVER_ID (1-24 lowercase letters, digits, _ or -) is
    what apps reference and never changes. A server that cannot be listed is kept, unconfigured."""
    given = _values(headers)

    async def work(sup: PluginSupervisor) -> dict[str, Any]:
        server = await sup.mcp_tools.add_server(
            workspace, server_id, name, url, headers=given, icon=icon or "", transport=transport or "auto",
            timeout=timeout or 30.0, sse_read_timeout=sse_read_timeout or 300.0,
        )
        return sup.mcp_tools.view(server)

    view = _mcp_run(config, work, start=True)
    _echo_servers([view], as_json)
    if view["authorization"] == "required":
        raise click.ClickException(
            f"added {server_id!r}, but it needs authorization: sign in with 'treadle tools mcp auth {server_id}'"
        )
    if view["error"]:
        raise click.ClickException(
            f"added {server_id!r}, but its tools could not be listed; fix it with 'treadle tools mcp update' "
            "or try again with 'treadle tools mcp refresh'"
        )


@mcp_servers.command("list")
@_WORKSPACE
@_JSON
@click.pass_obj
def list_mcp_servers(config: Path | None, workspace: str, as_json: bool) -> None:
    """List the workspace's MCP servers and their tools (as last listed), headers masked."""

    async def work(sup: PluginSupervisor) -> list[dict[str, Any]]:
        return [sup.mcp_tools.view(server) for server in await sup.mcp_tools.servers(workspace)]

    _echo_servers(_mcp_run(config, work, start=False), as_json)


@mcp_servers.command("refresh")
@click.argument("server_id")
@_WORKSPACE
@_JSON
@click.pass_obj
def refresh_mcp_server(config: Path | None, server_id: str, workspace: str, as_json: bool) -> None:
    """Connect to a server and list its tools again ("Update Tools")."""

    async def work(sup: PluginSupervisor) -> dict[str, Any]:
        return sup.mcp_tools.view(await sup.mcp_tools.refresh(workspace, server_id))

    _echo_servers([_mcp_run(config, work, start=True)], as_json)


@mcp_servers.command("update")
@click.argument("server_id")
@click.option("--name", default=None, help="A new name.")
@click.option("--url", default=None, help="A new URL (its tools are listed again).")
@_mcp_options
@click.option("--clear-headers", is_flag=True, help="Send no headers any more.")
@_WORKSPACE
@_JSON
@click.pass_obj
def update_mcp_server(config: Path | None, server_id: str, name: str | None, url: str | None,
                      headers: tuple[str, ...], icon: str | None, transport: str | None, timeout: float | None,
                      sse_read_timeout: float | None, clear_headers: bool, workspace: str, as_json: bool) -> None:
    """Change a server: everything but its Server ID. --header replaces all of its headers."""
    given = {} if clear_headers else (_values(headers) if headers else None)

    async def work(sup: PluginSupervisor) -> dict[str, Any]:
        server = await sup.mcp_tools.update_server(
            workspace, server_id, name=name, url=url, headers=given, icon=icon, transport=transport,
            timeout=timeout, sse_read_timeout=sse_read_timeout,
        )
        return sup.mcp_tools.view(server)

    _echo_servers([_mcp_run(config, work, start=True)], as_json)


@mcp_servers.command("auth")
@click.argument("server_id")
@click.option("--redirect-uri", default=None,
              help="Where the browser comes back (default: /console/api/mcp/oauth/callback on [server] public_url, "
                   "or on the running server).")
@_WORKSPACE
@click.pass_obj
def authorize_mcp_server(config: Path | None, server_id: str, redirect_uri: str | None, workspace: str) -> None:
    """Sign in to a server with OAuth ("Re-authorize"): prints the URL to open in a browser. The browser
    then comes back to the Treadle server, which finishes the sign-in and lists the tools; it must be
    running and reachable from the browser at the redirect URI."""
    from .server import read_server_file

    if redirect_uri is None:
        try:
            settings = Settings.load(config_file=config)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        running = read_server_file(settings)
        base = settings.server.public_url.rstrip("/") or (running["url"] if running else settings.server.base_url())
        redirect_uri = f"{base}/console/api/mcp/oauth/callback"
    chosen = redirect_uri

    async def work(sup: PluginSupervisor) -> str:
        return await sup.mcp_tools.start_authorization(workspace, server_id, chosen)

    url = _mcp_run(config, work, start=True)
    click.echo(f"open this URL to authorize MCP server {server_id!r} (the browser comes back to {chosen}):", err=True)
    click.echo(url)


@mcp_servers.command("tool")
@click.argument("server_id")
@click.argument("tool")
@click.option("--description", default="", help="What models are told the tool does (default: the server's).")
@click.option("--fixed", multiple=True, metavar="PARAMETER=VALUE",
              help="Fix a parameter to a value the model neither sees nor fills; the others stay Auto.")
@_WORKSPACE
@click.pass_obj
def set_mcp_tool(config: Path | None, server_id: str, tool: str, description: str, fixed: tuple[str, ...],
                 workspace: str) -> None:
    """Set how the workspace uses one tool of a server (replacing its earlier settings)."""
    values = _values(fixed)

    async def work(sup: PluginSupervisor) -> None:
        await sup.mcp_tools.set_tool_settings(workspace, server_id, tool, description=description, fixed=values)

    _mcp_run(config, work, start=False)
    click.echo(f"saved the settings of tool {tool!r} of MCP server {server_id!r}")


@mcp_servers.command("remove")
@click.argument("server_id")
@_WORKSPACE
@click.pass_obj
def remove_mcp_server(config: Path | None, server_id: str, workspace: str) -> None:
    """Remove a server; apps using its tools then fail to find them."""

    async def work(sup: PluginSupervisor) -> None:
        await sup.mcp_tools.remove_server(workspace, server_id)

    _mcp_run(config, work, start=False)
    click.echo(f"removed MCP server {server_id!r}")
