"""Metadata filtering of retrieval (KB-META-FILTER, APP-METADATA-FILTER, KB-EXT-SPEC).

A filter is Dify's ``metadata_condition``::

    {"logical_operator": "and", "conditions": [
        {"name": "category", "comparison_operator": "is", "value": "guide"},
        {"name": "year", "comparison_operator": "≥", "value": 2024}]}

and :func:`allowed_documents` turns it into the ids of the documents whose metadata meets it; the
retriever then searches only those (vector and full-text alike). Values come from
``Document.doc_metadata``, plus the built-in fields (``document_name``, ``uploader``,
``upload_date``, ``last_update_date``, ``source``) of datasets that switched them on.

Operators, by the type of the field (names as Dify writes them; ``starts with``, ``!=``, ``>=``,
``<=`` and ``==`` are read as ``start with``, ``≠``, ``≥``, ``≤`` and ``=``):

- text: ``is``, ``is not``, ``contains``, ``not contains``, ``start with``, ``end with``, ``in``,
  ``not in`` (a list, or a comma-separated string), ``empty``, ``not empty``. Case-sensitive and exact.
- number: ``=``, ``≠``, ``>``, ``<``, ``≥``, ``≤`` (both sides read as numbers).
- time: ``is``, ``before``, ``after`` (Unix seconds, or ISO 8601 text; a date alone is midnight UTC).

A document without the field meets only ``empty``: like a database comparing with NULL, ``is not
x`` and ``not contains x`` do not hold for a value that is not there.

Automatic mode (:func:`conditions_from_query`) asks an LLM to derive conditions from the query over
the fields the datasets share (:func:`shared_fields`), and keeps the ones that name such a field
with an operator of its type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from treadle_sdk.context import KernelClient
from treadle_sdk.model_runtime import PromptMessage, PromptMessageRole

from ..store import Account, Database, Dataset, DatasetMetadataField, Document
from .errors import KnowledgeInputError

__all__ = [
    "BUILT_IN_FIELDS",
    "OPERATORS",
    "MetadataCondition",
    "MetadataField",
    "MetadataFilter",
    "allowed_documents",
    "conditions_from_query",
    "shared_fields",
]

FieldType = Literal["string", "number", "time"]

_TEXT_OPERATORS = ("is", "is not", "contains", "not contains", "start with", "end with", "in", "not in")
_NUMBER_OPERATORS = ("=", "≠", ">", "<", "≥", "≤")
_TIME_OPERATORS = ("is", "before", "after")
_PRESENCE = ("empty", "not empty")
#: Every operator, canonical spelling.
OPERATORS: tuple[str, ...] = tuple(dict.fromkeys(_TEXT_OPERATORS + _NUMBER_OPERATORS + _TIME_OPERATORS + _PRESENCE))
_OPERATORS_OF: dict[FieldType, tuple[str, ...]] = {
    "string": _TEXT_OPERATORS + _PRESENCE,
    "number": _NUMBER_OPERATORS + _PRESENCE,
    "time": _TIME_OPERATORS + _PRESENCE,
}
_ALIASES = {
    "starts with": "start with", "ends with": "end with", "not_contains": "not contains", "!=": "≠", "==": "=",
    ">=": "≥", "<=": "≤", "is_not": "is not", "not_in": "not in", "is empty": "empty", "is not empty": "not empty",
    "not_empty": "not empty",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetadataField:
    """A metadata field a filter can test."""

    name: str
    type: FieldType


#: The fields the system fills when a dataset switches built-in fields on (KB-METADATA-FIELDS).
BUILT_IN_FIELDS = (
    MetadataField("document_name", "string"),
    MetadataField("uploader", "string"),
    MetadataField("upload_date", "time"),
    MetadataField("last_update_date", "time"),
    MetadataField("source", "string"),
)
#: Dify's names for where a document came from (the built-in ``source`` field).
_SOURCES = {"upload_file": "file_upload", "notion_import": "notion", "website_crawl": "website"}


@dataclass(frozen=True, slots=True)
class MetadataCondition:
    """One condition: the field ``name`` compared by ``comparison_operator`` with ``value``."""

    name: str
    comparison_operator: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "comparison_operator": self.comparison_operator, "value": self.value}

    def holds(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a document with ``metadata`` meets the condition."""
        present = metadata.get(self.name)
        missing = present is None or present == "" or present == []
        if self.comparison_operator == "empty":
            return missing
        if self.comparison_operator == "not empty" or missing:
            return not missing
        return _COMPARE[self.comparison_operator](present, self.value)


@dataclass(frozen=True, slots=True)
class MetadataFilter:
    """Conditions combined with ``and`` (all hold) or ``or`` (one holds)."""

    conditions: tuple[MetadataCondition, ...]
    logical_operator: Literal["and", "or"] = "and"

    def holds(self, metadata: Mapping[str, Any]) -> bool:
        results = (condition.holds(metadata) for condition in self.conditions)
        return all(results) if self.logical_operator == "and" else any(results)

    def as_dict(self) -> dict[str, Any]:
        return {"logical_operator": self.logical_operator, "conditions": [c.as_dict() for c in self.conditions]}

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | MetadataFilter | None, *, field: str = "metadata_condition") -> (
        MetadataFilter | None
    ):  # fmt: skip
        """A filter from Dify's shape; None for None or no conditions. Raises
        :class:`KnowledgeInputError` naming the offending path."""
        if raw is None or isinstance(raw, MetadataFilter):
            return raw if raw is None or raw.conditions else None
        if not isinstance(raw, Mapping):
            raise KnowledgeInputError(f"{field} must be an object, not {type(raw).__name__}", field)
        logical = raw.get("logical_operator") or "and"
        if logical not in ("and", "or"):
            raise KnowledgeInputError(f"logical_operator must be 'and' or 'or', not {logical!r}",
                                      f"{field}.logical_operator")  # fmt: skip
        items = raw.get("conditions") or []
        if not isinstance(items, list):
            raise KnowledgeInputError("conditions must be a list", f"{field}.conditions")
        conditions = tuple(_condition(item, f"{field}.conditions[{i}]") for i, item in enumerate(items))
        return cls(conditions, cast(Literal["and", "or"], logical)) if conditions else None


def _condition(raw: Any, field: str) -> MetadataCondition:
    if not isinstance(raw, Mapping):
        raise KnowledgeInputError(f"a condition must be an object, not {type(raw).__name__}", field)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise KnowledgeInputError("name is required: the metadata field to test", f"{field}.name")
    operator = raw.get("comparison_operator")
    operator = _ALIASES.get(operator, operator) if isinstance(operator, str) else operator
    if operator not in OPERATORS:
        raise KnowledgeInputError(
            f"comparison_operator must be one of {', '.join(OPERATORS)}, not {operator!r}",
            f"{field}.comparison_operator",
        )
    value = raw.get("value")
    if operator not in _PRESENCE and (value is None or value == ""):
        raise KnowledgeInputError(f"{operator!r} needs a value", f"{field}.value")
    if operator in ("=", "≠", ">", "<", "≥", "≤") and _number(value) is None:
        raise KnowledgeInputError(f"{operator!r} compares numbers, not {value!r}", f"{field}.value")
    if operator in ("before", "after") and _time(value) is None:
        raise KnowledgeInputError(
            f"{operator!r} compares times (Unix seconds or ISO 8601), not {value!r}", f"{field}.value"
        )
    return MetadataCondition(name, operator, value)


# -- comparisons ----------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _time(value: Any) -> float | None:
    """Unix seconds of a number, or of ISO 8601 text (naive times and dates are UTC)."""
    number = _number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        parsed = datetime(day.year, day.month, day.day)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _same(present: Any, wanted: Any) -> bool:
    # Numbers compare as numbers (2 is 2.0); text exactly, as written ("007" is not "7").
    if not isinstance(present, str) and not isinstance(wanted, str):
        a, b = _number(present), _number(wanted)
        if a is not None and b is not None:
            return a == b
    return str(present) == str(wanted)


def _members(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [part.strip() for part in str(value).split(",")]


def _numbers(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def test(present: Any, wanted: Any) -> bool:
        a, b = _number(present), _number(wanted)
        return a is not None and b is not None and compare(a, b)

    return test


def _times(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def test(present: Any, wanted: Any) -> bool:
        a, b = _time(present), _time(wanted)
        return a is not None and b is not None and compare(a, b)

    return test


def _is(present: Any, wanted: Any) -> bool:
    if _same(present, wanted):
        return True
    # A time field holds Unix seconds; "is 2024-05-01T00:00:00Z" means the same instant.
    a, b = _time(present), _time(wanted)
    return isinstance(wanted, str) and _number(wanted) is None and a is not None and a == b


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "is": _is,
    "is not": lambda p, w: not _is(p, w),
    "contains": lambda p, w: str(w) in str(p),
    "not contains": lambda p, w: str(w) not in str(p),
    "start with": lambda p, w: str(p).startswith(str(w)),
    "end with": lambda p, w: str(p).endswith(str(w)),
    "in": lambda p, w: any(_same(p, m) for m in _members(w)),
    "not in": lambda p, w: not any(_same(p, m) for m in _members(w)),
    "=": _numbers(lambda a, b: a == b),
    "≠": _numbers(lambda a, b: a != b),
    ">": _numbers(lambda a, b: a > b),
    "<": _numbers(lambda a, b: a < b),
    "≥": _numbers(lambda a, b: a >= b),
    "≤": _numbers(lambda a, b: a <= b),
    "before": _times(lambda a, b: a < b),
    "after": _times(lambda a, b: a > b),
}


# -- documents ------------------------------------------------------------------------------------------


async def allowed_documents(
    session_or_db: AsyncSession | Database, dataset_ids: Sequence[str], metadata_filter: MetadataFilter
) -> set[str]:
    """The ids of the documents of ``dataset_ids`` whose metadata meets ``metadata_filter``."""
    if isinstance(session_or_db, Database):
        async with session_or_db.session() as session:
            return await _allowed(session, dataset_ids, metadata_filter)
    return await _allowed(session_or_db, dataset_ids, metadata_filter)


async def _allowed(session: AsyncSession, dataset_ids: Sequence[str], metadata_filter: MetadataFilter) -> set[str]:
    built_in = set(await session.scalars(
        select(Dataset.id).where(Dataset.id.in_(dataset_ids), Dataset.built_in_field_enabled.is_(True))
    ))  # fmt: skip
    rows = await session.execute(
        select(Document.id, Document.dataset_id, Document.doc_metadata, Document.name, Document.created_at,
               Document.updated_at, Document.data_source_type, Account.name)
        .outerjoin(Account, Account.id == Document.created_by)
        .where(Document.dataset_id.in_(dataset_ids))
    )  # fmt: skip
    allowed = set()
    for doc_id, dataset_id, doc_metadata, name, created_at, updated_at, source, uploader in rows:
        metadata: dict[str, Any] = dict(doc_metadata or {})
        if dataset_id in built_in:
            for key, value in (
                ("document_name", name), ("uploader", uploader or ""), ("upload_date", int(created_at.timestamp())),
                ("last_update_date", int(updated_at.timestamp())), ("source", _SOURCES.get(source, source)),
            ):  # fmt: skip
                metadata.setdefault(key, value)
        if metadata_filter.holds(metadata):
            allowed.add(doc_id)
    return allowed


async def shared_fields(session_or_db: AsyncSession | Database, dataset_ids: Sequence[str]) -> list[MetadataField]:
    """The fields every one of ``dataset_ids`` has (same name and type), the built-in ones when all
    switched them on; what a filter over several datasets may test (KB-META-FILTER)."""
    if isinstance(session_or_db, Database):
        async with session_or_db.session() as session:
            return await shared_fields(session, dataset_ids)
    session = session_or_db
    ids = list(dict.fromkeys(dataset_ids))
    if not ids:
        return []
    rows = (await session.execute(
        select(DatasetMetadataField.dataset_id, DatasetMetadataField.name, DatasetMetadataField.type)
        .where(DatasetMetadataField.dataset_id.in_(ids))
    )).all()  # fmt: skip
    per_dataset: dict[str, set[tuple[str, str]]] = {dataset_id: set() for dataset_id in ids}
    for dataset_id, name, kind in rows:
        per_dataset[dataset_id].add((name, kind))
    common = set.intersection(*per_dataset.values())
    fields = [MetadataField(name, cast(FieldType, kind)) for name, kind in sorted(common)]
    enabled = set(await session.scalars(
        select(Dataset.id).where(Dataset.id.in_(ids), Dataset.built_in_field_enabled.is_(True))
    ))  # fmt: skip
    if enabled == set(ids):
        fields += [f for f in BUILT_IN_FIELDS if f.name not in {c.name for c in fields}]
    return fields


# -- automatic mode -------------------------------------------------------------------------------------

_PROMPT = """You turn a search query into metadata filter conditions.
Metadata fields (name: type): {fields}
Operators by type: string: {string}; number: {number}; time: {time}.
Time values are ISO 8601 dates. Use only the fields listed, and only the conditions the query states or clearly
implies; none at all is a fine answer.
Answer with JSON only, in this form:
{{"metadata_map": [{{"metadata_field_name": "...", "metadata_field_value": "...", "comparison_operator": "..."}}]}}

Query: {query}"""

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


async def conditions_from_query(
    kernel: KernelClient,
    provider: str,
    model: str,
    query: str,
    fields: Sequence[MetadataField],
    *,
    model_parameters: Mapping[str, Any] | None = None,
) -> MetadataFilter | None:
    """Conditions an LLM derives from ``query`` over ``fields`` (KB-META-FILTER automatic mode), ANDed;
    None when there are no fields or the model names none that can be used. A condition naming an
    unknown field, an operator its type does not have, or no value is left out."""
    if not fields:
        return None
    prompt = _PROMPT.format(
        fields=", ".join(f"{f.name}: {f.type}" for f in fields), query=query,
        string=", ".join(_OPERATORS_OF["string"]), number=", ".join(_OPERATORS_OF["number"]),
        time=", ".join(_OPERATORS_OF["time"]),
    )  # fmt: skip
    message = PromptMessage(role=PromptMessageRole.USER, content=prompt)
    parts = [
        chunk.delta.message.content
        async for chunk in kernel.ainvoke_llm(
            provider, model, [message], model_parameters=dict(model_parameters or {}), stream=False
        )
    ]
    return _parse_answer("".join(parts), {f.name: f.type for f in fields})


def _parse_answer(answer: str, types: Mapping[str, FieldType]) -> MetadataFilter | None:
    found = _JSON_OBJECT.search(re.sub(r"<think>.*?</think>", "", answer, flags=re.DOTALL))
    if found is None:
        return None
    try:
        data = json.loads(found.group(0))
    except ValueError:
        return None
    items = data.get("metadata_map") if isinstance(data, dict) else None
    conditions = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("metadata_field_name")
        operator = item.get("comparison_operator")
        operator = _ALIASES.get(operator, operator) if isinstance(operator, str) else operator
        if not isinstance(name, str) or name not in types or operator not in _OPERATORS_OF[types[name]]:
            continue
        try:
            conditions.append(_condition(
                {"name": name, "comparison_operator": operator, "value": item.get("metadata_field_value")}, "answer"
            ))  # fmt: skip
        except KnowledgeInputError:
            continue
    return MetadataFilter(tuple(conditions)) if conditions else None
