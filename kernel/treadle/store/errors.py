"""The store's errors: one small hierarchy, each saying what was wrong and where."""

from __future__ import annotations

__all__ = ["CheckpointEncodingError", "DatabaseURLError", "InvalidPage", "NotFound", "StoreError"]


class StoreError(Exception):
    """Base of the store's errors."""


class DatabaseURLError(StoreError, ValueError):
    """The configured database URL names no database the store can use."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"database URL {url!r}: {reason}")


class NotFound(StoreError, LookupError):
    """A record a request refers to (a pagination cursor, say) does not exist.

    ``message`` is the text Dify answers with (``"Last Conversation Not Exists."``).
    """

    def __init__(self, kind: str, record_id: str, message: str) -> None:
        self.kind = kind
        self.record_id = record_id
        self.message = message
        super().__init__(f"{message} ({kind} {record_id!r})")


class CheckpointEncodingError(StoreError, ValueError):
    """A checkpoint holds a value that cannot be stored as JSON; ``path`` says where it is."""

    def __init__(self, run_id: str, path: str, value_type: str) -> None:
        self.run_id = run_id
        self.path = path
        self.value_type = value_type
        super().__init__(f"checkpoint of run {run_id!r}: the value at {path} is a {value_type}, which JSON cannot hold")


class InvalidPage(StoreError, ValueError):
    """A pagination parameter is out of range; ``field`` names it (``limit``, ``page``, ``sort_by``)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
