"""Chat, agent-chat and completion apps: their ``model_config`` compiled to a graph (see
:mod:`treadle.apps.model_config`) and run on the same engine as workflows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph import NodeFactory
from ..graph.dsl import CHAT_APP_MODES, AppDSL
from .model_config import ModelConfigError, compile_model_config
from .workflow import WorkflowApp

__all__ = ["ModelConfigApp"]


class ModelConfigApp(WorkflowApp):
    """A chat, agent-chat or completion app. ``model_config`` keeps the configuration as the DSL
    wrote it (the Service API's ``/parameters`` reads its input form from it)."""

    MODES = CHAT_APP_MODES

    def __init__(self, *, mode: str, model_config: Mapping[str, Any], factory: NodeFactory, app_id: str = "") -> None:
        if mode not in CHAT_APP_MODES:
            raise ModelConfigError(f"a model_config app is chat, agent-chat or completion, not {mode!r}", "app.mode")
        nodes, edges = compile_model_config(mode, model_config)
        self.model_config = dict(model_config)
        super().__init__(
            mode=mode, nodes=nodes, edges=edges, factory=factory, app_id=app_id, features=_feature_keys(model_config)
        )

    @classmethod
    def from_dsl(cls, app: AppDSL, factory: NodeFactory, *, app_id: str = "") -> ModelConfigApp:
        """The app a loaded DSL of mode chat, agent-chat or completion describes."""
        if app.app_model_config is None or app.mode not in CHAT_APP_MODES:
            raise ModelConfigError(f"a {app.mode!r} app has no model_config to run", "model_config")
        return cls(mode=app.mode, model_config=app.app_model_config, factory=factory, app_id=app_id)


#: The keys of ``model_config`` that are the app's features (the rest configure the model node).
_FEATURES = (
    "opening_statement",
    "suggested_questions",
    "suggested_questions_after_answer",
    "sensitive_word_avoidance",
    "file_upload",
    "speech_to_text",
    "text_to_speech",
    "retriever_resource",
    "more_like_this",
    "annotation_reply",
)


def _feature_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: config[key] for key in _FEATURES if config.get(key) is not None}
