"""The benchmark scenarios of bench/README.md, each driving the real `python -m bot` through the emulators.

Three processes share the machine, as in production the bot shares it with nothing but here with its
peers: the bot, the Slack emulator (bench/slack_process.py, driven over HTTP), and this process, which
holds the Anthropic emulator and measures. Every scenario returns a dict of figures; `bench.run`
prints them next to their targets. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from emulators.anthropic import AnthropicEmulator, Latency, ModelRequest, Python, Say, Step
from tests.harness import BotProcess, bot_env

# The model side of the targets: 2.0 s to the first token, then 50 tokens/s, 200 output tokens.
# The emulator counts a token per four characters, so 800 characters make 200 tokens.
BENCH_LATENCY = Latency(first_token_s=2.0, tokens_per_s=50, delta_interval_s=0.1)
ANSWER = ("The answer is here. " * 40)[:800]

SLACK_WRITES = {
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.postEphemeral",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "assistant.threads.setStatus",
    "reactions.add",
    "reactions.remove",
    "files.getUploadURLExternal",
    "files.completeUploadExternal",
}


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Slack:
    """The Slack emulator process, over HTTP."""

    http: aiohttp.ClientSession
    base: str  # http://127.0.0.1:PORT/
    bench: str
    bot_token: str
    app_token: str
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    succeeded: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0

    @property
    def api_url(self) -> str:
        return f"{self.base}api/"

    async def _json(self, method: str, url: str, body: Any = None) -> Any:
        async with self.http.request(method, url, json=body) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def mentions(self, count: int, text: str = "question") -> list[str]:
        data = await self._json("POST", f"{self.bench}/_bench/mentions", {"count": count, "text": text})
        return list(data["ts"])

    async def post(
        self,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        mention: bool = False,
        files: Sequence[tuple[str, Path]] = (),
    ) -> str:
        body = {
            "user": user,
            "channel": "general",
            "text": text,
            "thread_ts": thread_ts,
            "mention_bot": mention,
            "files": [{"name": name, "path": str(path)} for name, path in files],
        }
        data = await self._json("POST", f"{self.base}_emulator/message", body)
        return str(data["ts"])

    async def tiers(self, on: bool) -> None:
        await self._json("POST", f"{self.bench}/_bench/tiers", {"on": on})

    async def connections(self) -> int:
        return int((await self._json("GET", f"{self.base}_emulator/info"))["open_connections"])

    async def refresh(self, *, all_envelopes: bool = False) -> None:
        """Fetch the calls recorded since the last refresh, and the envelopes: the new ones, or (for the
        figures) all of them again, since an envelope fetched early was not yet acknowledged."""
        since = 0 if all_envelopes else len(self.envelopes)
        data = await self._json(
            "GET", f"{self.bench}/_bench/records?envelopes={since}&calls={len(self.calls)}"
        )
        self.envelopes = self.envelopes[:since] + data["envelopes"]
        self.calls += data["calls"]
        self.succeeded.update(c["method"] for c in data["calls"] if c["ok"])
        self.rate_limited = data["rate_limited"]

    def count(self, method: str) -> int:
        """Successful calls of `method` so far (kept as they arrive: polled every 50 ms)."""
        return self.succeeded[method]


@dataclass
class Rig:
    slack: Slack
    claude: AnthropicEmulator
    bot: BotProcess
    workdir: Path

    def cpu(self) -> float:
        return self.bot.cpu_seconds()

    async def until(self, done: Callable[[], bool], timeout: float, every: float = 0.05) -> None:
        """Poll the Slack emulator's records until `done()`."""
        deadline = time.monotonic() + timeout
        while True:
            await self.slack.refresh()
            if done():
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the benchmark did not finish in time")
            await asyncio.sleep(every)

    async def until_running_step(self, thread_ts: str, timeout: float = 30) -> None:
        """Wait until the thread shows a task card in progress (a code step running)."""
        deadline = time.monotonic() + timeout
        url = f"{self.slack.base}_emulator/thread?channel=general&ts={thread_ts}"
        while True:
            view = await self.slack._json("GET", url)
            tasks = [t for m in view["messages"] for t in m["tasks"].values()]
            if any(t["status"] == "in_progress" for t in tasks):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("no code step started")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def rig(settings: dict[str, str], *, latency: Latency | None = None) -> AsyncIterator[Rig]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    emulator = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.slack_process", stdout=asyncio.subprocess.PIPE
    )
    assert emulator.stdout is not None
    ready = (await asyncio.wait_for(emulator.stdout.readline(), 30)).decode().split()
    assert ready and ready[0] == "ready", ready
    claude = AnthropicEmulator(api_key="sk-ant-bench", validate_responses=False)
    await claude.start()
    if latency is not None:
        claude.latency = latency
    http = aiohttp.ClientSession()
    slack = Slack(http, ready[1], ready[2], ready[3], ready[4])
    env = bot_env(
        slack_api_url=slack.api_url,
        bot_token=slack.bot_token,
        app_token=slack.app_token,
        anthropic_url=claude.base_url,
        anthropic_key=claude.api_key,
        database_url=f"sqlite+aiosqlite:///{workdir}/bot.db",
        extra=settings,
    )
    bot = BotProcess(env=env, cwd=workdir)
    try:
        await bot.start()
        while True:
            if await slack.connections() >= 1:
                break
            await asyncio.sleep(0.05)
        yield Rig(slack, claude, bot, workdir)
    finally:
        if bot.process is not None and bot.process.returncode is None:
            await bot.stop()
        await http.close()
        await claude.stop()
        emulator.terminate()
        await emulator.wait()


def fixed_answer(_: ModelRequest) -> list[Step]:
    return [Say(ANSWER)]


def first_sent(slack: Slack) -> dict[str, float]:
    """When the emulator first sent each message's event (by message ts)."""
    sent: dict[str, float] = {}
    for e in slack.envelopes:
        if e["type"] == "events_api" and e["sent_at"] and e["ts"]:
            sent[e["ts"]] = min(sent.get(e["ts"], e["sent_at"]), e["sent_at"])
    return sent


def stream_threads(calls: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Stream message ts -> the thread it answers, for the streams started among `calls`."""
    return {c["response_ts"]: c["thread_ts"] for c in calls if c["method"] == "chat.startStream" and c["ok"]}


def stop_buttons(calls: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Thread -> the ts of its running turn's Stop button (a message of its own), among `calls`."""
    return {
        c["thread_ts"]: c["response_ts"]
        for c in calls
        if c["method"] == "chat.postMessage" and c["ok"] and c["stop_button"]
    }


# --- scenarios --------------------------------------------------------------------------------------


async def burst(mentions: int, settings: dict[str, str]) -> dict[str, Any]:
    """N mentions at once, each in its own thread, pure model latency."""
    async with rig(settings, latency=BENCH_LATENCY) as r:
        r.claude.model = fixed_answer
        cpu0 = r.cpu()
        t0 = time.time()
        roots = await r.slack.mentions(mentions)
        await r.until(lambda: r.slack.count("chat.stopStream") >= mentions, 120)
        wall = max(c["at"] for c in r.slack.calls if c["method"] == "chat.stopStream") - t0
        cpu = r.cpu() - cpu0
        memory = r.bot.memory_kb()
        await r.slack.refresh(all_envelopes=True)
        events = [e for e in r.slack.envelopes if e["type"] == "events_api" and e["sent_at"]]
        acks = [(e["acked_at"] - e["sent_at"]) * 1000 for e in events if e["acked_at"]]
        by_event = {
            kind: round(percentile([(e["acked_at"] - e["sent_at"]) * 1000 for e in group], 95), 1)
            for kind in ("app_mention", "message")
            if (group := [e for e in events if e["acked_at"] and e["event"] == kind])
        }
        sent = first_sent(r.slack)
        seen: dict[str, float] = {}
        for c in r.slack.calls:
            if c["ok"] and c["method"] in SLACK_WRITES and c["thread_ts"] in sent:
                seen.setdefault(c["thread_ts"], c["at"])
        visible = [seen[ts] - sent[ts] for ts in roots if ts in seen and ts in sent]
        return {
            "mentions": mentions,
            "wall_s": round(wall, 3),
            "ack_p50_ms": round(percentile(acks, 50), 1),
            "ack_p95_ms": round(percentile(acks, 95), 1),
            "unacknowledged": len(events) - len(acks),
            # The mentions, and the message events: each mention's twin and the echoes of the bot's own posts.
            "ack_p95_by_event_ms": by_event,
            "first_visible_p50_s": round(percentile(visible, 50), 3),
            "first_visible_p95_s": round(percentile(visible, 95), 3),
            "cpu_per_turn_ms": round(cpu / mentions * 1000, 2),
            "peak_rss_mb": round(memory.get("VmHWM", 0) / 1024, 1),
        }


async def overhead(threads: int, rounds: int, settings: dict[str, str]) -> dict[str, Any]:
    """`threads` conversations at once against zero-latency emulators: each person reads the answer
    (0.5 to 1.5 s) and writes again. Measured per turn: the bot's own time before the first model
    request, and after the last model byte until the final post."""
    rng = random.Random(7)
    async with rig(settings) as r:
        r.claude.model = fixed_answer
        cpu0 = r.cpu()
        roots: list[str] = []
        posted: dict[str, tuple[int, int]] = {}  # message ts -> (thread, turn)
        for i in range(threads):  # people start over a second, as they then go on writing
            ts = await r.slack.post("ana", f"t{i} turn 0", mention=True)
            roots.append(ts)
            posted[ts] = (i, 0)
            await asyncio.sleep(1.0 / threads)
        thread_of = {root: i for i, root in enumerate(roots)}
        answered = [0] * threads
        write_at: dict[int, float] = {}
        # The driver shares the machine with the bot: it reads only the calls recorded since its
        # last look (rescanning them all every 10 ms took a good part of a core by the end).
        streams: dict[str, str] = {}
        counts = [0] * threads
        looked = 0
        while min(answered) < rounds:
            await r.slack.refresh()
            new = r.slack.calls[looked:]
            streams.update(stream_threads(new))
            for c in new:
                if c["method"] == "chat.stopStream" and c["ok"] and streams.get(c["ts"]) in thread_of:
                    counts[thread_of[streams[c["ts"]]]] += 1
            looked = len(r.slack.calls)
            now = time.monotonic()
            for i in range(threads):
                if counts[i] > answered[i] and counts[i] < rounds:
                    write_at[i] = now + rng.uniform(0.5, 1.5)
            answered = list(counts)
            due = [i for i, at in write_at.items() if at <= now]
            for i in due:
                del write_at[i]
            replies = await asyncio.gather(
                *(r.slack.post("ben", f"t{i} turn {answered[i]}", thread_ts=roots[i]) for i in due)
            )
            posted.update({ts: (i, answered[i]) for i, ts in zip(due, replies, strict=True)})
            await asyncio.sleep(0.01)
        await r.slack.refresh(all_envelopes=True)
        cpu = r.cpu() - cpu0
        sent = first_sent(r.slack)
        event_at = {posted[ts]: at for ts, at in sent.items() if ts in posted}
        turn = re.compile(r"t(\d+) turn (\d+)")
        model: dict[tuple[int, int], tuple[float, float]] = {}
        for req in r.claude.requests:
            found = turn.findall(json.dumps((req.body or {}).get("messages", [])[-1:]))
            if found and req.done_at:
                model[(int(found[-1][0]), int(found[-1][1]))] = (req.received_at, req.done_at)
        streams = stream_threads(r.slack.calls)
        final: dict[tuple[int, int], float] = {}
        seen = [0] * threads
        for c in r.slack.calls:
            thread = streams.get(c["ts"]) if c["method"] == "chat.stopStream" and c["ok"] else None
            if thread in thread_of:
                i = thread_of[thread]
                final[(i, seen[i])] = c["at"]
                seen[i] += 1
        before = [(model[k][0] - event_at[k]) * 1000 for k in model if k in event_at]
        if os.environ.get("BENCH_DEBUG"):
            for k in sorted(model, key=lambda k: model[k][0]):
                if k in event_at and k in final:
                    print(
                        k,
                        round((model[k][0] - event_at[k]) * 1000, 1),
                        round((final[k] - model[k][1]) * 1000, 1),
                        round(model[k][0] % 100, 3),
                    )
        after = [(final[k] - model[k][1]) * 1000 for k in model if k in final]
        return {
            "threads": threads,
            "turns": len(model),
            "event_to_request_p50_ms": round(percentile(before, 50), 1),
            "event_to_request_p99_ms": round(percentile(before, 99), 1),
            "last_byte_to_post_p50_ms": round(percentile(after, 50), 1),
            "last_byte_to_post_p99_ms": round(percentile(after, 99), 1),
            "cpu_per_turn_ms": round(cpu / max(1, len(model)) * 1000, 2),
        }


async def big_file(megabytes: int, settings: dict[str, str]) -> dict[str, Any]:
    """One large attachment through the bot, against a plain aiohttp streaming copy on loopback."""
    async with rig(settings) as r:
        path = r.workdir / "big.bin"
        await asyncio.to_thread(_write_random, path, megabytes)
        size = path.stat().st_size
        r.claude.model = lambda req: [Say(f"Got {', '.join(req.input_files)}.")]
        baseline = await _baseline_copy(r, path)
        before = r.bot.memory_kb().get("VmRSS", 0)
        uploads_before = len(r.claude.files)
        t0 = time.time()
        await r.slack.post("ana", "take this", mention=True, files=[("big.bin", path)])
        while True:
            if len(r.claude.files) > uploads_before:
                break
            await asyncio.sleep(0.02)
        elapsed = time.time() - t0
        stored = list(r.claude.files.values())[-1]
        peak = r.bot.memory_kb().get("VmHWM", 0)
        return {
            "megabytes": megabytes,
            "intact": stored.size_bytes == size,
            "bot_s": round(elapsed, 2),
            "baseline_copy_s": round(baseline, 2),
            "throughput_vs_baseline": round(baseline / elapsed, 2),
            "rss_growth_mb": round((peak - before) / 1024, 1),
        }


def _write_random(path: Path, megabytes: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(block)


async def _baseline_copy(r: Rig, path: Path) -> float:
    """Stream the same bytes from the Slack emulator into the Files API with plain aiohttp, in a process
    of its own (as the bot is): the best a straight copy on this machine does."""
    # A top-level message without a mention: the bot ignores it.
    ts = await r.slack.post("ben", "reference copy", files=[("ref.bin", path)])
    headers = {"Authorization": f"Bearer {r.slack.bot_token}"}
    async with r.slack.http.get(
        f"{r.slack.api_url}conversations.history",
        params={"channel": "C0123ABCD", "limit": "50"},
        headers=headers,
    ) as resp:
        history = await resp.json()
    message = next(m for m in history["messages"] if m["ts"] == ts)
    url = message["files"][0]["url_private_download"]
    before = len(r.claude.files)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.copy_baseline",
        url,
        r.slack.bot_token,
        r.claude.base_url,
        r.claude.api_key,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and len(r.claude.files) > before
    assert list(r.claude.files.values())[-1].size_bytes == (await asyncio.to_thread(path.stat)).st_size, (
        "the reference copy was not the file"
    )
    return float(out.decode().strip())


async def cache_reads(turns: int, settings: dict[str, str]) -> dict[str, Any]:
    """A data-analysis thread of several turns: how much input is billed as cache reads."""
    async with rig(settings) as r:
        step = 0

        def analyst(_: ModelRequest) -> list[Step]:
            nonlocal step
            step += 1
            code = f"import statistics\nvalues_{step} = [x * {step} for x in range(1000)]\nprint(statistics.mean(values_{step}))"
            return [
                Say(f"Step {step}: computing."),
                Python(code),
                Say(f"The mean for step {step} is computed. " * 5),
            ]

        r.claude.model = analyst
        root = await r.slack.post("ana", "let's analyse some numbers, step 1", mention=True)
        await r.until(lambda: r.slack.count("chat.stopStream") >= 1, 60)
        for i in range(2, turns + 1):
            await r.slack.post("ana", f"now step {i}", thread_ts=root)
            await r.until(lambda i=i: r.slack.count("chat.stopStream") >= i, 60)  # type: ignore[misc]
        usages = [req.response["usage"] for req in r.claude.requests if req.response]
        later = usages[1:]
        read = sum(u["cache_read_input_tokens"] for u in later)
        total = sum(
            u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] for u in later
        )
        return {
            "turns": turns,
            "requests": len(usages),
            "cache_read_share_from_turn_2": round(read / total, 3) if total else 0.0,
            "input_tokens_per_request": round(
                statistics.mean(
                    u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
                    for u in usages
                )
            ),
        }


CHART = """
import os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.plot([1, 3, 2, 4])
plt.savefig(os.path.join(os.environ["OUTPUT_DIR"], "chart.png"))
print("saved")
"""


def chart_turn(_: ModelRequest) -> list[Step]:
    return [Say("Drawing the chart."), Python(CHART), Say("Here is the chart.")]


async def chart_writes(concurrent: int, settings: dict[str, str]) -> dict[str, Any]:
    """One turn with one chart: Slack write calls. Then `concurrent` such turns at once in one channel
    with Slack's documented rate tiers enforced by the emulator: 429s."""
    async with rig(settings) as r:
        r.claude.model = chart_turn
        await r.slack.refresh()
        first = len(r.slack.calls)
        await r.slack.post("ana", "draw a chart", mention=True)
        await r.bot.wait_for_line("ended: answered", timeout=60)  # after the turn's last Slack call
        await r.slack.refresh()
        writes = [c["method"] for c in r.slack.calls[first:] if c["method"] in SLACK_WRITES]
        upload_posts = 1  # the file bytes POSTed to the upload URL
        await r.slack.tiers(True)
        limited_before = r.slack.rate_limited
        t0 = time.time()
        await r.slack.mentions(concurrent, text="chart")
        await r.until(lambda: r.slack.count("files.completeUploadExternal") >= 1 + concurrent, 600, every=0.5)
        return {
            "slack_write_calls_one_chart_turn": len(writes) + upload_posts,
            "calls": [*writes, "(the file bytes, POSTed to the upload URL)"],
            "concurrent_turns_one_channel": concurrent,
            "rate_limited_429s": r.slack.rate_limited - limited_before,
            "all_answered_s": round(time.time() - t0, 1),
        }


def long_run(_: ModelRequest) -> list[Step]:
    return [
        Say("Starting a long run."),
        Python("import time\ntime.sleep(20)\nprint('done')"),
        Say("Finished."),
    ]


async def stop_latency(runs: int, settings: dict[str, str]) -> dict[str, Any]:
    """Stop pressed during a long code run: time from the press to the closed stream (which carries
    the "Stopped by" line), and whether anything more was asked of the model."""
    async with rig(settings) as r:
        r.claude.model = long_run
        latencies: list[float] = []
        later_requests = 0
        for i in range(runs):
            root = await r.slack.post("ana", f"run forever {i}", mention=True)
            await r.until(lambda root=root: root in stream_threads(r.slack.calls).values(), 30)  # type: ignore[misc]
            stream = next(ts for ts, thread in stream_threads(r.slack.calls).items() if thread == root)
            await r.until_running_step(root)
            await asyncio.sleep(0.5)  # the scenario: stopped half a second into the run
            # The Stop button shows once the answer has been on screen for a moment (reply.py).
            await r.until(lambda root=root: root in stop_buttons(r.slack.calls), 30)  # type: ignore[misc]
            button = stop_buttons(r.slack.calls)[root]
            pressed = time.time()
            await r.slack._json(
                "POST",
                f"{r.slack.base}_emulator/button",
                {"user": "ben", "channel": "general", "message_ts": button, "action_id": "stop_turn"},
            )

            def closed(stream: str = stream) -> float | None:
                return next(
                    (
                        c["at"]
                        for c in r.slack.calls
                        if c["method"] == "chat.stopStream" and c["ts"] == stream
                    ),
                    None,
                )

            await r.until(lambda: closed() is not None, 30)
            latencies.append((closed() or pressed) - pressed)
            later_requests += sum(1 for req in r.claude.requests if req.received_at > pressed)
        return {
            "runs": runs,
            "stop_to_closed_p50_s": round(percentile(latencies, 50), 3),
            "stop_to_closed_max_s": round(max(latencies), 3),
            "model_requests_after_stop": later_requests,
        }
