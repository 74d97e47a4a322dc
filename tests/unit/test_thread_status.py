"""Setting a thread's status never fails a turn: whatever the call raises, the caller gets False."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import ThreadKey
from bot.slack.rate_limits import RateBudget
from bot.slack.status import set_thread_status

KEY = ThreadKey("T1", "C1", "100.000001")


class Client:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def assistant_threads_setStatus(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"ok": True}


@pytest.mark.parametrize(
    ("error", "taken"),
    [
        (None, True),
        (SlackApiError("no", SimpleNamespace(data={"ok": False, "error": "channel_not_found"})), False),  # type: ignore[no-untyped-call]
        (aiohttp.ServerDisconnectedError(), False),  # the connection dropped (after the SDK's retry)
        (aiohttp.ClientConnectorError(cast(Any, None), OSError("refused")), False),
        (TimeoutError(), False),
    ],
)
async def test_a_status_that_cannot_be_set_is_reported_not_raised(
    error: BaseException | None, taken: bool
) -> None:
    client = Client(error)
    done = await set_thread_status(cast(AsyncWebClient, client), RateBudget(), KEY, "", wait=True)
    assert done is taken
    assert client.calls == [{"channel_id": "C1", "thread_ts": "100.000001", "status": ""}]


async def test_without_room_in_the_rate_budget_an_optional_status_is_skipped() -> None:
    client, budget = Client(None), RateBudget({"assistant.threads.setStatus": 1})
    assert await set_thread_status(cast(AsyncWebClient, client), budget, KEY, "working", wait=False)
    assert not await set_thread_status(cast(AsyncWebClient, client), budget, KEY, "working", wait=False)
    assert len(client.calls) == 1
