"""The ``local`` storage backend: one directory tree, keys confined to it, atomic writes."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from treadle_sdk.context import CallContext
from treadle_sdk.errors import PluginInvalidArgument, PluginNotFound
from treadle_sdk.extensions import SaveArgs, StorageBackend, StorageKeyArgs
from treadle_sdk.schemas import StorageSchema

__all__ = ["CHUNK_BYTES", "MAX_KEY_LENGTH", "LocalStorage", "LocalStorageConfig", "resolve_key"]

#: Bytes per streamed piece of ``load``: a multiple of 3, so every piece is base64 without padding
#: and the pieces decode one by one.
CHUNK_BYTES = 3 * 64 * 1024
MAX_KEY_LENGTH = 1024


class LocalStorageConfig(BaseModel):
    """The backend's configuration (``config`` of every call).

    ``root`` is the directory files are kept under; without it, ``$TREADLE_HOME/files``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: str = ""

    def root_dir(self) -> Path:
        if self.root:
            return Path(self.root).expanduser().resolve()
        home = os.environ.get("TREADLE_HOME")
        if not home:
            raise PluginInvalidArgument(
                "the local storage has no root: set config 'root' or the TREADLE_HOME environment variable",
                details={"field": "config.root"},
            )
        return (Path(home).expanduser() / "files").resolve()


CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "root": {
            "type": "string",
            "description": "Directory the files are kept under (default: $TREADLE_HOME/files).",
        }
    },
    "additionalProperties": False,
}


def _config(args: StorageKeyArgs) -> LocalStorageConfig:
    try:
        return LocalStorageConfig.model_validate(args.config)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error["loc"])
        raise PluginInvalidArgument(
            f"bad local storage config at config.{path}: {error['msg']}", details={"field": f"config.{path}"}
        ) from None


def _bad_key(key: str, why: str) -> PluginInvalidArgument:
    return PluginInvalidArgument(f"storage key {key[:200]!r} {why}", details={"key": key[:200]})


def resolve_key(root: Path, key: str) -> Path:
    """The path of ``key`` under ``root``; refuses keys that are not plain relative paths or that
    lead outside ``root`` (through ``..``, an absolute path, or a symbolic link)."""
    if not key:
        raise _bad_key(key, "is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise _bad_key(key, f"is longer than {MAX_KEY_LENGTH} characters")
    if "\x00" in key or "\\" in key:
        raise _bad_key(key, "holds a NUL or a backslash")
    if key.startswith("/"):
        raise _bad_key(key, "is absolute; keys are relative paths such as 'upload_files/t1/a.pdf'")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise _bad_key(key, "has an empty, '.' or '..' segment")
    path = root.joinpath(*parts)
    # Symbolic links inside the root could still lead out of it: compare the real locations.
    if not path.resolve().is_relative_to(root):
        raise _bad_key(key, "leads outside the storage root")
    return path


class LocalStorage(StorageBackend):
    """Files in a local directory. Writes go to a temporary file beside the target, are flushed to
    disk, then renamed over it: a reader never sees half a file, and a crash leaves the old one."""

    schema = StorageSchema(
        name="local",
        label={"en_US": "Local directory"},
        description={"en_US": "Keeps files in a directory of the server (default: $TREADLE_HOME/files)."},
        config_schema=CONFIG_SCHEMA,
    )

    def _path(self, args: StorageKeyArgs) -> Path:
        return resolve_key(_config(args).root_dir(), args.key)

    def save(self, args: SaveArgs, ctx: CallContext) -> None:
        path = self._path(args)
        try:
            data = base64.b64decode(args.data, validate=True)
        except (binascii.Error, ValueError):
            raise PluginInvalidArgument(
                f"the data to save under {args.key!r} is not base64", details={"key": args.key}
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_dir(path.parent)

    def load(self, args: StorageKeyArgs, ctx: CallContext) -> Iterator[str]:
        path = self._path(args)
        try:
            source = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise PluginNotFound(f"no file is stored under {args.key!r}", details={"key": args.key}) from None
        with source:
            while piece := source.read(CHUNK_BYTES):
                ctx.check()
                yield base64.b64encode(piece).decode("ascii")

    def exists(self, args: StorageKeyArgs, ctx: CallContext) -> bool:
        return self._path(args).is_file()

    def delete(self, args: StorageKeyArgs, ctx: CallContext) -> None:
        # Deleting what is not there succeeds: the caller wanted it gone, and it is.
        with contextlib.suppress(FileNotFoundError):
            self._path(args).unlink()


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
