"""The Messages API version is the bot's choice, not the installed SDK's (issue 12, item 8)."""

from __future__ import annotations

import anthropic._client
import pytest

from bot.claude.api import ANTHROPIC_VERSION, ClaudeApi


async def test_an_sdk_upgrade_does_not_move_the_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a future SDK release would send by default.
    monkeypatch.setattr(anthropic._client, "ANTHROPIC_API_VERSION", "2099-01-01")
    api = ClaudeApi(api_key="sk-ant-test", base_url="http://127.0.0.1:9", max_retries=0, timeout=5)
    try:
        assert ANTHROPIC_VERSION == "2026-10-21"
        assert api._headers["anthropic-version"] == ANTHROPIC_VERSION  # streams, uploads, downloads
        assert api.client.default_headers["anthropic-version"] == ANTHROPIC_VERSION  # the SDK's calls
    finally:
        await api.close()
