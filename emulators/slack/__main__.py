"""`python -m emulators.slack --port 3001`: a standalone emulator for local development.

Prints the environment the bot needs (SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_APP_TOKEN,
SLACK_SIGNING_SECRET) and serves until interrupted. Drive it with the `/_emulator/*` endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from .rate_limits import POST_MESSAGE_BURST, TIER_BURST_MINUTES
from .server import SlackEmulator

DEFAULT_BOT_TOKEN = "xoxb-0000000000000-0000000000000-emulatorbottoken0000000"
DEFAULT_APP_TOKEN = "xapp-1-A0123ABCD-0000000000000-emulatorapptoken"
DEFAULT_SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulators.slack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--bot-token", default=DEFAULT_BOT_TOKEN)
    parser.add_argument("--app-token", default=DEFAULT_APP_TOKEN)
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    parser.add_argument("--http", metavar="URL", help="deliver over HTTP to the bot's /slack/events URL")
    parser.add_argument("--enforce-rate-tiers", action="store_true")
    parser.add_argument(
        "--post-burst", type=int, default=POST_MESSAGE_BURST, help="chat.postMessage burst per channel"
    )
    parser.add_argument(
        "--tier-burst",
        type=float,
        default=TIER_BURST_MINUTES,
        help="burst of a tiered method, in minutes of its tier's rate",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    slack = SlackEmulator(
        host=args.host,
        port=args.port,
        bot_token=args.bot_token,
        app_token=args.app_token,
        signing_secret=args.signing_secret,
        post_burst=args.post_burst,
        tier_burst=args.tier_burst,
    )
    await slack.start()
    if args.http:
        slack.deliver_http(args.http)
    slack.enforce_rate_tiers = args.enforce_rate_tiers
    print(f"Slack emulator listening on {slack.base_url}")
    print(f"export SLACK_API_URL={slack.api_url}")
    print(f"export SLACK_BOT_TOKEN={slack.bot_token}")
    print(f"export SLACK_APP_TOKEN={slack.app_token}")
    print(f"export SLACK_SIGNING_SECRET={slack.signing_secret}")
    print(f"control endpoints: {slack.base_url}_emulator/info", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await slack.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
