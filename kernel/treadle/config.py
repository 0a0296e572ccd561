"""Treadle's configuration: one ``treadle.toml`` plus ``TREADLE_*`` environment variables.

Precedence, highest first: values passed in code, environment variables, the TOML file, defaults.
Nested keys map to environment variables with ``__``: ``[server] port`` is ``TREADLE_SERVER__PORT``.
``TREADLE_LOAD_PLUGINS=a,b`` is a shorthand for ``[plugins] load = ["a", "b"]``.

The TOML file is ``$TREADLE_CONFIG`` if set, else ``./treadle.toml`` if it exists, else
``$TREADLE_HOME/treadle.toml`` if that exists. The data directory (database, files, indexes,
sockets) is ``$TREADLE_HOME``, by default the per-user data directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

__all__ = ["ConfigError", "ExtraPlugin", "PluginSettings", "ServerSettings", "Settings", "find_config_file"]


class ConfigError(ValueError):
    """The configuration could not be read or is invalid; the message names the file and key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5001, ge=0, le=65535)
    #: After activity, while a call to a plugin host waits for its answer, the server's event loop
    #: polls this long (microseconds) before it sleeps, so the answer finds it awake (see
    #: treadle_sdk.spin); 0 turns it off.
    loop_spin_us: float = Field(default=200.0, ge=0)
    #: Requests one app may run at once through the Service API unless the app sets its own limit;
    #: more get 429 too_many_requests. 0: no limit (APP_MAX_ACTIVE_REQUESTS).
    app_max_active_requests: int = Field(default=0, ge=0)
    #: Log every request (uvicorn's access log, on stderr). Off by default, as in gunicorn: under load
    #: the log line costs ~4 % of the server's CPU (bench/api.py), and the run logs keep every run.
    access_log: bool = False
    #: Server processes sharing the listening socket; more than 1 needs PostgreSQL (``[database] url``).
    #: Each worker runs the whole application, its own plugin hosts included.
    workers: int = Field(default=1, ge=1)
    #: The URL clients reach this server at (behind a proxy, say), used where the CLI prints a URL of
    #: the server (``treadle app mcp``); empty: ``http://host:port``.
    public_url: str = ""

    def base_url(self) -> str:
        """``public_url``, or ``http://host:port`` (a wildcard host as 127.0.0.1)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


class ExtraPlugin(_Section):
    """A plugin loaded by import path rather than from an installed distribution's entry point."""

    path: str
    #: An isolation group name, or ``inline``.
    group: str = "local"


class PluginSettings(_Section):
    #: Allow-list of plugin (entry point) names to load; None loads every installed plugin.
    load: list[str] | None = None
    #: Where each plugin runs: ``inline`` (in the kernel process) or the name of an isolation group.
    #: Unlisted first-party plugins share the group ``first-party``; every other distribution gets a
    #: group of its own.
    placement: dict[str, str] = Field(default_factory=dict)
    extra: list[ExtraPlugin] = Field(default_factory=list)
    #: Deadline of a plugin call, in seconds, unless the caller sets one (PLUGIN_MAX_EXECUTION_TIMEOUT).
    call_timeout: float = Field(default=600.0, gt=0)
    #: How long a host process may take to start and describe its plugins.
    startup_timeout: float = Field(default=30.0, gt=0)
    health_interval: float = Field(default=5.0, gt=0)
    health_timeout: float = Field(default=2.0, gt=0)
    restart_backoff_initial: float = Field(default=0.1, gt=0)
    restart_backoff_max: float = Field(default=30.0, gt=0)
    #: After answering a call, a host polls this long (microseconds) before it sleeps, so the next
    #: call finds it awake; 0 turns it off. Costs at most this much CPU per call.
    host_spin_us: float = Field(default=200.0, ge=0)
    #: Threads per host for blocking plugin code.
    max_workers: int = Field(default=32, ge=1)
    #: Largest value a plugin may store under one KV key (PLUG-KV).
    kv_max_value_bytes: int = Field(default=1024 * 1024, ge=1)


class DatabaseSettings(_Section):
    #: SQLAlchemy URL; empty means the embedded SQLite file ``$TREADLE_HOME/treadle.db``.
    url: str = ""


class StorageSettings(_Section):
    backend: str = "local"


class JobsSettings(_Section):
    #: ``inline`` runs jobs in the server process; ``redis`` uses Dramatiq on Redis.
    broker: Literal["inline", "redis"] = "inline"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Prefix of the queue's Redis keys, so that several installs can share one Redis.
    redis_namespace: str = Field(default="treadle", min_length=1)


class VectorSettings(_Section):
    #: The vector store plugin new knowledge bases are indexed into (SH-ENV-VECTOR); a dataset keeps
    #: the store it was indexed with.
    store: str = "faiss"
    #: The store's settings, passed with every call (faiss ``path``; pgvector ``dsn``; Qdrant ``url``
    #: or ``path``); unset fields take the kernel's defaults under ``$TREADLE_HOME/vectors``.
    config: dict[str, Any] = Field(default_factory=dict)


class ModelSettings(_Section):
    """Which installed model provider serves the providers and models a DSL names."""

    #: ``{"openai": "openai_compat", "anthropic:claude-3-haiku": "fake:echo", "*": "fake:echo"}``:
    #: keys are a provider as DSL files name it (bare or ``org/plugin/provider``), optionally with
    #: ``:model``, or ``*`` for everything else; values are an installed provider, optionally with
    #: ``:model`` (without one, the DSL's model name is kept).
    map: dict[str, str] = Field(default_factory=dict)


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("treadle", appauthor=False))


def find_config_file(home: Path | None = None) -> Path | None:
    """The TOML file in force, or None when there is none."""
    explicit = os.environ.get("TREADLE_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"TREADLE_CONFIG names {path}, which is not a file")
        return path
    local = Path("treadle.toml")
    if local.is_file():
        return local.resolve()
    home = home or Path(os.environ.get("TREADLE_HOME") or _default_home()).expanduser()
    in_home = home / "treadle.toml"
    return in_home if in_home.is_file() else None


class Settings(BaseSettings):
    """The effective configuration of one Treadle install."""

    model_config = SettingsConfigDict(env_prefix="TREADLE_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=_default_home)
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _TOML_FILE.get("path")
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Read the configuration; ``config_file`` overrides the file search."""
        path = config_file or find_config_file()
        if "plugins" not in overrides and "TREADLE_LOAD_PLUGINS" in os.environ:
            names = [n.strip() for n in os.environ["TREADLE_LOAD_PLUGINS"].split(",") if n.strip()]
            overrides["plugins"] = {"load": names}
        _TOML_FILE["path"] = path
        try:
            settings = cls(**overrides)
        except ValueError as exc:
            where = f" (file {path})" if path else ""
            raise ConfigError(f"invalid configuration{where}: {exc}") from exc
        finally:
            _TOML_FILE.pop("path", None)
        settings._source = path
        return settings

    _source: Path | None = None

    @property
    def source(self) -> Path | None:
        """The TOML file this configuration was read from, if any."""
        return self._source

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.home / 'treadle.db'}"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    def ensure_home(self) -> None:
        """Create the data directory and its private subdirectories."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        (self.home / "files").mkdir(exist_ok=True)


# The TOML path must reach settings_customise_sources, a classmethod pydantic calls itself.
_TOML_FILE: dict[str, Path | None] = {}
