"""Channel settings in memory (bot/assistants/configs.py), a channel's own mention rule at the door,
and the data sources a channel may query, enforced by the data tools."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.assistants.configs import ChannelConfigs
from bot.connectors.demo import build
from bot.connectors.sources import DataSource
from bot.connectors.sql import SqlRunner
from bot.connectors.tools import register, sources_note
from bot.engine import Engine
from bot.model import ThreadKey
from bot.slack.access import AccessGate
from bot.slack.intake import Intake
from bot.store import Store
from bot.store.arrivals import Arrivals
from bot.tools import ToolContext, ToolRegistry


async def test_reads_see_the_last_snapshot_and_local_changes_at_once() -> None:
    stored: dict[str, dict[str, Any]] = {"C1": {"model": "claude-opus-5"}}
    loads = 0

    async def load_all() -> dict[str, dict[str, Any]]:
        nonlocal loads
        loads += 1
        if loads == 2:
            raise ConnectionError("database down")
        return {k: dict(v) for k, v in stored.items()}

    configs = ChannelConfigs(load_all, reload_seconds=3600)
    assert configs.assistant("C1").model is None  # nothing loaded yet: the deployment's settings
    await configs.start()
    assert configs.assistant("C1").model == "claude-opus-5"
    configs.put("C2", {"needs_mention": True})  # saved through this replica: applies at once
    assert configs.assistant("C2").needs_mention is True
    stored["C1"] = {"model": "claude-haiku-5-5"}  # saved through another replica
    with pytest.raises(ConnectionError):
        await configs.reload()
    assert configs.assistant("C1").model == "claude-opus-5"  # a failed reload keeps the last ones
    await configs.reload()
    assert configs.assistant("C1").model == "claude-haiku-5-5"
    await configs.close()


def reply_event(channel: str) -> dict[str, Any]:
    event = {"type": "message", "channel": channel, "user": "U1", "text": "and by month?", "ts": "2.0"}
    return {"event": {**event, "thread_ts": "1.0", "channel_type": "channel"}, "event_id": "Ev1"}


def test_a_channel_can_require_a_mention_in_thread_replies() -> None:
    intake = Intake(
        engine=cast(Engine, None),
        store=cast(Store, SimpleNamespace(arrivals=Arrivals(burst=100))),
        gate=cast(AccessGate, None),
        team_id="T1",
        bot_user_id="UBOT",
        needs_mention=lambda channel: channel == "CQUIET",
    )
    assert intake.candidate(reply_event("CBUSY")) is not None
    assert intake.candidate(reply_event("CQUIET")) is None


async def test_a_channel_queries_only_its_own_sources(tmp_path: Path) -> None:
    demo = build(tmp_path / "demo.db")
    sources = [
        DataSource.model_validate({"name": n, "url": f"sqlite:///{demo}", "description": n})
        for n in ("sales", "hr")
    ]
    registry = ToolRegistry()
    runner = SqlRunner(sources)
    register(registry, runner)

    async def no_messages(limit: int) -> list[dict[str, Any]]:
        return []

    async def no_note(text: str) -> None:
        return None

    def ctx(allowed: frozenset[str] | None) -> ToolContext:
        return ToolContext(ThreadKey("T1", "C1", "1.0"), "U1", no_messages, no_note, data_sources=allowed)

    query = {"source": "hr", "query": "SELECT count(*) FROM regions"}
    assert not (await registry.run("sql_query", query, ctx(None))).is_error
    refused = await registry.run("sql_query", query, ctx(frozenset({"sales"})))
    assert refused.is_error and "not available in this channel" in refused.text and "`sales`" in refused.text
    listed = await registry.run("list_tables", {"source": "hr"}, ctx(frozenset()))
    assert listed.is_error
    ok = await registry.run("sql_query", {**query, "source": "sales"}, ctx(frozenset({"sales"})))
    assert not ok.is_error and json.loads(ok.text)["columns"] == ["count(*)"]
    assert sources_note(None) == "" and "`sales`" in sources_note(frozenset({"sales"}))
    assert "no company data sources" in sources_note(frozenset())
    await runner.close()
