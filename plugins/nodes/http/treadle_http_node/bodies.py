"""Reading an HTTP body with a size cap: stop at the first byte past the limit instead of buffering it."""

from __future__ import annotations

import httpx

__all__ = ["BodyTooLarge", "read_capped", "readable_size"]


class BodyTooLarge(ValueError):
    """A body is larger than ``limit`` bytes; ``declared`` says the server announced it so."""

    def __init__(self, limit: int, *, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        size = f"announces {readable_size(declared)}" if declared is not None else "is larger"
        super().__init__(f"the response {size}, more than the {readable_size(limit)} limit")


def readable_size(size: int) -> str:
    """``1536`` → ``"1.50 KB"``: sizes as people read them (binary units, as Dify prints them)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.2f} KB"
    return f"{size / 1024 / 1024:.2f} MB"


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed ``response``, or :class:`BodyTooLarge` as soon as it passes
    ``limit`` bytes; a ``Content-Length`` above the limit is refused before anything is read."""
    declared = response.headers.get("content-length", "")
    # A HEAD answer announces the size of a body it does not send.
    if declared.isdigit() and int(declared) > limit and response.request.method != "HEAD":
        raise BodyTooLarge(limit, declared=int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
