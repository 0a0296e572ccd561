"""Signed file URLs (``/files/{id}/file-preview?timestamp=&nonce=&sign=``), as Dify makes them.

The signature is HMAC-SHA256 over ``"{purpose}|{file_id}|{timestamp}|{nonce}"``, URL-safe base64;
a URL is good for ``access_timeout`` seconds after its timestamp (Dify's ``FILES_ACCESS_TIMEOUT``,
300 s). The key is derived from the server secret, so the secret itself never signs anything else's
format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

__all__ = ["FILE_PREVIEW", "IMAGE_PREVIEW", "FileSigner"]

FILE_PREVIEW = "file-preview"
IMAGE_PREVIEW = "image-preview"
_PURPOSES = (FILE_PREVIEW, IMAGE_PREVIEW)
_KEY_INFO = b"treadle signed file urls v1"


class FileSigner:
    """Makes and checks signed file URLs.

    :param secret: the server secret (at least 32 bytes).
    :param base_url: put before ``/files/...`` (Dify's ``FILES_URL``); empty gives a path.
    :param access_timeout: seconds a URL stays valid.
    :param clock: seconds since the epoch (tests pass a fixed one).
    """

    def __init__(
        self,
        secret: bytes,
        *,
        base_url: str = "",
        access_timeout: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the file URL secret must be at least 32 bytes")
        if access_timeout < 1:
            raise ValueError(f"access_timeout must be at least 1 second, not {access_timeout}")
        self._key = hmac.new(secret, _KEY_INFO, hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.access_timeout = access_timeout
        self._clock = clock

    def _sign(self, purpose: str, file_id: str, timestamp: str, nonce: str) -> str:
        message = f"{purpose}|{file_id}|{timestamp}|{nonce}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).decode()

    def url(self, file_id: str, *, purpose: str = FILE_PREVIEW, as_attachment: bool = False) -> str:
        """A signed URL of the file, valid from now for ``access_timeout`` seconds."""
        if purpose not in _PURPOSES:
            raise ValueError(f"purpose must be one of {list(_PURPOSES)}, not {purpose!r}")
        timestamp = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        query = {"timestamp": timestamp, "nonce": nonce, "sign": self._sign(purpose, file_id, timestamp, nonce)}
        if as_attachment:
            query["as_attachment"] = "true"
        return f"{self.base_url}/files/{file_id}/{purpose}?{urlencode(query)}"

    def verify(self, file_id: str, *, timestamp: str, nonce: str, sign: str, purpose: str = FILE_PREVIEW) -> bool:
        """Whether the signature is this server's for this file and purpose, and still valid."""
        if purpose not in _PURPOSES or not timestamp.isdigit():
            return False
        expected = self._sign(purpose, file_id, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            return False
        age = self._clock() - int(timestamp)
        # A timestamp from the future beyond a little clock skew is not one we made.
        return -60 <= age <= self.access_timeout
