"""The ``treadle`` command: run the server, inspect plugins and configuration."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import tomli_w

from . import __version__
from .config import ConfigError, Settings

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
@click.pass_obj
def serve(config: Path | None, host: str | None, port: int | None) -> None:
    """Run the server: HTTP API, plugin hosts, jobs, on the embedded defaults unless configured."""
    from .server import ServerError
    from .server import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_server(_settings(config), host=host, port=port)
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


if __name__ == "__main__":
    sys.exit(main())
