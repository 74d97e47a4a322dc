"""The real `python -m bot`, run as a child process exactly as an operator starts it.

Its log goes to the playground's terminal; the page shows whether it is starting, ready or gone
(with the last lines of its log, where `Cannot start: …` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

READY = re.compile(r"\bready \(model ")


class BotProcess:
    def __init__(self, env: Mapping[str, str], cwd: Path, on_change: Callable[[], None]) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.on_change = on_change
        self.state = "starting"  # starting | ready | exited
        self.exit_code: int | None = None
        self.tail: deque[str] = deque(maxlen=20)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    def json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "exit_code": self.exit_code,
            "log": list(self.tail) if self.state == "exited" else [],
        }

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        out = sys.stderr
        while raw := await self._process.stdout.readline():
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(line)
            out.write(f"bot | {line}\n")
            out.flush()
            if self.state == "starting" and READY.search(line):
                self.state = "ready"
                self.on_change()
        self.exit_code = await self._process.wait()
        self.state = "exited"
        self.on_change()

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (the bot suspends running turns and exits 0), then SIGKILL if it hangs."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
