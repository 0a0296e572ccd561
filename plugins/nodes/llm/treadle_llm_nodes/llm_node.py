"""The LLM node (NODE-LLM): a prompt built from the node's template, sent to its model, the answer
streamed out as ``text``.

The prompt:

- chat models take ``prompt_template: [{role, text, edition_type}]`` (system, user, assistant
  messages); completion models take ``prompt_template: {text}`` (one user message);
- ``{{#node.var#}}`` references are replaced by the variables' text; a file variable in a message
  becomes image parts of it (files other than images are left out);
- ``edition_type: jinja2`` messages are Jinja2 (``jinja2_text``, else ``text``) over the variables
  named in ``prompt_config.jinja2_variables: [{variable, value_selector}]``, in a sandbox;
- ``context: {enabled, variable_selector}`` gives ``{{#context#}}`` a Knowledge Retrieval result or
  a text; retrieved chunks become citations (``retriever_resources`` in the process data);
- ``memory`` (chatflows) puts the conversation's past turns after the template's messages, then the
  user's message: ``memory.query_prompt_template`` rendered, else ``sys.query``. When the template
  already sends ``{{#sys.query#}}`` in a user message (and the query template adds nothing to it),
  the past turns go before that message instead and the query is not sent twice (Dify sends it
  twice). Completion prompts get the past turns as ``Human:``/``Assistant:`` lines in place of
  ``{{#histories#}}``, or before the prompt;
- ``vision: {enabled, configs: {variable_selector, detail}}`` adds the images of a file variable
  (``sys.files`` by default) to the last user message, at ``detail``.

Images reach only models that can see them (see :class:`~treadle_llm_nodes.prompting.Capabilities`).
With ``structured_output_enabled`` the answer must be a JSON object following
``structured_output.schema`` (see :mod:`treadle_llm_nodes.structured`). ``reasoning_format:
separated`` takes ``<think>`` blocks out of ``text`` (see :mod:`treadle_llm_nodes.reasoning`).

Outputs: ``text``, ``reasoning_content``, ``usage``, ``finish_reason`` and, when enabled,
``structured_output``. Process data: ``model_mode``, ``prompts``, ``usage``, ``finish_reason``,
``model_provider``, ``model_name`` and ``retriever_resources``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template
from treadle_sdk.dsl_fields import choice, flag, items, mapping, parse_optional_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.jinja_sandbox import JinjaSandbox
from treadle_sdk.llm import (
    MemoryConfig,
    ModelConfig,
    call_llm,
    describe_model,
    memory_messages,
    memory_text,
    prompts_for_saving,
)
from treadle_sdk.model_runtime import ImageContent, PromptMessage, PromptMessageRole, TextContent
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, find_selectors, parse_template, to_text

from .context import Context, read_context
from .files import VisionConfig, files_in, image_parts
from .jinja import render
from .prompting import SYSTEM_SELECTORS, Capabilities, attach_images, ready_to_send
from .reasoning import ReasoningStream
from .structured import parameters_for, parse_structured_output, prompt_with_schema

__all__ = ["LLMNode", "LLMNodeType"]

CONTEXT_TOKEN = "{{#context#}}"
HISTORIES_TOKEN = "{{#histories#}}"
QUERY_REFERENCE = "{{#sys.query#}}"
_ROLES = {"system": PromptMessageRole.SYSTEM, "user": PromptMessageRole.USER, "assistant": PromptMessageRole.ASSISTANT}

#: A template text split at ``{{#context#}}``, each piece parsed into literals and references.
Pieces = tuple[tuple[str | Selector, ...], ...]


def _pieces(source: str) -> Pieces:
    return tuple(tuple(parse_template(piece)) for piece in source.split(CONTEXT_TOKEN))


@dataclass(frozen=True, slots=True)
class _Prompt:
    """One message of the template (or the whole completion prompt): basic or Jinja2."""

    role: PromptMessageRole
    source: str
    pieces: Pieces
    jinja: Template | None
    path: str


@dataclass(frozen=True, slots=True)
class _JinjaVariable:
    name: str
    selector: Selector | None


def _prompt(data: Mapping[str, Any], path: str, role: PromptMessageRole, sandbox: JinjaSandbox) -> _Prompt:
    edition = choice(data.get("edition_type"), f"{path}.edition_type", ("basic", "jinja2"), "basic")
    if edition == "jinja2":
        source = text(data.get("jinja2_text"), f"{path}.jinja2_text") or text(data.get("text"), f"{path}.text")
        return _Prompt(role, source, (), sandbox.compile_template(source, f"{path}.jinja2_text"), path)
    source = text(data.get("text"), f"{path}.text")
    return _Prompt(role, source, _pieces(source), None, path)


def _jinja_variables(config: Mapping[str, Any]) -> tuple[_JinjaVariable, ...]:
    prompt_config = mapping(config.get("prompt_config"), "prompt_config")
    path = "prompt_config.jinja2_variables"
    raw = prompt_config.get("jinja2_variables")
    if raw is None and "jinja2_variables" in config:
        path, raw = "jinja2_variables", config.get("jinja2_variables")
    found = []
    for i, item in enumerate(items(raw, path)):
        entry = mapping(item, f"{path}[{i}]")
        where = f"{path}[{i}]"
        name = text(entry.get("variable"), f"{where}.variable")
        if not name.isidentifier():
            raise NodeConfigError(f"a Jinja2 variable needs a name usable in Jinja2, not {name!r}", f"{where}.variable")
        found.append(
            _JinjaVariable(name, parse_optional_selector(entry.get("value_selector"), f"{where}.value_selector"))
        )
    return tuple(found)


def _schema(config: Mapping[str, Any]) -> dict[str, Any] | None:
    if not flag(config.get("structured_output_enabled"), "structured_output_enabled"):
        return None
    schema = mapping(config.get("structured_output"), "structured_output").get("schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise NodeConfigError(f"is not valid JSON: {exc}", "structured_output.schema") from None
    if not isinstance(schema, Mapping) or not schema:
        raise NodeConfigError(
            "structured output is enabled, so a JSON Schema object is required", "structured_output.schema"
        )
    return dict(schema)


class LLMNode(PreparedNode):
    """A prepared LLM node: templates parsed and Jinja2 compiled once (see the module docstring)."""

    def __init__(self, node_id: str, config: Mapping[str, Any], sandbox: JinjaSandbox) -> None:
        self.node_id = node_id
        self.config = config
        self.model = ModelConfig.parse(config.get("model"))
        self.memory = MemoryConfig.parse(config.get("memory"))
        self.vision = VisionConfig.parse(config.get("vision"))
        self.jinja_variables = _jinja_variables(config)
        self.schema = _schema(config)
        self.separated = (
            choice(config.get("reasoning_format"), "reasoning_format", ("tagged", "separated"), "tagged") == "separated"
        )
        context = mapping(config.get("context"), "context")
        self.context_selector = (
            parse_optional_selector(context.get("variable_selector"), "context.variable_selector")
            if flag(context.get("enabled"), "context.enabled")
            else None
        )
        template = config.get("prompt_template")
        self.chat: tuple[_Prompt, ...] = ()
        self.completion: _Prompt | None = None
        if isinstance(template, Mapping):
            self.completion = _prompt(template, "prompt_template", PromptMessageRole.USER, sandbox)
        elif isinstance(template, list | tuple):
            prompts = []
            for i, item in enumerate(template):
                path = f"prompt_template[{i}]"
                message = mapping(item, path)
                role = choice(message.get("role"), f"{path}.role", tuple(_ROLES), "user")
                prompts.append(_prompt(message, path, _ROLES[role], sandbox))
            self.chat = tuple(prompts)
        else:
            raise NodeConfigError(
                "a prompt is required: a list of {role, text} messages (chat) or a {text} object (completion)",
                "prompt_template",
            )
        self.query_prompt: _Prompt | None = None
        self.history_before: int | None = None
        if self.memory is not None and self.memory.query_prompt_template:
            source = self.memory.query_prompt_template
            self.query_prompt = _Prompt(PromptMessageRole.USER, source, _pieces(source), None, "memory")
        plain_query = self.query_prompt is None or self.query_prompt.source.strip() == QUERY_REFERENCE
        if self.memory is not None and plain_query:
            # The template sends the user's message itself: the past turns go before it.
            users = [
                i for i, p in enumerate(self.chat) if p.role == PromptMessageRole.USER and QUERY_REFERENCE in p.source
            ]
            self.history_before = users[-1] if users else None

    @property
    def mode(self) -> str:
        return "completion" if self.completion is not None else "chat"

    def selectors(self) -> list[Selector]:
        found = [*find_selectors(self.config), *SYSTEM_SELECTORS]
        if self.memory is not None:
            found.append(("sys", "query"))
        return list(dict.fromkeys(found))

    # -- running --------------------------------------------------------------------------------

    async def run(self, rt: NodeRuntime) -> NodeResult:
        capabilities = Capabilities.of(await describe_model(rt, self.model))
        context = self._context(rt)
        vision_files = self.vision.files(rt)
        messages = await self._messages(rt, context)
        attach_images(messages, self.vision.images(vision_files))
        parameters = None
        if self.schema is not None:
            messages = prompt_with_schema(messages, self.schema, capabilities)
            parameters = parameters_for(self.model.parameters(), self.schema, capabilities)
        messages = ready_to_send(messages, capabilities)

        def emit(piece: str) -> None:
            rt.emit("text", piece)

        stream = ReasoningStream(self.separated, emit)
        answer = await call_llm(
            rt, self.model, messages, parameters=parameters, on_text=stream.text, on_reasoning=stream.reasoning
        )
        text_out, reasoning = stream.finish()
        usage = answer.usage.model_dump(mode="json")
        outputs: dict[str, Any] = {
            "text": text_out,
            "reasoning_content": reasoning,
            "usage": usage,
            "finish_reason": answer.finish_reason,
        }
        if self.schema is not None:
            outputs["structured_output"] = parse_structured_output(answer.text)
        process_data = {
            "model_mode": self.mode,
            "prompts": prompts_for_saving(self.mode, messages),
            "usage": usage,
            "finish_reason": answer.finish_reason,
            "model_provider": self.model.provider,
            "model_name": self.model.name,
            "retriever_resources": context.retriever_resources if context else [],
        }
        inputs: dict[str, Any] = {}
        if context is not None and context.text:
            inputs["#context#"] = context.text
        if vision_files:
            inputs["#files#"] = [dict(file) for file in vision_files]
        return NodeResult(outputs, inputs=inputs, process_data=process_data)

    def _context(self, rt: NodeRuntime) -> Context | None:
        if self.context_selector is None:
            return None
        return read_context(rt.get_or(self.context_selector), "context " + ".".join(self.context_selector))

    async def _render(self, rt: NodeRuntime, prompt: _Prompt, context: str) -> tuple[str, list[ImageContent]]:
        """A prompt's text, and the images of file variables it names."""
        if prompt.jinja is not None:
            variables = {v.name: "" if v.selector is None else rt.get_or(v.selector, "") for v in self.jinja_variables}
            return await render(prompt.jinja, variables, prompt.path), []
        images: list[ImageContent] = []
        texts: list[str] = []
        for piece in prompt.pieces:
            out = []
            for part in piece:
                if isinstance(part, str):
                    out.append(part)
                    continue
                value = rt.get_or(part)
                files = files_in(value)
                if files:
                    images.extend(image_parts(files, self.vision.detail, f"{prompt.path}: {'.'.join(part)}"))
                else:
                    out.append(to_text(value))
            texts.append("".join(out))
        return context.join(texts), images

    async def _rendered(self, rt: NodeRuntime, prompt: _Prompt, context: str) -> list[PromptMessage]:
        text_out, images = await self._render(rt, prompt, context)
        messages = []
        if text_out:
            messages.append(PromptMessage(role=prompt.role, content=[TextContent(data=text_out)]))
        if images:
            messages.append(PromptMessage(role=prompt.role, content=list(images)))
        return messages

    async def _messages(self, rt: NodeRuntime, context: Context | None) -> list[PromptMessage]:
        context_text = context.text if context is not None else ""
        history = await memory_messages(rt, self.memory)
        if self.completion is not None:
            return [await self._completion(rt, context_text, history)]
        messages: list[PromptMessage] = []
        for index, prompt in enumerate(self.chat):
            if index == self.history_before:
                messages.extend(history)
            messages.extend(await self._rendered(rt, prompt, context_text))
        if self.memory is not None and self.history_before is None:
            messages.extend(history)
            if self.query_prompt is not None:
                messages.extend(await self._rendered(rt, self.query_prompt, ""))
            else:
                query = to_text(rt.get_or(("sys", "query"), ""))
                if query:
                    messages.append(PromptMessage(role=PromptMessageRole.USER, content=[TextContent(data=query)]))
        return messages

    async def _completion(self, rt: NodeRuntime, context: str, history: list[PromptMessage]) -> PromptMessage:
        assert self.completion is not None
        prompt_text, images = await self._render(rt, self.completion, context)
        if self.memory is not None:
            past = memory_text(history, self.memory)
            if HISTORIES_TOKEN in prompt_text:
                prompt_text = prompt_text.replace(HISTORIES_TOKEN, past)
            elif past:
                prompt_text = f"{past}\n{prompt_text}"
        parts: list[TextContent | ImageContent] = [*images, TextContent(data=prompt_text)]
        return PromptMessage(role=PromptMessageRole.USER, content=parts)


class LLMNodeType(NodeType):
    """``llm``: calls the node's model with its prompt; inline by default (it runs no foreign code:
    models are called through the kernel)."""

    blocking = False
    schema = NodeTypeSchema(
        name="llm",
        label="LLM",
        description=(
            "Calls a language model with a chat or completion prompt (variables, Jinja2, knowledge "
            "context, memory, vision) and streams its answer; optional JSON-schema structured output."
        ),
    )

    def __init__(self) -> None:
        self.sandbox = JinjaSandbox()

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return LLMNode(node_id, config, self.sandbox)
