"""The Dockerfile, without a Docker engine: its install steps run in a clean virtualenv, and the result
starts against the emulators and answers a mention (and passes the image's HEALTHCHECK)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from emulators.anthropic import AnthropicEmulator, Say, Script
from emulators.slack import SlackEmulator
from tests.e2e.helpers import wait_finished
from tests.harness import BotProcess, bot_env, free_port

ROOT = Path(__file__).parent.parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    """(instruction, argument) pairs, with line continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_is_small_pinned_non_root_and_checks_its_health() -> None:
    stages = [arg for word, arg in instructions() if word == "FROM"]
    assert len(stages) == 2 and all(re.match(r"python:3\.11\.\d+-slim", s) for s in stages)
    final = final_stage()
    words = [w for w, _ in final]
    assert ("USER", "bot") in final and "HEALTHCHECK" in words
    assert ("VOLUME", '["/data"]') in final
    assert ("ENTRYPOINT", '["python", "-m", "bot"]') in final
    runs = " ".join(arg for word, arg in final if word == "RUN")
    assert "apt-get" not in runs and "gcc" not in runs and "pip install" not in runs  # no build tools


@pytest.mark.timeout(600)
async def test_the_image_install_steps_produce_a_working_bot(
    slack: SlackEmulator, claude: AnthropicEmulator, tmp_path: Path
) -> None:
    # COPY: the files the build stage copies, nothing else from the checkout.
    src = tmp_path / "src"
    src.mkdir()
    for word, arg in instructions():
        if word == "COPY" and not arg.startswith("--from"):
            *sources, _dest = arg.split()
            for name in sources:
                path = ROOT / name
                (shutil.copytree if path.is_dir() else shutil.copy)(path, src / name)
    assert (src / "bot" / "__main__.py").exists()
    # RUN: the build stage's commands, with /opt/venv in a temporary directory.
    venv = tmp_path / "venv"
    build_runs = [
        arg for word, arg in instructions()[: instructions().index(final_stage()[0])] if word == "RUN"
    ]
    for command in build_runs:
        proc = await asyncio.create_subprocess_shell(
            command.replace("/opt/venv", str(venv)),
            cwd=src,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()[-3000:]
    # Run it as the image does: `python -m bot` from an empty working directory, data on a volume.
    app, data = tmp_path / "app", tmp_path / "data"
    app.mkdir()
    data.mkdir()
    port = free_port()
    env = bot_env(
        slack_api_url=slack.api_url,
        bot_token=slack.bot_token,
        app_token=slack.app_token,
        anthropic_url=claude.base_url,
        anthropic_key=claude.api_key,
        database_url=f"sqlite+aiosqlite:///{data}/bot.db",
        extra={"PATH": f"{venv}/bin:/usr/bin:/bin", "PORT": str(port)},
    )
    bot = BotProcess(env=env, cwd=app, python=str(venv / "bin" / "python"))
    await bot.start()
    try:
        claude.model = Script([[Say("Hello from the image.")]])
        root = await slack.post_message("ana", "general", "are you there?", mention_bot=True)
        assert "Hello from the image." in await wait_finished(slack, "general", root)
        healthcheck = next(arg for word, arg in final_stage() if word == "HEALTHCHECK").split(" CMD ", 1)[1]
        proc = await asyncio.create_subprocess_shell(healthcheck, env=env)
        assert await proc.wait() == 0
        assert (data / "bot.db").exists()
    finally:
        assert await bot.stop() == 0
