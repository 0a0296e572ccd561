"""Deterministic embeddings: a vector derived from a hash of the text.

Identical texts get identical vectors and different texts unrelated ones; there is no notion of
meaning. Vectors are L2-normalised, as most real embedding models' are, so cosine similarity and
dot product agree.
"""

from __future__ import annotations

import hashlib
import math

__all__ = ["DIMENSION", "embed"]

DIMENSION = 64


def embed(text: str) -> list[float]:
    """The unit vector of ``text``: DIMENSION signed 32-bit integers from SHAKE-256, normalised."""
    # surrogatepass: any str the wire can carry must hash, even one with lone surrogates.
    digest = hashlib.shake_256(text.encode("utf-8", "surrogatepass")).digest(4 * DIMENSION)
    raw = [int.from_bytes(digest[i : i + 4], "big", signed=True) for i in range(0, len(digest), 4)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]
