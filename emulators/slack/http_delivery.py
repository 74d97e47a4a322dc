"""HTTP delivery (§2.5, §11): signed POSTs to the app's Request URL, with Slack's retry headers.

Bodies are what Slack sends: JSON for events, `application/x-www-form-urlencoded` fields for slash
commands, and a form with one `payload=<json>` field for interactivity. Each request is signed with
`v0=HMAC-SHA256(signing_secret, "v0:<ts>:<raw body>")`. A non-2xx answer or no answer within 3 s is
retried with `X-Slack-Retry-Num` / `X-Slack-Retry-Reason` (real Slack waits 0 s, 1 min, 5 min; the
emulator uses `settings.http_retry_delays`) unless the app answered `X-Slack-No-Retry: 1`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp

from .constants import MAX_EVENT_RETRIES, VERIFICATION_TOKEN
from .models import JSON, Envelope
from .payloads import json_dumps

if TYPE_CHECKING:
    from .core import Core

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def encode_body(envelope: Envelope) -> tuple[bytes, str]:
    if envelope.type == "slash_commands":
        fields = {k: v if isinstance(v, str) else json_dumps(v) for k, v in envelope.payload.items()}
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    if envelope.type == "interactive":
        return urlencode(
            {"payload": json_dumps(envelope.payload)}
        ).encode(), "application/x-www-form-urlencoded"
    return json_dumps(envelope.payload).encode(), "application/json"


class HttpDelivery:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.url: str | None = None
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(self.core.signing_secret, body, ts),
        }

    def send(self, envelope: Envelope) -> None:
        self.core.spawn(self._deliver(envelope))

    async def _deliver(self, envelope: Envelope) -> None:
        current = envelope
        while True:
            reason, no_retry = await self._attempt(current)
            if reason is None or no_retry or current.type != "events_api":
                return
            if current.retry_attempt >= MAX_EVENT_RETRIES:
                return
            delays = self.core.settings.http_retry_delays
            await asyncio.sleep(delays[min(current.retry_attempt, len(delays) - 1)])  # Slack's retry schedule
            current = self.core.events.make_retry(current, reason)

    async def _attempt(self, envelope: Envelope) -> tuple[str | None, bool]:
        """POST once; return (retry reason or None on success, whether the app asked for no retry)."""
        core = self.core
        url = self.url
        if url is None:
            envelope.http_error = "no request url"
            return "connection_failed", True
        body, content_type = encode_body(envelope)
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **self.signed_headers(body)}
        if envelope.retry_attempt:
            headers["X-Slack-Retry-Num"] = str(envelope.retry_attempt)
            headers["X-Slack-Retry-Reason"] = envelope.retry_reason
        envelope.sent_at = core.now()
        core.notify()
        timeout = aiohttp.ClientTimeout(total=core.settings.http_timeout_s)
        try:
            async with self.session().post(url, data=body, headers=headers, timeout=timeout) as response:
                text = await response.text()
                envelope.http_status = response.status
                no_retry = response.headers.get("X-Slack-No-Retry") == "1"
                if 200 <= response.status < 300:
                    envelope.acked_at = core.now()
                    envelope.ack_payload = _ack_payload(text)
                    core.interactions.on_ack(envelope)
                    core.notify()
                    return None, no_retry
                envelope.http_error = f"HTTP {response.status}"
                core.notify()
                return "http_error", no_retry
        except TimeoutError:
            envelope.http_error = "timeout"
            core.notify()
            return "http_timeout", False
        except aiohttp.ClientError as exc:
            envelope.http_error = f"{type(exc).__name__}: {exc}"
            core.notify()
            return "connection_failed", False

    async def verify_url(self, url: str) -> bool:
        """Send Slack's `url_verification` challenge (signed) and check the app echoes it."""
        challenge = self.core.ids.secret(52)
        body = json_dumps(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        ).encode()
        headers = {"Content-Type": "application/json", **self.signed_headers(body)}
        async with self.session().post(url, data=body, headers=headers) as response:
            if response.status != 200:
                return False
            try:
                answer = json.loads(await response.text())
            except json.JSONDecodeError:
                return False
            return isinstance(answer, dict) and answer.get("challenge") == challenge

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _ack_payload(text: str) -> JSON | None:
    """Bolt answers `ack()` with an empty body, `ack("hi")` with text, `ack(blocks=…)` with JSON."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return value if isinstance(value, dict) else {"text": text}
