"""One turn, end to end: files in, the conversation with Claude, files out, the final state.

This is where the Slack side and the Claude side meet; each only sees neutral types from
`bot.model`, passed through here.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import metrics
from bot.assistants.configs import ChannelConfigs
from bot.claude import visuals
from bot.claude.api import ClaudeApi
from bot.claude.content import Said, safe_name, thread_context, user_content
from bot.claude.conversation import Conversation, TurnInput
from bot.claude.errors import ClaudeError
from bot.claude.file_refs import without_deleted_files
from bot.claude.options import code_execution_is_free, prompt_notes, web_tools
from bot.claude.request import (
    Block,
    Message,
    PromptContext,
    estimate_tokens,
    repair_history,
    system_prompt,
    tool_definitions,
    trim_history,
)
from bot.config import Settings
from bot.connectors.tools import sources_note
from bot.engine.control import RESTART_NOTICE, TurnControl, TurnSuspended, continues, uncancel
from bot.engine.files_in import FilesIn
from bot.governance.spend import SpendTracker, TurnSpend, container_seconds
from bot.model import (
    InboundFile,
    Notice,
    SkillRef,
    StepStarted,
    ThreadKey,
    ToolOutput,
    TurnEvent,
    TurnOptions,
    TurnOutcome,
    TurnResult,
    Usage,
    WebAccess,
)
from bot.slack.files_out import LocalFile
from bot.slack.inbound import TWIN_WAIT_SECONDS
from bot.slack.reply import ThreadReply
from bot.slack.surface import SlackSurface
from bot.store import InboxItem, Store, StoredFile, TurnFenced, TurnStart
from bot.tools import ToolContext, ToolRegistry

log = logging.getLogger(__name__)


class TurnRunner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        slack: SlackSurface,
        claude: ClaudeApi,
        tools: ToolRegistry,
        spend: SpendTracker,
        *,
        owner: str,
        skills: tuple[SkillRef, ...] = (),
        assistants: ChannelConfigs | None = None,
    ) -> None:
        self.owner = owner
        self.skills = skills
        self.assistants = assistants
        self.spend = spend
        self.settings = settings
        self.store = store
        self.slack = slack
        self.claude = claude
        self.tools = tools
        self.files_in = FilesIn(settings, store, slack, claude)
        self.conversation = Conversation(
            claude,
            model=settings.claude_model,
            max_tokens=settings.max_output_tokens,
            max_continuations=settings.turn_max_continuations,
        )

    async def run(self, start: TurnStart, control: TurnControl) -> tuple[TurnOutcome, bool]:
        """Run the turn to its end; returns the outcome and whether more messages are waiting (the
        thread's lease is then kept for the next turn, otherwise it has been given up)."""
        assert start.turn_id is not None
        turn_id = start.turn_id
        key = start.thread.key
        asker = start.items[-1].user_id
        metrics.ACTIVE_TURNS.inc()
        began = time.monotonic()
        try:
            outcome, more = await self._run(start, control, turn_id=turn_id, key=key, asker=asker)
        finally:
            metrics.ACTIVE_TURNS.dec()
        metrics.TURNS.labels(outcome.value).inc()
        metrics.TURN_SECONDS.observe(time.monotonic() - began)
        return outcome, more

    async def _run(
        self, start: TurnStart, control: TurnControl, *, turn_id: str, key: ThreadKey, asker: str
    ) -> tuple[TurnOutcome, bool]:
        async def first_post() -> None:
            if control.settled:
                return
            try:
                await self.store.mark_posted(turn_id, self.owner)
            except TurnFenced:
                control.fence()  # and nothing may be posted: the reply does not post on an error
                raise

        reply = self.slack.reply(
            key,
            recipient_user_id=asker,
            # The asker's own organisation: Slack refuses a stream to a Slack Connect user under the
            # workspace's team (timescale/tiger-agents-for-work#231).
            recipient_team_id=start.items[-1].user_team or key.team_id,
            on_first_post=first_post,
            turn_id=turn_id,
        )
        await reply.begin()
        # Knows whether part of the turn is in the thread's history already (a retry would repeat it).
        hooks = _Hooks(self, start, reply, control)
        try:
            return await self._answer(start, control, reply, hooks, turn_id=turn_id, key=key, asker=asker)
        except TurnFenced:
            return await self._lost(reply, hooks, turn_id=turn_id, key=key, asker=asker)

    async def _answer(
        self,
        start: TurnStart,
        control: TurnControl,
        reply: ThreadReply,
        hooks: _Hooks,
        *,
        turn_id: str,
        key: ThreadKey,
        asker: str,
    ) -> tuple[TurnOutcome, bool]:
        result: TurnResult
        if control.suspending:
            # Claimed while the bot was already shutting down: nothing asked yet, it all goes on after.
            return await self._suspend(control, reply, turn_id=turn_id, key=key)
        limit = asyncio.timeout(self.settings.turn_max_seconds)
        hooks.deadline = asyncio.get_running_loop().time() + self.settings.turn_max_seconds
        try:
            async with limit:
                result = await self._converse(start, reply, hooks)
        except TimeoutError:
            if limit.expired():
                minutes = self.settings.turn_max_seconds / 60
                result = TurnResult(
                    TurnOutcome.LIMIT,
                    message=f"I stopped because this turn ran longer than {minutes:g} minutes.",
                )
            else:
                result = _crashed()  # a network timeout that escaped its handler, not the time limit
        except asyncio.CancelledError:
            if control.fenced:
                uncancel()
                raise TurnFenced(turn_id) from None
            uncancel()  # ours (a stop, the shutdown), fully handled here
            if control.stopped_by is None:
                # Shutdown, and the grace is over: suspend where it is. A response cut off mid-stream
                # was not saved: it is asked for again when the turn is resumed.
                return await self._suspend(control, reply, turn_id=turn_id, key=key)
            result = TurnResult(
                TurnOutcome.STOPPED,
                message=f"Stopped by <@{control.stopped_by}>. The sandbox keeps whatever had already run.",
            )
        except ClaudeError as exc:
            log.error("turn failed: %s", exc)
            result = TurnResult(TurnOutcome.FAILED, message=exc.user_message)
            if exc.retryable and not hooks.saved:
                control.closing = True
                # Back in the inbox before the Retry button shows, so pressing it finds the message.
                more = await self._finish(turn_id, key, asker, result, requeue=True, reply=reply, hooks=hooks)
                control.settled = True
                await self._close(reply, result, retry=True)
                return result.outcome, more
        except TurnSuspended:
            return await self._suspend(control, reply, turn_id=turn_id, key=key)
        except TurnFenced:
            raise
        except Exception:
            result = _crashed()
        if control.fenced:
            raise TurnFenced(turn_id)  # its end is for the new owner to post
        await self.confirm_lease(control, key)
        # A stop from now on (Slack's own stop noticed by the last append, a late button press) must
        # not cancel the turn's end: it would never be recorded as finished.
        control.closing = True
        await asyncio.shield(self._close(reply, result, retry=False))
        more = await asyncio.shield(
            self._finish(turn_id, key, asker, result, requeue=False, reply=reply, hooks=hooks)
        )
        return result.outcome, more

    async def confirm_lease(self, control: TurnControl, key: ThreadKey) -> None:
        """Before the turn shows anything more: when its lease was not confirmed lately (the process
        stalled past its heartbeat), ask the store now. A lease lost meanwhile means another replica is
        answering the thread: raise TurnFenced rather than post a second answer. Writes to the store are
        fenced in the statement itself (fencing.py); posts to Slack only by this check, so text already
        handed to the reply may still go out within one STREAM_UPDATE_SECONDS of it."""
        if control.fenced:
            raise TurnFenced(str(control.turn_id))
        if not control.lease_in_doubt(self.settings.lease_seconds, time.monotonic()):
            return
        asked = time.monotonic()
        try:
            held = await self.store.renew_leases(self.owner, [key])
        except Exception:
            # The database cannot say: the heartbeat stops the turn if that lasts a lease (engine.py).
            log.exception("could not confirm the lease of turn %s in %s", control.turn_id, key)
            return
        if key not in held:
            log.warning("turn %s in %s: its lease ran out while the process stalled", control.turn_id, key)
            control.fenced = True
            raise TurnFenced(str(control.turn_id))
        control.lease_confirmed_at = max(control.lease_confirmed_at, asked)

    async def _suspend(
        self, control: TurnControl, reply: ThreadReply, *, turn_id: str, key: ThreadKey
    ) -> tuple[TurnOutcome, bool]:
        """The bot is shutting down: the turn keeps its messages and saved responses and goes on after
        the restart (Store.suspend_turn), so nobody has to ask again. Suspended first, then told: a
        process killed in between leaves a turn that is resumed, not one closed as interrupted."""
        control.closing = True  # a late stop must not cancel the suspension
        await self.store.suspend_turn(turn_id, self.owner)
        control.settled = True  # the notice below is not the answer: it must not block a resume
        await reply.finish(closing=RESTART_NOTICE, retry=False)
        log.info("turn %s in %s suspended for the restart; it goes on when the bot is back", turn_id, key)
        return TurnOutcome.SUSPENDED, False

    async def _lost(
        self, reply: ThreadReply, hooks: _Hooks, *, turn_id: str, key: ThreadKey, asker: str
    ) -> tuple[TurnOutcome, bool]:
        """Another replica took the thread over while this one could not renew its lease (or a write of
        the turn was refused for that reason): stop at once and post nothing more. The new owner closes
        what this turn showed and answers; only the tokens spent here are recorded."""
        log.warning(
            "turn %s in %s lost its thread to another replica: stopped, posting nothing more", turn_id, key
        )
        reply.abandon()
        self._count_tokens(hooks.usage)
        try:
            await self.store.record_usage(
                turn_id, key, user_id=asker, model=hooks.model, turn_usage=hooks.usage
            )
        except Exception:
            log.exception("could not record the usage of turn %s", turn_id)
        return TurnOutcome.LOST, False

    @staticmethod
    def _count_tokens(usage: Usage) -> None:
        for kind, value in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            if value:
                metrics.TOKENS.labels(kind).inc(value)

    async def _finish(
        self,
        turn_id: str,
        key: ThreadKey,
        asker: str,
        result: TurnResult,
        *,
        requeue: bool,
        reply: ThreadReply,
        hooks: _Hooks,
    ) -> bool:
        # Every response of the turn, also of one that ended early (stopped, failed, timed out).
        self._count_tokens(hooks.usage)
        await hooks.bill_sandbox()
        try:
            return await self.store.finish_turn(
                turn_id,
                key,
                owner=self.owner,
                outcome=result.outcome.value,
                user_id=asker,
                model=hooks.model,
                turn_usage=hooks.usage,
                requeue=requeue,
                answer_ts=reply.posted_ts[-1] if reply.posted_ts else None,
            )
        finally:
            hooks.spent()

    async def _close(self, reply: ThreadReply, result: TurnResult, *, retry: bool) -> None:
        closing = result.message
        if result.outcome is TurnOutcome.ANSWERED and not result.text.strip() and not reply.posted:
            closing = "(Claude finished without writing an answer.)"
        await reply.finish(closing=closing, retry=retry)

    # --- the conversation -------------------------------------------------------------------------

    async def _converse(self, start: TurnStart, reply: ThreadReply, hooks: _Hooks) -> TurnResult:
        assert start.turn_id is not None
        thread = start.thread
        key = thread.key
        events: list[TurnEvent] = []
        for old in start.interrupted:
            if old.posted_output:
                events.append(
                    Notice("My previous answer here was interrupted (the bot restarted); answering again.")
                )
        if events:
            await reply.handle(events)
        refused = await hooks.start_spending()
        if refused is not None:
            return TurnResult(TurnOutcome.LIMIT, message=refused)

        history = repair_history(list(start.history))
        if self.settings.file_retention_days is not None:
            # Files deleted for retention must not be named again: the API would reject every
            # request of the thread (New session deletes files too, but forgets the history).
            history = without_deleted_files(history, await self.store.deleted_files(key))
        history, trimmed = trim_history(history, thread.trimmed_blocks, self.settings.context_budget_tokens)
        if trimmed > thread.trimmed_blocks:
            await self.store.update_thread(key, trimmed_blocks=trimmed)
            await reply.handle(
                [
                    Notice(
                        "This thread is long, so I dropped the oldest code outputs from my memory of it (the "
                        "sandbox still has the data)."
                    )
                ]
            )
        # Images and PDFs are shown in the turn they arrive only (bot/claude/visuals.py): in the history
        # a line of text stands in for each, so no later request carries them past the API's limits.
        history = visuals.without_visuals(
            history, {f.anthropic_file_id: f.name for f in start.files if f.anthropic_file_id}
        )
        saved = start.resumed.messages if start.resumed is not None else ()
        if saved:
            # Resumed after a restart: the question as it was first sent (files and context included).
            content: list[Block] = saved[0]["content"]
        else:
            content = await self._question(start, reply, history, hooks, again=start.resumed is not None)
        options = hooks.options
        prompt = PromptContext(
            bot_name=self.slack.bot_name,
            channel_label=await self.slack.channel_label(key),
            tool_names=self.tools.names,
            extra="\n\n".join(
                filter(
                    None,
                    [
                        prompt_notes(options.web, options.skills),
                        self.tools.prompt_notes,
                        self.settings.system_prompt_extra,
                        sources_note(options.data_sources),
                        options.persona,
                    ],
                )
            ),
        )
        tools = [
            *tool_definitions(
                self.settings.code_execution_tool, self.tools.definitions(self.settings.code_execution_tool)
            ),
            *web_tools(options.web),
        ]
        # Code execution is not billed in requests that offer the current web tools (pricing).
        hooks.sandbox_free = code_execution_is_free(tools)
        turn = TurnInput(
            system=system_prompt(prompt),
            tools=tools,
            history=history,
            user_content=content,
            container_id=thread.container_id,
            deadline=hooks.deadline,
            resumed=list(saved[1:]),
            resumed_stop=start.resumed.stop_reason if start.resumed is not None else None,
            # Only needed, and only worth a pass over the history, when a budget may stop a request.
            prompt_estimate=estimate_tokens([history, content]) if hooks.budgeted else 0,
            skills=options.skills,
            model=options.model,
        )
        if any(b.get("type") == "container_upload" for b in content):
            hooks.sandbox_used = True  # preloaded files are billed even when no code runs
        result = await self.conversation.run(turn, hooks)
        problems = await self._files_out(key, result, reply)
        problems += await hooks.budget_notes()
        if problems:
            result.message = "\n".join(filter(None, [*problems, result.message]))
        return result

    def options(self, key: ThreadKey) -> TurnOptions:
        """The turn's knobs: the deployment's settings, with what an admin set for the channel
        (`/claude config`, bot/assistants/) in their place."""
        settings = self.settings
        web = WebAccess(
            search=settings.web_search,
            fetch=settings.web_fetch,
            allowed_domains=tuple(settings.web_allowed_domains),
            blocked_domains=tuple(settings.web_blocked_domains),
        )
        base = TurnOptions(web=web, skills=self.skills, model=settings.claude_model)
        if self.assistants is None:
            return base
        return self.assistants.assistant(key.channel_id).options(base, self.skills)

    async def _question(
        self, start: TurnStart, reply: ThreadReply, history: list[Message], hooks: _Hooks, *, again: bool
    ) -> list[Block]:
        """The turn's user content: who said what, the thread's earlier messages on first contact, and
        the attached files taken into the sandbox. `again`: the turn runs again from its start after
        a restart, so its own files, taken in already, are attached again."""
        items = start.items
        if any(i.awaiting_twin for i in items):
            # Started from an app_mention without files: the message's files may come with its twin.
            assert start.turn_id is not None
            awaited = [(i.id, i.ts, i.files) for i in items if i.awaiting_twin]
            settled = await self.store.twins.settle(
                start.turn_id, start.thread.key.channel_id, awaited, TWIN_WAIT_SECONDS
            )
            items = tuple(replace(i, files=settled.get(i.id, i.files)) for i in items)
        said = [Said(await self.slack.user_name(i.user_id), i.user_id, i.text) for i in items]
        context_text: str | None = None
        extra_files: list[InboundFile] = []
        if not start.thread.context_loaded and any(i.wants_context for i in items):
            context_text, extra_files = await self._thread_context(start.thread.key, items)
        incoming = [*extra_files, *(f for i in items for f in i.files)]
        files = await self.files_in.take(
            start.thread.key, start.files, incoming, reply, hooks.deadline, again=again
        )
        room = 0
        if any(
            f.mimetype in visuals.IMAGE_TYPES or f.mimetype == visuals.PDF_TYPE for f in files.blocks_files
        ):
            # What the history leaves of the context budget, for the images and PDFs shown now.
            room = self.settings.context_budget_tokens - estimate_tokens(history)
        return user_content(
            said,
            files.blocks_files,
            context=context_text,
            notes=list(files.notes),
            images=self.settings.images_as_blocks,
            pdfs=self.settings.pdfs_as_blocks,
            visual_budget_tokens=room,
        )

    async def _thread_context(
        self, key: ThreadKey, items: tuple[InboxItem, ...]
    ) -> tuple[str | None, list[InboundFile]]:
        """The messages people wrote in the thread before the bot was first mentioned, and their files."""
        first_ts = float(items[0].ts)
        try:
            earlier = [
                m for m in await self.slack.thread_messages(key) if float(m.ts) < first_ts and not m.is_bot
            ]
        except Exception:
            log.exception("could not read the thread's earlier messages")
            return None, []
        if not earlier:
            return None, []
        said = [Said(m.name, m.user_id, m.text) for m in earlier]
        return thread_context(said), [f for m in earlier for f in m.files]

    async def reattach_blocks(self, key: ThreadKey) -> list[Block]:
        return await self.files_in.reattach_blocks(key)

    # --- files out --------------------------------------------------------------------------------

    async def _files_out(self, key: ThreadKey, result: TurnResult, reply: ThreadReply) -> list[str]:
        """Fetch every file the sandbox produced this turn and post them together in the thread."""
        if not (result.output_file_ids or reply.long_outputs or reply.answer_too_long):
            return []
        problems: list[str] = []
        local: list[LocalFile] = []
        tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="claude-out-", dir=self.settings.tmp_dir))
        try:
            for file_id in result.output_file_ids:
                try:
                    info = await self.claude.file_info(file_id)
                    name = safe_name(info.filename, [f.filename for f in local])
                    # Not named after the file: a long name in emoji is over the 255 bytes a file
                    # system takes for a name (the Slack side cuts the name it shows, files_out).
                    path = tmp / str(len(local))
                    size = await self.claude.download_file(
                        file_id, path, max_bytes=self.settings.max_file_bytes
                    )
                except ClaudeError as exc:
                    log.error("could not fetch output file %s: %s", file_id, exc)
                    problems.append(
                        f"A file Claude made ({file_id}) could not be fetched: {exc.user_message}"
                    )
                    continue
                local.append(LocalFile(path, name, name, size))
                await self.store.record_file(
                    key,
                    StoredFile("output", file_id, None, file_id, name, info.mime_type, size, "", time.time()),
                )
            extra = list(reply.long_outputs)
            if reply.answer_too_long:
                extra.append(("answer.md", "".join(reply.full_text)))
            for name, text in extra:
                path = tmp / str(len(local))
                size = await asyncio.to_thread(path.write_text, text, "utf-8")
                local.append(LocalFile(path, name, name, len(text.encode("utf-8"))))
            if local:
                problems += await self.slack.upload_files(key, local)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        return problems

    # --- tools ------------------------------------------------------------------------------------

    async def run_tool(
        self,
        name: str,
        tool_input: dict[str, Any],
        key: ThreadKey,
        asker: str,
        reply: ThreadReply,
        *,
        data_sources: frozenset[str] | None = None,
    ) -> ToolOutput:
        async def messages(limit: int) -> list[dict[str, Any]]:
            return [m.to_json() for m in await self.slack.thread_messages(key, limit=limit)]

        ctx = ToolContext(
            key=key,
            user_id=asker,
            thread_messages=messages,
            post_note=reply.note,
            data_sources=data_sources,
        )
        return await self.tools.run(name, tool_input, ctx)


class _Hooks:
    """The conversation's view of the engine for one turn."""

    def __init__(
        self, runner: TurnRunner, start: TurnStart, reply: ThreadReply, control: TurnControl
    ) -> None:
        self.runner = runner
        self.start = start
        self.reply = reply
        self.control = control
        self.saved = start.resumed is not None and bool(start.resumed.messages)
        # Read once, when the turn starts: a change an admin makes meanwhile applies from the next turn.
        self.options = runner.options(start.thread.key)
        self.model = self.options.model or runner.settings.claude_model
        self.usage = Usage()
        self.deadline: float | None = None  # the turn's end, on the event loop's clock
        self.budget: TurnSpend | None = None
        self.sandbox_used = False  # code ran, or files were attached: the turn pays sandbox time
        self.sandbox_free = False  # its requests offered a current web tool: no sandbox time billed
        self._first_request: float | None = None
        self._last_response: float | None = None

    async def emit(self, events: list[TurnEvent]) -> None:
        if not self.sandbox_used and any(isinstance(e, StepStarted) and e.kind != "web" for e in events):
            self.sandbox_used = True
        await self.runner.confirm_lease(self.control, self.start.thread.key)
        await self.reply.handle(events)

    # --- spending (bot/governance/spend.py) ------------------------------------------------------

    @property
    def budgeted(self) -> bool:
        return self.budget is not None and bool(self.budget.limits)

    async def start_spending(self) -> str | None:
        """The turn's budgets (the channel's own, set by an admin, in place); the line that refuses
        the turn when one is spent already, else None."""
        tracker = self.runner.spend
        asker = self.start.items[-1].user_id
        channel = self.start.thread.key.channel_id
        limits = await tracker.limits_for(channel)
        self.budget = tracker.turn(asker, channel, limits, model=self.model)
        if not limits:
            return None
        verdict = await tracker.verdict(asker, channel, limits)
        if verdict.exceeded is None:
            return None
        log.info("turn refused: the budget %s is spent", verdict.exceeded.key)
        return tracker.refusal(verdict.exceeded, mid_turn=False)

    async def before_request(self, prompt_tokens: int, max_tokens: int) -> str | None:
        if self._first_request is None:
            self._first_request = time.monotonic()
        if self.budget is None:
            return None
        exceeded = await self.budget.may_send(prompt_tokens, max_tokens)
        if exceeded is None:
            return None
        log.info("turn stopped before a request: the budget %s would be passed", exceeded.key)
        return self.runner.spend.refusal(exceeded, mid_turn=self.usage.requests > 0)

    async def budget_notes(self) -> list[str]:
        """A line for each of the person's budgets running low (said once per period)."""
        if not self.budgeted or self.budget is None:
            return []
        tracker = self.runner.spend
        verdict = await tracker.verdict(self.budget.user_id, self.budget.channel_id, self.budget.limits)
        return tracker.low_lines(self.budget.user_id, self.budget.channel_id, verdict)

    async def bill_sandbox(self) -> None:
        """Add the sandbox time the turn is billed for (from its first request to its last response,
        at least the 5-minute minimum; none when no code ran and no file was attached, and none when
        its requests offered web search or fetch of a current version, which make it free)."""
        if not self.sandbox_used or self.sandbox_free or self._first_request is None:
            return
        active = (self._last_response or time.monotonic()) - self._first_request
        seconds = container_seconds(active, used_sandbox=True)
        self.usage = self.usage + Usage(
            container_seconds=seconds, cost_micros=await self.runner.spend.container_cost(seconds)
        )

    def spent(self) -> None:
        """The turn's cost is in the store now: checks read it from there."""
        if self.budget is not None:
            self.budget.close()
        self.runner.spend.forget()

    async def save(
        self,
        turn_messages: list[Message],
        *,
        container_id: str | None,
        container_expires_at: str | None,
        forget_container: bool,
        stop_reason: str | None,
    ) -> None:
        assert self.start.turn_id is not None
        await self.runner.store.save_turn(
            self.start.thread.key,
            self.start.thread.generation,
            self.start.turn_id,
            turn_messages,
            container_id=container_id,
            container_expires_at=container_expires_at,
            forget_container=forget_container,
            stop_reason=stop_reason,
            owner=self.runner.owner,
        )
        self.saved = self.saved or bool(turn_messages)
        if self.control.suspending and continues(stop_reason):
            # Shutting down: everything so far is saved, and the next request would outlive the grace.
            raise TurnSuspended

    def count(self, usage: Usage) -> None:
        self._last_response = time.monotonic()
        self.usage = self.usage + (self.budget.count(usage) if self.budget is not None else usage)

    async def run_tool(self, name: str, tool_input: dict[str, Any]) -> ToolOutput:
        asker = self.start.items[-1].user_id
        return await self.runner.run_tool(
            name,
            tool_input,
            self.start.thread.key,
            asker,
            self.reply,
            # The turn's own options: what its prompt told Claude is what its tools allow.
            data_sources=self.options.data_sources,
        )

    async def reattach_blocks(self) -> list[Block]:
        return await self.runner.reattach_blocks(self.start.thread.key)

    async def record_outputs(self, file_ids: list[str]) -> None:
        await self.runner.store.record_outputs(self.start.thread.key, file_ids)


def _crashed() -> TurnResult:
    """For an exception nothing else handled (called in its `except` block: the log gets the trace)."""
    log.exception("turn crashed")
    return TurnResult(
        TurnOutcome.FAILED, message="Something went wrong on my side (details are in the bot's log)."
    )
