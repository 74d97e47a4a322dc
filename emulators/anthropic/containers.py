"""Containers: ids, rolling expiry, on-disk layout, and the lazily started sandbox process.

Reference §2.1/§6: a request without ``container`` gets a new container; passing the previous
``container.id`` (a string) reuses it; ``expires_at`` is a short rolling value (≈ now + 1 h in
recorded traffic). Nothing is started until code runs: a request that merely declares the code
execution tool costs a dict entry, not a process or a directory.

Layout under the emulator's temp root::

    containers/<id>/work      working directory and HOME (bash cwd, relative editor paths)
    containers/<id>/input     $INPUT_DIR — container_upload files, original filenames (§2.2)
    containers/<id>/output/N  $OUTPUT_DIR — fresh and empty per bash call / Python cell (§3.1)
    containers/<id>/tmp       TMPDIR
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import ids
from .errors import ApiError
from .sandbox import Repl
from .sandbox.pool import SANDBOX_ENV_DEFAULTS

ExpiryMode = Literal["400", "404", "500"]


def expiry_error(mode: ExpiryMode, container_id: str) -> ApiError:
    """The error for a request naming an expired container.

    The real error is undocumented (reference §6, §11), so the emulator offers three shapes:

    * ``"500"`` (default, the only behaviour observed): 500 ``api_error`` "Internal server error"
      with ``x-should-retry: false``, the body every internal failure has (pydantic/pydantic-ai#7833;
      its recorded test notes the header). Nothing in it names the container: only the fact that
      a request without the container is answered tells this apart from an outage.
    * ``"400"``: 400 ``invalid_request_error`` "container: Container `<id>` has expired. Send the
      request without `container` to start a new container."
    * ``"404"``: 404 ``not_found_error`` "container: Container `<id>` not found."
    """
    if mode == "400":
        return ApiError(
            400,
            f"container: Container `{container_id}` has expired. "
            "Send the request without `container` to start a new container.",
        )
    if mode == "404":
        return unknown_container(container_id)
    return ApiError(500, "Internal server error", headers={"x-should-retry": "false"})


def unknown_container(container_id: str) -> ApiError:
    """An id that never existed: a 404, unlike an expired one (pydantic/pydantic-ai#7833, whose
    recorded test contrasts the expired id's 500 with "the 404 it gives for an id that never
    existed"); the wording is the emulator's."""
    return ApiError(404, f"container: Container `{container_id}` not found.")


@dataclass(eq=False)
class Container:
    id: str
    root: Path
    created_at: float
    expires_at: float
    last_used: float = 0.0
    """When the last response using the container ended (or it was created): idle time starts here."""
    restores: int = 0
    """How many times the container was restored from an idle checkpoint."""
    expired: bool = False
    repl: Repl | None = None
    materialized: dict[str, str] = field(default_factory=dict)
    """file_id -> filename already copied into $INPUT_DIR."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Serialises code execution: the hosted container runs one thing at a time."""
    paused_cell: str | None = None
    """Cell id of a Python cell waiting for programmatic tool results, if any."""
    _seq: int = 0
    _dirs_ready: bool = False

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def started(self) -> bool:
        """Whether any sandbox resource (directory or process) exists yet."""
        return self._dirs_ready

    def next_output_dir(self) -> Path:
        self._seq += 1
        return self.root / "output" / str(self._seq)

    def env(self, output_dir: Path | None = None) -> dict[str, str]:
        venv_bin = os.path.dirname(sys.executable)
        env = {
            **SANDBOX_ENV_DEFAULTS,
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "TMPDIR": str(self.root / "tmp"),
            "INPUT_DIR": str(self.input_dir),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        if output_dir is not None:
            env["OUTPUT_DIR"] = str(output_dir)
        return env

    async def ensure_dirs(self) -> None:
        if not self._dirs_ready:
            await asyncio.to_thread(self._make_dirs)
            self._dirs_ready = True

    def _make_dirs(self) -> None:
        for sub in ("work", "input", "output", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    async def ensure_repl(self) -> Repl:
        """The container's interpreter, forked from the zygote on first use (or after it died)."""
        await self.ensure_dirs()
        if self.repl is None or not self.repl.alive:
            if self.repl is not None:
                await self.repl.close()
            self.repl = await Repl.start(str(self.workdir), self.env())
        return self.repl


class ContainerRegistry:
    def __init__(
        self,
        root: Path,
        ttl_s: float,
        clock: Callable[[], float],
        checkpoint_idle_s: Callable[[], float | None],
    ) -> None:
        self.root = root
        self.ttl_s = ttl_s
        self.clock = clock
        self.checkpoint_idle_s = checkpoint_idle_s
        self.containers: dict[str, Container] = {}
        self.start_times: list[float] = []
        """Seconds taken to start each sandbox process (for the benchmarks' report)."""

    def create(self) -> Container:
        now = self.clock()
        cid = ids.container_id()
        c = Container(
            cid, self.root / "containers" / cid, created_at=now, expires_at=now + self.ttl_s, last_used=now
        )
        self.containers[cid] = c
        return c

    def resolve(self, container_id: str, mode: ExpiryMode) -> Container:
        c = self.containers.get(container_id)
        if c is None:
            raise unknown_container(container_id)
        now = self.clock()
        if c.expired or now >= c.expires_at:
            if not c.expired:
                self.expire(container_id)
            raise expiry_error(mode, container_id)
        self._restore_if_checkpointed(c, now)
        return c

    def _restore_if_checkpointed(self, c: Container, now: float) -> None:
        """The docs: "After about 5 minutes of inactivity a container is checkpointed, and sending a
        request with its ID inside the 30-day window restores it" (code-execution tool, Container
        reuse). Whether the Python interpreter's memory survives is not documented (reference §4, §11):
        the strictest reading is modelled, the restored container keeps its files and starts a fresh
        interpreter. A cell paused on programmatic tool calls keeps the container in use."""
        idle_s = self.checkpoint_idle_s()
        if idle_s is None or c.paused_cell is not None or now - c.last_used < idle_s:
            return
        c.last_used = now
        c.restores += 1
        if c.repl is not None and c.repl.alive:
            c.repl.kill()

    def touch(self, c: Container) -> None:
        """Rolling expiry: every request using the container moves ``expires_at``."""
        now = self.clock()
        c.last_used = now
        c.expires_at = max(c.expires_at, now + self.ttl_s)

    def expire(self, container_id: str) -> None:
        """Kill the container's process and forget its files; later requests naming it fail."""
        c = self.containers.get(container_id)
        if c is None:
            raise KeyError(container_id)
        c.expired = True
        c.paused_cell = None
        if c.repl is not None:
            c.repl.kill()
        if c.started:
            try:  # off the event loop when there is one: the directory may hold big files
                asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, c.root, True)
            except RuntimeError:
                shutil.rmtree(c.root, ignore_errors=True)

    async def start_repl(self, c: Container) -> Repl:
        fresh = c.repl is None or not c.repl.alive
        started = time.perf_counter()
        repl = await c.ensure_repl()
        if fresh:
            self.start_times.append(time.perf_counter() - started)
        return repl

    async def close(self) -> None:
        for c in self.containers.values():
            if c.repl is not None:
                await c.repl.close()
                c.repl = None
