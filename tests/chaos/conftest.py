"""The end-to-end fixtures (both emulators, `python -m bot` as a child process) for the fuzz tests."""

from tests.e2e.conftest import claude, slack, start_bot

__all__ = ["claude", "slack", "start_bot"]
