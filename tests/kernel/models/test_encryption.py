"""Secrets at rest: AES-GCM under a key per workspace derived from the server secret in
``$TREADLE_HOME/secret_key``, made 0600 on first use."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from treadle.models import SecretCipher, SecretKeyError
from treadle.models.encryption import SECRET_KEY_BYTES


def test_round_trip_and_the_key_file_is_made_private_on_first_use(tmp_path: Path) -> None:
    key_file = tmp_path / "home" / "secret_key"
    cipher = SecretCipher(key_file)
    assert not key_file.exists()  # nothing is written before a secret is
    token = cipher.encrypt("t1", "sk-plain-text", context="cred-1/api_key")
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "sk-plain-text" not in token
    assert cipher.decrypt("t1", token, context="cred-1/api_key") == "sk-plain-text"
    # Another process with the same data directory reads the same secret.
    assert SecretCipher(key_file).decrypt("t1", token, context="cred-1/api_key") == "sk-plain-text"
    # Every encryption gets a fresh nonce.
    assert cipher.encrypt("t1", "sk-plain-text", context="cred-1/api_key") != token


def test_a_value_decrypts_only_in_its_workspace_and_place(tmp_path: Path) -> None:
    cipher = SecretCipher(tmp_path / "secret_key")
    token = cipher.encrypt("t1", "value", context="cred-1/api_key")
    for tenant, context in (("t2", "cred-1/api_key"), ("t1", "cred-2/api_key"), ("t1", "cred-1/other")):
        with pytest.raises(SecretKeyError, match=r"cannot be decrypted: the server secret in .*secret_key is not"):
            cipher.decrypt(tenant, token, context=context)


def test_another_server_secret_cannot_decrypt(tmp_path: Path) -> None:
    token = SecretCipher(tmp_path / "a").encrypt("t1", "value", context="c")
    with pytest.raises(SecretKeyError, match="not the one it was saved with"):
        SecretCipher(tmp_path / "b").decrypt("t1", token, context="c")


@pytest.mark.parametrize(
    ("token", "message"),
    [("plain", "not an encrypted value"), ("v1:%%%", "damaged"), ("v1:AAAA", "cannot be decrypted")],
)
def test_damaged_values_are_reported(tmp_path: Path, token: str, message: str) -> None:
    with pytest.raises(SecretKeyError, match=message):
        SecretCipher(tmp_path / "secret_key").decrypt("t1", token, context="c")


def test_a_bad_key_file_is_reported(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("not base64 !")
    with pytest.raises(SecretKeyError, match=f"the server secret {key_file} is not base64"):
        SecretCipher(key_file).encrypt("t1", "x", context="c")
    key_file.write_text("c2hvcnQ=")
    with pytest.raises(SecretKeyError, match=f"holds 5 bytes; it needs {SECRET_KEY_BYTES}"):
        SecretCipher(key_file).encrypt("t1", "x", context="c")


def test_a_secret_can_be_given_directly() -> None:
    cipher = SecretCipher(server_secret=b"k" * SECRET_KEY_BYTES)
    assert cipher.decrypt("t", cipher.encrypt("t", "v", context="c"), context="c") == "v"
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SecretCipher(server_secret=b"short")
