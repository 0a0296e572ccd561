"""Console sessions: signed, expiring tokens naming an account, its current workspace and the
account's session version.

A token is ``ts1.<payload>.<signature>``: the payload is base64url JSON, the signature
HMAC-SHA256 over the version tag and payload, with a key derived from the server secret for this
purpose alone. Nothing is stored per session; the server can still end sessions early, because a
token carries the account's *session version* from when it was issued: bump the account's version
(signing out everywhere, a password change, removal) and every older token is refused by
:meth:`SessionClaims.ensure_current`.

A token is good for ``ttl`` (default one hour). :meth:`SessionSigner.renew` trades a genuine token
(expired or not) for a fresh one until ``max_age`` (default 30 days) after the sign-in it descends
from; after that the user signs in again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SessionExpired, SessionRevoked, SessionTampered
from .secrets import SECRET_KEY_BYTES, SECRET_KEY_FILE, derive_key, load_server_secret

__all__ = ["IssuedSession", "SessionClaims", "SessionSigner"]

_TAG = "ts1"
_PURPOSE = "treadle console sessions v1"
# Clock differences between API replicas: a token "from the future" by less than this is accepted.
_LEEWAY = 30


@dataclass(frozen=True)
class SessionClaims:
    """What a genuine token says: who, in which workspace, since when and until when (Unix seconds)."""

    account_id: str
    tenant_id: str
    session_version: int
    issued_at: int
    signed_in_at: int
    expires_at: int

    def ensure_current(self, session_version: int | None) -> None:
        """Raise :class:`SessionRevoked` unless ``session_version`` (the account's version now;
        ``None`` for an account that is gone) is the one the token was issued under."""
        if session_version is None:
            raise SessionRevoked("this session's account no longer exists; sign in again")
        if session_version != self.session_version:
            raise SessionRevoked("this session was ended (signed out, or the password changed); sign in again")


@dataclass(frozen=True)
class IssuedSession:
    """A token just signed, with its claims."""

    token: str
    claims: SessionClaims

    def __repr__(self) -> str:  # keeps the token out of logs and tracebacks
        return f"IssuedSession(claims={self.claims!r})"


class SessionSigner:
    """Issues and checks console session tokens with a key derived from the server secret."""

    def __init__(self, server_secret: bytes, *, ttl: int = 3600, max_age: int = 30 * 24 * 3600) -> None:
        if len(server_secret) < SECRET_KEY_BYTES:
            raise ValueError(f"the server secret must be at least {SECRET_KEY_BYTES} bytes")
        if ttl <= 0 or max_age < ttl:
            raise ValueError(f"session lifetimes: ttl ({ttl}) must be positive and at most max_age ({max_age})")
        self._key = derive_key(server_secret, _PURPOSE)
        self.ttl = ttl
        self.max_age = max_age

    @classmethod
    def from_home(cls, home: Path, *, ttl: int = 3600, max_age: int = 30 * 24 * 3600) -> SessionSigner:
        """A signer keyed from the server secret of the data directory ``home`` (made if missing)."""
        return cls(load_server_secret(home / SECRET_KEY_FILE), ttl=ttl, max_age=max_age)

    # -- issuing ------------------------------------------------------------------------------------

    def issue(
        self, account_id: str, tenant_id: str, session_version: int, *, now: float | None = None
    ) -> IssuedSession:
        """A token for a sign-in happening ``now`` (or for switching workspace: issue again)."""
        if not account_id or not tenant_id:
            raise ValueError("a session needs an account id and a workspace id")
        at = int(time.time() if now is None else now)
        return self._sign(account_id, tenant_id, session_version, signed_in_at=at, now=at)

    def renew(self, claims: SessionClaims, *, session_version: int | None, now: float | None = None) -> IssuedSession:
        """A fresh token for the sign-in ``claims`` come from (read with ``verify(..., for_renewal=True)``),
        if the account's ``session_version`` is still the token's; raises :class:`SessionRevoked` or
        :class:`SessionExpired` (sign in again) otherwise."""
        claims.ensure_current(session_version)
        at = int(time.time() if now is None else now)
        self._check_max_age(claims, at)
        return self._sign(
            claims.account_id, claims.tenant_id, claims.session_version, signed_in_at=claims.signed_in_at, now=at
        )

    def _sign(self, account_id: str, tenant_id: str, version: int, *, signed_in_at: int, now: int) -> IssuedSession:
        expires = min(now + self.ttl, signed_in_at + self.max_age)
        claims = SessionClaims(account_id, tenant_id, version, now, signed_in_at, expires)
        body = {"a": account_id, "t": tenant_id, "v": version, "iat": now, "auth": signed_in_at, "exp": expires}
        payload = _b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return IssuedSession(token=f"{_TAG}.{payload}.{self._mac(payload)}", claims=claims)

    def _mac(self, payload: str) -> str:
        return _b64encode(hmac.new(self._key, f"{_TAG}.{payload}".encode("ascii"), hashlib.sha256).digest())

    # -- checking -----------------------------------------------------------------------------------

    def verify(self, token: str, *, now: float | None = None, for_renewal: bool = False) -> SessionClaims:
        """The claims of ``token`` if it is genuine and unexpired (for renewal: genuine and within
        ``max_age`` of its sign-in); :class:`SessionTampered` or :class:`SessionExpired` otherwise.
        The caller then checks the account's version with :meth:`SessionClaims.ensure_current`."""
        tag, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if tag != _TAG or not payload or not signature:
            raise SessionTampered("the session token is malformed; sign in again")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._mac(payload).encode("ascii")):
            raise SessionTampered("the session token's signature does not match; sign in again")
        claims = _claims(payload)
        at = int(time.time() if now is None else now)
        if claims.issued_at > at + _LEEWAY:
            raise SessionTampered("the session token was issued in the future; check the server clocks")
        if for_renewal:
            self._check_max_age(claims, at)
        elif at >= claims.expires_at:
            raise SessionExpired(f"the session expired {at - claims.expires_at} s ago; renew it or sign in again")
        return claims

    def _check_max_age(self, claims: SessionClaims, at: int) -> None:
        if at >= claims.signed_in_at + self.max_age:
            raise SessionExpired("the sign-in this session comes from is too old to renew; sign in again")


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _claims(payload: str) -> SessionClaims:
    # Only reached with a valid signature: a failure here means a token of another format version.
    malformed = SessionTampered("the session token's payload is not one this server writes; sign in again")
    try:
        body: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise malformed from None
    if not isinstance(body, dict):
        raise malformed
    texts: list[Any] = [body.get(name) for name in ("a", "t")]
    numbers: list[Any] = [body.get(name) for name in ("v", "iat", "auth", "exp")]
    if not all(isinstance(value, str) and value for value in texts) or not all(
        isinstance(value, int) and not isinstance(value, bool) for value in numbers
    ):
        raise malformed
    version, issued, signed_in, expires = numbers
    return SessionClaims(str(texts[0]), str(texts[1]), version, issued, signed_in, expires)
