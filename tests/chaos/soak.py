"""The chaos and soak suite (issue 14): many messages, many faults at once, and the figures.

    python -m tests.chaos.soak --quick --json out.json    # a few hundred messages, under a minute
    python -m tests.chaos.soak --full --json out.json     # 10,000 messages over 500 threads

Two replicas of `python -m bot` share a fresh PostgreSQL database and the Slack app (Socket Mode).
First a baseline phase without faults, then the same traffic under every fault at once: duplicate
and out-of-order deliveries, Slack-side socket closes, 429/5xx on Slack writes, failing Anthropic
requests (emulators/*/chaos.py), a replica SIGKILLed and restarted every `kill_every` messages
(alternating), and every database connection of the bots cut once (pg_terminate_backend). Retry
buttons are pressed as a person would. Then it waits for every thread to settle and judges what
people see (figures.py). See tests/chaos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from emulators.anthropic.chaos import AnthropicChaos, AnthropicChaosPlan
from emulators.slack.chaos import SlackChaos, SlackChaosPlan
from tests import postgres
from tests.chaos.figures import Verdict, first_answer_times, judge, percentile, token
from tests.chaos.rig import Rig, rig

RETRY_ACTION = "retry_turn"
WRITES = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream")
STARTED = re.compile(r"turn (\w+) in (\S+) started")
ENDED = re.compile(r"turn (\w+) in (\S+) ended")
TOOK_OVER = re.compile(r"took over turn (\w+)")


@dataclass(frozen=True)
class SoakConfig:
    threads: int
    messages: int  # in all, the baseline's included
    baseline: int  # the first messages, sent without faults
    rate: float  # messages per second
    kill_every: int
    socket_close_every_s: float
    model_delay_s: float
    lease_seconds: float = 3.0
    settle_timeout_s: float = 60.0
    seed: int = 14


QUICK = SoakConfig(
    threads=30,
    messages=240,
    baseline=60,
    rate=30.0,
    kill_every=60,
    socket_close_every_s=2.0,
    model_delay_s=0.2,
)
FULL = SoakConfig(
    threads=500,
    messages=10_000,
    baseline=1_000,
    rate=25.0,
    kill_every=1_000,
    socket_close_every_s=10.0,
    model_delay_s=0.5,
    settle_timeout_s=180.0,
)


class Soak:
    def __init__(self, config: SoakConfig, rig: Rig) -> None:
        self.config = config
        self.rig = rig
        self.slack_chaos = SlackChaos(rig.slack, SlackChaosPlan(seed=config.seed))
        self.claude_chaos = AnthropicChaos(rig.claude, AnthropicChaosPlan(seed=config.seed))
        self.roots: dict[int, str] = {}
        self.sent: dict[int, list[str]] = {}
        self.sent_at: dict[str, float] = {}
        self.faults: Counter[str] = Counter()
        self.kills: list[dict[str, Any]] = []
        self.retries_pressed: set[str] = set()
        self._scanned_calls = 0

    # --- traffic ------------------------------------------------------------------------------------

    async def post(self, n: int, chaos: bool) -> None:
        thread, round_ = n % self.config.threads, n // self.config.threads
        text = token(thread, round_)
        slack = self.rig.slack
        self.sent.setdefault(thread, []).append(text)
        self.sent_at[text] = time.time()
        if round_ == 0:
            twins = self.slack_chaos.twins() if chaos else "app_mention_first"
            self.roots[thread] = await slack.post_message(
                "ana", "general", f"{text} please", mention_bot=True, mention_twins=twins
            )
        else:
            await slack.post_message("ben", "general", f"{text} please", thread_ts=self.roots[thread])

    async def send_all(self) -> None:
        config = self.config
        start = time.monotonic()
        for n in range(config.messages):
            chaos = n >= config.baseline
            if n == config.baseline:
                self.chaos_on()
            if chaos and n > config.baseline and (n - config.baseline) % config.kill_every == 0:
                await self.kill_one(len(self.kills) % 2)
            if n == config.baseline + (config.messages - config.baseline) // 2:
                self.faults["pg_terminate_backend"] += await postgres.terminate_backends(self.rig.database)
            await self.post(n, chaos)
            delay = start + (n + 1) / config.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def chaos_on(self) -> None:
        self.slack_chaos.install()
        self.claude_chaos.install()
        self.claude_chaos.each_kind_next()

    def chaos_off(self) -> None:
        self.slack_chaos.enabled = False
        self.claude_chaos.enabled = False

    async def close_sockets(self) -> None:
        while True:
            await asyncio.sleep(self.config.socket_close_every_s)
            await self.slack_chaos.disconnect_one()

    async def kill_one(self, index: int) -> None:
        replica = self.rig.replicas[index]
        lines = replica.current.lines
        started = {m.group(1): m.group(2) for line in lines if (m := STARTED.search(line))}
        ended = {m.group(1) for line in lines if (m := ENDED.search(line))}
        running = sorted(turn for turn in started if turn not in ended)
        killed_at = time.time()
        await replica.kill()
        self.faults["replica_sigkill"] += 1
        self.kills.append({"replica": replica.current.name, "at": killed_at, "running_turns": running})
        await replica.start()

    async def press_retries(self) -> None:
        """Press each Retry button the bot shows, once, as the person who asked."""
        slack = self.rig.slack
        while True:
            calls = slack.calls
            for call in calls[self._scanned_calls :]:
                if call.ok and call.method in WRITES and RETRY_ACTION in str(call.params):
                    ts = str(call.params.get("ts") or call.response.get("ts"))
                    if ts not in self.retries_pressed:
                        self.retries_pressed.add(ts)
                        await asyncio.sleep(0.2)
                        try:
                            await slack.press_button("ana", slack.general, ts, RETRY_ACTION)
                        except Exception as exc:  # a Retry already replaced by the answer
                            print(f"retry press on {ts} failed: {exc!r}", file=sys.stderr)
            self._scanned_calls = len(calls)
            await asyncio.sleep(0.3)

    # --- judging ------------------------------------------------------------------------------------

    def shown(self) -> dict[int, list[str]]:
        slack = self.rig.slack
        return {
            thread: [m.text for m in slack.thread_view("general", root) if m.is_bot]
            for thread, root in self.roots.items()
        }

    def shown_failures(self) -> dict[str, int]:
        """The bot's messages that say something failed: with a Retry button, and without one (a turn
        that ended in an unexplained failure the person can do nothing about)."""
        out = {"with_retry": 0, "without_retry": 0}
        for root in self.roots.values():
            for m in self.rig.slack.thread_view("general", root):
                if not m.is_bot:
                    continue
                if RETRY_ACTION in json.dumps(m.blocks):
                    out["with_retry"] += 1
                elif "went wrong" in m.text.lower():
                    out["without_retry"] += 1
        return out

    def verdict(self) -> Verdict:
        return judge(self.sent, self.shown())

    async def retry_drill(self) -> None:
        """Anthropic asks to wait an hour, longer than a turn may: the person must get Retry, and
        pressing it (press_retries does, as they would) must get the answer. In a thread of its own,
        so no later message of the thread picks the question up instead."""
        thread = self.config.threads
        self.rig.claude.fail_next(status=429, times=1, retry_after=3600)
        self.faults["anthropic_429_long"] += 1
        text = token(thread, 0)
        self.sent[thread] = [text]
        self.sent_at[text] = time.time()
        slack = self.rig.slack
        self.roots[thread] = await slack.post_message("ana", "general", f"{text} please", mention_bot=True)

        def answered() -> bool:
            return not judge({thread: self.sent[thread]}, self.shown()).lost

        with contextlib.suppress(TimeoutError):  # then the verdict counts it lost
            await slack.wait_for(answered, timeout=self.config.settle_timeout_s, what="the Retry drill")

    async def settle(self) -> Verdict:
        """Wait until every message is answered (or the timeout), then a lease longer for stragglers."""
        deadline = time.monotonic() + self.config.settle_timeout_s
        while True:
            verdict = self.verdict()
            if not verdict.lost or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        await asyncio.sleep(self.config.lease_seconds + 1)
        return self.verdict()

    def latencies(self) -> tuple[list[float], list[float]]:
        calls = [(c.at, json.dumps(c.params)) for c in self.rig.slack.calls if c.ok and c.method in WRITES]
        first = first_answer_times(calls)
        baseline: list[float] = []
        faulted: list[float] = []
        order = [
            token(n % self.config.threads, n // self.config.threads) for n in range(self.config.messages)
        ]
        for n, text in enumerate(order):
            if text in first:
                (baseline if n < self.config.baseline else faulted).append(first[text] - self.sent_at[text])
        return baseline, faulted

    def recoveries(self, logs: list[str]) -> list[dict[str, Any]]:
        """For each kill: how long after it the other replica took over each turn the dead one was
        running (its log line "took over turn …"): the recovery the lease promises (<= LEASE_SECONDS
        plus a sweep). A turn that had in fact ended just before the kill is never taken over."""
        taken: dict[str, float] = {}
        for line in logs:
            if (m := TOOK_OVER.search(line)) is not None:
                at = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
                taken.setdefault(m.group(1), at)
        out = []
        for kill in self.kills:
            waits = sorted(taken[t] - kill["at"] for t in kill["running_turns"] if t in taken)
            out.append(
                {
                    "replica": kill["replica"],
                    "turns_running": len(kill["running_turns"]),
                    "turns_taken_over": len(waits),
                    "recovery_s_p50": _round(percentile(waits, 50)),
                    "recovery_s_max": _round(waits[-1]) if waits else None,
                }
            )
        return out

    def details(self, verdict: Verdict, logs: list[str]) -> dict[str, Any]:
        """For a failing run: what each troubled thread shows, and the bots' log lines about it."""
        troubled = {int(t[1:].split("m")[0]) for t in verdict.lost + verdict.doubled}
        troubled |= {int(t[1:]) for t in verdict.out_of_order}
        shown = self.shown()
        out = {}
        for thread in sorted(troubled)[:6]:
            root = self.roots.get(thread, "?")
            out[f"t{thread}"] = {
                "root": root,
                "shown": shown.get(thread, []),
                "log": [line for line in logs if root in line][:60],
                "requests": [
                    f"{r.received_at:.3f} {json.dumps((r.body or {}).get('messages', [])[-3:])[-700:]} -> "
                    f"{r.error or (r.response or {}).get('content')}"
                    for r in self.rig.claude.requests
                    if f"t{thread}m" in json.dumps((r.body or {}).get("messages", [])[-3:])
                ],
                "calls": [
                    f"{c.at:.3f} {c.method} {c.http_status} {c.error or ''} "
                    + json.dumps(
                        {k: v for k, v in c.params.items() if k in ("ts", "markdown_text", "chunks", "text")}
                    )[:300]
                    for c in self.rig.slack.calls
                    if (
                        c.method in WRITES
                        and root in (c.params.get("thread_ts"), c.params.get("ts"), c.response.get("ts"))
                    )
                    or (
                        c.method in ("chat.appendStream", "chat.stopStream")
                        and c.params.get("ts") in self._thread_messages(root)
                    )
                ],
            }
        return out

    def _thread_messages(self, root: str) -> set[str]:
        return {m.ts for m in self.rig.slack.thread_view("general", root)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def run(config: SoakConfig, workdir: Path) -> dict[str, Any]:
    settings = {
        "lease_seconds": str(config.lease_seconds),
        "stream_update_seconds": "0.3",
        "slack_rate_limits": "off",
        "log_level": "INFO",
    }
    began = time.monotonic()
    async with rig(workdir, settings, config.model_delay_s) as r:
        soak = Soak(config, r)
        helpers = [asyncio.create_task(soak.press_retries())]
        try:
            sender = asyncio.create_task(soak.send_all())
            while not sender.done():
                await asyncio.sleep(0.1)
                if len(helpers) == 1 and len(soak.sent_at) > config.baseline:
                    helpers.append(asyncio.create_task(soak.close_sockets()))
            await sender
            soak.chaos_off()
            await soak.retry_drill()
            verdict = await soak.settle()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        baseline, faulted = soak.latencies()
        logs = [line for replica in r.replicas for line in replica.lines()]
        shown_failures = soak.shown_failures()
        errors = [
            line for line in logs if " ERROR " in line or "Traceback" in line or "never retrieved" in line
        ]
        faults = Counter(soak.faults)
        faults.update(soak.slack_chaos.counts)
        faults.update(soak.claude_chaos.counts)
        figures = {
            "config": asdict(config),
            "details": soak.details(verdict, logs) if not verdict.ok else {},
            "wall_s": None,
            "sent": verdict.sent,
            "answered_once": verdict.answered_once,
            "answered_once_pct": round(100 * verdict.answered_once / max(1, verdict.sent), 3),
            "doubled": len(verdict.doubled),
            "lost": len(verdict.lost),
            "out_of_order_threads": len(verdict.out_of_order),
            "examples": {
                "doubled": verdict.doubled[:10],
                "lost": verdict.lost[:10],
                "out_of_order": verdict.out_of_order[:10],
            },
            "failures_with_retry": shown_failures["with_retry"],
            "silent_failures": shown_failures["without_retry"],
            "retries_pressed": len(soak.retries_pressed),
            "errors_logged": len(errors),
            "error_examples": errors[:10],
            "latency_s": {
                "baseline_p50": _round(percentile(baseline, 50)),
                "baseline_p95": _round(percentile(baseline, 95)),
                "faults_p50": _round(percentile(faulted, 50)),
                "faults_p95": _round(percentile(faulted, 95)),
            },
            "faults": dict(sorted(faults.items())),
            "kills": soak.recoveries(logs),
        }
    figures["memory"] = [m for replica in r.replicas for m in replica.memory]
    figures["wall_s"] = round(time.monotonic() - began, 1)
    figures["ok"] = verdict.ok and not figures["silent_failures"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a few hundred messages (the default)")
    mode.add_argument("--full", action="store_true", help="10,000 messages over 500 threads")
    parser.add_argument("--json", type=Path, help="write the figures there")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    config = FULL if args.full else QUICK
    config = SoakConfig(**{**asdict(config), "seed": args.seed})
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        figures = asyncio.run(run(config, Path(tmp)))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
