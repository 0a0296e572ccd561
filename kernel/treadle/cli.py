"""The ``treadle`` command: run the server, inspect plugins and configuration, manage apps."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
import httpx
import tomli_w

from . import __version__
from .config import ConfigError, Settings
from .credentials_cli import models_group, tools_group
from .knowledge_cli import kb_group
from .mcp_cli import mcp_group

__all__ = ["main"]


def _settings(config: Path | None) -> Settings:
    try:
        return Settings.load(config_file=config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="treadle")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The treadle.toml to use (default: $TREADLE_CONFIG, ./treadle.toml, $TREADLE_HOME/treadle.toml).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Treadle: an LLM application platform with a small kernel and everything else as plugins."""
    ctx.obj = config


@main.command()
@click.option("--host", help="Address to listen on (default: [server] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: [server] port, 5001; 0 for any free port).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Server processes sharing the port (default: [server] workers, 1); more than 1 needs PostgreSQL.",
)
@click.pass_obj
def serve(config: Path | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the server: HTTP API, plugin hosts, jobs, on the embedded defaults unless configured.

    With several workers this process migrates the database, then runs and supervises that many
    server processes on one port, each with its own plugin hosts; Ctrl-C or SIGTERM stops them all."""
    from .server import LOG_FORMAT, ServerError
    from .server import serve as run_server

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        run_server(_settings(config), host=host, port=port, workers=workers)
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a foreground server is stopped; uvicorn has already shut down cleanly


def _live_table(url: str, token: str | None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}/admin/api/plugins", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the server at {url}: {exc}") from None
    if response.status_code != 200:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise click.ClickException(f"the server at {url} answered {response.status_code}: {message}")
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


async def _loaded_table(settings: Settings) -> list[dict[str, Any]]:
    from .plugins import PluginSupervisor

    supervisor = PluginSupervisor(settings)
    await supervisor.start()
    try:
        return supervisor.table()
    finally:
        await supervisor.stop()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--url", help="Ask the server at this URL (default: the server running on this data directory).")
@click.option("--token", envvar="TREADLE_ADMIN_TOKEN", help="Admin token for --url (default: from server.json).")
@click.pass_obj
def plugins(config: Path | None, as_json: bool, url: str | None, token: str | None) -> None:
    """List the plugins: where each runs, its host pid and state, and what it registers.

    With a server running on this data directory (or --url), this is its live table. Without one,
    the plugins are loaded, described and stopped again (their pids are then already gone).
    """
    from .server import read_server_file

    settings = _settings(config)
    source: str
    if url:
        rows, source = _live_table(url, token), url
    elif (info := read_server_file(settings)) is not None:
        rows, source = _live_table(info["url"], info.get("admin_token")), info["url"]
    else:
        rows, source = asyncio.run(_loaded_table(settings)), "loaded now (no server running)"
    if as_json:
        click.echo(json.dumps({"source": source, "plugins": rows}, indent=2))
        return
    click.echo(f"plugins ({source}):")
    header = f"{'name':<22}{'group':<16}{'isolation':<10}{'pid':>8}  {'state':<11}registers"
    click.echo(header)
    for row in rows:
        pid = "-" if row["pid"] is None else str(row["pid"])
        registers = ", ".join(row["registers"]) or "-"
        click.echo(f"{row['name']:<22}{row['group']:<16}{row['isolation']:<10}{pid:>8}  {row['state']:<11}{registers}")
        if row["error"]:
            click.echo(f"{'':<22}error: {row['error']}")


def _parse_inputs(pairs: tuple[str, ...], inputs_json: str | None) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if inputs_json:
        try:
            loaded = json.loads(inputs_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--inputs-json") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--inputs-json")
        inputs.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not name=value", param_hint="--input")
        inputs[name] = value
    return inputs


def _event_line(event: Any) -> str:
    from .graph import events as ev

    name = type(event).__name__
    if isinstance(event, ev.StreamChunk):
        return f"text      {event.node_id}: {event.text!r}"
    if isinstance(event, ev.NodeStarted):
        return f"started   {event.node_id} ({event.node_type} {event.title!r})"
    if isinstance(event, ev.NodeSucceeded):
        return f"succeeded {event.node_id} ({event.node_type}) in {event.elapsed * 1000:.1f} ms"
    if isinstance(event, ev.NodeException | ev.NodeFailed):
        return f"{'exception' if isinstance(event, ev.NodeException) else 'failed':<9} {event.node_id}: {event.error}"
    if isinstance(event, ev.NodeRetrying):
        return f"retrying  {event.node_id} (attempt {event.attempt}): {event.error}"
    return name


async def _run_app(settings: Settings, path: Path, inputs: dict[str, Any], query: str | None,
                   stream: str | None, models: str | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    from .apps import RunRequest, WorkflowApp
    from .graph import GraphBuildError
    from .graph.dsl import DSLError, load_dsl
    from .graph.engine import RunLimits
    from .models import ModelMapping
    from .plugins import PluginSupervisor
    from .plugins.node_factory import PluginNodeFactory

    try:
        app = load_dsl(path)
    except DSLError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        mapping = ModelMapping.parse_option(models or "", base=settings.models.map)
    except ValueError as exc:
        raise click.ClickException(f"--models: {exc}") from None
    async with PluginSupervisor(settings, model_mapping=mapping) as supervisor:
        try:
            workflow = WorkflowApp.from_dsl(app, PluginNodeFactory(supervisor))
        except GraphBuildError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        except ValueError as exc:
            raise click.ClickException(f"{path}: {exc}") from None

        def on_event(event: Any) -> None:
            if stream == "json":
                click.echo(json.dumps({"event": type(event).__name__, **asdict(event)}, default=str))
            elif stream == "text":
                click.echo(_event_line(event))

        with supervisor.kernel_client() as kernel:
            result = await workflow.run(
                RunRequest(inputs=inputs, query=query),
                limits=RunLimits(),
                on_event=on_event if stream else None,
                kernel=kernel,
            )
    body: dict[str, Any] = {
        "run_id": result.run_id,
        "status": result.status,
        "outputs": result.outputs,
        "error": result.error or None,
        "error_type": result.error_type or None,
        "failed_node": result.failed_node or None,
        "steps": result.steps,
        "elapsed": round(result.elapsed, 6),
    }
    if workflow.is_chat:
        body["answer"] = result.answer
    return body


@main.command()
@click.argument("app_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=VALUE", help="An input of the Start node.")
@click.option("--inputs-json", help="All inputs as one JSON object (--input entries are added to it).")
@click.option("--query", "-q", help="The chat message (advanced-chat apps).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (and, with --stream, events) as JSON.")
@click.option("--stream", is_flag=True, help="Print events as they happen.")
@click.option(
    "--models",
    metavar="PROVIDER[:MODEL]",
    help="Run every model the DSL names on this installed provider (and model), e.g. fake:echo; "
    "SOURCE=PROVIDER[:MODEL] pairs, comma-separated, map single providers or models.",
)
@click.pass_obj
def run(config: Path | None, app_file: Path, inputs: tuple[str, ...], inputs_json: str | None, query: str | None,
        as_json: bool, stream: bool, models: str | None) -> None:
    """Run a Dify DSL file on the embedded defaults; exit 0 only if the run succeeded."""
    from .server import kernel_loop

    settings = _settings(config)
    values = _parse_inputs(inputs, inputs_json)
    mode = ("json" if as_json else "text") if stream else None
    with asyncio.Runner(loop_factory=lambda: kernel_loop(settings)) as runner:
        body = runner.run(_run_app(settings, app_file, values, query, mode, models))
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, default=str))
    else:
        click.echo(f"status: {body['status']}")
        if body.get("answer") is not None:
            click.echo(f"answer: {body['answer']}")
        click.echo("outputs: " + json.dumps(body["outputs"], ensure_ascii=False, indent=2, default=str))
        if body["error"]:
            click.echo(f"error: {body['error']} ({body['error_type']}, node {body['failed_node']})")
    sys.exit(0 if body["status"] == "succeeded" else 1)


@main.command()
@click.argument("app_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def check(config: Path | None, app_file: Path, as_json: bool) -> None:
    """Import and compile a DSL file without running it; list every problem. Exit 0 only if none."""
    from .apps import check_dsl
    from .plugins import PluginSupervisor

    settings = _settings(config)

    async def go() -> Any:
        async with PluginSupervisor(settings) as supervisor:
            return check_dsl(app_file, supervisor)

    report = asyncio.run(go())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        app = report.app
        click.echo(f"{report.file}: {app.get('mode', '?')} app {app.get('name', '')!r} (DSL {app.get('version', '?')}),"
                   f" {report.nodes} nodes, {report.edges} edges")
        if report.missing_plugins:
            click.echo("missing plugins: " + ", ".join(report.missing_plugins))
        for label, entries in (("", report.problems), ("warning: ", report.warnings)):
            for problem in entries:
                where = " ".join(part for part in (problem["node_id"] and f"node {problem['node_id']}",
                                                    problem["path"]) if part)
                click.echo(f"  - {label}{where + ': ' if where else ''}{problem['message']}")
        click.echo("ok" if report.ok else f"{len(report.problems)} problem(s)")
    sys.exit(0 if report.ok else 1)


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON instead of TOML.")
@click.pass_obj
def show_config(config: Path | None, as_json: bool) -> None:
    """Print the effective configuration (file, environment and defaults combined)."""
    settings = _settings(config)
    data = settings.model_dump(mode="json", exclude_none=True)
    source = str(settings.source) if settings.source else None
    if as_json:
        click.echo(json.dumps({"source": source, "config": data}, indent=2))
        return
    click.echo(f"# effective configuration; file: {source or 'none (defaults and TREADLE_* environment)'}")
    click.echo(tomli_w.dumps(data), nl=False)


# -- treadle app ----------------------------------------------------------------------------------


@main.group("app")
def app_group() -> None:
    """Manage the apps in the data directory's database: import, publish, keys, export."""


def _run_on_database(config: Path | None, work: Callable[[Settings, Any], Awaitable[Any]]) -> Any:
    """Migrate the configured database, then run ``work(settings, db)``; app errors become CLI errors."""
    from .runtime import AppManagerError
    from .store import Database, StoreError, upgrade_to_head
    from .tenancy import TenancyError

    settings = _settings(config)

    async def go() -> Any:
        db = Database.from_settings(settings)
        try:
            await upgrade_to_head(db)
            return await work(settings, db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except (AppManagerError, StoreError, TenancyError) as exc:
        raise click.ClickException(str(exc)) from None


def _manager(settings: Settings, db: Any, tenant_id: str, factory: Any = None) -> Any:
    from .runtime import AppManager
    from .tenancy import SecretCipher

    return AppManager(db, SecretCipher(settings.home / "secret_key"), tenant_id, factory=factory)


async def _manager_of_app(settings: Settings, db: Any, app_id: str) -> Any:
    from .runtime import workspace_of_app

    return _manager(settings, db, await workspace_of_app(db, app_id))


@app_group.command("import")
@click.argument("app_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workspace", help="Workspace id or name (default: the first workspace).")
@click.option("--name", help="The app's name (default: the DSL's app.name).")
@click.option("--json", "as_json", is_flag=True, help="Print the app as JSON.")
@click.pass_obj
def app_import(config: Path | None, app_file: Path, workspace: str | None, name: str | None, as_json: bool) -> None:
    """Import a DSL file as a new app (checked against the installed plugins); print its id."""
    from .plugins import PluginSupervisor
    from .plugins.node_factory import PluginNodeFactory
    from .runtime import ensure_first_workspace, resolve_workspace

    async def work(settings: Settings, db: Any) -> Any:
        first = await ensure_first_workspace(db) if workspace is None else None
        if first is not None:
            api = f"http://{settings.server.host}:{settings.server.port}/v1"
            for line in first.sign_in_lines(api):
                click.echo(line, err=True)
        tenant_id = await resolve_workspace(db, workspace)
        async with PluginSupervisor(settings) as supervisor:
            manager = _manager(settings, db, tenant_id, PluginNodeFactory(supervisor))
            return await manager.import_dsl(app_file, name=name)

    app = _run_on_database(config, work)
    if as_json:
        body = {"id": app.id, "tenant_id": app.tenant_id, "mode": app.mode, "name": app.name}
        click.echo(json.dumps(body, ensure_ascii=False))
    else:
        click.echo(app.id)


@app_group.command("publish")
@click.argument("app_id")
@click.option("--name", "marked_name", default="", help="A name for this version.")
@click.option("--comment", "marked_comment", default="", help="A note on what changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@click.pass_obj
def app_publish(config: Path | None, app_id: str, marked_name: str, marked_comment: str, as_json: bool) -> None:
    """Publish the app's draft as a new version and put it in force."""

    async def work(settings: Settings, db: Any) -> Any:
        manager = await _manager_of_app(settings, db, app_id)
        return await manager.publish(app_id, marked_name=marked_name, marked_comment=marked_comment)

    version = _run_on_database(config, work)
    if as_json:
        click.echo(json.dumps(version.as_dict(), ensure_ascii=False))
    else:
        click.echo(f"published version {version.version} ({version.id})")


@app_group.command("key")
@click.argument("app_id")
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
@click.pass_obj
def app_key(config: Path | None, app_id: str, as_json: bool) -> None:
    """Create a Service API key for the app and print it (it is shown this once)."""

    async def work(settings: Settings, db: Any) -> Any:
        manager = await _manager_of_app(settings, db, app_id)
        return await manager.create_api_key(app_id)

    key = _run_on_database(config, work)
    if as_json:
        click.echo(json.dumps({"id": key.id, "app_id": key.app_id, "token": key.token, "display": key.display}))
    else:
        click.echo(key.token)


@app_group.command("export")
@click.argument("app_id")
@click.option("--include-secrets", is_flag=True, help="Write the values of secret environment variables.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.pass_obj
def app_export(config: Path | None, app_id: str, include_secrets: bool, output: Path | None) -> None:
    """Print the app's draft as a DSL file (secret values blank unless --include-secrets)."""

    async def work(settings: Settings, db: Any) -> Any:
        manager = await _manager_of_app(settings, db, app_id)
        return await manager.export(app_id, include_secrets=include_secrets)

    text = _run_on_database(config, work)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app_group.command("mcp")
@click.argument("app_id")
@click.option("--enable", "action", flag_value="enable", help="Switch the app's MCP server on and print its URL.")
@click.option("--disable", "action", flag_value="disable", help="Switch it off (its URL answers 404 until re-enabled).")
@click.option("--regenerate", "action", flag_value="regenerate", help="Give it a new URL; the old one stops working.")
@click.option("--description", help="The tool's description (default: the app's).")
@click.option(
    "--param", "params", multiple=True, metavar="NAME=DESCRIPTION", help="Describe one of the tool's parameters."
)
@click.option(
    "--require-key/--no-require-key", default=None,
    help="Also require one of the app's API keys as a Bearer token (for clients that can send headers).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the server as JSON.")
@click.pass_obj
def app_mcp(config: Path | None, app_id: str, action: str | None, description: str | None, params: tuple[str, ...],
            require_key: bool | None, as_json: bool) -> None:
    """Publish the app as an MCP server (PUB-MCP-SERVER) and print its URL.

    The URL embeds the server's credential: treat it as an API key, and --regenerate it if it
    leaks. Without an action, the server's current state is printed (and changed settings kept).
    """
    from .runtime import McpServers, workspace_of_app
    from .server import read_server_file

    parameters = dict(_pair(pair, "--param") for pair in params) if params else None

    async def work(settings: Settings, db: Any) -> Any:
        servers = McpServers(db, await workspace_of_app(db, app_id))
        changed = description is not None or parameters is not None or require_key is not None
        if action == "enable":
            return await servers.enable(
                app_id, description=description, parameters=parameters, require_api_key=require_key
            )
        if action == "disable":
            return await servers.disable(app_id)
        if action == "regenerate":
            return await servers.regenerate(app_id)
        if changed:
            return await servers.update(
                app_id, description=description, parameters=parameters, require_api_key=require_key
            )
        found = await servers.get(app_id)
        if found is None:
            raise click.ClickException(f"app {app_id!r} has no MCP server: switch it on with --enable")
        return found

    server = _run_on_database(config, work)
    settings = _settings(config)
    running = read_server_file(settings)
    base = settings.server.public_url or (running["url"] if running else settings.server.base_url())
    if as_json:
        click.echo(json.dumps(server.as_dict(base), ensure_ascii=False))
    elif server.active:
        click.echo(server.url(base))
    else:
        click.echo(f"the MCP server of app {app_id} is off (--enable switches it on at {server.url(base)})")


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=DESCRIPTION", param_hint=option)
    return name, value


@app_group.command("list")
@click.option("--workspace", help="Workspace id or name (default: the first workspace).")
@click.option("--json", "as_json", is_flag=True, help="Print the apps as JSON.")
@click.pass_obj
def app_list(config: Path | None, workspace: str | None, as_json: bool) -> None:
    """List the workspace's apps, newest first."""
    from .runtime import resolve_workspace

    async def work(settings: Settings, db: Any) -> Any:
        return await _manager(settings, db, await resolve_workspace(db, workspace)).list_apps()

    apps = _run_on_database(config, work)
    if as_json:
        click.echo(json.dumps([app.as_dict() for app in apps], ensure_ascii=False))
        return
    for app in apps:
        state = "published" if app.workflow_id else "draft"
        click.echo(f"{app.id}  {app.mode:<14}{state:<10}{app.name}")


main.add_command(models_group)
main.add_command(tools_group)
main.add_command(kb_group)
main.add_command(mcp_group)


if __name__ == "__main__":
    sys.exit(main())
