"""Secrets at rest for the model settings: the workspace cipher of :mod:`treadle.tenancy.secrets`,
raising this package's :class:`~treadle.models.errors.SecretKeyError` (a
:class:`~treadle.models.errors.WorkspaceSettingsError` as well as a tenancy one), so a credential
that no longer decrypts is reported like any other settings error."""

from __future__ import annotations

from typing import ClassVar

from ..tenancy import errors as tenancy_errors
from ..tenancy import secrets as tenancy_secrets
from ..tenancy.secrets import SECRET_KEY_BYTES
from .errors import SecretKeyError

__all__ = ["SECRET_KEY_BYTES", "SecretCipher"]


class SecretCipher(tenancy_secrets.SecretCipher):
    """The workspace cipher (:class:`treadle.tenancy.SecretCipher`) for credentials."""

    error: ClassVar[type[tenancy_errors.SecretKeyError]] = SecretKeyError
