"""The Answer node: a chatflow's reply, a template of text and variables (NODE-ANSWER).

``answer`` is text with ``{{#node.var#}}`` references. The node renders it (a variable that does
not exist renders as nothing; a file as Markdown: an image inline, other files as links), outputs
``{"answer": text, "files": [...]}`` with the files it showed, and emits the text. The engine
streams Answer nodes in template order (EXEC-ANSWER-STREAM).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from treadle_sdk.dsl_fields import text
from treadle_sdk.extensions import NodeType
from treadle_sdk.nodes import NodeResult, NodeRuntime, PreparedNode, VariableNotFound
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, parse_template, to_text

from .files import file_markdown, is_file

__all__ = ["AnswerNode", "AnswerNodeType"]


class AnswerNode(PreparedNode):
    """A prepared Answer node."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.parts: tuple[str | Selector, ...] = tuple(parse_template(text(config.get("answer"), "answer")))

    def run(self, rt: NodeRuntime) -> NodeResult:
        pieces: list[str] = []
        files: list[Any] = []
        get = rt.get
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            try:
                value = get(part)
            except VariableNotFound:
                continue
            if is_file(value):
                files.append(value)
                pieces.append(file_markdown(value))
            elif isinstance(value, list) and value and all(is_file(item) for item in value):
                files.extend(value)
                pieces.append("\n".join(file_markdown(item) for item in value))
            else:
                pieces.append(to_text(value))
        answer = "".join(pieces)
        if answer:
            rt.emit("answer", answer)
        return NodeResult({"answer": answer, "files": files})


class AnswerNodeType(NodeType):
    """``answer``: a chatflow's reply."""

    #: Quick code that never waits on I/O: out of process it runs on the host's loop, not in a thread.
    blocking = False

    schema = NodeTypeSchema(
        name="answer",
        label="Answer",
        description="Replies in a chatflow with text, variables, images and files; streams in template order.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return AnswerNode(node_id, config)
