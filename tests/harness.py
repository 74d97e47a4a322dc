"""Running the real `python -m bot` process against the emulators (end-to-end tests and benchmarks).

The bot runs as a child process, exactly as an operator starts it; the test talks to it only through
the Slack and Anthropic emulators. Its log (stderr) is collected so tests can wait for lines and
check that no secret was ever written.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

READY_LINE = re.compile(r"\bready \(model ")


def proc_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB, from /proc."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            out[name] = int(value.split()[0])
    return out


def free_port() -> int:
    """A TCP port free on loopback right now (for a bot started in HTTP mode)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class BotProcess:
    env: Mapping[str, str]
    cwd: Path
    name: str = "bot"
    python: str = sys.executable
    lines: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_"))}
        env.update(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "bot",
            cwd=self.cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        if wait_ready:
            await self.wait_for_line(READY_LINE, timeout=timeout)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                break
            async with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_line(self, pattern: re.Pattern[str] | str, *, timeout: float = 10.0) -> str:
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> str | None:
            return next((line for line in self.lines if regex.search(line)), None)

        async def wait() -> str:
            async with self._changed:
                while True:
                    hit = found()
                    if hit is not None:
                        return hit
                    if self.process is not None and self.process.returncode is not None:
                        raise AssertionError(
                            f"{self.name} exited ({self.process.returncode}):\n{self.tail()}"
                        )
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no log line matching {regex.pattern!r}:\n{self.tail()}"
            ) from None

    async def wait_until(self, predicate: Callable[[list[str]], bool], *, timeout: float = 10.0) -> None:
        """Wait, woken by each new log line, until `predicate(lines)` holds."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.lines))

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: the awaited log condition never held:\n{self.tail()}"
            ) from None

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the exit code (the bot promises 0 after a clean shutdown)."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        if self._reader is not None:
            await self._reader

    def memory_kb(self) -> dict[str, int]:
        return proc_memory_kb(self.pid)

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)


def bot_env(
    *,
    slack_api_url: str,
    bot_token: str,
    app_token: str | None,
    anthropic_url: str,
    anthropic_key: str,
    database_url: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": bot_token,
        "SLACK_API_URL": slack_api_url,
        "ANTHROPIC_API_KEY": anthropic_key,
        "ANTHROPIC_BASE_URL": anthropic_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }
    if app_token:
        env["SLACK_APP_TOKEN"] = app_token
    env.update(extra or {})
    return env
