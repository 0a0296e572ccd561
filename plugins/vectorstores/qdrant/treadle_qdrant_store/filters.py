"""The filter language of vector stores as a Qdrant ``Filter`` over the ``metadata`` payload."""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client.http import models
from treadle_sdk.vector_filter import FilterCondition, FilterValue

__all__ = ["METADATA", "qdrant_filter"]

#: The payload key records' metadata lives under (beside ``id`` and ``text``).
METADATA = "metadata"


def _match_any(key: str, values: Sequence[FilterValue]) -> list[models.Condition]:
    """Conditions of which at least one holds when the field is one of ``values``."""
    # MatchAny takes only all strings or all integers; booleans and mixtures go one value at a time.
    if all(isinstance(v, str) for v in values) or all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return [models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))]
    return [models.FieldCondition(key=key, match=models.MatchValue(value=v)) for v in values]


def qdrant_filter(conditions: Sequence[FilterCondition]) -> models.Filter | None:
    """The Filter of ``conditions``; None for none. Callers rule out ``{"in": []}`` first."""
    must: list[models.Condition] = []
    must_not: list[models.Condition] = []
    for condition in conditions:
        if not condition.values:
            continue  # an empty not_in excludes nothing
        key = f"{METADATA}.{condition.field}"
        alternatives = _match_any(key, condition.values)
        if condition.op == "not_in":
            must_not.extend(alternatives)
        elif len(alternatives) == 1:
            must.append(alternatives[0])
        else:
            must.append(models.Filter(should=alternatives))
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)
