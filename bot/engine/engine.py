"""Turn orchestration: the durable inbox in, one worker per thread, leases, recovery, stop and reset.

A thread's messages are drained by whichever process holds the thread's lease in the store, one turn
at a time, in order; different threads run concurrently up to `MAX_CONCURRENT_TURNS`. Background
loops renew this process's leases, pick up threads nobody is working on (a crashed replica's, or
messages that arrived while the lease was being released), and apply Stop requests made on other
replicas.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from bot import logs
from bot.claude.api import ClaudeApi
from bot.config import Settings
from bot.engine.control import TurnControl
from bot.engine.turn import TurnRunner
from bot.model import Inbound, ThreadKey
from bot.slack.surface import SlackSurface
from bot.store import Enqueued, InterruptedTurn, Store, TurnStart

log = logging.getLogger(__name__)

RECEIVED_REACTION = "eyes"
# Slack redelivers an unacknowledged event for a few minutes: that long after a process was last
# seen, a delivery it took down with it may still be missing.
RECOVERY_WINDOW_SECONDS = 600.0
INTERRUPTED_MARK = "\n\n_(interrupted: the bot restarted)_"
STOP_POLL_SECONDS = 0.5
SUSPEND_SECONDS = 2.0  # of the shutdown grace, kept for turns cut short to suspend themselves


def new_owner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class _Worker:
    task: asyncio.Task[None]
    again: bool = False
    control: TurnControl | None = None
    # Turns the store claimed along with a message (see Store.enqueue), oldest first. Every one that
    # resolves to a TurnStart holds claimed messages and must run: none may be dropped.
    claims: deque[asyncio.Future[TurnStart | None]] = field(default_factory=deque)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        slack: SlackSurface,
        claude: ClaudeApi,
        runner: TurnRunner,
    ) -> None:
        self.settings = settings
        self.store = store
        self.slack = slack
        self.claude = claude
        self.runner = runner
        self.owner = runner.owner
        self._slots = asyncio.Semaphore(settings.max_concurrent_turns)
        self._workers: dict[ThreadKey, _Worker] = {}
        self._loops: list[asyncio.Task[None]] = []  # the ones that start work
        self._guards: list[asyncio.Task[None]] = []  # the ones running turns need until they end
        self._chores: set[asyncio.Task[None]] = set()
        self._claiming: dict[ThreadKey, int] = {}  # submits that may claim the thread's turn
        self._deferred_kicks: set[ThreadKey] = set()
        self._peers = True  # until the first heartbeat says otherwise
        self._accepting = True

    # --- inbound ----------------------------------------------------------------------------------

    async def submit(self, inbound: Inbound, *, in_conversation_only: bool = False) -> Enqueued:
        """Persist a message (before Slack is acknowledged) and wake its thread's worker."""
        received = time.monotonic()
        key = inbound.key
        # With no worker on the thread, the store may claim its turn along with storing the message
        # (see Store.enqueue); until it answers, other kicks of the thread wait (see kick). Not while
        # other replicas run: a turn claimed here would skip the worker's look for earlier messages
        # of the thread a dead replica never stored, and answer this one before them.
        claim = self._accepting and key not in self._workers and not self._peers
        if claim:
            self._claiming[key] = self._claiming.get(key, 0) + 1
        try:
            result = await self.store.enqueue(
                inbound, claim_for=self.owner if claim else None, in_conversation_only=in_conversation_only
            )
        finally:
            if claim:
                self._claiming[key] -= 1
                if not self._claiming[key]:
                    del self._claiming[key]
                    if key in self._deferred_kicks:
                        self._deferred_kicks.discard(key)
                        self.kick(key)
        if result.new and self._accepting:
            if result.thread_busy:
                # The thread is mid-turn: show at once that the message was received; it joins the next turn.
                self._background(self.slack.react(key, inbound.ts, RECEIVED_REACTION, received))
            elif key not in self._workers:
                self._background(self._show_working(key, received, inbound.ts))
            self.kick(key, claimed=result.claimed)
        return result

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _show_working(self, key: ThreadKey, received: float, message_ts: str) -> None:
        await self.store.arrivals.calm()
        await self.slack.show_working(key, received, message_ts, RECEIVED_REACTION)

    def kick(self, key: ThreadKey, *, claimed: asyncio.Future[TurnStart | None] | None = None) -> None:
        """Make sure a worker drains the thread; `claimed` resolves to a first turn the store claimed
        along with the message (or None when it could not)."""
        if claimed is None and key in self._claiming:
            # A worker starting now could race the store's claim (same owner, so it would see the
            # lease as its own and nothing pending); the submit in flight kicks once it is answered.
            self._deferred_kicks.add(key)
            return
        worker = self._workers.get(key)
        if worker is None:
            worker = self._workers[key] = _Worker(asyncio.create_task(self._work(key), name=f"thread {key}"))
        worker.again = True
        if claimed is not None:
            worker.claims.append(claimed)

    async def _work(self, key: ThreadKey) -> None:
        worker = self._workers[key]
        logs.thread_var.set(str(key))  # this task's log lines name the thread
        try:
            async with self._slots:
                while self._accepting:
                    worker.again = False
                    await self.store.arrivals.calm()
                    start = None
                    while worker.claims and start is None:
                        start = await worker.claims.popleft()
                    if worker.claims:
                        worker.again = True  # another claimed turn follows this one
                    if start is None:
                        if self._peers:
                            await self._recover_lost_deliveries(key)
                        start = await self.store.start_turn(key, self.owner)
                    if start is None:
                        if worker.claims:
                            continue
                        return  # another replica holds the thread; it drains the inbox
                    recovered: tuple[InterruptedTurn, ...] = ()
                    if start.unsure:
                        recovered = await self._resolve_unsure(key, start)
                        start = await self.store.start_turn(key, self.owner)
                        if start is None:
                            return
                        start = replace(start, interrupted=start.interrupted + recovered)
                    for old in start.interrupted:
                        if old not in recovered:  # those were logged by _resolve_unsure
                            log.warning(
                                "took over turn %s in %s from a replica that stopped (running it again)",
                                old.turn_id,
                                key,
                            )
                    if start.turn_id is None:
                        if worker.again:
                            continue
                        return
                    logs.turn_var.set(start.turn_id)
                    if start.resumed is not None:
                        log.info("turn %s in %s resumed after a restart", start.turn_id, key)
                    else:
                        log.info(
                            "turn %s in %s started (%d message(s))", start.turn_id, key, len(start.items)
                        )
                    # The lease was taken (claimed or renewed) just now, by the store call above.
                    control = TurnControl(turn_id=start.turn_id, lease_confirmed_at=time.monotonic())
                    if self._shutting_down():
                        control.suspend()  # claimed as the shutdown began: it goes on after the restart
                    worker.control = control
                    turn = asyncio.create_task(self.runner.run(start, control), name=f"turn {start.turn_id}")
                    control.task = turn
                    try:
                        outcome, more = await asyncio.shield(turn)
                    except asyncio.CancelledError:
                        # Shutdown: let the turn close itself, then leave.
                        turn.cancel()
                        await asyncio.gather(turn, return_exceptions=True)
                        raise
                    finally:
                        worker.control = None
                    log.info("turn %s in %s ended: %s", start.turn_id, key, outcome.value)
                    if not (more or worker.again):
                        return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker for %s crashed; the sweeper will pick the thread up again", key)
        finally:
            if self._workers.get(key) is worker:
                del self._workers[key]

    def _shutting_down(self) -> bool:
        return not self._accepting

    async def _resolve_unsure(self, key: ThreadKey, start: TurnStart) -> tuple[InterruptedTurn, ...]:
        """A dead replica's turn was about to post or had posted: Slack tells which. Either way it runs
        again; what it had shown is marked interrupted first (and the stream it left open finished), so
        the thread reads as a broken answer followed by the whole one, never as two answers."""
        resolved = []
        for turn in start.unsure:
            try:
                shown = await self.slack.bot_messages_after(key, turn.last_answer_ts)
            except Exception:
                log.exception("could not check what an interrupted turn posted; treating it as posted")
                shown = [("?", "")]
            for ts, text in shown:
                if ts != "?":
                    await self.slack.mark_interrupted(key, ts, text, INTERRUPTED_MARK)
            resolved.append(await self.store.resolve_interrupted(turn.turn_id, posted=bool(shown)))
            log.warning(
                "took over turn %s in %s from a replica that stopped (%s)",
                turn.turn_id,
                key,
                "it had answered in part, marked interrupted: running it again"
                if shown
                else "nothing was shown: running it again",
            )
        return tuple(resolved)

    async def _recover_lost_deliveries(self, key: ThreadKey) -> None:
        """Before a follow-up turn, store any message of the thread Slack has not (yet) delivered to a
        live replica, so answers keep the order people wrote in (see SlackSurface.missed_messages).

        Only done while another process was seen recently (a peer, or a predecessor that stopped
        without a clean shutdown): a delivery can only be lost with a process that died."""
        frontier, known = await self.store.thread_frontier(key)
        if frontier is None:
            return
        for inbound in await self.slack.missed_messages(key, frontier, known):
            if (await self.store.enqueue(inbound)).new:
                log.warning(
                    "message %s in %s was not delivered to a live replica; taken from the thread",
                    inbound.ts,
                    key,
                )

    # --- controls ---------------------------------------------------------------------------------

    async def stop(self, key: ThreadKey, user_id: str, *, turn_id: str | None = None) -> bool:
        """Stop the thread's running turn (only if it is `turn_id`, when given), here or on another
        replica. True when one was running."""
        worker = self._workers.get(key)
        control = worker.control if worker is not None else None
        if control is not None and turn_id in (None, control.turn_id) and control.stop(user_id):
            return True
        return await self.store.request_stop(key, user_id, turn_id=turn_id)

    async def reset(self, key: ThreadKey, user_id: str) -> None:
        """New session: stop what runs, forget history and container, delete the thread's files."""
        await self.stop(key, user_id)
        await self._delete_files(await self.store.reset_thread(key))

    async def _delete_files(self, file_ids: list[str]) -> None:
        """Delete Anthropic files; one that cannot be deleted is logged and skipped."""
        for file_id in file_ids:
            try:
                await self.claude.delete_file(file_id)
            except Exception:
                log.exception("could not delete Anthropic file %s", file_id)

    async def retry(self, key: ThreadKey) -> int:
        count = await self.store.retry_failed(key)
        if count:
            self.kick(key)
        return count

    def running_here(self) -> list[ThreadKey]:
        return [k for k, w in self._workers.items() if w.control is not None]

    # --- background loops -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.warm_up(self.owner)
        self._peers = await self.store.heartbeat(self.owner, recent_seconds=RECOVERY_WINDOW_SECONDS)
        self._loops = [
            asyncio.create_task(self._sweep(), name="orphan sweeper"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
        ]
        self._guards = [
            asyncio.create_task(self._heartbeat(), name="lease heartbeat"),
            asyncio.create_task(self._stop_poller(), name="stop poller"),
        ]

    async def _heartbeat(self) -> None:
        interval = self.settings.lease_seconds / 3
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            # Turns running before the renewal started: their leases were taken before it, so a lease
            # missing from its answer was lost, not yet to be taken.
            running = {key: w.control for key, w in self._workers.items() if w.control is not None}
            asked = time.monotonic()
            try:
                self._peers = await self.store.heartbeat(self.owner, recent_seconds=RECOVERY_WINDOW_SECONDS)
                held = (
                    await self.store.renew_leases(self.owner, list(self._workers)) if self._workers else set()
                )
            except Exception:
                log.exception("lease heartbeat failed")
                if time.monotonic() - renewed > self.settings.lease_seconds:
                    # Cut off from the database for longer than a lease: another replica may be
                    # answering these threads by now. Stop rather than answer twice.
                    self._fence(running, "its lease could not be renewed for longer than LEASE_SECONDS")
                continue
            renewed = time.monotonic()
            for key, control in running.items():
                if key in held:
                    control.lease_confirmed_at = max(control.lease_confirmed_at, asked)
            self._fence(
                {k: c for k, c in running.items() if k not in held}, "another replica took its thread over"
            )

    def _fence(self, running: dict[ThreadKey, TurnControl], why: str) -> None:
        """Stop turns whose thread may be another replica's now (see bot/store/fencing.py)."""
        for key, control in running.items():
            worker = self._workers.get(key)
            if worker is not None and worker.control is control and not control.fenced:
                log.warning("stopping turn %s in %s: %s", control.turn_id, key, why)
                control.fence()

    async def _sweep(self) -> None:
        """Start work nobody is doing: at start-up (resume after a restart) and every few seconds."""
        interval = max(1.0, self.settings.lease_seconds / 6)
        while True:
            try:
                for key in await self.store.orphaned_threads():
                    if self._accepting:
                        self.kick(key)
            except Exception:
                log.exception("sweeping for orphaned threads failed")
            await asyncio.sleep(interval)

    async def _stop_poller(self) -> None:
        while True:
            await asyncio.sleep(STOP_POLL_SECONDS)
            if not self.running_here():
                continue
            try:
                for key, user_id in await self.store.stop_requests(self.owner):
                    worker = self._workers.get(key)
                    if worker is not None and worker.control is not None:
                        worker.control.stop(user_id)
            except Exception:
                log.exception("polling stop requests failed")

    async def _housekeeping(self) -> None:
        while True:
            try:
                cutoff = time.time() - self.settings.prune_after_days * 86400
                pruned = await self.store.prune(cutoff)
                if pruned:
                    log.info("pruned %d old inbox rows and event keys", pruned)
                if self.settings.file_retention_days is not None:
                    expired = await self.store.expired_files(
                        time.time() - self.settings.file_retention_days * 86400
                    )
                    # Marked first: from now on no request of their threads may name them.
                    await self.store.mark_files_deleted(expired)
                    await self._delete_files(expired)
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(3600)

    async def shutdown(self, grace_seconds: float) -> None:
        """Stop taking new work and suspend running turns, within `grace_seconds` in all; drop leases.

        A turn stops at the end of the model response it is receiving (everything it did is saved by
        then) and is suspended; one still mid-response when the grace is nearly over is cancelled and
        suspended where it is. Either way it goes on after the restart, in whichever process takes its
        thread next (Store.suspend_turn), instead of asking the person to send their message again."""
        self._accepting = False
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for worker in self._workers.values():
            if worker.control is not None:
                worker.control.suspend()
        tasks = [w.task for w in self._workers.values()]
        if tasks:
            # What is left of the grace after the wait is for the cancelled turns to suspend themselves
            # (one write and one message each).
            reserve = min(SUSPEND_SECONDS, grace_seconds / 2)
            _, pending = await asyncio.wait(tasks, timeout=grace_seconds - reserve)
            for task in pending:
                task.cancel()
            if pending:
                _, stuck = await asyncio.wait(pending, timeout=reserve)
                if stuck:
                    log.warning(
                        "%d turn(s) could not be suspended in time; they are recovered as interrupted",
                        len(stuck),
                    )
        # Renewed (and Stop presses honoured) until here: a grace longer than LEASE_SECONDS must not let
        # another replica take over a turn that is still finishing its response.
        for loop in self._guards:
            loop.cancel()
        await asyncio.gather(*self._guards, return_exceptions=True)
        await self.store.release_all(self.owner)
        await self.store.goodbye(self.owner)
