"""``bash_code_execution``: a real ``bash -c`` in the container's working directory.

Each command runs in its own session so a time-out kills everything it started. Reference §1/§3.1:
the result is stdout/stderr/return_code; hitting the time limit is not a failed run but the error
object ``execution_time_exceeded`` (§3.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass

# Background jobs keep the output pipes open after bash exits; they get this long to finish
# writing before the command's process group is killed.
_BACKGROUND_GRACE_S = 0.2


@dataclass(frozen=True)
class BashOutcome:
    stdout: str
    stderr: str
    return_code: int
    timed_out: bool = False


async def run_bash(command: str, *, cwd: str, env: dict[str, str], timeout: float) -> BashOutcome:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = asyncio.ensure_future(proc.stdout.read())
    err = asyncio.ensure_future(proc.stderr.read())
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            _kill_group(proc.pid)
            await asyncio.gather(out, err, return_exceptions=True)
            return BashOutcome("", "", -signal.SIGKILL, timed_out=True)
        await asyncio.wait({out, err}, timeout=_BACKGROUND_GRACE_S)
    finally:
        # Whatever the command left running dies with it (and on cancellation, everything).
        _kill_group(proc.pid)
        if not (out.done() and err.done()):
            await asyncio.gather(out, err, return_exceptions=True)
    code = proc.returncode if proc.returncode is not None else -1
    return BashOutcome(
        out.result().decode("utf-8", errors="replace"),
        err.result().decode("utf-8", errors="replace"),
        code if code >= 0 else 128 - code,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
