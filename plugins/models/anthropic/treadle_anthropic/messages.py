"""From a Treadle prompt to a Messages API request body (PLUG-MODEL-MESSAGES → Anthropic's wire format).

System messages go to the top-level ``system``; tool results travel as ``tool_result`` blocks of a
user turn; consecutive messages of one role merge, because the API wants user and assistant turns
to alternate.
"""

from __future__ import annotations

import json
from typing import Any

from treadle_sdk.errors import PluginInvalidArgument
from treadle_sdk.model_runtime import ImageContent, PromptMessage, PromptMessageRole, PromptMessageTool

from .schema import DEFAULT_MAX_TOKENS, DEFAULT_THINKING_BUDGET

__all__ = ["build_body", "content_blocks", "convert_messages"]

Block = dict[str, Any]

#: Model parameters the Messages API takes as they are.
_PASSED_PARAMETERS = ("temperature", "top_p", "top_k", "max_tokens")


def _image_block(image: ImageContent, where: str) -> Block:
    if image.data.startswith("data:"):
        header, sep, data = image.data.partition(",")
        media_type = header[len("data:"):].split(";")[0]
        if not sep or ";base64" not in header or not media_type:
            raise PluginInvalidArgument(
                f"{where}: an image data URI must look like 'data:image/png;base64,...'",
                details={"field": where},
            )
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": image.data}}


def content_blocks(message: PromptMessage, where: str) -> list[Block]:
    """The text and image blocks of ``message`` (empty texts left out: the API refuses them)."""
    if message.content is None:
        return []
    if isinstance(message.content, str):
        return [{"type": "text", "text": message.content}] if message.content else []
    blocks: list[Block] = []
    for i, part in enumerate(message.content):
        if isinstance(part, ImageContent):
            blocks.append(_image_block(part, f"{where}.content[{i}]"))
        elif part.data:
            blocks.append({"type": "text", "text": part.data})
    return blocks


def _tool_input(arguments: str, where: str) -> Any:
    if not arguments.strip():
        return {}
    try:
        return json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise PluginInvalidArgument(
            f"{where}: the tool call's arguments are not JSON ({exc.msg} at character {exc.pos})",
            details={"field": where},
        ) from None


def _turn(message: PromptMessage, where: str) -> tuple[str, list[Block]]:
    if message.role == PromptMessageRole.TOOL:
        if not message.tool_call_id:
            raise PluginInvalidArgument(
                f"{where}: a tool message needs the tool_call_id of the call it answers",
                details={"field": f"{where}.tool_call_id"},
            )
        return "user", [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.text()}]
    blocks = content_blocks(message, where)
    if message.role == PromptMessageRole.ASSISTANT:
        for j, call in enumerate(message.tool_calls):
            blocks.append({
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": _tool_input(call.function.arguments, f"{where}.tool_calls[{j}].function.arguments"),
            })
        return "assistant", blocks
    return "user", blocks


def convert_messages(messages: list[PromptMessage]) -> tuple[str, list[dict[str, Any]]]:
    """The system prompt (system messages joined) and the alternating user/assistant turns."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"prompt_messages[{i}]"
        if message.role == PromptMessageRole.SYSTEM:
            if message.text():
                system.append(message.text())
            continue
        role, blocks = _turn(message, where)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def _tool(tool: PromptMessageTool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters}
    if tool.description:
        spec["description"] = tool.description
    return spec


def _thinking(parameters: dict[str, Any], body: dict[str, Any]) -> None:
    """Turn extended thinking on: the budget, and the sampling settings the API refuses with it
    (temperature, top_k, and top_p below 0.95) left out."""
    budget = parameters.get("thinking_budget") or DEFAULT_THINKING_BUDGET
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget != int(budget):
        raise PluginInvalidArgument(
            f"model_parameters.thinking_budget must be a whole number, not {budget!r}",
            details={"field": "model_parameters.thinking_budget"},
        )
    budget = int(budget)
    if budget < DEFAULT_THINKING_BUDGET or budget >= body["max_tokens"]:
        raise PluginInvalidArgument(
            f"model_parameters.thinking_budget must be at least {DEFAULT_THINKING_BUDGET} and less than "
            f"max_tokens ({body['max_tokens']}), because thinking counts against max_tokens; it is {budget}",
            details={"field": "model_parameters.thinking_budget"},
        )
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    body.pop("temperature", None)
    body.pop("top_k", None)
    if body.get("top_p", 1) < 0.95:
        del body["top_p"]


def _tool_choice(value: Any, tools: list[PromptMessageTool], thinking: bool) -> dict[str, Any]:
    where = "model_parameters.tool_choice"
    if value in ("auto", "any", "none"):
        choice: dict[str, Any] = {"type": value}
    elif isinstance(value, str) and value in {tool.name for tool in tools}:
        choice = {"type": "tool", "name": value}
    else:
        names = ", ".join(repr(tool.name) for tool in tools)
        raise PluginInvalidArgument(
            f"{where} must be 'auto', 'any', 'none' or the name of an offered tool ({names}), not {value!r}",
            details={"field": where},
        )
    if thinking and choice["type"] in ("any", "tool"):
        raise PluginInvalidArgument(
            f"{where} {value!r} forces a tool call, which extended thinking does not allow: use 'auto' or 'none'",
            details={"field": where},
        )
    return choice


def build_body(
    model: str,
    messages: list[PromptMessage],
    *,
    tools: list[PromptMessageTool] | None = None,
    parameters: dict[str, Any] | None = None,
    stop: list[str] | None = None,
    stream: bool = False,
    user: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` (without ``max_tokens`` etc. for ``count_tokens``
    callers, which drop what they do not need)."""
    system, turns = convert_messages(messages)
    body: dict[str, Any] = {"model": model, "messages": turns}
    if system:
        body["system"] = system
    for name in _PASSED_PARAMETERS:
        value = (parameters or {}).get(name)
        if value is not None:
            body[name] = value
    body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    thinking = bool((parameters or {}).get("thinking"))
    if thinking:
        _thinking(parameters or {}, body)
    if tools:
        body["tools"] = [_tool(tool) for tool in tools]
        choice = (parameters or {}).get("tool_choice")
        if choice:
            body["tool_choice"] = _tool_choice(choice, tools, thinking)
    if stop:
        body["stop_sequences"] = stop
    if stream:
        body["stream"] = True
    if user:
        body["metadata"] = {"user_id": user}
    return body
