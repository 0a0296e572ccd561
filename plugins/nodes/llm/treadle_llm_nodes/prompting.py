"""What the three node types share when they build a prompt: the model's capabilities, images,
memory as text, and the last clean-up before a prompt is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from treadle_sdk.context import ModelInfo
from treadle_sdk.llm import MemoryConfig, memory_messages, memory_text
from treadle_sdk.model_runtime import ImageContent, PromptMessage, PromptMessageRole, TextContent
from treadle_sdk.nodes import NodeRunError, NodeRuntime
from treadle_sdk.schemas import ModelFeature
from treadle_sdk.templates import Selector

__all__ = [
    "SYSTEM_SELECTORS",
    "Capabilities",
    "attach_images",
    "history_text",
    "ready_to_send",
    "task_messages",
]

#: The system variables every model-calling node may read: the user (sent with model calls), the
#: conversation (memory) and the run's files (vision's default).
SYSTEM_SELECTORS: tuple[Selector, ...] = (("sys", "user_id"), ("sys", "conversation_id"), ("sys", "files"))

#: The model feature of native JSON-schema output (Dify's ``ModelFeature.STRUCTURED_OUTPUT``).
_STRUCTURED_OUTPUT = "structured-output"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the node needs to know about its model, from the kernel's description of it."""

    features: frozenset[str]
    #: The options of the model's ``response_format`` parameter (none when it has no such parameter).
    response_formats: tuple[str, ...]
    structured_output: bool

    @classmethod
    def of(cls, info: ModelInfo) -> Capabilities:
        """Read the model's schema. A model supports JSON-schema output natively when it lists the
        ``structured-output`` feature, has a ``json_schema`` parameter (Dify's rule), or says so in
        its properties (``structured_output``)."""
        schema = info.schema_
        features = frozenset(info.features)
        rules = {rule.name: rule for rule in schema.parameter_rules}
        formats = tuple(rules["response_format"].options) if "response_format" in rules else ()
        declared = schema.model_properties.get("structured_output")
        native = (
            _STRUCTURED_OUTPUT in features
            or "json_schema" in rules
            or declared is True
            or declared in ("support", "supported")
        )
        return cls(features, formats, native)

    @property
    def tool_calls(self) -> bool:
        return bool(self.features & {ModelFeature.TOOL_CALL.value, ModelFeature.MULTI_TOOL_CALL.value})

    @property
    def images(self) -> bool:
        """Whether images may be sent: models that list their features must list ``vision``;
        models the kernel knows no features of (added by the user, ``customizable-model``) are
        trusted with them, as their provider decides."""
        return not self.features or ModelFeature.VISION.value in self.features


def attach_images(messages: list[PromptMessage], images: Sequence[ImageContent]) -> None:
    """Give the model the vision files: before the parts of the last message when it is a user
    message with parts, else in a user message of their own at the end (as Dify does)."""
    if not images:
        return
    if messages and messages[-1].role == PromptMessageRole.USER and isinstance(messages[-1].content, list):
        messages[-1] = PromptMessage(role=PromptMessageRole.USER, content=[*images, *messages[-1].content])
    else:
        messages.append(PromptMessage(role=PromptMessageRole.USER, content=list(images)))


def ready_to_send(messages: Sequence[PromptMessage], capabilities: Capabilities) -> list[PromptMessage]:
    """The prompt as it is sent: images left out for models that cannot see, a message of one text
    part made plain text, empty messages dropped. A prompt left with nothing fails the node."""
    sent: list[PromptMessage] = []
    for message in messages:
        content = message.content
        if isinstance(content, list):
            parts: list[TextContent | ImageContent] = [
                part for part in content if isinstance(part, TextContent) or capabilities.images
            ]
            content = parts[0].data if len(parts) == 1 and isinstance(parts[0], TextContent) else parts
        if not content and not message.tool_calls:
            continue
        sent.append(message.model_copy(update={"content": content}))
    if not sent:
        raise NodeRunError(
            "the prompt is empty: give the node a prompt with some text (or files the model can read)",
            error_type="NoPromptFoundError",
        )
    return sent


def task_messages(
    mode: str, system: str, user: str, images: Sequence[ImageContent], capabilities: Capabilities
) -> list[PromptMessage]:
    """The prompt of a node that gives the model a task (parameter-extractor, question-classifier):
    a system and a user message in ``chat`` mode, one user message with the system text first in
    ``completion`` mode; the vision ``images`` attached and the whole made ready to send."""
    if mode == "chat":
        messages = [
            PromptMessage(role=PromptMessageRole.SYSTEM, content=system),
            PromptMessage(role=PromptMessageRole.USER, content=[TextContent(data=user)]),
        ]
    else:
        messages = [PromptMessage(role=PromptMessageRole.USER, content=[TextContent(data=f"{system}\n\n{user}")])]
    attach_images(messages, images)
    return ready_to_send(messages, capabilities)


async def history_text(rt: NodeRuntime, memory: MemoryConfig | None) -> str:
    """The conversation so far as ``Human: ...`` / ``Assistant: ...`` lines (empty without memory)."""
    if memory is None:
        return ""
    return memory_text(await memory_messages(rt, memory), memory)

