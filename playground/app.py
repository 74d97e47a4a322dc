"""`python -m playground`: the Slack emulator serving the page, the model, and the real bot.

Started by `python -m bot playground`. Order: the Slack emulator with the page mounted on it (first,
so a busy port is said at once), the Anthropic emulator (unless ANTHROPIC_API_KEY is configured), then
`python -m bot` pointed at them.
Ctrl-C stops the bot first (it exits cleanly), then the emulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from emulators.anthropic import AnthropicEmulator
from emulators.anthropic.pacing import Latency
from emulators.anthropic.sandbox import prewarm
from emulators.anthropic.script import dev_model
from emulators.slack import SlackEmulator

from . import launch
from .bot_process import BotProcess
from .web import PlaygroundWeb

# The emulated model's pace: about what Claude streams, so an answer is seen arriving.
EMULATED_LATENCY = Latency(first_token_s=0.3, tokens_per_s=80.0)
EMULATOR_KEY = "sk-ant-playground-emulator"


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    port: int = 8080
    open_browser: bool = True


async def run(options: Options) -> int:
    cwd = Path.cwd()
    environ = dict(os.environ)
    dotenv = dotenv_values(cwd / ".env") if (cwd / ".env").is_file() else {}
    data_dir = cwd / "data"
    data_dir.mkdir(exist_ok=True)
    backend = launch.backend(environ, dotenv)

    bot: BotProcess | None = None
    with tempfile.TemporaryDirectory(prefix="playground-uploads-") as uploads:
        slack = SlackEmulator(host=options.host, port=options.port, mount=lambda app: page.mount(app))
        page = PlaygroundWeb(
            slack,
            Path(uploads),
            admins=launch.admins(environ, dotenv),
            backend=backend.json(),
            bot=lambda: bot.json() if bot is not None else {"state": "starting", "log": []},
        )
        try:
            await slack.start()
        except OSError as error:
            print(
                f"Cannot start: port {options.port} is not free ({error.strerror}); try --port.",
                file=sys.stderr,
            )
            return 2
        claude: AnthropicEmulator | None = None
        try:
            if backend.emulated:
                claude = AnthropicEmulator(api_key=EMULATOR_KEY, validate_responses=True)
                claude.model = dev_model
                claude.latency = EMULATED_LATENCY
                await claude.start()
                await prewarm()
            env = launch.bot_environment(
                environ,
                dotenv,
                slack_api_url=slack.api_url,
                bot_token=slack.bot_token,
                app_token=slack.app_token,
                anthropic=(claude.base_url, claude.api_key) if claude is not None else None,
                data_dir=data_dir,
            )
            bot = BotProcess(env, cwd, slack.core.notify)
            await bot.start()
            url = slack.base_url.rstrip("/")
            print(
                f"Playground: {url}  (model: {backend.name}; state in {data_dir}; Ctrl-C stops it)",
                flush=True,
            )
            if options.open_browser:
                await asyncio.to_thread(webbrowser.open, url)
            await _until_stopped()
        finally:
            if bot is not None:
                await bot.stop()
            await slack.stop()
            if claude is not None:
                await claude.stop()
    return 0


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
