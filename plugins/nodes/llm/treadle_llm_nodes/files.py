"""Files in prompts (vision): file variables become image parts of a message.

A file variable is an object in Dify's shape (VAR-FILE-OBJECT): ``type`` (``image``, ``document``
...), ``transfer_method``, ``url`` or ``remote_url``, ``mime_type`` ... An image is sent by its URL
(``url``, else ``remote_url``; a ``data:`` URL carries its bytes), or by base64 bytes the object
holds itself (``base64_data`` or ``data``). Models read images only, so other files are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from treadle_sdk.dsl_fields import choice, flag, mapping, parse_optional_selector
from treadle_sdk.model_runtime import ImageContent
from treadle_sdk.nodes import NodeRunError, NodeRuntime
from treadle_sdk.templates import Selector

__all__ = ["DEFAULT_FILES_SELECTOR", "VisionConfig", "files_in", "image_parts", "is_file"]

#: Where vision reads files when the node names no variable (Dify's default: the run's files).
DEFAULT_FILES_SELECTOR: Selector = ("sys", "files")

Detail = Literal["low", "high"]


def is_file(value: Any) -> bool:
    """True for an object in the file shape (Dify's marker, or a type and a transfer method)."""
    if not isinstance(value, Mapping):
        return False
    return value.get("dify_model_identity") == "__dify__file__" or ("transfer_method" in value and "type" in value)


def files_in(value: Any) -> list[Mapping[str, Any]]:
    """The files a variable holds: one file, or the files of a list (anything else: none)."""
    if is_file(value):
        return [value]
    if isinstance(value, list):
        return [item for item in value if is_file(item)]
    return []


def _image_url(file: Mapping[str, Any]) -> str | None:
    for key in ("url", "remote_url"):
        url = file.get(key)
        if isinstance(url, str) and url:
            return url
    for key in ("base64_data", "data"):
        data = file.get(key)
        if isinstance(data, str) and data:
            mime = file.get("mime_type")
            mime = mime if isinstance(mime, str) and mime.startswith("image/") else "image/png"
            return f"data:{mime};base64,{data}"
    return None


def image_parts(files: Sequence[Mapping[str, Any]], detail: Detail, where: str) -> list[ImageContent]:
    """The image parts of ``files`` (other types are left out); ``where`` names the variable in
    the error raised for an image with nothing to send."""
    parts = []
    for file in files:
        if file.get("type") != "image":
            continue
        url = _image_url(file)
        if url is None:
            name = file.get("filename") or file.get("related_id") or "an image"
            raise NodeRunError(
                f"{where}: {name} has no url, remote_url or base64 data to send to the model",
                error_type="InvalidFileError",
            )
        parts.append(ImageContent(data=url, detail=detail))
    return parts


@dataclass(frozen=True, slots=True)
class VisionConfig:
    """A node's ``vision``: whether it sends files to the model, which variable holds them and at
    what detail."""

    enabled: bool = False
    selector: Selector = DEFAULT_FILES_SELECTOR
    detail: Detail = "high"

    @classmethod
    def parse(cls, data: Any, path: str = "vision") -> VisionConfig:
        """Read a DSL ``vision`` object (``{enabled, configs: {variable_selector, detail}}``)."""
        vision = mapping(data, path)
        configs = mapping(vision.get("configs"), f"{path}.configs")
        selector = parse_optional_selector(configs.get("variable_selector"), f"{path}.configs.variable_selector")
        detail = choice(configs.get("detail"), f"{path}.configs.detail", ("low", "high"), "high")
        enabled = flag(vision.get("enabled"), f"{path}.enabled")
        return cls(enabled, selector or DEFAULT_FILES_SELECTOR, "low" if detail == "low" else "high")

    def files(self, rt: NodeRuntime) -> list[Mapping[str, Any]]:
        """The files the node sends to the model in this run; none when vision is off."""
        return files_in(rt.get_or(self.selector)) if self.enabled else []

    def images(self, value: Any) -> list[ImageContent]:
        """The image parts of the files in ``value`` (the variable's value); none when vision is off."""
        if not self.enabled:
            return []
        return image_parts(files_in(value), self.detail, ".".join(self.selector))
