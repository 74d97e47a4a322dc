"""Code-execution sandbox: per-container processes forked from a warm zygote, bash, text editor."""

from .bash import BashOutcome, run_bash
from .editor import run_edit
from .pool import prewarm, shutdown
from .repl import CellDone, CellOutcome, CellPaused, PendingCall, Repl

__all__ = [
    "BashOutcome",
    "CellDone",
    "CellOutcome",
    "CellPaused",
    "PendingCall",
    "Repl",
    "prewarm",
    "run_bash",
    "run_edit",
    "shutdown",
]
