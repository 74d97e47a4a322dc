"""The Slack emulator in a process of its own, for the benchmarks.

In the benchmark's process the Slack emulator would share an event loop with the Anthropic emulator
streaming to hundreds of clients and with the driver, and its own delays would be counted as the
bot's (an acknowledgement is timed when the emulator gets round to reading it). Here it runs alone,
driven over HTTP: its standard `/_emulator/*` control endpoints plus a few for bulk work:

- `POST /_bench/mentions {"count", "user", "channel", "text"}`: that many mentions at once (one
  `asyncio.gather`, as in the tests), each in its own thread; answers their ts.
- `GET /_bench/records`: envelopes and Web API calls, compactly, for the figures.
- `POST /_bench/tiers {"on": true, "post_burst": 3, "tier_burst": 1.0}`: enforce Slack's rate limits
  from now on (the bursts optional).

    python -m bench.slack_process --port 0      # prints "ready <port>" when listening
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
from typing import Any

from aiohttp import web

from emulators.slack import SlackEmulator


def routes(slack: SlackEmulator) -> web.RouteTableDef:
    table = web.RouteTableDef()

    @table.post("/_bench/mentions")
    async def mentions(request: web.Request) -> web.Response:
        body = await request.json()
        text = str(body.get("text", "question"))
        roots = await asyncio.gather(
            *(
                slack.post_message(
                    body.get("user", "ana"), body.get("channel", "general"), f"{text} {i}", mention_bot=True
                )
                for i in range(int(body["count"]))
            )
        )
        return web.json_response({"ts": list(roots)})

    @table.get("/_bench/records")
    async def records(request: web.Request) -> web.Response:
        """Envelopes and calls from the given positions on (`?envelopes=N&calls=M`): cheap to poll."""
        first_envelope = int(request.query.get("envelopes", 0))
        first_call = int(request.query.get("calls", 0))
        envelopes = [
            {
                "id": e.envelope_id,
                "type": e.type,
                "event": e.payload.get("event", {}).get("type") if e.type == "events_api" else None,
                "ts": e.payload.get("event", {}).get("ts") if e.type == "events_api" else None,
                "retry": e.retry_attempt,
                "sent_at": e.sent_at,
                "acked_at": e.acked_at,
            }
            for e in slack.envelopes[first_envelope:]
        ]
        calls = [
            {
                "method": c.method,
                "ok": c.ok,
                "status": c.http_status,
                "at": c.at,
                "thread_ts": c.params.get("thread_ts"),
                "ts": c.params.get("ts"),
                "channel": c.params.get("channel") or c.params.get("channel_id"),
                "timestamp": c.params.get("timestamp"),
                "final": "new_session" in str(c.params.get("blocks")),
                "response_ts": c.response.get("ts") if isinstance(c.response, dict) else None,
                "stop_button": "stop_turn" in str(c.params.get("blocks")),
            }
            for c in slack.calls[first_call:]
        ]
        return web.json_response(
            {"envelopes": envelopes, "calls": calls, "rate_limited": slack.rate_limited_calls}
        )

    @table.post("/_bench/tiers")
    async def tiers(request: web.Request) -> web.Response:
        body = await request.json()
        slack.enforce_rate_tiers = bool(body.get("on"))
        if "post_burst" in body:
            slack.post_burst = int(body["post_burst"])
        if "tier_burst" in body:
            slack.tier_burst = float(body["tier_burst"])
        return web.json_response({"ok": True})

    return table


async def serve(port: int) -> None:
    slack = SlackEmulator(port=port)
    await slack.start()
    extra = web.Application()
    extra.add_routes(routes(slack))
    runner = web.AppRunner(extra, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bench_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    info: dict[str, Any] = {"slack": slack.base_url, "bench": f"http://127.0.0.1:{bench_port}"}
    print(f"ready {info['slack']} {info['bench']} {slack.bot_token} {slack.app_token}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await slack.stop()


def main() -> None:
    # One scenario per process: no garbage collection at all, whose full passes over the records
    # kept paused the emulator for 16 ms in overhead_100 (its stamps are the figures).
    gc.disable()
    parser = argparse.ArgumentParser(prog="python -m bench.slack_process", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
