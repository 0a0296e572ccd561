"""Secrets at rest: AES-256-GCM under a key derived per workspace (HKDF-SHA256) from the server secret.

The server secret is 32 random bytes kept in a file of the data directory (``$TREADLE_HOME/secret_key``),
made with mode 0600 the first time it is needed. Every key the server uses is derived from it for one
purpose (:func:`derive_key`): each workspace gets its own encryption key, so a ciphertext copied into
another workspace does not decrypt, and console sessions are signed with a key of their own. The
associated data binds a ciphertext to the record and field it was stored under, so it does not
decrypt anywhere else either.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import SecretKeyError

__all__ = ["SECRET_KEY_BYTES", "SECRET_KEY_FILE", "SecretCipher", "derive_key", "load_server_secret"]

SECRET_KEY_BYTES = 32
#: The name of the server secret's file in the data directory.
SECRET_KEY_FILE = "secret_key"
_PREFIX = "v1:"
_NONCE_BYTES = 12
_WORKSPACE_SECRETS = "treadle workspace secrets v1\x00"

log = logging.getLogger(__name__)


def derive_key(server_secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` alone, derived from the server secret: keys of different
    purposes tell nothing about each other or about the secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")).derive(server_secret)


def load_server_secret(path: Path, *, error: type[SecretKeyError] = SecretKeyError) -> bytes:
    """The server secret kept in ``path``, made first if there is no such file (two processes racing
    to make it both end up with the one that was linked in first); ``error`` is raised when the file
    is unreadable or does not hold a secret."""
    try:
        return _read(path, error)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(SECRET_KEY_BYTES)).decode("ascii") + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return _read(path, error)


class SecretCipher:
    """Encrypts and decrypts short secrets (credential values, secret environment variables) for one
    workspace at a time.

    ``key_file`` is read on first use and created (0600) if it does not exist; ``server_secret``
    gives the secret directly instead (tests, or a secret from a secrets manager). Failures raise
    :attr:`error`, which a subclass may narrow to an error of its own package.
    """

    error: ClassVar[type[SecretKeyError]] = SecretKeyError

    def __init__(self, key_file: Path | None = None, *, server_secret: bytes | None = None) -> None:
        if (key_file is None) == (server_secret is None):
            raise ValueError("give either a key file or the server secret")
        if server_secret is not None and len(server_secret) < SECRET_KEY_BYTES:
            raise ValueError(f"the server secret must be at least {SECRET_KEY_BYTES} bytes")
        self.key_file = key_file
        self._secret = server_secret
        self._keys: dict[str, AESGCM] = {}
        self._lock = threading.Lock()

    # -- the server secret --------------------------------------------------------------------------

    def server_secret(self) -> bytes:
        """The server secret, read (or made) on first use; other keys of the server derive from it
        with :func:`derive_key`."""
        if self._secret is None:
            assert self.key_file is not None
            self._secret = load_server_secret(self.key_file, error=self.error)
        return self._secret

    def _key(self, tenant_id: str) -> AESGCM:
        with self._lock:
            key = self._keys.get(tenant_id)
            if key is None:
                key = self._keys[tenant_id] = AESGCM(derive_key(self.server_secret(), _WORKSPACE_SECRETS + tenant_id))
            return key

    # -- encrypting ---------------------------------------------------------------------------------

    def encrypt(self, tenant_id: str, plaintext: str, *, context: str) -> str:
        """``plaintext`` encrypted for ``tenant_id``; ``context`` (where it will be stored) must be
        given again to decrypt it."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._key(tenant_id).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, tenant_id: str, token: str, *, context: str) -> str:
        """The plaintext of ``token``; :attr:`error` if it was not encrypted by this server secret
        for this workspace and context."""
        where = f"secret {context!r}"
        if not token.startswith(_PREFIX):
            raise self.error(f"{where} is not an encrypted value of this version")
        try:
            raw = base64.urlsafe_b64decode(token[len(_PREFIX) :])
        except (binascii.Error, ValueError):
            raise self.error(f"{where} is damaged (not base64)") from None
        try:
            plain = self._key(tenant_id).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8"))
        except (InvalidTag, ValueError):
            source = f"the server secret in {self.key_file}" if self.key_file else "the server secret"
            raise self.error(
                f"{where} cannot be decrypted: {source} is not the one it was saved with, or the value was "
                "altered; save it again"
            ) from None
        return plain.decode("utf-8")

    @staticmethod
    def is_encrypted(value: str) -> bool:
        """Whether ``value`` has the form of a value :meth:`encrypt` makes (it may still not decrypt)."""
        return value.startswith(_PREFIX)


def _read(path: Path, error: type[SecretKeyError]) -> bytes:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"cannot read the server secret {path}: {exc.strerror}") from None
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"the server secret {path} is not base64 text") from None
    if len(secret) < SECRET_KEY_BYTES:
        raise error(f"the server secret {path} holds {len(secret)} bytes; it needs {SECRET_KEY_BYTES}")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("the server secret %s can be read by other users (mode %o); chmod 600 it", path, mode)
    return secret
