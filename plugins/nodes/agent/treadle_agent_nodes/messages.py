"""A tool's output messages gathered into a node's outputs, as Dify's tool node gathers them.

``text`` messages join into ``text`` (and stream as they come), ``link`` messages add a ``Link:``
line to it, ``image`` and ``blob`` messages become file values in ``files``, ``json`` messages
collect in the ``json`` list, and ``variable`` messages become outputs of their own (streamed text
when ``stream`` is set). ``log`` messages are the tool's own trace, passed on as node log entries.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import posixpath
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from treadle_sdk.files import FILE_IDENTITY, extension_of, file_value
from treadle_sdk.templates import to_text

from .errors import ToolFileError, ToolInvokeError

__all__ = ["ToolOutput", "file_from_url", "observation_of"]


def file_from_url(url: str) -> dict[str, Any]:
    """A file value for an image a tool gave by URL."""
    path = unquote(urlsplit(url).path) if not url.startswith("data:") else ""
    filename = posixpath.basename(path) or "image"
    mime_type = (
        url[5:].split(";", 1)[0].split(",", 1)[0]
        if url.startswith("data:")
        else (mimetypes.guess_type(filename, strict=False)[0] or "image/png")
    )
    extension = extension_of(filename, mime_type)
    return {
        "dify_model_identity": FILE_IDENTITY,
        "id": None,
        "type": "image",
        "transfer_method": "remote_url",
        "remote_url": url,
        "related_id": None,
        "filename": filename if posixpath.splitext(filename)[1] else f"{filename}{extension}",
        "extension": extension,
        "mime_type": mime_type,
        "size": -1,
        "url": url,
    }


def _blob_file(message: Mapping[str, Any]) -> dict[str, Any]:
    mime_type = str(message.get("mime_type") or "application/octet-stream")
    try:
        data = base64.b64decode(str(message.get("blob", "")), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ToolFileError(f"the tool sent a file that is not valid base64: {exc}") from None
    filename = str(message.get("filename") or f"file{mimetypes.guess_extension(mime_type, strict=False) or ''}")
    return file_value(data, filename=filename, mime_type=mime_type)


Emit = Callable[[str, str], None]


@dataclass
class ToolOutput:
    """What one tool call produced, gathered message by message."""

    text: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    json: list[Any] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    #: The tool's own log messages, as node log entries (``id`` ... ``error``).
    logs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: Mapping[str, Any], emit: Emit | None = None, *, log_parent: str | None = None) -> None:
        """Take one message; ``emit(variable, text)`` streams text as it comes."""
        kind = message.get("type")
        if kind == "text":
            self._text(str(message.get("text", "")), emit)
        elif kind == "link":
            self._text(f"Link: {message.get('link', '')}\n", emit)
        elif kind == "json":
            self.json.append(message.get("json_object"))
        elif kind == "image":
            self.files.append(file_from_url(str(message.get("url", ""))))
        elif kind == "blob":
            self.files.append(_blob_file(message))
        elif kind == "variable":
            self._variable(message, emit)
        elif kind == "log":
            self.logs.append(
                {
                    "id": str(uuid.uuid4()),
                    "label": str(message.get("label", "")),
                    "parent_id": log_parent,
                    "status": str(message.get("status", "success")),
                    "data": dict(message.get("data") or {}),
                    "metadata": {},
                    "error": None,
                }
            )
        else:
            raise ToolInvokeError(f"the tool sent a message of unknown type {kind!r}")

    def _text(self, text: str, emit: Emit | None) -> None:
        self.text += text
        if emit is not None and text:
            emit("text", text)

    def _variable(self, message: Mapping[str, Any], emit: Emit | None) -> None:
        name, value = str(message.get("name", "")), message.get("value")
        if not name:
            raise ToolInvokeError("the tool sent a variable message without a name")
        if not message.get("stream"):
            self.variables[name] = value
            return
        if not isinstance(value, str):
            raise ToolInvokeError(f"the tool streamed variable {name!r} with a {type(value).__name__}, not text")
        previous = self.variables.get(name, "")
        self.variables[name] = (previous if isinstance(previous, str) else to_text(previous)) + value
        if emit is not None and value:
            emit(name, value)

    def outputs(self) -> dict[str, Any]:
        """The node outputs: ``text``, ``files``, ``json``, then the tool's variables (which win
        over those three when they share a name, as in Dify)."""
        return {"text": self.text, "files": self.files, "json": self.json, **self.variables}


def observation_of(output: ToolOutput) -> str:
    """What a model is told a tool call gave (an agent's tool message or ReAct observation)."""
    parts = [output.text] if output.text else []
    parts.extend(to_text(item) for item in output.json)
    parts.extend(f"{name}: {to_text(value)}" for name, value in output.variables.items())
    for file in output.files:
        parts.append(f"A file ({file['filename']}, {file['mime_type']}) was made and given to the user.")
    return "\n".join(parts) if parts else "The tool ran and returned nothing."
