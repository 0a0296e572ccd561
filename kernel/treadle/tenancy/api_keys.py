"""Service API keys in Dify's formats, stored only as a digest and shown once.

An app key is ``app-`` and a knowledge (dataset) key ``dataset-``, followed by 24 characters drawn
from the 62 ASCII letters and digits: about 143 random bits. Only the SHA-256 digest of the whole
key is stored, with a short display form (``app-…x9Qz``) to tell keys apart in the console; the key
itself is in the :class:`IssuedApiKey` returned when it is made, and nowhere after that.

Why SHA-256 and not argon2 as for passwords: a slow hash protects secrets that people choose, which
are few enough to be guessed. 143 random bits cannot be guessed at any hashing speed, and the digest
must be deterministic so that the key presented with a request finds its record by an indexed
equality lookup, without a per-request slow hash (which would also make each request a cheap way to
burn the server's CPU).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .errors import InvalidApiKey

__all__ = [
    "API_KEY_RANDOM_LENGTH",
    "MAX_KEYS_PER_RESOURCE",
    "ApiKeyKind",
    "ApiKeyRecords",
    "IssuedApiKey",
    "StoredApiKey",
    "api_key_digest",
    "authenticate_api_key",
    "bearer_token",
    "issue_api_key",
]

API_KEY_RANDOM_LENGTH = 24
#: Keys an app (or a workspace's knowledge API) may have at once, as in Dify.
MAX_KEYS_PER_RESOURCE = 10
_ALPHABET = string.ascii_letters + string.digits
_ALPHABET_SET = frozenset(_ALPHABET)


class ApiKeyKind(StrEnum):
    """What a key opens: one app's Service API, or the workspace's knowledge API."""

    APP = "app"
    DATASET = "dataset"

    @property
    def prefix(self) -> str:
        """The text every key of this kind starts with."""
        return f"{self.value}-"


@dataclass(frozen=True)
class StoredApiKey:
    """What is kept of a key: its digest and display form, and what it opens (``resource_id`` is the
    app id of an app key, empty for a knowledge key, which opens the whole workspace)."""

    id: str
    kind: ApiKeyKind
    tenant_id: str
    resource_id: str
    digest: str
    display: str


@dataclass(frozen=True)
class IssuedApiKey:
    """A key just made: ``token`` is shown to the user once and never stored; ``digest`` and
    ``display`` are what to store."""

    kind: ApiKeyKind
    token: str
    digest: str
    display: str

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"IssuedApiKey(kind={self.kind.value!r}, display={self.display!r})"


class ApiKeyRecords(Protocol):
    """Where the keys are stored (the store implements it)."""

    async def find_api_key(self, digest: str) -> StoredApiKey | None:
        """The key whose digest is ``digest``, or ``None``."""
        ...


def issue_api_key(kind: ApiKeyKind | str, existing: int = 0) -> IssuedApiKey:
    """A new key of ``kind``; ``existing`` is how many keys the resource has already, and a resource
    at :data:`MAX_KEYS_PER_RESOURCE` gets no more (``ValueError`` saying so)."""
    kind = ApiKeyKind(kind)
    if existing >= MAX_KEYS_PER_RESOURCE:
        raise ValueError(
            f"{kind.value} API keys: at most {MAX_KEYS_PER_RESOURCE} at a time; delete one to make another"
        )
    token = kind.prefix + "".join(secrets.choice(_ALPHABET) for _ in range(API_KEY_RANDOM_LENGTH))
    return IssuedApiKey(kind=kind, token=token, digest=api_key_digest(token), display=f"{kind.prefix}…{token[-4:]}")


def api_key_digest(token: str) -> str:
    """The hex SHA-256 digest of ``token``, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The key in an ``Authorization: Bearer <key>`` header; :class:`InvalidApiKey` saying what is
    wrong with the header otherwise (Dify's wording for the missing case)."""
    if not authorization:
        raise InvalidApiKey("Authorization header must be provided and start with 'Bearer'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidApiKey("Authorization scheme must be 'Bearer'")
    token = token.strip()
    if not token:
        raise InvalidApiKey("Authorization header has no API key after 'Bearer'")
    return token


async def authenticate_api_key(presented: str, records: ApiKeyRecords, *, kind: ApiKeyKind | str) -> StoredApiKey:
    """The stored key that ``presented`` is, when it is a key of ``kind``; :class:`InvalidApiKey`
    otherwise (a knowledge key does not open an app's API, nor the other way round).

    The lookup is by digest, so the time it takes tells nothing about how close a guess was; the
    digest found is compared again in constant time so that a store matching loosely (a prefix
    index, a case-insensitive collation) cannot let a near miss in.
    """
    kind = ApiKeyKind(kind)
    if not _well_formed(presented, kind):
        raise InvalidApiKey(f"Access token is invalid: not a {kind.value} API key")
    digest = api_key_digest(presented)
    found = await records.find_api_key(digest)
    if found is None or found.kind is not kind or not hmac.compare_digest(found.digest, digest):
        raise InvalidApiKey("Access token is invalid")
    return found


def _well_formed(token: str, kind: ApiKeyKind) -> bool:
    body = token[len(kind.prefix) :]
    return token.startswith(kind.prefix) and len(body) == API_KEY_RANDOM_LENGTH and set(body) <= _ALPHABET_SET
