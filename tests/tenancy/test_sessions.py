from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest
from treadle.tenancy import (
    InvalidSession,
    SessionClaims,
    SessionExpired,
    SessionRevoked,
    SessionSigner,
    SessionTampered,
    derive_key,
)

SECRET = b"k" * 32
T0 = 1_700_000_000


@pytest.fixture
def signer() -> SessionSigner:
    return SessionSigner(SECRET, ttl=3600, max_age=7 * 24 * 3600)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(body: object) -> str:
    """A token over ``body`` with a genuine signature (as if this server had written it)."""
    payload = _b64(json.dumps(body).encode())
    key = derive_key(SECRET, "treadle console sessions v1")
    return f"ts1.{payload}.{_b64(hmac.new(key, f'ts1.{payload}'.encode(), hashlib.sha256).digest())}"


def test_a_token_carries_account_workspace_and_session_version(signer: SessionSigner) -> None:
    issued = signer.issue("acc-1", "ws-1", 4, now=T0)
    claims = signer.verify(issued.token, now=T0 + 10)
    assert claims == issued.claims == SessionClaims("acc-1", "ws-1", 4, T0, T0, T0 + 3600)
    claims.ensure_current(4)
    assert issued.token not in repr(issued)


def test_an_expired_token_is_refused(signer: SessionSigner) -> None:
    token = signer.issue("acc-1", "ws-1", 0, now=T0).token
    signer.verify(token, now=T0 + 3599)
    with pytest.raises(SessionExpired, match="the session expired 0 s ago"):
        signer.verify(token, now=T0 + 3600)


def test_renewal_trades_a_genuine_token_for_a_fresh_one_until_max_age(signer: SessionSigner) -> None:
    first = signer.issue("acc-1", "ws-1", 2, now=T0)
    later = T0 + 5 * 3600  # the first token expired hours ago
    claims = signer.verify(first.token, now=later, for_renewal=True)
    renewed = signer.renew(claims, session_version=2, now=later)
    assert renewed.claims == SessionClaims("acc-1", "ws-1", 2, later, T0, later + 3600)
    assert signer.verify(renewed.token, now=later + 1).account_id == "acc-1"
    # The last renewal ends at max_age after the sign-in, not an hour later.
    near_end = T0 + 7 * 24 * 3600 - 60
    last = signer.renew(signer.verify(renewed.token, now=near_end, for_renewal=True), session_version=2, now=near_end)
    assert last.claims.expires_at == T0 + 7 * 24 * 3600
    with pytest.raises(SessionExpired, match="too old to renew; sign in again"):
        signer.verify(last.token, now=T0 + 7 * 24 * 3600, for_renewal=True)
    with pytest.raises(SessionExpired, match="too old to renew"):
        signer.renew(claims, session_version=2, now=T0 + 8 * 24 * 3600)


def test_a_bumped_session_version_revokes_tokens_and_their_renewal(signer: SessionSigner) -> None:
    claims = signer.verify(signer.issue("acc-1", "ws-1", 2, now=T0).token, now=T0)
    with pytest.raises(SessionRevoked, match="signed out, or the password changed"):
        claims.ensure_current(3)
    with pytest.raises(SessionRevoked, match="account no longer exists"):
        claims.ensure_current(None)
    with pytest.raises(SessionRevoked):
        signer.renew(claims, session_version=3, now=T0)


def test_tampered_tokens_are_refused(signer: SessionSigner) -> None:
    token = signer.issue("acc-1", "ws-1", 0, now=T0).token
    tag, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other_workspace = _b64(json.dumps({**body, "t": "ws-2"}).encode())
    later_expiry = _b64(json.dumps({**body, "exp": T0 + 10**9}).encode())
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (
        f"{tag}.{other_workspace}.{signature}",
        f"{tag}.{later_expiry}.{signature}",
        f"{tag}.{payload}.{flipped}",
        f"{tag}.{payload}.",
        f"{tag}.{payload}.{signature}é",
        f"ts2.{payload}.{signature}",
        "",
        "garbage",
        SessionSigner(b"x" * 32).issue("acc-1", "ws-1", 0, now=T0).token,
    ):
        with pytest.raises(SessionTampered) as caught:
            signer.verify(forged, now=T0)
        assert isinstance(caught.value, InvalidSession)
        assert "sign in again" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"a": "acc", "t": "ws", "v": "1", "iat": T0, "auth": T0, "exp": T0 + 60},
        {"a": "acc", "t": "ws", "v": True, "iat": T0, "auth": T0, "exp": T0 + 60},
        {"a": "", "t": "ws", "v": 1, "iat": T0, "auth": T0, "exp": T0 + 60},
        {"a": "acc", "v": 1, "iat": T0, "auth": T0, "exp": T0 + 60},
    ],
)
def test_a_signed_payload_of_another_shape_is_refused(signer: SessionSigner, body: object) -> None:
    with pytest.raises(SessionTampered, match="payload is not one this server writes"):
        signer.verify(_signed(body), now=T0)


def test_a_token_from_the_future_is_refused_beyond_clock_leeway(signer: SessionSigner) -> None:
    token = signer.issue("acc-1", "ws-1", 0, now=T0 + 10).token
    signer.verify(token, now=T0)
    with pytest.raises(SessionTampered, match="issued in the future"):
        signer.verify(signer.issue("acc-1", "ws-1", 0, now=T0 + 600).token, now=T0)


def test_signers_of_one_data_directory_share_their_key(tmp_path: Path) -> None:
    first = SessionSigner.from_home(tmp_path)
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.issue("acc-1", "ws-1", 0).token
    assert SessionSigner.from_home(tmp_path).verify(token).tenant_id == "ws-1"
    with pytest.raises(SessionTampered):
        SessionSigner.from_home(tmp_path / "other").verify(token)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SessionSigner(b"short")
    with pytest.raises(ValueError, match=r"ttl \(0\) must be positive"):
        SessionSigner(SECRET, ttl=0)
    with pytest.raises(ValueError, match=r"at most max_age \(60\)"):
        SessionSigner(SECRET, ttl=120, max_age=60)
    with pytest.raises(ValueError, match="needs an account id and a workspace id"):
        SessionSigner(SECRET).issue("", "ws-1", 0)
