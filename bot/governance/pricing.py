"""What a turn costs, in micro-dollars (µ$), from the usage Anthropic reports (pure).

Prices are USD per million tokens, so `price × tokens` is already µ$: sums stay exact integers in the
store. Sources (fetched 2026-12): the models' overview pages on platform.claude.com
(`/docs/en/models/<model>/overview`, "Pricing") and the pricing page
(`/docs/en/about-claude/pricing`): every model has five token rates — base input, 5-minute cache
writes (1.25× input), 1-hour cache writes (2× input), cache hits (0.1× input on most models, 0.05× on
Opus 5.5) and output. Claude Haiku 5.5 is priced by prompt length: above 100,000 prompt tokens (input
+ cache reads + cache writes) every token of that request costs 5× (reported by several billing tools
against the pricing page; the bot prices each response on its own, so the band is applied exactly).

Code execution (anthropic-code-execution.md §6, from the code-execution tool page): free when the
request also has `web_search_20260209`+ or `web_fetch_20260209`+; otherwise billed by container time at
$0.05 per container-hour with a 5-minute minimum, after 1,550 free hours per organisation per month.
Web search: $10 per 1,000 searches; web fetch has no charge beyond tokens (pricing page, "Tool use").

Operators override or add models with `MODEL_PRICES` (JSON); an unknown model is priced at the most
expensive known rates, so a budget is never spent faster than it says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A container used for less than this is billed for this long (code execution pricing).
CONTAINER_MINIMUM_SECONDS = 300
WEB_SEARCH_USD_PER_REQUEST = 0.01


@dataclass(frozen=True)
class ModelPrices:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    # Prompts (input + cache reads + cache writes) over this many tokens cost `long_multiplier`× on
    # every token of that request, output included (Haiku 5.5).
    long_prompt_tokens: int | None = None
    long_multiplier: float = 1.0

    @classmethod
    def standard(cls, input: float, output: float, *, cache_read_ratio: float = 0.1) -> ModelPrices:
        """The usual ratios: 5m writes 1.25×, 1h writes 2×, reads 0.1× of input."""
        return cls(input, output, input * 1.25, input * 2, round(input * cache_read_ratio, 6))


_OPUS_4 = ModelPrices.standard(5, 25)
_SONNET_4 = ModelPrices.standard(3, 15)

# Longest matching prefix wins, and a prefix only matches at a `-` boundary: `claude-sonnet-5-5-2026…`
# is Sonnet 5.5, never Sonnet 5.
DEFAULT_PRICES: dict[str, ModelPrices] = {
    "claude-fable-5-1": ModelPrices(10, 50, 12.5, 20, 0.25),
    "claude-mythos-5-1": ModelPrices(10, 50, 12.5, 20, 0.25),
    "claude-fable-5": ModelPrices.standard(10, 50),
    "claude-mythos-5": ModelPrices.standard(10, 50),
    "claude-opus-5-5": ModelPrices(4, 20, 5, 8, 0.20),
    "claude-opus-5": ModelPrices.standard(5, 25),
    "claude-sonnet-5-5": ModelPrices.standard(2, 10),
    "claude-sonnet-5": ModelPrices.standard(2, 10),
    "claude-haiku-5-5": ModelPrices(
        0.10, 0.50, 0.125, 0.20, 0.01, long_prompt_tokens=100_000, long_multiplier=5
    ),
    "claude-opus-4-8": _OPUS_4,
    "claude-opus-4-7": _OPUS_4,
    "claude-opus-4-6": _OPUS_4,
    "claude-opus-4-5": _OPUS_4,
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-haiku-4-5": ModelPrices.standard(1, 5),
}


@dataclass(frozen=True)
class ResponseUsage:
    """The billable counts of one model response (its `usage` object)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_search_requests: int = 0

    @property
    def prompt_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
        )


def usage_from_api(usage: Mapping[str, Any]) -> ResponseUsage:
    """The billable counts of a Messages API `usage` object. Cache writes are split by TTL in
    `cache_creation` (ephemeral_5m / ephemeral_1h); without it every write counts as 5-minute."""
    creation = usage.get("cache_creation") or {}
    written = int(usage.get("cache_creation_input_tokens") or 0)
    written_1h = int(creation.get("ephemeral_1h_input_tokens") or 0)
    server = usage.get("server_tool_use") or {}
    return ResponseUsage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_write_5m_tokens=max(0, written - written_1h),
        cache_write_1h_tokens=written_1h,
        web_search_requests=int(server.get("web_search_requests") or 0),
    )


@dataclass(frozen=True)
class PriceBook:
    """The prices the bot bills with: the defaults, overridden per model by the operator."""

    models: Mapping[str, ModelPrices] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    container_usd_per_hour: float = 0.05
    container_free_hours_per_month: float = 1550.0

    def for_model(self, model: str) -> ModelPrices:
        best: str | None = None
        for name in self.models:
            if (model == name or model.startswith(name + "-")) and (best is None or len(name) > len(best)):
                best = name
        if best is not None:
            return self.models[best]
        return max(self.models.values(), key=lambda p: (p.output, p.input))

    def knows(self, model: str) -> bool:
        return any(model == name or model.startswith(name + "-") for name in self.models)


def with_overrides(overrides: Mapping[str, Mapping[str, float]]) -> dict[str, ModelPrices]:
    """The default table with the operator's `MODEL_PRICES` applied (whole rows or single rates)."""
    table = dict(DEFAULT_PRICES)
    for model, rates in overrides.items():
        base = table.get(model)
        if base is None:
            if "input" not in rates or "output" not in rates:
                raise ValueError(f"{model}: a new model needs at least `input` and `output` prices")
            base = ModelPrices.standard(float(rates["input"]), float(rates["output"]))
        unknown = set(rates) - set(ModelPrices.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{model}: unknown price field(s) {', '.join(sorted(unknown))}")
        values = {
            **base.__dict__,
            **{k: (int(v) if k == "long_prompt_tokens" else float(v)) for k, v in rates.items()},
        }
        table[model] = ModelPrices(**values)
    return table


def response_cost_micros(prices: ModelPrices, usage: ResponseUsage) -> int:
    """µ$ of one response's tokens (and web searches)."""
    factor = 1.0
    if prices.long_prompt_tokens is not None and usage.prompt_tokens > prices.long_prompt_tokens:
        factor = prices.long_multiplier
    tokens = (
        prices.input * usage.input_tokens
        + prices.output * usage.output_tokens
        + prices.cache_read * usage.cache_read_tokens
        + prices.cache_write_5m * usage.cache_write_5m_tokens
        + prices.cache_write_1h * usage.cache_write_1h_tokens
    ) * factor
    return round(tokens) + usage.web_search_requests * round(WEB_SEARCH_USD_PER_REQUEST * 1_000_000)


def container_seconds_billed(active_seconds: float) -> int:
    """A turn that used the sandbox is billed at least the 5-minute minimum."""
    if active_seconds <= 0:
        return 0
    return max(CONTAINER_MINIMUM_SECONDS, math.ceil(active_seconds))


def container_cost_micros(book: PriceBook, billed_seconds: int, *, month_seconds_before: int) -> int:
    """µ$ of `billed_seconds` of container time, after the month's free hours (`month_seconds_before`
    is what this workspace's turns already used this month)."""
    free = int(book.container_free_hours_per_month * 3600)
    paid = max(0, month_seconds_before + billed_seconds - max(free, month_seconds_before))
    return round(paid * book.container_usd_per_hour * 1_000_000 / 3600)


def dollars(micros: int) -> str:
    """µ$ as people read dollars: cents normally, more digits for small amounts."""
    value = micros / 1_000_000
    if value != 0 and abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"
