"""Busy channel (issue 15): many mentions at once in one channel, against Slack's rate limits.

The Slack emulator enforces its limits (token buckets, rate_limits.py) from the start, with its
default bursts. The bot runs with its default settings (`SLACK_RATE_LIMITS=tiers`: paced), then again
with `SLACK_RATE_LIMITS=off` (no pacing: it only obeys 429 + Retry-After). Next to both, the best any
bot could do under the same limiter (`optimum`), computed from its parameters. Each answer is a
line of words with no sentence end before its last, so that a split inside a word would show.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from bench.scenarios import BENCH_LATENCY, SLACK_WRITES, first_sent, percentile, rig
from emulators.anthropic import ModelRequest, Say, Step
from emulators.slack.rate_limits import (
    POST_MESSAGE_BURST,
    POST_MESSAGE_PER_SECOND,
    TIER_BURST_MINUTES,
    TIER_PER_MINUTE,
)

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa"
# 800 characters (200 tokens at the emulator's four characters a token): a 6.0 s answer.
ANSWER = (" ".join([WORDS] * 12))[:799].rsplit(" ", 1)[0] + "."
STALL_SECONDS = 60.0


def answer(_: ModelRequest) -> list[Step]:
    return [Say(ANSWER)]


@dataclass(frozen=True)
class Limits:
    """What the emulator allows: posts per channel, and the tiers the answer's writes use."""

    post_per_s: float = POST_MESSAGE_PER_SECOND
    post_burst: float = POST_MESSAGE_BURST
    tier_burst: float = TIER_BURST_MINUTES

    def tier(self, name: str) -> tuple[float, float]:
        per_minute = TIER_PER_MINUTE[name]
        return per_minute / 60, max(1.0, per_minute * self.tier_burst)


def optimum(n: int, first_token_s: float, done_s: float, limits: Limits) -> dict[str, float]:
    """The best any bot could do for `n` answers at once in one channel under `limits`.

    An answer needs a message of its own: a post (per channel bucket), or a stream (a
    `chat.startStream`, and a `chat.stopStream` once the answer is complete: Tier 2 each). A message
    can open once text exists (`first_token_s`); a post made before the answer is complete (`done_s`)
    needs a `chat.update` after (Tier 3). A sign of life is a status (Tier 3) or a reaction (Tier 3).
    """
    t2_rate, t2_burst = limits.tier("t2")
    t3_rate, t3_burst = limits.tier("t3")

    def complete_by(w: float) -> int:
        if w < done_s:
            return 0
        streams = math.floor(min(t2_burst + (w - first_token_s) * t2_rate, t2_burst + (w - done_s) * t2_rate))
        posts = math.floor(limits.post_burst + (w - first_token_s) * limits.post_per_s)
        early = math.floor(limits.post_burst + (done_s - first_token_s) * limits.post_per_s)
        updates = math.floor(t3_burst + (w - done_s) * t3_rate)
        return streams + posts - max(0, min(posts, early) - updates)

    wall = done_s
    while complete_by(wall) < n:
        wall += 0.01
    # The k-th sign of life: statuses and reactions, both full at first, then both refilling.
    signs = [max(0.0, (k + 1 - 2 * t3_burst) / (2 * t3_rate)) for k in range(n)]
    return {"wall_s": round(wall, 2), "first_visible_p95_s": round(percentile(signs, 95), 2)}


def _intact(text: str) -> tuple[bool, bool]:
    """(nothing lost, no word split): the answer's words all there, and none cut by a message break."""
    flat = re.sub(r"\s+", "", text)
    whole = re.sub(r"\s+", " ", text)
    return re.sub(r"\s+", "", ANSWER) in flat, ANSWER in whole


async def run_once(mentions: int, settings: dict[str, str]) -> dict[str, Any]:
    async with rig(settings, latency=BENCH_LATENCY) as r:
        r.claude.model = answer
        await r.slack.tiers(True)
        limited_before = r.slack.rate_limited
        await r.slack.refresh()
        first = len(r.slack.calls)
        roots = await r.slack.mentions(mentions)
        wanted = set(roots)
        message_thread: dict[str, str] = {}
        final: dict[str, float] = {}

        def done() -> bool:
            for c in r.slack.calls[first:]:
                if not c["ok"]:
                    continue
                if c["method"] in ("chat.postMessage", "chat.startStream") and c["response_ts"]:
                    message_thread[c["response_ts"]] = c["thread_ts"]
                if c["final"]:
                    thread = c["thread_ts"] or message_thread.get(c["ts"])
                    if thread in wanted:
                        final.setdefault(thread, c["at"])
            return len(final) >= mentions

        # Until every answer is final, or none has become final for a while (a run without pacing
        # may give up on some answers after too many 429s: they count as lost).
        progress, last = 0, time.monotonic()
        while not done() and time.monotonic() - last < STALL_SECONDS:
            await asyncio.sleep(0.25)
            await r.slack.refresh()
            if len(final) > progress:
                progress, last = len(final), time.monotonic()
        await r.slack.refresh(all_envelopes=True)
        sent = first_sent(r.slack)
        t0 = min(sent[ts] for ts in roots)
        seen: dict[str, float] = {}
        writes = 0
        for c in r.slack.calls[first:]:
            if not c["ok"] or c["method"] not in SLACK_WRITES:
                continue
            thread = c["thread_ts"] or message_thread.get(c["ts"]) or c["timestamp"]
            if thread in wanted:
                seen.setdefault(thread, c["at"])
                writes += 1
        visible = [seen[ts] - sent[ts] for ts in roots if ts in seen]
        finals = [final[ts] - sent[ts] for ts in roots if ts in final]
        lost = split = 0
        for root in roots:
            view = await r.slack._json("GET", f"{r.slack.base}_emulator/thread?channel=general&ts={root}")
            texts = [m["text"] for m in view["messages"] if m["is_bot"]]
            whole, unsplit = _intact("\n".join(texts))
            lost += not whole
            split += whole and not unsplit
        return {
            "wall_s": round(max(final.values()) - t0, 2),
            "answers_never_final": mentions - len(final),
            "first_visible_p50_s": round(percentile(visible, 50), 3),
            "first_visible_p95_s": round(percentile(visible, 95), 3),
            "final_p50_s": round(percentile(finals, 50), 2),
            "final_p95_s": round(percentile(finals, 95), 2),
            "slack_writes_per_answer": round(writes / mentions, 2),
            "rate_limited_429s": r.slack.rate_limited - limited_before,
            "answers_with_text_lost": lost,
            "answers_split_mid_word": split,
        }


async def busy_channel(mentions: int, settings: dict[str, str], *, compare: bool = True) -> dict[str, Any]:
    """`mentions` at once in one channel: the default pacing, the optimum, and (with `compare`) no pacing."""
    paced = await run_once(mentions, settings)
    # The emulator's model: its first token, then four characters a token at its pace.
    done_s = BENCH_LATENCY.first_token_s + len(ANSWER) / 4 / (BENCH_LATENCY.tokens_per_s or 50)
    best = optimum(mentions, BENCH_LATENCY.first_token_s, done_s, Limits())
    figures: dict[str, Any] = {"mentions": mentions, **paced}
    figures["optimum_wall_s"] = best["wall_s"]
    figures["optimum_first_visible_p95_s"] = best["first_visible_p95_s"]
    figures["wall_vs_optimum"] = round(paced["wall_s"] / best["wall_s"], 2)
    if compare:
        naive = await run_once(mentions, {**settings, "SLACK_RATE_LIMITS": "off"})
        figures.update({f"no_pacing_{k}": v for k, v in naive.items()})
    return figures
