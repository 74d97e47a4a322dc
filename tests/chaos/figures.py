"""The soak's verdicts, from what people see: pure functions over the thread transcripts.

A message is its token `t<thread>m<round>`; the model answers every message of a turn by its token,
followed by "!".
A thread's answers are read from the bot's messages in thread order, skipping a partial answer the bot
marked as interrupted (a replica died mid-answer and the turn ran again: the person sees the mark, then
the whole answer).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TOKEN = re.compile(r"\bt(\d+)m(\d+)\b")
# An answered token ends with "!": one a broken stream cut short ("t3m1" of "t3m12") is no answer.
ANSWERED = re.compile(r"\b(t\d+m\d+)!")
INTERRUPTED = "(interrupted"


def token(thread: int, round_: int) -> str:
    return f"t{thread}m{round_}"


def answered_tokens(texts: Iterable[str]) -> list[str]:
    """The tokens answered, in the order shown, from the bot's messages of one thread."""
    return [m.group(1) for text in texts if INTERRUPTED not in text for m in ANSWERED.finditer(text)]


@dataclass
class Verdict:
    sent: int = 0
    answered_once: int = 0
    doubled: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)  # threads

    @property
    def ok(self) -> bool:
        return not (self.doubled or self.lost or self.out_of_order) and self.answered_once == self.sent


def judge(sent: Mapping[int, Sequence[str]], shown: Mapping[int, Sequence[str]]) -> Verdict:
    """`sent`: per thread, the tokens posted in order; `shown`: per thread, the bot's message texts."""
    verdict = Verdict()
    for thread, tokens in sent.items():
        answers = answered_tokens(shown.get(thread, ()))
        counts = Counter(answers)
        verdict.sent += len(tokens)
        for t in tokens:
            if counts[t] == 1:
                verdict.answered_once += 1
            elif counts[t] == 0:
                verdict.lost.append(t)
            else:
                verdict.doubled.append(t)
        first_seen = list(dict.fromkeys(answers))
        if first_seen != [t for t in tokens if t in counts]:
            verdict.out_of_order.append(f"t{thread}")
    return verdict


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def first_answer_times(calls: Iterable[tuple[float, str]]) -> dict[str, float]:
    """When each token first appeared in a successful Slack write (`(at, params as text)` in order)."""
    first: dict[str, float] = {}
    for at, text in calls:
        for m in ANSWERED.finditer(text):
            first.setdefault(m.group(1), at)
    return first
