"""The Question Classifier node (NODE-QUESTION-CLASSIFIER): a model sorts a text into one of the
node's classes, and the run takes that class's branch.

DSL: ``query_variable_selector``, ``model``, ``classes: [{id, name}]`` (each class is a branch: its
edges leave from the handle named by its id), ``instruction`` (``instructions`` in some exports; may
reference variables), ``memory`` and ``vision``. The model is asked for ``{"keywords": [...],
"category_id": ..., "category_name": ...}``; the class is the one whose id it names, else the one
whose name it names, else the first class (as in Dify, a reply that names no class takes the first
branch).

Outputs: ``class_name``, ``class_id`` and ``usage``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from treadle_sdk.dsl_fields import items, mapping, parse_selector, text
from treadle_sdk.extensions import NodeType
from treadle_sdk.llm import MemoryConfig, ModelConfig, call_llm, describe_model, prompts_for_saving
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema
from treadle_sdk.templates import Selector, find_selectors, to_text

from .files import VisionConfig
from .json_text import find_json_object
from .prompting import SYSTEM_SELECTORS, Capabilities, history_text, task_messages
from .task_prompts import CLASSIFIER_SYSTEM, CLASSIFIER_USER, extra_blocks

__all__ = ["QuestionClass", "QuestionClassifierNode", "QuestionClassifierNodeType"]


@dataclass(frozen=True, slots=True)
class QuestionClass:
    """A class: its id is the branch handle."""

    id: str
    name: str


def _classes(config: Mapping[str, Any]) -> tuple[QuestionClass, ...]:
    found: list[QuestionClass] = []
    seen: set[str] = set()
    for i, item in enumerate(items(config.get("classes"), "classes")):
        entry = mapping(item, f"classes[{i}]")
        class_id = text(entry.get("id"), f"classes[{i}].id").strip()
        if not class_id:
            raise NodeConfigError("a class needs an id (its branch handle)", f"classes[{i}].id")
        if class_id in seen:
            raise NodeConfigError(f"the class id {class_id!r} is used twice", f"classes[{i}].id")
        seen.add(class_id)
        found.append(QuestionClass(class_id, text(entry.get("name"), f"classes[{i}].name")))
    if not found:
        raise NodeConfigError("give at least one class", "classes")
    return tuple(found)


class QuestionClassifierNode(PreparedNode):
    """A prepared question-classifier node (see the module docstring)."""

    def __init__(self, node_id: str, config: Mapping[str, Any]) -> None:
        self.node_id = node_id
        self.config = config
        self.query = parse_selector(config.get("query_variable_selector"), "query_variable_selector")
        self.model = ModelConfig.parse(config.get("model"))
        self.classes = _classes(config)
        key = "instruction" if config.get("instruction") is not None else "instructions"
        self.instruction = text(config.get(key), key)
        self.memory = MemoryConfig.parse(config.get("memory"))
        self.vision = VisionConfig.parse(config.get("vision"))

    def selectors(self) -> list[Selector]:
        return list(dict.fromkeys([self.query, *find_selectors(self.config), *SYSTEM_SELECTORS]))

    def choose(self, answer: str) -> QuestionClass:
        """The class a model's answer names (see the module docstring)."""
        found = find_json_object(answer) or {}
        chosen_id = found.get("category_id")
        if chosen_id is not None:
            for candidate in self.classes:
                if candidate.id == to_text(chosen_id).strip():
                    return candidate
        chosen_name = found.get("category_name")
        if isinstance(chosen_name, str) and chosen_name.strip():
            wanted = chosen_name.strip().casefold()
            for candidate in self.classes:
                if candidate.name.strip().casefold() == wanted:
                    return candidate
        return self.classes[0]

    async def run(self, rt: NodeRuntime) -> NodeResult:
        capabilities = Capabilities.of(await describe_model(rt, self.model))
        query = to_text(rt.get_or(self.query))
        instruction = rt.render(self.instruction)
        listed = [{"category_id": c.id, "category_name": c.name} for c in self.classes]
        categories = json.dumps(listed, ensure_ascii=False)
        system = CLASSIFIER_SYSTEM.format(
            categories=categories, **extra_blocks(instruction, await history_text(rt, self.memory))
        )
        user = CLASSIFIER_USER.format(text=query)
        messages = task_messages(self.model.mode, system, user, self.vision.images(self.vision.files(rt)), capabilities)
        answer = await call_llm(rt, self.model, messages, stream=False)
        chosen = self.choose(answer.text)
        usage = answer.usage.model_dump(mode="json")
        process_data = {
            "model_mode": self.model.mode,
            "prompts": prompts_for_saving(self.model.mode, messages),
            "usage": usage,
            "finish_reason": answer.finish_reason,
            "llm_text": answer.text,
            "model_provider": self.model.provider,
            "model_name": self.model.name,
        }
        outputs = {"class_name": chosen.name, "class_id": chosen.id, "usage": usage}
        inputs = {"query": query, "instruction": instruction}
        return NodeResult(outputs, handle=chosen.id, inputs=inputs, process_data=process_data)


class QuestionClassifierNodeType(NodeType):
    """``question-classifier``: a model picks one class; the run follows that class's branch."""

    blocking = False
    schema = NodeTypeSchema(
        name="question-classifier",
        label="Question Classifier",
        description="Has a model sort a text into one of the node's classes; each class is a branch.",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        return QuestionClassifierNode(node_id, config)
