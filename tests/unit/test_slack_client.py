"""The Slack client as the bot builds it: no per-request debug formatting where nothing would be logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import aiohttp
import pytest

from bot import logs
from bot.app import make_slack_client
from bot.config import Settings
from bot.slack.rate_limits import RateBudget

SDK_LOGGER = "slack_sdk.web.async_client"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root, sdk = logging.getLogger(), logging.getLogger(SDK_LOGGER)
    levels, handlers = (root.level, sdk.level), list(root.handlers)
    yield
    root.setLevel(levels[0])
    sdk.setLevel(levels[1])
    root.handlers[:] = handlers


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
async def test_the_sdk_does_not_format_request_logs_it_would_not_print(level: str) -> None:
    logging.getLogger(SDK_LOGGER).setLevel(logging.NOTSET)
    logs.configure(level, "text")  # keeps the SDKs at WARNING or quieter
    settings = Settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1", anthropic_api_key="sk-ant-1")
    async with aiohttp.ClientSession() as session:
        client = make_slack_client(settings, session, RateBudget())
    # slack_sdk formats a debug line of each request and response when `logger.level <= DEBUG`
    # (async_internal_utils.py), which an unset level (0) always is.
    assert client.logger.level > logging.DEBUG
    assert client.logger.getEffectiveLevel() == logging.getLogger("slack_sdk").getEffectiveLevel()
