"""The ``usage`` object of ``message_end`` and blocking answers: the model calls of a run, added up."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["UsageTotal", "decimal_of", "empty_usage"]

_PRICES = ("prompt_price", "completion_price", "total_price")
_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")
_UNIT = ("prompt_unit_price", "prompt_price_unit", "completion_unit_price", "completion_price_unit")


def empty_usage() -> dict[str, Any]:
    """Dify's usage object for a run that called no model: every count 0, prices ``"0"``, USD."""
    return {
        "prompt_tokens": 0,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": 0,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": 0,
        "total_price": "0",
        "currency": "USD",
        "latency": 0.0,
    }


def decimal_of(value: Any) -> Decimal:
    """``value`` (a number or a decimal string) as a Decimal; 0 when it is neither."""
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


class UsageTotal:
    """The sum of the model calls' usage objects: tokens, prices (decimal strings) and latency add up;
    unit prices and currency are the last call's."""

    def __init__(self) -> None:
        self._usage = empty_usage()
        self.calls = 0

    def add(self, usage: Mapping[str, Any]) -> None:
        """Count one node's (or one call's) usage object."""
        self.calls += 1
        total = self._usage
        for name in _TOKENS:
            total[name] += int(usage.get(name) or 0)
        for name in _PRICES:
            total[name] = str(decimal_of(total[name]) + decimal_of(usage.get(name) or 0))
        for name in _UNIT:
            if usage.get(name) is not None:
                total[name] = str(usage[name])
        if usage.get("currency"):
            total["currency"] = str(usage["currency"])
        total["latency"] = float(total["latency"]) + float(usage.get("latency") or 0.0)

    @property
    def total_tokens(self) -> int:
        """Tokens of every call counted so far."""
        return int(self._usage["total_tokens"])

    def as_dict(self) -> dict[str, Any]:
        """The usage object, as sent."""
        return dict(self._usage)
