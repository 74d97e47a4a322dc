"""Who may use the bot, applied where Slack meets it: messages before the inbox, commands before they
are stored, buttons before they act, and the thread history Claude reads.

The decision itself is pure (bot/governance/access.py); this module finds its facts. The event says
which organisation a person is from (`user_team`); users.info says whether they are a guest; user
groups are listed a group at a time (bot/slack/people.py). Only what the decision needs is looked up
(`needs_account_lookup`), and lookups are cached and shared, so for a person the bot knows, deciding
costs nothing on the acknowledgement path. For someone it has never seen, the first message waits for
one users.info call (shared by every message of theirs in a burst), at most ACK_WAIT_SECONDS: past
that the event is left unacknowledged and Slack delivers it again, by when the answer is known.

A message turned away leaves nothing behind but its event id (the dedupe key, so a redelivery is not
answered twice) and, the first time in a thread, an audit row. Its author is told why, once per
thread: the threads already told are remembered in this process (the last TOLD_SIZE of them), so a
restart or another replica may say it once more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.governance.access import AccessPolicy, Denial, Person, Place, Reason, decide, needs_account_lookup
from bot.model import Inbound, InboundKind, ThreadKey
from bot.slack.auditing import audit
from bot.slack.errors import CallFailed, failure
from bot.slack.inbound import Candidate
from bot.slack.people import Accounts, UserGroups
from bot.slack.rate_limits import RateBudget
from bot.store import Store

log = logging.getLogger(__name__)

# Slack wants an event acknowledged within 3 seconds; the decision gets 2 of them.
ACK_WAIT_SECONDS = 2.0
TOLD_SIZE = 10_000
UNCHECKED = Denial(
    Reason.UNKNOWN_ACCOUNT,
    "I couldn't check your account with Slack just now, so I didn't take this. Try again in a minute.",
)


class AccessUndecided(Exception):
    """The decision did not come in time to acknowledge the event: leave it for Slack to redeliver."""


def policy_from(settings: Settings, home_team: str) -> AccessPolicy:
    return AccessPolicy(
        home_team=home_team,
        allowed_users=frozenset(settings.allowed_users),
        allowed_usergroups=frozenset(settings.allowed_usergroups),
        allowed_channels=frozenset(settings.allowed_channels),
        allowed_teams=frozenset(settings.allowed_teams),
        allow_dms=settings.allow_dms,
        allow_guests=settings.allow_guests,
        allow_external=settings.allow_external_users,
        admins=frozenset(settings.admins),
    )


def place_of(channel_id: str) -> Place:
    return Place(channel_id, is_dm=channel_id.startswith("D"))


class AccessGate:
    def __init__(
        self,
        policy: AccessPolicy,
        store: Store,
        client: AsyncWebClient,
        budget: RateBudget,
        accounts: Accounts,
        groups: UserGroups,
    ) -> None:
        self.policy = policy
        self.store = store
        self.client = client
        self.budget = budget
        self.accounts = accounts
        self.groups = groups
        self._told: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.policy.admins

    async def warm_up(self, wait: float) -> None:
        """Learn the workspace's people before events arrive (bot/slack/people.py), waiting at most
        `wait` seconds: a big workspace goes on learning in the background."""
        policy = self.policy
        if policy.allow_guests and policy.allow_external:
            return  # nobody's account is ever needed to decide
        task = asyncio.create_task(self._warm())
        self._keep(task)
        await asyncio.wait({task}, timeout=wait)

    async def _warm(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            known = await self.accounts.warm()
        except CallFailed as exc:
            log.warning(
                "could not list the workspace's people (%s): each is looked up on first contact", failure(exc)
            )
            return
        log.info("knew %d people of the workspace after %.1f s (users.list)", known, loop.time() - started)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the facts ------------------------------------------------------------------------------

    async def person(self, user_id: str, team_id: str | None = None, *, team_known: bool = False) -> Person:
        """What the decision needs to know about someone. `team_known`: the payload named their
        organisation (events do); otherwise, unless everyone from anywhere may use the bot, users.info
        says. Raises CallFailed when Slack cannot be asked."""
        policy = self.policy
        account_needed, groups_needed = self._needs(user_id, team_id, team_known)
        account = await self.accounts.get(user_id) if account_needed else None
        team = team_id if team_known else account.team_id if account is not None else None
        is_guest = account.is_guest if account is not None and not policy.allow_guests else False
        groups: frozenset[str] = frozenset()
        if groups_needed:
            found = [g for g in sorted(policy.allowed_usergroups) if user_id in await self.groups.members(g)]
            groups = frozenset(found)
        return Person(user_id, team, is_guest=is_guest, usergroups=groups)

    def _needs(self, user_id: str, team_id: str | None, team_known: bool) -> tuple[bool, bool]:
        """Whether deciding needs the person's account, and the user groups' members."""
        policy = self.policy
        need_team = not team_known and not policy.allow_external
        # Whether someone is a guest matters unless guests may, or they are turned away already for
        # being from another organisation.
        need_guest = not policy.allow_guests and needs_account_lookup(policy, team_id if team_known else None)
        groups = (
            policy.restricts_people and user_id not in policy.allowed_users and not self.is_admin(user_id)
        )
        return need_team or need_guest, groups

    def _known(self, user_id: str, team_id: str | None) -> bool:
        """Whether everything deciding on this person's message needs is already at hand."""
        account_needed, groups_needed = self._needs(user_id, team_id, True)
        if account_needed and not self.accounts.known(user_id):
            return False
        return not groups_needed or all(self.groups.known(g) for g in self.policy.allowed_usergroups)

    async def check(
        self, user_id: str, place: Place, *, team_id: str | None = None, team_known: bool = False
    ) -> Denial | None:
        """None when the person may use the bot here; otherwise the line that says why not."""
        try:
            person = await self.person(user_id, team_id, team_known=team_known)
        except CallFailed as exc:
            log.warning("could not check %s's account with Slack (%s): not taken", user_id, failure(exc))
            return UNCHECKED
        return decide(self.policy, person, place)

    async def check_anywhere(self, user_id: str) -> Denial | None:
        """The person checks alone (guests, other organisations, the allow-lists), wherever they are:
        what the Home tab says about them."""
        open_places = dataclasses.replace(self.policy, allowed_channels=frozenset(), allow_dms=True)
        try:
            person = await self.person(user_id)
        except CallFailed:
            return UNCHECKED
        return decide(open_places, person, Place(""))

    async def allows(self, user_id: str, channel_id: str, team_id: str | None) -> bool:
        """Whether someone's message may reach Claude (the thread history, recovered deliveries); a
        message whose author cannot be checked does not."""
        return await self.check(user_id, place_of(channel_id), team_id=team_id, team_known=True) is None

    # --- messages -------------------------------------------------------------------------------

    async def admit(self, candidate: Candidate) -> bool:
        """Whether to store the message. One turned away is acknowledged with only its event id kept,
        and its author told why (once per thread). Raises AccessUndecided when the decision is late."""
        inbound = candidate.inbound
        place = Place(inbound.key.channel_id, is_dm=inbound.kind is InboundKind.DM)
        deciding = self.check(inbound.user_id, place, team_id=inbound.user_team, team_known=True)
        if self._known(inbound.user_id, inbound.user_team):
            denial = await deciding  # answered from what is known, without waiting on anything
        else:
            try:
                # Lookups it waits for go on if it gives up (bot/slack/lookups.py): they answer the
                # redelivery.
                async with asyncio.timeout(ACK_WAIT_SECONDS):
                    denial = await deciding
            except TimeoutError:
                raise AccessUndecided(f"no access decision for {inbound.user_id} in time") from None
        if denial is None:
            return True
        if candidate.needs_conversation and not await self.store.takes_part(inbound.key):
            return False  # a reply in a thread the bot has no part in: nothing to say
        if inbound.event_id is not None and not await self.store.mark_event_processed(inbound.event_id):
            return False  # a redelivery of one already turned away
        self._spawn(self._turn_away(inbound, denial))
        return False

    async def _turn_away(self, inbound: Inbound, denial: Denial) -> None:
        key = inbound.key
        log.info("%s turned away in %s: %s", inbound.user_id, key, denial.reason.value)
        if not self.first_time(key, inbound.user_id):
            return
        await audit(self.store, inbound.user_id, "denied", thread=key, detail={"reason": denial.reason.value})
        # A thread with no replies shows no ephemeral (docs.slack.dev/reference/methods/
        # chat.postEphemeral): a message that starts one is answered beside it, in the channel.
        in_thread = key.thread_ts if inbound.ts != key.thread_ts else None
        await self.tell(inbound.user_id, key.channel_id, denial.message, thread_ts=in_thread)

    def first_time(self, key: ThreadKey, user_id: str) -> bool:
        """Whether this person was not yet told anything in this thread (and now counts as told)."""
        mark = (str(key), user_id)
        if mark in self._told:
            self._told.move_to_end(mark)
            return False
        self._told[mark] = None
        if len(self._told) > TOLD_SIZE:
            self._told.popitem(last=False)
        return True

    async def tell(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None) -> None:
        """A line only this person sees."""
        await self.budget.take("chat.postEphemeral")
        try:
            await self.client.chat_postEphemeral(
                channel=channel_id,
                user=user_id,
                text=text,
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                thread_ts=thread_ts,
            )
        except CallFailed as exc:
            log.warning("could not tell %s why they were turned away: %s", user_id, failure(exc))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._keep(asyncio.create_task(work))

    def _keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference until it is done (the loop keeps only weak ones), and log its failure."""
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("access work failed", exc_info=task.exception())
