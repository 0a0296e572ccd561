"""Requests in OpenAI's chat-completions and (legacy) completions formats, built from the SDK's
prompt messages and parameters."""

from __future__ import annotations

import json
import math
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_runtime import (
    ImageContent,
    InvokeLLMArgs,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
)

__all__ = ["chat_body", "completion_body", "completion_prompt", "estimate_tokens", "message_to_wire", "prompt_tokens"]

#: Model parameters passed to the server as they are.
_PASSED = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed", "n", "logprobs",
           "top_logprobs", "max_completion_tokens")


def message_to_wire(message: PromptMessage) -> dict[str, Any]:
    """One message as OpenAI expects it: image parts as ``image_url`` with ``detail``."""
    wire: dict[str, Any] = {"role": message.role.value}
    if isinstance(message.content, list):
        wire["content"] = [
            {"type": "image_url", "image_url": {"url": part.data, "detail": part.detail}}
            if isinstance(part, ImageContent)
            else {"type": "text", "text": part.data}
            for part in message.content
        ]
    else:
        wire["content"] = message.content if message.content is not None else ""
    if message.name:
        wire["name"] = message.name
    if message.role == PromptMessageRole.ASSISTANT and message.tool_calls:
        wire["tool_calls"] = [call.model_dump() for call in message.tool_calls]
        if not message.content:
            wire["content"] = None
    if message.role == PromptMessageRole.TOOL:
        wire["tool_call_id"] = message.tool_call_id or ""
    return wire


def _tool_to_wire(tool: PromptMessageTool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _response_format(parameters: dict[str, Any]) -> dict[str, Any] | None:
    value = parameters.get("response_format")
    if value is None or value == "" or value == "text":
        return None
    if isinstance(value, dict):
        return value
    if value == "json_object":
        return {"type": "json_object"}
    if value == "json_schema":
        schema: Any = parameters.get("json_schema")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError as exc:
                raise PluginInvalidArgument(
                    f"model parameter 'json_schema' is not valid JSON: {exc}",
                    details={"field": "model_parameters.json_schema"},
                ) from None
        if not isinstance(schema, dict):
            raise PluginInvalidArgument(
                "model parameter 'response_format' is 'json_schema' but 'json_schema' holds no JSON schema object",
                details={"field": "model_parameters.json_schema"},
            )
        # Dify passes either the bare schema or OpenAI's {name, schema, strict} wrapper.
        wrapped = schema if "schema" in schema else {"name": "response", "schema": schema}
        return {"type": "json_schema", "json_schema": wrapped}
    raise PluginInvalidArgument(
        f"model parameter 'response_format' must be text, json_object or json_schema, not {value!r}",
        details={"field": "model_parameters.response_format"},
    )


def _common(args: InvokeLLMArgs, body: dict[str, Any]) -> dict[str, Any]:
    """Sampling parameters, stop sequences, usage when streaming and the user: what both formats share."""
    parameters = args.model_parameters
    for name in _PASSED:
        if parameters.get(name) is not None:
            body[name] = parameters[name]
    stop = list(args.stop)
    extra_stop = parameters.get("stop")
    if isinstance(extra_stop, str):
        stop.append(extra_stop)
    elif isinstance(extra_stop, list):
        stop.extend(str(item) for item in extra_stop)
    if stop:
        body["stop"] = stop
    if args.stream:
        body["stream_options"] = {"include_usage": True}
    if args.user:
        body["user"] = args.user
    return body


def chat_body(args: InvokeLLMArgs, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``args``, sent for ``model``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [message_to_wire(message) for message in args.prompt_messages],
        "stream": args.stream,
    }
    _common(args, body)
    response_format = _response_format(args.model_parameters)
    if response_format is not None:
        body["response_format"] = response_format
    if args.tools:
        body["tools"] = [_tool_to_wire(tool) for tool in args.tools]
    return body


def completion_prompt(messages: list[PromptMessage]) -> str:
    """The text prompt of a completion-mode call: the messages' texts, blank-line separated (Dify
    sends completion models one message holding the whole prompt)."""
    for i, message in enumerate(messages):
        if isinstance(message.content, list) and any(isinstance(part, ImageContent) for part in message.content):
            raise PluginInvalidArgument(
                f"prompt_messages[{i}] holds an image, but a completion-mode model takes text only "
                "(set the model credential 'mode' to chat for vision)",
                details={"field": f"prompt_messages[{i}].content"},
            )
    return "\n\n".join(text for text in (message.text() for message in messages) if text)


def completion_body(args: InvokeLLMArgs, model: str) -> dict[str, Any]:
    """The JSON body of ``POST /completions`` for ``args``, sent for ``model``."""
    if args.tools:
        raise PluginInvalidArgument(
            f"model {args.model!r} is in completion mode (model credential 'mode'), which cannot call "
            "tools: offer tools to a chat-mode model",
            details={"field": "tools"},
        )
    body: dict[str, Any] = {"model": model, "prompt": completion_prompt(args.prompt_messages), "stream": args.stream}
    return _common(args, body)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for servers that report no usage."""
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: list[PromptMessage], tools: list[PromptMessageTool]) -> int:
    """Estimated tokens of a prompt: its texts, tool-call arguments and tool definitions."""
    total = 0
    for message in messages:
        total += 4 + estimate_tokens(message.text())
        total += sum(estimate_tokens(call.function.name + call.function.arguments) for call in message.tool_calls)
    total += sum(estimate_tokens(json.dumps(_tool_to_wire(tool))) for tool in tools)
    return total
