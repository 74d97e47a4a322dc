"""The benchmark's billing arithmetic (bench/pricing.py): the documented multipliers, applied right."""

from __future__ import annotations

from typing import Any

import pytest

from bench.pricing import cost_usd, with_ttl


@pytest.mark.parametrize(
    ("usage", "usd"),
    [
        ({"input_tokens": 1_000_000}, 3.0),
        ({"output_tokens": 1_000_000}, 15.0),
        ({"cache_read_input_tokens": 1_000_000}, 0.3),  # 0.1x
        ({"cache_creation_input_tokens": 1_000_000}, 3.75),  # 5m writes: 1.25x
        (
            {
                "cache_creation_input_tokens": 1_000_000,
                "cache_creation": {"ephemeral_1h_input_tokens": 1_000_000, "ephemeral_5m_input_tokens": 0},
            },
            6.0,  # 1h writes: 2x
        ),
    ],
)
def test_prices_are_the_documented_multiples_of_the_input_price(usage: dict[str, Any], usd: float) -> None:
    assert cost_usd(usage) == pytest.approx(usd)


def test_with_ttl_sets_every_breakpoint_or_one_per_breakpoint() -> None:
    body: dict[str, Any] = {
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "c", "cache_control": {"type": "ephemeral"}}],
            },
        ],
    }

    def ttls(out: dict[str, Any]) -> list[str]:
        blocks = [*out["system"], *(b for m in out["messages"] for b in m["content"])]
        return [b["cache_control"]["ttl"] for b in blocks if "cache_control" in b]

    assert ttls(with_ttl(body, "1h")) == ["1h", "1h", "1h"]
    assert ttls(with_ttl(body, ["1h", "5m"])) == ["1h", "5m", "5m"]
    assert "ttl" not in body["system"][0]["cache_control"]  # a copy
