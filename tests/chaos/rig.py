"""What the soak runs on: a fresh PostgreSQL database, both emulators in this process, two replicas of
`python -m bot` (Socket Mode), and the model that answers every message by its token."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulators.anthropic import AnthropicEmulator, Delay, ModelRequest, Say, Step
from emulators.slack import SlackEmulator
from tests import postgres
from tests.chaos.figures import ANSWERED, TOKEN
from tests.harness import BotProcess, bot_env


def answer_by_tokens(delay_s: float) -> Any:
    """The model: after `delay_s` (scaled-down latency), "Answered: t1m1! t1m2!" for the tokens of the
    turn's messages. Asked to go on after a response broke off (what arrived, then the bot's note),
    it answers the tokens that arrived incomplete or not at all, as the real model would go on."""

    def model(request: ModelRequest) -> list[Step]:
        messages = request.body.get("messages", [])
        asked = next(
            (
                i
                for i in range(len(messages) - 1, -1, -1)
                if messages[i].get("role") == "user" and _tokens(messages[i], TOKEN, 0)
            ),
            None,
        )
        if asked is None:
            return [Say("Nothing to answer.")]
        said = {
            t for m in messages[asked + 1 :] if m.get("role") == "assistant" for t in _tokens(m, ANSWERED, 1)
        }
        rest = [t for t in _tokens(messages[asked], TOKEN, 0) if t not in said]
        steps: list[Step] = [Delay(delay_s)] if asked == len(messages) - 1 else []
        return [*steps, Say("Answered: " + " ".join(f"{t}!" for t in rest))]

    return model


def _tokens(message: dict[str, Any], pattern: re.Pattern[str], group: int) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        text = content
    else:
        text = " ".join(str(b.get("text", "")) for b in content or [] if isinstance(b, dict))
    return list(dict.fromkeys(m.group(group) for m in pattern.finditer(text)))


@dataclass
class Replica:
    """One replica slot: its current process and every process it has had (a killed one is restarted)."""

    name: str
    env: dict[str, str]
    cwd: Path
    processes: list[BotProcess] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> BotProcess:
        return self.processes[-1]

    async def start(self) -> BotProcess:
        process = BotProcess(env=self.env, cwd=self.cwd, name=f"{self.name}.{len(self.processes) + 1}")
        self.processes.append(process)
        await process.start(timeout=60)
        self.memory.append({"process": process.name, "start_rss_kb": process.memory_kb().get("VmRSS")})
        return process

    def note_end_memory(self) -> None:
        kb = self.current.memory_kb()
        self.memory[-1].update(end_rss_kb=kb.get("VmRSS"), peak_rss_kb=kb.get("VmHWM"))

    async def kill(self) -> None:
        self.note_end_memory()
        await self.current.kill()

    def lines(self) -> list[str]:
        return [line for p in self.processes for line in p.lines]


@dataclass
class Rig:
    slack: SlackEmulator
    claude: AnthropicEmulator
    replicas: list[Replica]
    database: str


async def migrate(url: str, cwd: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        cwd=cwd,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"migration failed: {out.decode()}")


@asynccontextmanager
async def rig(workdir: Path, settings: dict[str, str], model_delay_s: float) -> AsyncIterator[Rig]:
    name = await postgres.create_database()
    url = postgres.url_for(name)
    try:
        await migrate(url, workdir)
        async with SlackEmulator() as slack:
            claude = AnthropicEmulator(api_key="sk-ant-soak-emulator-key")
            claude.model = answer_by_tokens(model_delay_s)
            await claude.start()
            replicas: list[Replica] = []
            try:
                env = bot_env(
                    slack_api_url=slack.api_url,
                    bot_token=slack.bot_token,
                    app_token=slack.app_token,
                    anthropic_url=claude.base_url,
                    anthropic_key=claude.api_key,
                    database_url=url,
                    extra={k.upper(): v for k, v in settings.items()},
                )
                for label in ("replica-a", "replica-b"):
                    replica = Replica(label, env, workdir)
                    replicas.append(replica)
                    await replica.start()
                await slack.wait_for(lambda: len(slack.open_connections) == 2, what="both replicas connected")
                yield Rig(slack, claude, replicas, name)
            finally:
                for replica in replicas:
                    process = replica.current
                    if process.process is not None and process.process.returncode is None:
                        replica.note_end_memory()
                        await process.stop()
                await claude.stop()
    finally:
        await postgres.drop_database(name)
