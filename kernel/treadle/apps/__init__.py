"""App modes (workflow, advanced-chat; chat, agent-chat and completion to come): each compiles to a graph."""

from .check import CheckReport, check_dsl
from .history import MemoryConversationHistory
from .workflow import WORKFLOW_MODES, RunRequest, WorkflowApp

__all__ = ["WORKFLOW_MODES", "CheckReport", "MemoryConversationHistory", "RunRequest", "WorkflowApp", "check_dsl"]
