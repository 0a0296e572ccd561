"""Process rules: how a document is cleaned and chunked (``process_rule`` of API-DOC-CREATE-TEXT).

Dify's shape, as the API takes it::

    {"mode": "automatic" | "custom" | "hierarchical",
     "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": true}, ...],
               "segmentation": {"separator": "\\n", "max_tokens": 500, "chunk_overlap": 50},
               "parent_mode": "paragraph" | "full-doc",
               "subchunk_segmentation": {"separator": "\\n", "max_tokens": 512, "chunk_overlap": 0}}}

``automatic`` is Dify's automatic rule (KB-CHUNK-GENERAL, KB-CLEANING): extra spaces removed, URLs
kept, chunks of at most 500 on ``\\n`` with an overlap of 50; for parent-child documents
(``doc_form = hierarchical_model``, KB-CHUNK-PARENT-CHILD) paragraph parents of 1024 on ``\\n\\n`` and
children of 512 on ``\\n``. ``custom`` and ``hierarchical`` take what is given, the missing fields
taking the API's documented defaults (separator ``\\n``, overlap 0). Lengths are in characters (the
kernel has no tokenizer; see :mod:`treadle.knowledge.chunking`), at most
:data:`MAX_SEGMENTATION_LENGTH` (INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from .chunking import split_general, split_parent_child
from .cleaning import clean_text
from .errors import KnowledgeInputError

__all__ = [
    "AUTOMATIC_SEGMENTATION",
    "MAX_SEGMENTATION_LENGTH",
    "PRE_PROCESSING_RULES",
    "ChunkPlan",
    "ProcessRule",
    "Segmentation",
    "parse_process_rule",
]

#: INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH: the largest chunk length a rule may ask for.
MAX_SEGMENTATION_LENGTH = 4000
#: The pre-processing rules the API knows. ``remove_stopwords`` is accepted and kept but changes
#: nothing, as in Dify (stop words matter to keyword extraction, which drops them anyway).
PRE_PROCESSING_RULES = ("remove_extra_spaces", "remove_urls_emails", "remove_stopwords")

Mode = Literal["automatic", "custom", "hierarchical"]
ParentMode = Literal["paragraph", "full-doc"]
_MODES: tuple[Mode, ...] = ("automatic", "custom", "hierarchical")
_PARENT_MODES: tuple[ParentMode, ...] = ("paragraph", "full-doc")


@dataclass(frozen=True, slots=True)
class Segmentation:
    """One chunking setting: split on ``separator``, chunks of at most ``max_tokens`` characters
    overlapping by ``chunk_overlap``."""

    separator: str
    max_tokens: int
    chunk_overlap: int

    def as_dict(self) -> dict[str, Any]:
        return {"separator": self.separator, "max_tokens": self.max_tokens, "chunk_overlap": self.chunk_overlap}


#: Dify's automatic rule for general chunking.
AUTOMATIC_SEGMENTATION = Segmentation("\n", 500, 50)
#: Dify's parent-child defaults: paragraph parents, children by line.
_AUTOMATIC_PARENT = Segmentation("\n\n", 1024, 0)
_AUTOMATIC_CHILD = Segmentation("\n", 512, 0)
#: What a custom rule's missing segmentation fields are (API-DOC-CREATE-TEXT).
_CUSTOM_DEFAULT = Segmentation("\n", 500, 0)


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """A chunk to be made: its text and, in parent-child mode, the texts of its child chunks."""

    content: str
    children: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessRule:
    """A parsed, valid process rule; :meth:`clean` and :meth:`split` apply it."""

    mode: Mode
    remove_extra_spaces: bool
    remove_urls_emails: bool
    remove_stopwords: bool
    segmentation: Segmentation
    #: Set for parent-child rules only (then ``segmentation`` is the parents' setting).
    parent_mode: ParentMode | None = None
    subchunk_segmentation: Segmentation | None = None

    @property
    def hierarchical(self) -> bool:
        return self.parent_mode is not None

    def clean(self, text: str) -> str:
        """``text`` cleaned by this rule (KB-CLEANING); Full Doc keeps URLs and e-mails."""
        urls = self.remove_urls_emails and self.parent_mode != "full-doc"
        return clean_text(text, remove_extra_spaces=self.remove_extra_spaces, remove_urls_emails=urls)

    def split(self, text: str) -> list[ChunkPlan]:
        """The chunks of (cleaned) ``text``, in order (KB-CHUNK-GENERAL, KB-CHUNK-PARENT-CHILD)."""
        seg = self.segmentation
        if self.parent_mode is None:
            chunks = split_general(text, delimiter=seg.separator, max_length=seg.max_tokens, overlap=seg.chunk_overlap)
            return [ChunkPlan(chunk) for chunk in chunks]
        child = self.subchunk_segmentation or _AUTOMATIC_CHILD
        parents = split_parent_child(
            text, parent_mode=self.parent_mode, parent_delimiter=seg.separator, parent_max_length=seg.max_tokens,
            child_delimiter=child.separator, child_max_length=child.max_tokens,
        )  # fmt: skip
        return [ChunkPlan(parent.content, parent.children) for parent in parents]

    def as_dict(self) -> dict[str, Any]:
        """The rule as the API shows it (``{mode, rules}``)."""
        rules: dict[str, Any] = {
            "pre_processing_rules": [
                {"id": "remove_extra_spaces", "enabled": self.remove_extra_spaces},
                {"id": "remove_urls_emails", "enabled": self.remove_urls_emails},
                {"id": "remove_stopwords", "enabled": self.remove_stopwords},
            ],
            "segmentation": self.segmentation.as_dict(),
        }
        if self.parent_mode is not None:
            rules["parent_mode"] = self.parent_mode
            rules["subchunk_segmentation"] = (self.subchunk_segmentation or _AUTOMATIC_CHILD).as_dict()
        return {"mode": self.mode, "rules": rules}


def parse_process_rule(raw: Mapping[str, Any] | None, doc_form: str = "text_model") -> ProcessRule:
    """The rule ``raw`` describes for a document of ``doc_form``; None is the automatic rule.

    Raises :class:`KnowledgeInputError` whose ``field`` is the path of what is wrong
    (``process_rule.rules.segmentation.max_tokens``).
    """
    hierarchical = doc_form == "hierarchical_model"
    if raw is None:
        raw = {"mode": "automatic"}
    if not isinstance(raw, Mapping):
        raise KnowledgeInputError("process_rule must be an object", "process_rule")
    mode = raw.get("mode", "automatic")
    if mode not in _MODES:
        raise KnowledgeInputError(
            f"process_rule.mode must be one of {', '.join(_MODES)}, got {mode!r}", "process_rule.mode"
        )
    if mode == "hierarchical" and not hierarchical:
        raise KnowledgeInputError(
            f"process_rule.mode 'hierarchical' needs doc_form 'hierarchical_model', not {doc_form!r}",
            "process_rule.mode",
        )
    if mode == "custom" and hierarchical:
        raise KnowledgeInputError(
            "a hierarchical_model document takes process_rule.mode 'hierarchical' or 'automatic', not 'custom'",
            "process_rule.mode",
        )
    if mode == "automatic":
        if hierarchical:
            return ProcessRule("automatic", True, False, False, _AUTOMATIC_PARENT, "paragraph", _AUTOMATIC_CHILD)
        return ProcessRule("automatic", True, False, False, AUTOMATIC_SEGMENTATION)
    rules = raw.get("rules")
    if rules is None:
        rules = {}
    if not isinstance(rules, Mapping):
        raise KnowledgeInputError("process_rule.rules must be an object", "process_rule.rules")
    flags = _pre_processing(rules.get("pre_processing_rules"))
    default = _AUTOMATIC_PARENT if hierarchical else _CUSTOM_DEFAULT
    segmentation = _segmentation(rules.get("segmentation"), "process_rule.rules.segmentation", default)
    if not hierarchical:
        return ProcessRule(cast(Mode, mode), *flags, segmentation)
    parent_mode = rules.get("parent_mode", "paragraph")
    if parent_mode not in _PARENT_MODES:
        raise KnowledgeInputError(
            f"process_rule.rules.parent_mode must be 'paragraph' or 'full-doc', got {parent_mode!r}",
            "process_rule.rules.parent_mode",
        )
    child = _segmentation(
        rules.get("subchunk_segmentation"), "process_rule.rules.subchunk_segmentation", _AUTOMATIC_CHILD
    )
    return ProcessRule(cast(Mode, mode), *flags, segmentation, cast(ParentMode, parent_mode), child)


def _pre_processing(raw: Any) -> tuple[bool, bool, bool]:
    """(remove_extra_spaces, remove_urls_emails, remove_stopwords); a rule not listed is off."""
    field = "process_rule.rules.pre_processing_rules"
    if raw is None:
        return (False, False, False)
    if not isinstance(raw, list):
        raise KnowledgeInputError(f"{field} must be a list of {{id, enabled}}", field)
    enabled: dict[str, bool] = {}
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, Mapping) or item.get("id") not in PRE_PROCESSING_RULES:
            raise KnowledgeInputError(
                f"{where} must be {{id, enabled}} with id one of {', '.join(PRE_PROCESSING_RULES)}", f"{where}.id"
            )
        flag = item.get("enabled", False)
        if not isinstance(flag, bool):
            raise KnowledgeInputError(f"{where}.enabled must be true or false, got {flag!r}", f"{where}.enabled")
        enabled[str(item["id"])] = flag
    return (
        enabled.get("remove_extra_spaces", False),
        enabled.get("remove_urls_emails", False),
        enabled.get("remove_stopwords", False),
    )


def _segmentation(raw: Any, field: str, default: Segmentation) -> Segmentation:
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        raise KnowledgeInputError(f"{field} must be an object", field)
    # "delimiter" is what Dify's pipeline and its stored automatic rule call the separator.
    separator = raw.get("separator", raw.get("delimiter", default.separator))
    if not isinstance(separator, str):
        raise KnowledgeInputError(f"{field}.separator must be a string, got {separator!r}", f"{field}.separator")
    max_tokens = _integer(raw.get("max_tokens", default.max_tokens), f"{field}.max_tokens")
    if not 1 <= max_tokens <= MAX_SEGMENTATION_LENGTH:
        raise KnowledgeInputError(
            f"{field}.max_tokens must be between 1 and {MAX_SEGMENTATION_LENGTH}, got {max_tokens}",
            f"{field}.max_tokens",
        )
    overlap = _integer(raw.get("chunk_overlap", default.chunk_overlap), f"{field}.chunk_overlap")
    if not 0 <= overlap < max_tokens:
        raise KnowledgeInputError(
            f"{field}.chunk_overlap must be at least 0 and less than max_tokens ({max_tokens}), got {overlap}",
            f"{field}.chunk_overlap",
        )
    return Segmentation(separator, max_tokens, overlap)


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise KnowledgeInputError(f"{field} must be an integer, got {value!r}", field)
    return value
