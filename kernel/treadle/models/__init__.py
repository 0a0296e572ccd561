"""Workspace model settings and the path of every model call (mapping, credentials, balancing)."""

from .encryption import SecretCipher
from .errors import (
    INVOKE_ERROR_TYPES,
    CredentialNotFound,
    CredentialsRefused,
    SecretKeyError,
    WorkspaceSettingsError,
)
from .manager import OPERATIONS, CredentialPick, CredentialSource, ModelManager
from .mapping import ModelMapping, ModelTarget, provider_name
from .store import MemorySettingsStore, SettingsStore, SqliteSettingsStore, StoredCredential
from .vault import HIDDEN, Credential, CredentialScope, CredentialVault, mask
from .workspace import COOLDOWNS, DEFAULT_MODEL_TYPES, INHERIT, LoadBalancing, WorkspaceModelSettings

__all__ = [
    "COOLDOWNS",
    "DEFAULT_MODEL_TYPES",
    "HIDDEN",
    "INHERIT",
    "INVOKE_ERROR_TYPES",
    "OPERATIONS",
    "Credential",
    "CredentialNotFound",
    "CredentialPick",
    "CredentialScope",
    "CredentialSource",
    "CredentialVault",
    "CredentialsRefused",
    "LoadBalancing",
    "MemorySettingsStore",
    "ModelManager",
    "ModelMapping",
    "ModelTarget",
    "SecretCipher",
    "SecretKeyError",
    "SettingsStore",
    "SqliteSettingsStore",
    "StoredCredential",
    "WorkspaceModelSettings",
    "WorkspaceSettingsError",
    "mask",
    "provider_name",
]
