"""The Home tab, published afresh each time someone opens it (app_home_opened, `tab: "home"`).

The admins' chart is a PNG drawn in a worker thread (bot/governance/chart.py), uploaded without a
channel (private to the app, which can still show it: bot/slack/files_out.py) and shown by its id.
One chart serves every admin and is drawn again only when what it shows changed; the one it replaces
is deleted once the new one is on screen. Slack processes an upload before an image block may name it
(slackapi/slack-github-action#413), so a new chart is first published without the picture and then
again, retrying a few times, once Slack takes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.governance.access import whom_to_ask
from bot.governance.budgets import Limits, Scope
from bot.governance.chart import bar_chart
from bot.governance.spend import SpendTracker
from bot.slack.access import AccessGate
from bot.slack.errors import CallFailed, error_code, failure
from bot.slack.files_out import UploadFailed, upload_private
from bot.slack.home import (
    CHART_TITLE,
    AdminData,
    DayTotal,
    admin_blocks,
    chart_bars,
    daily_totals,
    fingerprint,
    first_day,
    home_view,
    person_blocks,
    ranked,
)
from bot.slack.rate_limits import RateBudget
from bot.slack.spending_text import usage_text
from bot.store import Store

log = logging.getLogger(__name__)

# Waits between tries of a view whose new chart Slack has not processed yet (about 15 s in all).
SHOW_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class Chart:
    shows: tuple[tuple[str, int], ...]  # the fingerprint of its data
    file_id: str
    on_screen: bool = False


class Charts:
    """The current chart file, shared by every admin's Home tab."""

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession, budget: RateBudget) -> None:
        self.client = client
        self.session = session
        self.budget = budget
        self.current: Chart | None = None
        self._retired: list[str] = []
        self._lock = asyncio.Lock()

    def shown(self, days: Sequence[DayTotal]) -> str | None:
        """The file of a chart of exactly these days that Slack has already shown."""
        chart = self.current
        return (
            chart.file_id
            if chart is not None and chart.on_screen and chart.shows == fingerprint(days)
            else None
        )

    async def file_for(self, days: Sequence[DayTotal]) -> str:
        """A chart of these days: the current one, or a new one drawn and uploaded."""
        async with self._lock:
            shows = fingerprint(days)
            if self.current is not None and self.current.shows == shows:
                return self.current.file_id
            png = await asyncio.to_thread(bar_chart, chart_bars(days), title=CHART_TITLE)
            file_id = await upload_private(
                self.client, self.session, self.budget, "spend-per-day.png", png, title=CHART_TITLE
            )
            if self.current is not None:
                self._retired.append(self.current.file_id)
            self.current = Chart(shows, file_id)
            return file_id

    async def on_screen(self, file_id: str) -> None:
        """Slack showed this chart: the ones it replaced go."""
        if self.current is None or self.current.file_id != file_id:
            return
        self.current.on_screen = True
        retired, self._retired = self._retired, []
        for old in retired:
            try:
                await self.client.files_delete(file=old)
            except CallFailed as exc:
                log.info("could not delete a replaced Home tab chart %s: %s", old, failure(exc))


class HomeTab:
    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        budget: RateBudget,
        store: Store,
        tracker: SpendTracker,
        gate: AccessGate,
        *,
        bot_name: str,
        slash_command: str,
    ) -> None:
        self.client = client
        self.store = store
        self.tracker = tracker
        self.gate = gate
        self.bot_name = bot_name
        self.slash_command = slash_command
        self.charts = Charts(client, session, budget)

    async def opened(self, user_id: str) -> None:
        """Publish the person's Home tab (an admin's with the spending of the workspace)."""
        mine = await self._person(user_id)
        if not self.gate.is_admin(user_id):
            await self._publish(user_id, mine)
            return
        data = await self._admin_data()
        ready = self.charts.shown(data.days)
        if ready is not None:
            await self._publish(
                user_id, mine + admin_blocks(data, chart_file=ready, updated=self._now_text())
            )
            return
        # Everything but the picture at once; the picture once Slack has processed it.
        await self._publish(user_id, mine + admin_blocks(data, chart_file=None, updated=self._now_text()))
        try:
            file_id = await self.charts.file_for(data.days)
        except (*CallFailed, UploadFailed) as exc:
            log.error("could not upload the Home tab chart: %s", failure(exc))
            return
        with_chart = mine + admin_blocks(data, chart_file=file_id, updated=self._now_text())
        if await self._publish_when_processed(user_id, with_chart):
            await self.charts.on_screen(file_id)

    async def _person(self, user_id: str) -> list[dict[str, Any]]:
        denial = await self.gate.check_anywhere(user_id)
        personal = Limits({k: v for k, v in self.tracker.limits.values.items() if k[0] is not Scope.CHANNEL})
        usage = usage_text(
            await self.tracker.spent(user_id, ""),
            personal,
            channel_id="",
            now=self.tracker.clock(),
            tz=self.tracker.tz,
            ask=whom_to_ask(self.gate.policy.admins),
        )
        return person_blocks(
            self.bot_name,
            usage,
            denial=denial.message if denial is not None else None,
            slash_command=self.slash_command,
            updated=self._now_text(),
        )

    async def _admin_data(self) -> AdminData:
        now, tz = self.tracker.clock(), self.tracker.tz
        since = first_day(now, tz)
        rows = await self.store.spend_rows(since)
        return AdminData(
            days=daily_totals(rows, now, tz),
            top_channels=ranked(rows, "channel"),
            top_people=ranked(rows, "user"),
            outcomes=await self.store.turn_outcomes(since),
            workspace_spent=await self.tracker.spent("", ""),
            limits=self.tracker.limits,
            channel_budgets=await self.store.all_channel_settings(),
        )

    async def _publish(self, user_id: str, blocks: list[dict[str, Any]]) -> None:
        try:
            await self.client.views_publish(user_id=user_id, view=home_view(blocks))
        except CallFailed as exc:
            log.error("could not publish %s's Home tab: %s", user_id, failure(exc))

    async def _publish_when_processed(self, user_id: str, blocks: list[dict[str, Any]]) -> bool:
        """Publish a view with a chart Slack may still be processing; True once it is shown."""
        for wait in (*SHOW_RETRIES, None):
            try:
                await self.client.views_publish(user_id=user_id, view=home_view(blocks))
                return True
            except SlackApiError as exc:
                if not _chart_not_ready(exc) or wait is None:
                    log.error("could not show the chart on %s's Home tab: %s", user_id, error_code(exc))
                    return False
            except CallFailed as exc:
                log.error("could not show the chart on %s's Home tab: %s", user_id, failure(exc))
                return False
            await asyncio.sleep(wait)
        return False

    def _now_text(self) -> str:
        local = dt.datetime.fromtimestamp(self.tracker.clock(), self.tracker.tz)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def _chart_not_ready(exc: SlackApiError) -> bool:
    """Slack refused the view for its image (`invalid slack file`): an upload still being processed."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    messages = (data.get("response_metadata") or {}).get("messages") or []
    return error_code(exc) == "invalid_arguments" and any("slack_file" in str(m) for m in messages)
