"""Cost accounting: the price table and the arithmetic, against hand-computed figures."""

from __future__ import annotations

from typing import Any

import pytest

from bot.governance.pricing import (
    DEFAULT_PRICES,
    ModelPrices,
    PriceBook,
    ResponseUsage,
    container_cost_micros,
    container_seconds_billed,
    dollars,
    response_cost_micros,
    usage_from_api,
    with_overrides,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-5", "claude-sonnet-5"),
        ("claude-sonnet-5-20260601", "claude-sonnet-5"),
        # A longer match wins, at a "-" boundary only.
        ("claude-sonnet-5-5", "claude-sonnet-5-5"),
        ("claude-sonnet-5-5-20261001", "claude-sonnet-5-5"),
        ("claude-opus-5-5", "claude-opus-5-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ],
)
def test_models_resolve_to_their_own_row(model: str, expected: str) -> None:
    assert PriceBook().for_model(model) == DEFAULT_PRICES[expected]
    assert PriceBook().knows(model)


def test_an_unknown_model_is_priced_at_the_most_expensive_rates() -> None:
    book = PriceBook()
    assert not book.knows("claude-sonnet-50")  # no boundary: not Sonnet 5
    priced = book.for_model("claude-something-new")
    assert priced.output == max(p.output for p in DEFAULT_PRICES.values())


@pytest.mark.parametrize(
    ("usage", "micros"),
    [
        # Sonnet 5: $2 in, $10 out, $2.50 5m write, $4 1h write, $0.20 read per MTok (µ$ = rate × tokens).
        (ResponseUsage(input_tokens=1000, output_tokens=500), 2 * 1000 + 10 * 500),
        (ResponseUsage(cache_read_tokens=100_000), 20_000),
        (ResponseUsage(cache_write_5m_tokens=10_000, cache_write_1h_tokens=10_000), 25_000 + 40_000),
        (ResponseUsage(input_tokens=3, output_tokens=1, web_search_requests=2), 6 + 10 + 20_000),
    ],
)
def test_sonnet_5_costs(usage: ResponseUsage, micros: int) -> None:
    assert response_cost_micros(DEFAULT_PRICES["claude-sonnet-5"], usage) == micros


def test_haiku_5_5_long_prompts_cost_five_times_on_every_token() -> None:
    prices = DEFAULT_PRICES["claude-haiku-5-5"]
    short = ResponseUsage(input_tokens=100_000, output_tokens=1000)
    long = ResponseUsage(input_tokens=100_001, output_tokens=1000)
    assert response_cost_micros(prices, short) == round(0.10 * 100_000 + 0.50 * 1000)
    assert response_cost_micros(prices, long) == round((0.10 * 100_001 + 0.50 * 1000) * 5)


@pytest.mark.parametrize(
    ("active", "billed"), [(0, 0), (1.2, 300), (299.9, 300), (300.0, 300), (301.2, 302), (7200, 7200)]
)
def test_container_time_has_a_five_minute_minimum(active: float, billed: int) -> None:
    assert container_seconds_billed(active) == billed


@pytest.mark.parametrize(
    ("before_hours", "seconds", "micros"),
    [
        (0, 3600, 0),  # well inside the free hours
        (1549.5, 3600, 25_000),  # half an hour past them: $0.025
        (2000, 3600, 50_000),  # all paid: $0.05 an hour
        (2000, 300, round(300 * 50_000 / 3600)),
    ],
)
def test_container_cost_after_the_free_hours(before_hours: float, seconds: int, micros: int) -> None:
    book = PriceBook()
    assert container_cost_micros(book, seconds, month_seconds_before=int(before_hours * 3600)) == micros


def test_overrides_replace_single_rates_and_add_models() -> None:
    table = with_overrides({"claude-sonnet-5": {"cache_read": 0.1}, "my-model": {"input": 1, "output": 2}})
    assert table["claude-sonnet-5"] == ModelPrices(2, 10, 2.5, 4, 0.1)
    assert table["my-model"] == ModelPrices.standard(1, 2)
    with pytest.raises(ValueError, match="needs at least"):
        with_overrides({"other": {"input": 1}})
    with pytest.raises(ValueError, match="unknown price field"):
        with_overrides({"claude-sonnet-5": {"inptu": 1}})


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "$0.00"),
        (1234, "$0.0012"),
        (10_000, "$0.01"),
        (12_345_678, "$12.35"),
        (1_234_000_000, "$1,234.00"),
    ],
)
def test_dollars(micros: int, text: str) -> None:
    assert dollars(micros) == text


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({}, ResponseUsage()),
        (
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 30,
                "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
                "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
            },
            ResponseUsage(10, 5, 100, 10, 20, 2),
        ),
        # Without the breakdown every write is a 5-minute one.
        ({"cache_creation_input_tokens": 7}, ResponseUsage(cache_write_5m_tokens=7)),
    ],
)
def test_usage_from_api(usage: dict[str, Any], expected: ResponseUsage) -> None:
    assert usage_from_api(usage) == expected
