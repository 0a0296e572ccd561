"""Workspace model settings and the path of every model call (mapping, credentials, balancing)."""

from .manager import OPERATIONS, CredentialPick, CredentialSource, ModelManager
from .mapping import ModelMapping, ModelTarget, provider_name

__all__ = [
    "OPERATIONS",
    "CredentialPick",
    "CredentialSource",
    "ModelManager",
    "ModelMapping",
    "ModelTarget",
    "provider_name",
]
