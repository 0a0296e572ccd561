"""treadle_sdk.model_pricing: usage with prices, computed as Dify computes them."""

from __future__ import annotations

import pytest
from treadle_sdk.model_pricing import embedding_usage, llm_usage, price
from treadle_sdk.schemas import ModelPricing

SONNET = ModelPricing(input="3.00", output="15.00", unit="0.000001", currency="USD")


def test_price_is_tokens_times_unit_price_times_unit_to_seven_places() -> None:
    """PLUG-MODEL-PRICING: unit 0.000001 means the price is per million tokens."""
    assert str(price(12, "3.00", "0.000001")) == "0.0000360"
    assert str(price(1, "0.15", "0.000001")) == "2E-7"  # the Decimal; usage writes it fixed-point
    assert str(price(1, "0.05", "0.000001")) == "1E-7"  # 0.00000005 rounds half up
    assert str(price(1, "0.04", "0.000001")) == "0E-7"
    assert str(price(0, "3.00", "0.000001")) == "0E-7"


def test_llm_usage_carries_the_twelve_fields() -> None:
    """LLMUsage: tokens, unit prices, price units, prices, total, currency, latency."""
    usage = llm_usage(SONNET, 12, 7, latency=0.25)
    assert usage.model_dump() == {
        "prompt_tokens": 12, "prompt_unit_price": "3.00", "prompt_price_unit": "0.000001",
        "prompt_price": "0.0000360", "completion_tokens": 7, "completion_unit_price": "15.00",
        "completion_price_unit": "0.000001", "completion_price": "0.0001050", "total_tokens": 19,
        "total_price": "0.0001410", "currency": "USD", "latency": 0.25,
    }


def test_small_prices_are_written_fixed_point() -> None:
    usage = llm_usage(ModelPricing(input="0.1", output="0.1", unit="0.000001"), 1, 1)
    assert (usage.prompt_price, usage.total_price) == ("0.0000001", "0.0000002")


def test_a_model_without_pricing_costs_nothing() -> None:
    usage = llm_usage(None, 5, 3, latency=1.5)
    assert (usage.total_tokens, usage.prompt_price, usage.total_price, usage.currency, usage.latency) == (
        8, "0", "0", "USD", 1.5)


def test_a_model_that_prices_only_input_charges_nothing_for_output() -> None:
    usage = llm_usage(ModelPricing(input="2", unit="0.001", currency="RMB"), 1000, 1000)
    assert (usage.prompt_price, usage.completion_price, usage.completion_price_unit) == ("2.0000000", "0.0000000", "0")
    assert (usage.total_price, usage.currency) == ("2.0000000", "RMB")


def test_embedding_usage() -> None:
    usage = embedding_usage(ModelPricing(input="0.13", unit="0.000001"), 1000, latency=0.1)
    assert (usage.tokens, usage.total_tokens, usage.unit_price, usage.price_unit) == (1000, 1000, "0.13", "0.000001")
    assert (usage.total_price, usage.currency, usage.latency) == ("0.0001300", "USD", 0.1)
    assert embedding_usage(None, 4).total_price == "0"


def test_a_price_that_is_not_a_number_is_named() -> None:
    with pytest.raises(ValueError, match="pricing price 'cheap' is not a decimal number"):
        llm_usage(ModelPricing(input="cheap"), 1, 1)
