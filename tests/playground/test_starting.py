"""Starting the playground: what a person is told when it cannot, and the bot process as the page
reports it."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

import bot.__main__ as cli
from playground.app import Options, run
from playground.bot_process import BotProcess


def test_without_the_extra_the_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "pandas" else original(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert cli.main(["playground", "--no-browser"]) == 2
    assert "pip install '.[playground]'" in capsys.readouterr().err


async def test_a_busy_port_is_said_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert await run(Options(port=port, open_browser=False)) == 2
    assert f"port {port} is not free" in capsys.readouterr().err


async def test_a_bot_that_cannot_start_shows_why(tmp_path: Path) -> None:
    changed = asyncio.Event()
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-1", "LOG_LEVEL": "LOUD", "PYTHONUNBUFFERED": "1"}
    process = BotProcess(env, tmp_path, changed.set)
    assert process.json()["state"] == "starting"
    await process.start()
    async with asyncio.timeout(30):
        while process.state != "exited":
            await changed.wait()
            changed.clear()
    await process.stop()
    shown = process.json()
    assert shown["exit_code"] == 2
    assert any("LOG_LEVEL" in line for line in shown["log"]), shown
