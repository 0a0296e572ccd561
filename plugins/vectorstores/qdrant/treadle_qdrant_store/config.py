"""The qdrant store's configuration and point ids (no Qdrant import: the plugin loads quickly)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.extensions import CollectionArgs

__all__ = ["CONFIG_SCHEMA", "ID_NAMESPACE", "QdrantConfig", "config_of", "point_id"]

#: Qdrant ids are integers or UUIDs: a record's id becomes the UUID5 of it in this namespace (and
#: the id itself is kept in the payload).
ID_NAMESPACE = uuid.UUID("6f1d3c52-5a0e-4c57-9a0b-7472656164c5")

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "description": "URL of a Qdrant server, http://localhost:6333."},
        "api_key": {"type": "string", "description": "API key of the server (Qdrant Cloud)."},
        "path": {"type": "string", "description": "Directory of Qdrant's local mode (no server; small data sets)."},
        "location": {"const": ":memory:", "description": "Qdrant's local mode in memory (tests)."},
    },
    "oneOf": [{"required": ["url"]}, {"required": ["path"]}, {"required": ["location"]}],
    "additionalProperties": False,
}


def point_id(record_id: str) -> str:
    """The Qdrant point id of a record id."""
    return str(uuid.uuid5(ID_NAMESPACE, record_id))


class QdrantConfig(BaseModel):
    """The store's configuration: exactly one of ``url`` (a server, with an optional ``api_key``),
    ``path`` (local mode in a directory) or ``location = ":memory:"`` (local mode in memory)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = ""
    api_key: str = ""
    path: str = ""
    location: str = ""

    @model_validator(mode="after")
    def _one_place(self) -> QdrantConfig:
        given = [name for name in ("url", "path", "location") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'url', 'path' or 'location', not {given or 'none'}")
        if self.location and self.location != ":memory:":
            raise ValueError(f"'location' can only be ':memory:', not {self.location!r}; use 'url' for a server")
        return self

    @property
    def local(self) -> bool:
        return not self.url


def config_of(args: CollectionArgs) -> QdrantConfig:
    try:
        return QdrantConfig.model_validate(args.config)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        where = f"config.{path}" if path else "config"
        raise PluginInvalidArgument(
            f"bad qdrant store config at {where}: {error['msg']}", details={"field": where}
        ) from None
