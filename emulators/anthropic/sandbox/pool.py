"""Process-wide client of the zygote fork server (``zygote.py``).

One zygote per Python process, shared by every emulator in it: it is an idle template, not a
sandbox, and keeping it warm is what makes container start cheap across tests. It is started on the
first ``spawn`` (or by ``prewarm()``) and killed at interpreter exit (``shutdown()`` does it early).
Container processes are killed by the emulator that owns them (``os.killpg``), and die with the
zygote (``PR_SET_PDEATHSIG``) if everything else fails.

All calls are blocking and thread-safe; the async API runs them in a thread so they work from any
event loop (several emulators, several pytest loops).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
_START_TIMEOUT_S = 120.0

# Single-threaded numeric libraries: thread pools don't survive fork() (and the hosted container
# has one CPU, reference §6).
SANDBOX_ENV_DEFAULTS = {
    "MPLBACKEND": "Agg",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class Zygote:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self.start_seconds: float | None = None

    def _ensure_started(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._ctrl is not None:
            return self._ctrl
        self._close()
        started = time.perf_counter()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, **SANDBOX_ENV_DEFAULTS}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, str(ZYGOTE_SCRIPT), str(child.fileno())],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                cwd="/",
            )
        finally:
            child.close()
        parent.settimeout(_START_TIMEOUT_S)
        try:
            ready = json.loads(parent.recv(1 << 16) or b"{}")
        except (TimeoutError, ValueError) as exc:
            self._proc.kill()
            raise RuntimeError(f"sandbox zygote did not start: {exc}") from exc
        if ready.get("op") != "ready":
            self._proc.kill()
            code = self._proc.wait()
            raise RuntimeError(f"sandbox zygote did not start (exit status {code}; see its stderr)")
        parent.settimeout(30.0)
        self._ctrl = parent
        self.start_seconds = time.perf_counter() - started
        log.info("sandbox zygote pid %s ready in %.2fs", self._proc.pid, self.start_seconds)
        return parent

    def spawn(self, config: dict[str, Any]) -> tuple[int, socket.socket]:
        """Fork a container process; return its pid and our end of its socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                ctrl = self._ensure_started()
                payload = json.dumps({"op": "spawn", **config}).encode()
                socket.send_fds(ctrl, [payload], [theirs.fileno()])
                reply = json.loads(ctrl.recv(1 << 16) or b"{}")
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if "pid" not in reply:
            ours.close()
            raise RuntimeError(f"sandbox zygote refused to spawn: {reply}")
        return int(reply["pid"]), ours

    async def spawn_async(self, config: dict[str, Any]) -> tuple[int, socket.socket]:
        return await asyncio.to_thread(self.spawn, config)

    def prewarm(self) -> None:
        with self._lock:
            self._ensure_started()

    def _close(self) -> None:
        if self._ctrl is not None:
            self._ctrl.close()
            self._ctrl = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def shutdown(self) -> None:
        with self._lock:
            self._close()


ZYGOTE = Zygote()
atexit.register(ZYGOTE.shutdown)


async def prewarm() -> float:
    """Start the shared zygote now (it takes about a second); returns how long it took."""
    await asyncio.to_thread(ZYGOTE.prewarm)
    return ZYGOTE.start_seconds or 0.0


def shutdown() -> None:
    ZYGOTE.shutdown()
