"""Emulator side of one container's persistent Python interpreter (see ``worker.py``).

A cell either finishes (``CellDone``) or blocks on programmatic tool calls (``CellPaused``); a paused
cell resumes when ``resume()`` delivers the tool results. The worker enforces the cell time limit
itself; this side adds a hard deadline (limit + grace) and kills the process if the cell ignores the
limit (e.g. stuck in C code), which resets the interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from .pool import ZYGOTE

log = logging.getLogger(__name__)

HARD_KILL_GRACE_S = 5.0
KILLED_RETURN_CODE = 137


@dataclass(frozen=True)
class PendingCall:
    call_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class CellDone:
    stdout: str
    stderr: str
    return_code: int
    timed_out: bool = False


@dataclass(frozen=True)
class CellPaused:
    calls: tuple[PendingCall, ...]


CellOutcome = CellDone | CellPaused


class _Died:
    pass


class Repl:
    """One sandbox process. Not safe for concurrent cells: the container serialises its use."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pid = pid
        self._reader = reader
        self._writer = writer
        self._inbox: asyncio.Queue[dict[str, Any] | _Died] = asyncio.Queue()
        self._reader_task = asyncio.create_task(self._read_loop())
        self.alive = True
        self.cell: str | None = None
        self.finished_cells: list[str] = []
        """Cell ids in the order they finished, including cells that finished while paused (a
        programmatic call timing out) — tests wait on this."""
        self._budget = 0.0

    @classmethod
    async def start(cls, cwd: str, env: dict[str, str]) -> Repl:
        pid, sock = await ZYGOTE.spawn_async({"cwd": cwd, "env": env})
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 28)
        return cls(pid, reader, writer)

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if msg.get("op") == "done":
                    self.finished_cells.append(msg["cell"])
                self._inbox.put_nowait(msg)
        except (ConnectionError, ValueError, asyncio.LimitOverrunError) as exc:
            log.warning("sandbox %s: protocol error %s", self.pid, exc)
        finally:
            self.alive = False
            self._inbox.put_nowait(_Died())

    def _send(self, msg: dict[str, Any]) -> None:
        self._writer.write(json.dumps(msg).encode() + b"\n")

    async def execute(
        self,
        *,
        cell: str,
        code: str,
        filename: str,
        tools: list[str],
        output_dir: str,
        fresh: bool,
        timeout: float,
        ptc_timeout: float,
    ) -> CellOutcome:
        self.cell = cell
        self._budget = timeout + HARD_KILL_GRACE_S
        self._send(
            {
                "op": "exec",
                "cell": cell,
                "code": code,
                "filename": filename,
                "tools": tools,
                "output_dir": output_dir,
                "fresh": fresh,
                "timeout": timeout,
                "ptc_timeout": ptc_timeout,
            }
        )
        await self._writer.drain()
        return await self._wait(cell)

    async def resume(self, cell: str, results: dict[str, str]) -> CellOutcome:
        if self.alive:
            self._send({"op": "resume", "cell": cell, "results": results})
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
        return await self._wait(cell)

    async def cancel(self, cell: str) -> None:
        if self.alive and self.cell == cell:
            self._send({"op": "cancel", "cell": cell})
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()

    async def _wait(self, cell: str) -> CellOutcome:
        """Next outcome of ``cell`` (stale messages of earlier cells are dropped). Only time spent
        running counts against the hard deadline, not time paused on tool calls."""
        while True:
            started = time.monotonic()
            try:
                msg = await asyncio.wait_for(self._inbox.get(), max(self._budget, 0.01))
            except TimeoutError:
                self.kill()
                return CellDone(
                    "",
                    "The cell did not stop at its time limit; the Python process was killed and its "
                    "state was reset.\n",
                    KILLED_RETURN_CODE,
                    timed_out=True,
                )
            finally:
                self._budget -= time.monotonic() - started
            if isinstance(msg, _Died):
                self._inbox.put_nowait(msg)  # every later wait sees the death too
                return CellDone(
                    "",
                    "The Python process exited unexpectedly; its state was reset.\n",
                    KILLED_RETURN_CODE,
                )
            if msg.get("cell") != cell:
                continue
            if msg["op"] == "paused":
                calls = tuple(PendingCall(c["call_id"], c["name"], c["input"]) for c in msg["calls"])
                return CellPaused(calls)
            if msg["op"] == "done":
                return CellDone(msg["stdout"], msg["stderr"], int(msg["return_code"]), bool(msg["timed_out"]))

    def kill(self) -> None:
        if self.alive or self.pid:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
        self.alive = False

    async def close(self) -> None:
        self.kill()
        self._writer.close()
        self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await self._reader_task
