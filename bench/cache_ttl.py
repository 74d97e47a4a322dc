"""`cache_ttl`: what a thread whose turns are minutes apart is billed, with 5-minute and 1-hour cache
breakpoints (issue 12, item 7).

The real bot answers a 10-turn analysis thread; between turns the Anthropic emulator's clock is moved
on by the gap (`advance_clock`), so its prompt cache and containers live through ten-minute pauses
without the benchmark waiting for them. The bot's requests are then replayed through the emulator's
cache accounting with every breakpoint at `5m`, at `1h`, and "hybrid" (`1h` on the system prompt and
the stored history's end, `5m` on the breakpoints of the turn in progress), at the same times (and
again as if the turns had been one minute apart, and at a mixed pace, `MIXED_GAPS_MIN`), and priced
with the documented multipliers (bench/pricing.py).
"""

from __future__ import annotations

from typing import Any

from bench.pricing import Sent, cost_usd, replay
from bench.scenarios import rig
from emulators.anthropic import ModelRequest, Python, Say, Step

# A data-analysis turn of realistic size: a cell that prints a small table, an answer about it.
CELL = """
import statistics
rows = [(month, round(100 + {n} * 3.7 + month * 1.3, 1)) for month in range(1, 61)]
print("month  revenue")
for month, revenue in rows:
    print(f"{{month:5}}  {{revenue:8.1f}}")
print("mean", round(statistics.mean(r for _, r in rows), 2))
"""
# A Slack thread's pace: some replies within a minute or two, others after a meeting or lunch.
MIXED_GAPS_MIN = [2, 1, 12, 3, 45, 1, 20, 2, 90]
ANSWER = "Revenue rises steadily month over month; the mean is shown above, with no outliers. " * 8


def analyst(request: ModelRequest) -> list[Step]:
    n = request.user_turns
    return [Say(f"Step {n}: computing the monthly figures."), Python(CELL.format(n=n)), Say(ANSWER)]


async def cache_ttl(turns: int, gap_s: float, settings: dict[str, str]) -> dict[str, Any]:
    async with rig(settings) as r:
        r.claude.model = analyst
        turn_starts: list[int] = []  # index of each turn's first request
        root = ""
        for turn in range(turns):
            if turn:
                r.claude.advance_clock(gap_s)
            turn_starts.append(len(r.claude.requests))
            if turn == 0:
                root = await r.slack.post("ana", "let's analyse the monthly revenue", mention=True)
            else:
                await r.slack.post("ana", f"now step {turn + 1}", thread_ts=root)
            await r.until(lambda n=turn + 1: r.slack.count("chat.stopStream") >= n, 60)  # type: ignore[misc]
        records = [req for req in r.claude.requests if req.response and req.body]
        turn_of = [sum(1 for s in turn_starts if s <= i) - 1 for i in range(len(r.claude.requests))]
        bot_usd = sum(cost_usd(req.response["usage"]) for req in records if req.response)
        ttls = sorted(
            {
                str((b.get("cache_control") or {}).get("ttl", "5m"))
                for req in records
                if req.body
                for b in [*req.body["system"], *(x for m in req.body["messages"] for x in m["content"])]
                if isinstance(b, dict) and b.get("cache_control")
            }
        )
        first_at = {turn_of[i]: r.claude.requests[i].received_at for i in turn_starts}

        def sent(gaps: list[float]) -> list[Sent]:
            """The requests, timed as if the turns had been `gaps` apart."""
            starts = [sum(gaps[:turn]) for turn in range(turns)]
            out = []
            for i, req in enumerate(r.claude.requests):
                if req.response is None or req.body is None:
                    continue
                turn = turn_of[i]
                at = req.received_at - first_at[turn] + starts[turn]
                out.append(Sent(req.body, at, int(req.response["usage"]["output_tokens"]), turn))
            return out

        minimum = r.claude.min_cacheable_tokens
        figures: dict[str, Any] = {
            "turns": turns,
            "gap_minutes": round(gap_s / 60, 1),
            "requests": len(records),
            "bot_cache_ttls": ",".join(ttls),
            "bot_billed_usd": round(bot_usd, 4),
            "container_restores": sum(c.restores for c in r.claude.containers.values()),
        }
        profiles = {
            "": [gap_s] * turns,
            "_1min_gaps": [60.0] * turns,
            "_mixed_gaps": [MIXED_GAPS_MIN[k % len(MIXED_GAPS_MIN)] * 60.0 for k in range(turns)],
        }
        for label, gaps in profiles.items():
            for name, ttl in (("5m", "5m"), ("1h", "1h"), ("hybrid", _hybrid)):
                usages = replay(sent(gaps), ttl, min_cacheable_tokens=minimum)
                figures[f"usd_{name}_ttl{label}"] = round(sum(cost_usd(u) for u in usages), 4)
            five, hour = figures[f"usd_5m_ttl{label}"], figures[f"usd_1h_ttl{label}"]
            figures[f"saving_1h_vs_5m{label}"] = round(1 - hour / five, 3) if five else 0.0
        return figures


def _hybrid(sent: Sent) -> list[str]:
    """1h on the system prompt and the end of the stored history, 5m on this turn's breakpoints."""
    return ["1h", "1h", "5m"] if sent.turn else ["1h", "5m"]
