"""App modes: workflow and advanced-chat (a DSL graph), chat, agent-chat and completion (a
``model_config`` compiled to a graph); each runs on the same engine. See :class:`App`."""

from .app import App
from .chat import ModelConfigApp
from .check import CheckReport, check_dsl
from .features import AppFeatures
from .history import MemoryConversationHistory
from .model_config import ModelConfigError, compile_model_config
from .workflow import CONVERSATION_MODES, WORKFLOW_MODES, RunRequest, WorkflowApp

__all__ = [
    "CONVERSATION_MODES",
    "WORKFLOW_MODES",
    "App",
    "AppFeatures",
    "CheckReport",
    "MemoryConversationHistory",
    "ModelConfigApp",
    "ModelConfigError",
    "RunRequest",
    "WorkflowApp",
    "check_dsl",
    "compile_model_config",
]
