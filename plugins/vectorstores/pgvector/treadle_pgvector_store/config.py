"""The pgvector store's configuration (no psycopg import: the plugin loads quickly)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import CollectionArgs

__all__ = ["CONFIG_SCHEMA", "DEFAULT_TABLE_PREFIX", "PgvectorConfig", "config_of"]

DEFAULT_TABLE_PREFIX = "treadle_vectors_"
_PREFIX = r"^[A-Za-z_][A-Za-z0-9_]{0,39}$"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "dsn": {
            "type": "string",
            "description": "PostgreSQL connection string, postgresql://user:password@host:5432/dbname. The "
            "database needs the pgvector extension (created on first use if the user may).",
        },
        "table_prefix": {
            "type": "string",
            "pattern": _PREFIX,
            "default": DEFAULT_TABLE_PREFIX,
            "description": "Prefix of the table of each collection.",
        },
    },
    "required": ["dsn"],
    "additionalProperties": False,
}


class PgvectorConfig(BaseModel):
    """The store's configuration (``config`` of every call)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``postgresql://user:password@host:5432/dbname`` (any libpq connection string).
    dsn: str = Field(min_length=1)
    #: Tables are named ``<table_prefix><collection>`` (shortened with a digest past 63 bytes).
    table_prefix: str = Field(default=DEFAULT_TABLE_PREFIX, pattern=_PREFIX)


def config_of(args: CollectionArgs) -> PgvectorConfig:
    try:
        return PgvectorConfig.model_validate(args.config)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise PluginInvalidArgument(
            f"bad pgvector store config at config.{path}: {error['msg']}", details={"field": f"config.{path}"}
        ) from None
