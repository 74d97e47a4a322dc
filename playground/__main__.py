"""`python -m playground [--port 8080] [--no-browser]` (also `python -m bot playground`)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .app import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot playground",
        description="Try the bot in the browser: a local Slack channel served by the Slack emulator, the "
        "real bot, and the Anthropic emulator unless ANTHROPIC_API_KEY is set.",
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="the page's port (default 8080; 0: any free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(Options(host=args.host, port=args.port, open_browser=not args.no_browser)))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
