"""Fork server for sandbox processes: imports pandas/matplotlib once, then forks per container.

Started by ``pool.Zygote`` as ``python zygote.py <control-fd>``. Importing pandas + pyplot costs
about a second; a fork of this warm process costs a few milliseconds, which is what makes creating
many containers cheap.

Control protocol (``SOCK_SEQPACKET``, so each message is one packet): the emulator sends
``{"op": "spawn", "cwd", "env"}`` with the container's socket end attached as an ``SCM_RIGHTS`` fd;
the zygote forks, the child becomes the container's interpreter (``worker.serve``) on that socket,
and the zygote answers ``{"pid": N}``. When the control socket closes (the emulator process died or
shut the pool down) the zygote kills every child's process group and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the zygote) exits."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - non-Linux
        pass


def _preload() -> None:
    # Thread pools created at import time would not survive fork(): keep BLAS single-threaded
    # (the hosted container has one CPU anyway, reference §6). The parent sets the env vars too.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    plt.figure()  # loads the font cache once, here, instead of in every cell
    plt.close("all")


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    worker = importlib.import_module("worker")  # by path: the emulator package stays out of sandboxes

    if "--no-preload" not in sys.argv:
        _preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    ctrl.send(json.dumps({"op": "ready", "pid": os.getpid()}).encode())
    children: set[int] = set()
    zygote_pid = os.getpid()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 20, 4)
        except OSError:
            break
        if not msg:
            break
        request = json.loads(msg)
        if request.get("op") != "spawn" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            ctrl.send(json.dumps({"error": "bad request"}).encode())
            continue
        pid = os.fork()
        if pid == 0:  # the container process
            try:
                ctrl.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                _die_with_parent()
                if os.getppid() != zygote_pid:
                    os._exit(1)
                worker.serve(fds[0], request)
            finally:
                os._exit(0)
        os.close(fds[0])
        children.add(pid)
        ctrl.send(json.dumps({"pid": pid}).encode())
    for pid in children:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
