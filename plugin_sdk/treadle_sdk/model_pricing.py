"""What a model call cost: token counts and a model's pricing (PLUG-MODEL-PRICING) into usage.

Prices are computed as Dify computes them: ``tokens * unit price * unit`` in decimal arithmetic,
rounded half-up to seven decimal places, so a usage object (and the Service API ``usage`` built from
it) carries the same strings Dify would show. A model without pricing costs zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .model_runtime import EmbeddingUsage, LLMUsage
from .schemas import ModelPricing

__all__ = ["embedding_usage", "llm_usage", "price"]

_SEVEN_PLACES = Decimal("0.0000001")


def _decimal(value: str | None, what: str) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        raise ValueError(f"pricing {what} {value!r} is not a decimal number") from None


def _text(amount: Decimal) -> str:
    # Fixed-point always: str() would write small amounts as 6E-7.
    return format(amount, "f")


def price(tokens: int, unit_price: str | None, unit: str) -> Decimal:
    """The price of ``tokens`` at ``unit_price`` per ``1 / unit`` tokens, rounded to seven places."""
    amount = Decimal(tokens) * _decimal(unit_price, "price") * _decimal(unit, "unit")
    return amount.quantize(_SEVEN_PLACES, rounding=ROUND_HALF_UP)


def llm_usage(
    pricing: ModelPricing | None, prompt_tokens: int, completion_tokens: int, *, latency: float = 0.0
) -> LLMUsage:
    """The usage of one LLM call with its prices; ``latency`` in seconds."""
    total_tokens = prompt_tokens + completion_tokens
    if pricing is None:
        return LLMUsage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=total_tokens,
            latency=latency,
        )
    prompt_price = price(prompt_tokens, pricing.input, pricing.unit)
    # A model that prices only input (PLUG-MODEL-PRICING ``output`` is optional) charges nothing for output.
    completion_price = price(completion_tokens, pricing.output, pricing.unit)
    return LLMUsage(
        prompt_tokens=prompt_tokens,
        prompt_unit_price=pricing.input,
        prompt_price_unit=pricing.unit,
        prompt_price=_text(prompt_price),
        completion_tokens=completion_tokens,
        completion_unit_price=pricing.output or "0",
        completion_price_unit=pricing.unit if pricing.output is not None else "0",
        completion_price=_text(completion_price),
        total_tokens=total_tokens,
        total_price=_text(prompt_price + completion_price),
        currency=pricing.currency,
        latency=latency,
    )


def embedding_usage(pricing: ModelPricing | None, tokens: int, *, latency: float = 0.0) -> EmbeddingUsage:
    """The usage of one embedding call (input tokens only) with its price."""
    if pricing is None:
        return EmbeddingUsage(tokens=tokens, total_tokens=tokens, latency=latency)
    return EmbeddingUsage(
        tokens=tokens,
        total_tokens=tokens,
        unit_price=pricing.input,
        price_unit=pricing.unit,
        total_price=_text(price(tokens, pricing.input, pricing.unit)),
        currency=pricing.currency,
        latency=latency,
    )
