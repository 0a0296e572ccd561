"""The prompts of the parameter-extractor and question-classifier nodes.

Worked examples are written into the system prompt rather than sent as earlier assistant turns, so
the model (and a scripted test model) sees one user turn: the text to work on.
"""

from __future__ import annotations

__all__ = [
    "CLASSIFIER_SYSTEM",
    "CLASSIFIER_USER",
    "EXTRACTOR_FUNCTION_SYSTEM",
    "EXTRACTOR_FUNCTION_USER",
    "EXTRACTOR_PROMPT_SYSTEM",
    "EXTRACTOR_PROMPT_USER",
    "EXTRACTOR_TOOL",
    "EXTRACTOR_TOOL_DESCRIPTION",
    "HISTORY_BLOCK",
    "INSTRUCTION_BLOCK",
    "extra_blocks",
]

#: The one tool offered in function-call mode.
EXTRACTOR_TOOL = "extract_parameters"
EXTRACTOR_TOOL_DESCRIPTION = "Report the parameters found in the text, as the schema describes them."

#: Added to a system prompt when the conversation so far is known (memory).
HISTORY_BLOCK = """
The conversation so far, for reference:
<histories>
{histories}
</histories>
"""

#: Added to a system prompt when the node has instructions.
INSTRUCTION_BLOCK = """
Follow these instructions from the workflow's author:
<instructions>
{instruction}
</instructions>
"""

EXTRACTOR_FUNCTION_SYSTEM = """You read a text and find the values of the parameters the tool \
`extract_parameters` asks for. Call the tool exactly once with what the text says. Leave out a \
parameter the text says nothing about rather than inventing a value.
{instruction_block}{history_block}"""

EXTRACTOR_FUNCTION_USER = """Extract the parameters from this text:
<text>
{text}
</text>"""

EXTRACTOR_PROMPT_SYSTEM = """You read a text and find the values of parameters described by a JSON \
Schema. Reply with one JSON object and nothing else: its keys are the parameter names, its values \
what the text says, in the types the schema gives. Leave out a parameter the text says nothing about \
rather than inventing a value.

Example. Schema: {{"type": "object", "properties": {{"city": {{"type": "string"}}, "days": \
{{"type": "number"}}}}, "required": ["city"]}}. Text: "Book me three nights in Lisbon." Reply: \
{{"city": "Lisbon", "days": 3}}
{instruction_block}{history_block}"""

EXTRACTOR_PROMPT_USER = """The parameters, as a JSON Schema:
<schema>
{schema}
</schema>

The text:
<text>
{text}
</text>

Reply with the JSON object only."""

CLASSIFIER_SYSTEM = """You sort a text into exactly one of the categories below. Read the text, \
pick out its key words, and choose the category that fits it best.

The categories, as JSON (each with its id and its name):
{categories}

Reply with one JSON object and nothing else, in this shape:
{{"keywords": ["key", "words"], "category_id": "the chosen category's id", "category_name": "its name"}}

Example. Categories: [{{"category_id": "c1", "category_name": "Billing"}}, {{"category_id": "c2", \
"category_name": "Technical problem"}}]. Text: "The app crashes when I open settings." Reply: \
{{"keywords": ["app", "crashes", "settings"], "category_id": "c2", "category_name": "Technical problem"}}
{instruction_block}{history_block}"""

CLASSIFIER_USER = """Classify this text:
<text>
{text}
</text>"""


def extra_blocks(instruction: str, histories: str) -> dict[str, str]:
    """The optional parts of a system prompt: the author's instructions and the conversation so far."""
    return {
        "instruction_block": INSTRUCTION_BLOCK.format(instruction=instruction.strip()) if instruction.strip() else "",
        "history_block": HISTORY_BLOCK.format(histories=histories) if histories else "",
    }
