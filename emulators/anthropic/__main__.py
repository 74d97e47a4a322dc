"""Run the emulator standalone for local development of the bot.

    python -m emulators.anthropic --port 3002

Then start the bot with the printed ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_API_KEY``. The model is
``dev_model``: it echoes the user's text, and runs every fenced ```python block in the message as a
code-execution cell (state persists per container), reporting stdout/stderr/files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from .pacing import Latency
from .sandbox import prewarm
from .script import dev_model
from .server import AnthropicEmulator


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulators.anthropic", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3002)
    p.add_argument("--api-key", default="sk-ant-local")
    p.add_argument("--first-token-s", type=float, default=0.0, help="time to first token (default 0)")
    p.add_argument("--tokens-per-s", type=float, default=None, help="output speed (default: instant)")
    p.add_argument(
        "--expiry-error", choices=["400", "404", "500"], default="500", help="error for expired containers"
    )
    p.add_argument("--no-validate", action="store_true", help="skip validating responses against the SDK")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args()


async def _main(args: argparse.Namespace) -> None:
    emu = AnthropicEmulator(api_key=args.api_key, validate_responses=not args.no_validate, port=args.port)
    emu.host = args.host
    emu.model = dev_model
    emu.latency = Latency(first_token_s=args.first_token_s, tokens_per_s=args.tokens_per_s)
    emu.container_expiry_error = args.expiry_error
    await emu.start()
    warm = await prewarm()
    print(f"Anthropic API emulator listening on {emu.base_url} (sandbox ready in {warm:.2f}s)")
    print(f"  export ANTHROPIC_BASE_URL={emu.base_url}")
    print(f"  export ANTHROPIC_API_KEY={emu.api_key}")
    print("Model: echoes your text; ```python fenced blocks run as code-execution cells. Ctrl-C stops.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.stop()
        if emu.validation_failures:
            print(f"{len(emu.validation_failures)} response validation failure(s): see the log above")


def main() -> None:
    args = _args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
