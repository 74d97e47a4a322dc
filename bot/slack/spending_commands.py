"""`/claude usage` and `/claude budget`: what people spent, and the channel budgets admins set.

Both answer in the command's acknowledgement (only the person who typed it sees it), which Slack wants
within 3 seconds: the caller gives them 2 (listeners.py). A budget change is audited and logged.
"""

from __future__ import annotations

from bot.governance.access import whom_to_ask
from bot.governance.spend import SpendTracker
from bot.slack.access import AccessGate
from bot.slack.auditing import audit
from bot.slack.spending_text import BudgetRequest, budget_text, changed_text, parse_budget, usage_text
from bot.store import Store

ADMINS_ONLY = "Only the bot's admins can change budgets. Ask {ask}."


class SpendingCommands:
    def __init__(self, tracker: SpendTracker, store: Store, gate: AccessGate) -> None:
        self.tracker = tracker
        self.store = store
        self.gate = gate

    async def usage(self, user_id: str, channel_id: str) -> str:
        spent = await self.tracker.spent(user_id, channel_id)
        limits = await self.tracker.limits_for(channel_id)
        return usage_text(
            spent,
            limits,
            channel_id=channel_id,
            now=self.tracker.clock(),
            tz=self.tracker.tz,
            ask=whom_to_ask(self.gate.policy.admins),
        )

    async def budget(self, user_id: str, channel_id: str, words: list[str]) -> str:
        request = parse_budget(words)
        if isinstance(request, str):
            return request
        channel = request.channel_id or channel_id
        if request.changes:
            return await self._change(user_id, channel, request)
        return await self._show(channel)

    async def _show(self, channel_id: str) -> str:
        overrides = await self.store.channel_settings(channel_id)
        spent = await self.tracker.spent("", channel_id)
        return budget_text(channel_id, overrides, self.tracker.limits, spent)

    async def _change(self, user_id: str, channel_id: str, request: BudgetRequest) -> str:
        if not self.gate.is_admin(user_id):
            await audit(
                self.store,
                user_id,
                "budget_refused",
                channel_id=channel_id,
                detail={"changes": dict(request.changes)},
            )
            return ADMINS_ONLY.format(ask=whom_to_ask(self.gate.policy.admins))
        await self.store.update_channel_settings(channel_id, dict(request.changes), by=user_id)
        await audit(
            self.store, user_id, "budget", channel_id=channel_id, detail={"changes": dict(request.changes)}
        )
        return changed_text(channel_id, request.changes) + "\n" + await self._show(channel_id)
