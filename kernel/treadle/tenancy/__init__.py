"""Tenancy: passwords, workspace roles and permissions, console sessions, API keys and secrets at rest.

Pure logic on plain values; the store keeps the records and the API maps the errors to statuses
(see :mod:`treadle.tenancy.errors`).
"""

from .api_keys import (
    API_KEY_RANDOM_LENGTH,
    MAX_KEYS_PER_RESOURCE,
    ApiKeyKind,
    ApiKeyRecords,
    IssuedApiKey,
    StoredApiKey,
    api_key_digest,
    authenticate_api_key,
    bearer_token,
    issue_api_key,
)
from .environment import HIDDEN_VALUE, export_environment, mask_environment, open_environment, seal_environment
from .errors import (
    InvalidApiKey,
    InvalidSession,
    PermissionDenied,
    SecretKeyError,
    SessionExpired,
    SessionRevoked,
    SessionTampered,
    TenancyError,
    UnknownRole,
    WeakPassword,
)
from .passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Argon2Parameters,
    PasswordHasher,
    check_password_rules,
)
from .roles import (
    PERMISSIONS,
    Action,
    Role,
    allowed,
    require,
    require_invite,
    require_member_removal,
    require_role_change,
)
from .secrets import SECRET_KEY_BYTES, SECRET_KEY_FILE, SecretCipher, derive_key, load_server_secret
from .sessions import IssuedSession, SessionClaims, SessionSigner

__all__ = [
    "API_KEY_RANDOM_LENGTH",
    "HIDDEN_VALUE",
    "MAX_KEYS_PER_RESOURCE",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "SECRET_KEY_BYTES",
    "SECRET_KEY_FILE",
    "Action",
    "ApiKeyKind",
    "ApiKeyRecords",
    "Argon2Parameters",
    "InvalidApiKey",
    "InvalidSession",
    "IssuedApiKey",
    "IssuedSession",
    "PasswordHasher",
    "PermissionDenied",
    "Role",
    "SecretCipher",
    "SecretKeyError",
    "SessionClaims",
    "SessionExpired",
    "SessionRevoked",
    "SessionSigner",
    "SessionTampered",
    "StoredApiKey",
    "TenancyError",
    "UnknownRole",
    "WeakPassword",
    "allowed",
    "api_key_digest",
    "authenticate_api_key",
    "bearer_token",
    "check_password_rules",
    "derive_key",
    "export_environment",
    "issue_api_key",
    "load_server_secret",
    "mask_environment",
    "open_environment",
    "require",
    "require_invite",
    "require_member_removal",
    "require_role_change",
    "seal_environment",
]
