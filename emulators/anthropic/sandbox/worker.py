"""The persistent Python interpreter of one container (runs in a process forked by the zygote).

Standalone on purpose: the zygote imports this file by path, without the emulator package (which
would pull aiohttp and the SDK into every sandbox process).

Protocol: one JSON object per line on the socket inherited from the emulator.

* in  ``{"op": "exec", "cell", "code", "filename", "tools", "output_dir", "fresh", "timeout", "ptc_timeout"}``
* in  ``{"op": "resume", "cell", "results": {call_id: text}}`` — answers to pending tool calls
* in  ``{"op": "cancel", "cell"}``
* out ``{"op": "paused", "cell", "calls": [{"call_id", "name", "input"}]}`` — the cell awaits tools
* out ``{"op": "done", "cell", "stdout", "stderr", "return_code", "timed_out"}``

Semantics follow reference §4: one interpreter whose globals survive across cells (unless the
request has no programmatic tools: ``fresh``), top-level ``await``, each programmatic tool an
``async def name(input: dict) -> str``, a pending call raising ``TimeoutError`` after
``ptc_timeout`` seconds, and a per-cell wall-clock limit that does not count time spent waiting for
tool results.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import inspect
import json
import linecache
import os
import random
import selectors
import signal
import socket
import sys
import tempfile
import traceback
import types
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, BinaryIO

_THIS_FILE = os.path.abspath(__file__)
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_SELECTORS_FILE = os.path.abspath(selectors.__file__)
TIMEOUT_RETURN_CODE = 124


class CellTimeout(BaseException):
    """Raised into a cell that ran past its limit (BaseException: ``except Exception`` can't eat it)."""


def _new_main() -> types.ModuleType:
    """A fresh ``__main__`` module for cell globals: registered in ``sys.modules`` while its cells
    run, so pickling functions and classes defined in cells works as it does in a script."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    return module


class Worker:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.main = _new_main()
        self.injected: set[str] = set()
        self.cell_id: str | None = None
        self.cell_task: asyncio.Task[None] | None = None
        self.cell_filename = ""
        self.pending: dict[str, asyncio.Future[str]] = {}
        self.new_calls: list[dict[str, Any]] = []
        self.detector: asyncio.Task[None] | None = None
        self.call_seq = 0
        self.waiting = 0
        self.timer_left = 0.0
        self.timer_armed = False
        self.timed_out = False
        signal.signal(signal.SIGALRM, self._on_alarm)

    # -- wire -------------------------------------------------------------------------------------
    def send(self, msg: dict[str, Any]) -> None:
        self.writer.write(json.dumps(msg).encode() + b"\n")

    async def serve(self) -> None:
        while True:
            line = await self.reader.readline()
            if not line:
                return
            msg = json.loads(line)
            op = msg["op"]
            if op == "exec":
                await self._stop_current()
                self.cell_task = asyncio.create_task(self.run_cell(msg))
            elif op == "resume" and msg["cell"] == self.cell_id:
                for call_id, text in msg["results"].items():
                    fut = self.pending.pop(call_id, None)
                    if fut is not None and not fut.done():
                        fut.set_result(text)
            elif op == "cancel" and msg["cell"] == self.cell_id:
                await self._stop_current()
            await self.writer.drain()

    async def _stop_current(self) -> None:
        task = self.cell_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- cell timer (wall clock, paused while awaiting tool results) ------------------------------
    def _arm(self, seconds: float) -> None:
        self.timer_armed = seconds > 0
        if self.timer_armed:
            signal.setitimer(signal.ITIMER_REAL, seconds)

    def _disarm(self) -> float:
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        self.timer_armed = False
        return left

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        self.timed_out = True
        self.timer_armed = False
        here = os.path.abspath(frame.f_code.co_filename) if frame is not None else ""
        in_loop = here in (_SELECTORS_FILE, _THIS_FILE) or here.startswith(_ASYNCIO_DIR)
        if not in_loop:
            raise CellTimeout
        # The cell is suspended at an `await`: raising here would break the event loop, so cancel
        # the cell task from the loop instead.
        task = self.cell_task
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)

    # -- programmatic tool calls ------------------------------------------------------------------
    def _tool(self, name: str, ptc_timeout: float) -> Callable[[dict[str, Any]], Awaitable[str]]:
        async def call(input: dict[str, Any]) -> str:
            if not isinstance(input, dict):
                raise TypeError(f"{name}() takes one dict argument, got {type(input).__name__}")
            json.dumps(input)  # a TypeError here is the cell's bug, as in the real sandbox
            self.call_seq += 1
            call_id = f"call_{self.call_seq}"
            fut: asyncio.Future[str] = self.loop.create_future()
            self.pending[call_id] = fut
            self.new_calls.append({"call_id": call_id, "name": name, "input": input})
            if self.detector is None or self.detector.done():
                self.detector = asyncio.create_task(self._announce_when_blocked())
            self.waiting += 1
            if self.waiting == 1 and self.timer_armed:
                self.timer_left = self._disarm()
            try:
                return await asyncio.wait_for(asyncio.shield(fut), ptc_timeout)
            except TimeoutError:
                # Wording from the PTC docs' example stderr (reference §4).
                raise TimeoutError(
                    f"Calling tool ['{name}'] timed out (no response after {ptc_timeout:g}s)."
                ) from None
            finally:
                self.pending.pop(call_id, None)
                self.waiting -= 1
                if self.waiting == 0 and self.timer_left > 0 and not self.timed_out:
                    self._arm(self.timer_left)
                    self.timer_left = 0.0

        call.__name__ = call.__qualname__ = name
        return call

    async def _announce_when_blocked(self) -> None:
        """Report the batch of calls once the cell stops issuing new ones (e.g. a whole
        ``asyncio.gather`` of tool calls), i.e. after a few loop turns without a new call."""
        seen = -1
        while seen != len(self.new_calls):
            seen = len(self.new_calls)
            for _ in range(4):
                await asyncio.sleep(0)
        if self.new_calls and self.cell_task is not None and not self.cell_task.done():
            calls, self.new_calls = self.new_calls, []
            self.send({"op": "paused", "cell": self.cell_id, "calls": calls})
            await self.writer.drain()

    def _install_tools(self, ns: dict[str, Any], tools: list[str], ptc_timeout: float) -> None:
        for stale in self.injected - set(tools):
            if getattr(ns.get(stale), "_emulator_tool", False):
                del ns[stale]
        for name in tools:
            fn = self._tool(name, ptc_timeout)
            fn._emulator_tool = True  # type: ignore[attr-defined]
            ns[name] = fn
        self.injected = set(tools)

    # -- running a cell ---------------------------------------------------------------------------
    async def run_cell(self, msg: dict[str, Any]) -> None:
        self.cell_id = cell = msg["cell"]
        self.timed_out = False
        self.timer_left = 0.0
        self.new_calls = []
        self.cell_filename = filename = msg["filename"]
        main = _new_main() if msg["fresh"] else self.main
        sys.modules["__main__"] = main
        ns = main.__dict__
        self._install_tools(ns, msg["tools"], float(msg["ptc_timeout"]))
        os.makedirs(msg["output_dir"], exist_ok=True)
        os.environ["OUTPUT_DIR"] = msg["output_dir"]
        src: str = msg["code"]
        linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
        rc = 0
        output: list[str] = []
        try:
            with _captured_fds(output):
                rc = await self._execute(src, filename, ns, float(msg["timeout"]))
                if self.timed_out and rc != TIMEOUT_RETURN_CODE:
                    # The cell swallowed the timeout and went on: the limit still applies.
                    rc = TIMEOUT_RETURN_CODE
                    print(_timeout_message(float(msg["timeout"])), file=sys.stderr)
        finally:
            for fut in self.pending.values():
                fut.cancel()
            self.pending.clear()
            if self.detector is not None:
                self.detector.cancel()
            stdout, stderr = output if len(output) == 2 else ("", "")
            self.send(
                {
                    "op": "done",
                    "cell": cell,
                    "stdout": stdout,
                    "stderr": stderr,
                    "return_code": rc,
                    "timed_out": self.timed_out,
                }
            )
            await self.writer.drain()

    async def _execute(self, src: str, filename: str, ns: dict[str, Any], timeout: float) -> int:
        """Run the cell; its output goes to the (redirected) fds 1/2. Returns the return code."""
        self._arm(timeout)
        try:
            code = compile(src, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
            result = eval(code, ns)
            if inspect.isawaitable(result):
                await result
            return 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                return exc.code or 0
            print(exc.code, file=sys.stderr)
            return 1
        except (CellTimeout, asyncio.CancelledError):
            if not self.timed_out:
                print("Execution was cancelled.", file=sys.stderr)
                return 1
            print(_timeout_message(timeout), file=sys.stderr)
            return TIMEOUT_RETURN_CODE
        except BaseException as exc:
            sys.stderr.write(_format_exception(exc))
            return 1
        finally:
            self._disarm()


@contextlib.contextmanager
def _captured_fds(output: list[str]) -> Iterator[None]:
    """Point fds 1 and 2 at temp files, so prints and subprocess / C-level writes are all captured;
    on exit ``output`` receives ``[stdout, stderr]``."""
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out_f.fileno(), 1)
        os.dup2(err_f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            output.extend([_read(out_f), _read(err_f)])


def _timeout_message(limit: float) -> str:
    return f"Execution timed out after {limit:g} seconds (status: detection_timeout)."


def _read(f: BinaryIO) -> str:
    f.seek(0)
    return f.read().decode("utf-8", errors="replace")


def _format_exception(exc: BaseException) -> str:
    """The traceback as the user would see it running the cell as a script: worker frames dropped."""
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if os.path.abspath(f.filename) != _THIS_FILE]
    )
    return "".join(te.format())


def serve(fd: int, config: dict[str, Any]) -> None:
    """Entry point in the forked child: become the container's interpreter and never return."""
    os.chdir(config["cwd"])
    os.environ.clear()
    os.environ.update(config["env"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(int.from_bytes(os.urandom(4), "little"))
    sys.argv = ["cell.py"]
    with contextlib.suppress(AttributeError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    async def main() -> None:
        sock = socket.socket(fileno=fd)
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 28)
        await Worker(reader, writer).serve()

    asyncio.run(main())
