from __future__ import annotations

import stat
from pathlib import Path

import pytest
from treadle import models
from treadle.tenancy import SecretCipher, SecretKeyError, derive_key, load_server_secret

SECRET = bytes(range(32))


def test_a_value_encrypted_before_the_cipher_moved_to_tenancy_still_decrypts() -> None:
    # Made by treadle.models.encryption before this package existed: the derivation did not change.
    before = "v1:QoQnseFdc3D3mK1LcrawIlZO_uE0P4PxxErPg56kwAZayqWY-JtgzkeHWoOJxA=="
    assert SecretCipher(server_secret=SECRET).decrypt("tenant-1", before, context="cred-7/api_key") == (
        "sk-before-the-move"
    )


def test_the_models_cipher_is_the_tenancy_cipher_with_the_settings_error() -> None:
    cipher = models.SecretCipher(server_secret=SECRET)
    assert isinstance(cipher, SecretCipher)
    token = cipher.encrypt("t1", "value", context="c")
    assert SecretCipher(server_secret=SECRET).decrypt("t1", token, context="c") == "value"
    with pytest.raises(models.SecretKeyError) as caught:
        cipher.decrypt("t2", token, context="c")
    # Caught as a settings error by the model settings, and as a tenancy error by everything else.
    assert isinstance(caught.value, models.WorkspaceSettingsError)
    assert isinstance(caught.value, SecretKeyError)


def test_the_tenancy_cipher_binds_values_to_workspace_and_context(cipher: SecretCipher) -> None:
    token = cipher.encrypt("t1", "hunter2", context="app/a1/env/v1")
    assert SecretCipher.is_encrypted(token) and not SecretCipher.is_encrypted("hunter2")
    assert cipher.decrypt("t1", token, context="app/a1/env/v1") == "hunter2"
    for tenant, context in (("t2", "app/a1/env/v1"), ("t1", "app/a2/env/v1")):
        with pytest.raises(SecretKeyError, match="cannot be decrypted: the server secret is not the one"):
            cipher.decrypt(tenant, token, context=context)
    with pytest.raises(SecretKeyError, match="is not an encrypted value of this version"):
        cipher.decrypt("t1", "hunter2", context="c")


def test_keys_derived_for_different_purposes_differ() -> None:
    assert derive_key(SECRET, "a") == derive_key(SECRET, "a")
    assert len({derive_key(SECRET, "a"), derive_key(SECRET, "b"), derive_key(b"x" * 32, "a")}) == 3


def test_the_server_secret_file_is_made_once_private(tmp_path: Path) -> None:
    path = tmp_path / "home" / "secret_key"
    secret = load_server_secret(path)
    assert len(secret) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_server_secret(path) == secret
    path.write_text("not base64!\n")
    with pytest.raises(SecretKeyError, match=f"the server secret {path} is not base64 text"):
        load_server_secret(path)
