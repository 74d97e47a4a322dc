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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from bot import metrics
from bot.claude.api import ClaudeApi, ClaudeError, FileInfo
from bot.claude.content import Said, SandboxFile, file_blocks, safe_name, thread_context, user_content
from bot.claude.conversation import Conversation, TurnInput
from bot.claude.request import (
    Block,
    Message,
    PromptContext,
    repair_history,
    system_prompt,
    tool_definitions,
    trim_history,
)
from bot.config import Settings
from bot.engine.spool import Spool
from bot.model import (
    InboundFile,
    Notice,
    ThreadKey,
    ToolOutput,
    TurnEvent,
    TurnOutcome,
    TurnResult,
    Usage,
)
from bot.slack.files_in import Download, FileRejected, human_size
from bot.slack.files_out import LocalFile
from bot.slack.inbound import TWIN_WAIT_SECONDS
from bot.slack.reply import ThreadReply
from bot.slack.surface import SlackSurface
from bot.store import InboxItem, Store, StoredFile, TurnStart
from bot.tools import ToolContext, ToolRegistry

log = logging.getLogger(__name__)

FILE_CONCURRENCY = 4


@dataclass
class TurnControl:
    """Shared between a running turn and whoever may stop it (a button, Slack's own stop, a reset)."""

    task: asyncio.Task[Any] | None = None
    stopped_by: str | None = None
    turn_id: str | None = None
    closing: bool = False  # the turn is posting its end: too late to stop, nothing left to cancel

    def stop(self, user_id: str) -> bool:
        if self.closing or self.task is None or self.task.done():
            return False
        if self.stopped_by is None:
            # Cancelled once: a second press must not leave a cancellation pending after the turn
            # has handled the first (it would interrupt the turn's end).
            self.stopped_by = user_id
            self.task.cancel()
        return True


@dataclass
class _Files:
    blocks_files: list[SandboxFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for Claude: what was left out and why


class TurnRunner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        slack: SlackSurface,
        claude: ClaudeApi,
        tools: ToolRegistry,
        *,
        owner: str,
    ) -> None:
        self.owner = owner
        self.settings = settings
        self.store = store
        self.slack = slack
        self.claude = claude
        self.tools = tools
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
            await self.store.mark_posted(turn_id)

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
        hooks = _Hooks(self, start, reply)
        result: TurnResult
        limit = asyncio.timeout(self.settings.turn_max_seconds)
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
            if control.stopped_by is None:
                # Shutdown: the turn stays "running" in the store and is picked up after the restart.
                await asyncio.shield(
                    self._close(
                        reply,
                        TurnResult(
                            TurnOutcome.FAILED, message="The bot is restarting; I'll pick this up again."
                        ),
                        retry=False,
                    )
                )
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # our own stop, fully handled here
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
                await self._close(reply, result, retry=True)
                return result.outcome, more
        except Exception:
            result = _crashed()
        # A stop from now on (Slack's own stop noticed by the last append, a late button press) must
        # not cancel the turn's end: it would never be recorded as finished.
        control.closing = True
        await asyncio.shield(self._close(reply, result, retry=False))
        more = await asyncio.shield(
            self._finish(turn_id, key, asker, result, requeue=False, reply=reply, hooks=hooks)
        )
        return result.outcome, more

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
        return await self.store.finish_turn(
            turn_id,
            key,
            owner=self.owner,
            outcome=result.outcome.value,
            user_id=asker,
            model=self.settings.claude_model,
            turn_usage=hooks.usage,
            requeue=requeue,
            answer_ts=reply.posted_ts[-1] if reply.posted_ts else None,
        )

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
                    Notice(
                        "My previous turn here was interrupted (the bot restarted); going on with what came after."
                    )
                )
        if events:
            await reply.handle(events)

        items = start.items
        if any(i.awaiting_twin for i in items):
            # Started from an app_mention without files: the message's files may come with its twin.
            awaited = [(i.id, i.ts, i.files) for i in items if i.awaiting_twin]
            settled = await self.store.twins.settle(start.turn_id, key.channel_id, awaited, TWIN_WAIT_SECONDS)
            items = tuple(replace(i, files=settled.get(i.id, i.files)) for i in items)
        said = [Said(await self.slack.user_name(i.user_id), i.user_id, i.text) for i in items]
        context_text: str | None = None
        extra_files: list[InboundFile] = []
        if not thread.context_loaded and any(i.wants_context for i in items):
            context_text, extra_files = await self._thread_context(key, items)

        incoming = [*extra_files, *(f for i in items for f in i.files)]
        files = await self._take_files(key, start.files, incoming, reply)
        notes = list(files.notes)
        history = repair_history(list(start.history))
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
        content = user_content(
            said,
            files.blocks_files,
            context=context_text,
            notes=notes,
            images=self.settings.images_as_blocks,
            pdfs=self.settings.pdfs_as_blocks,
        )
        prompt = PromptContext(
            bot_name=self.slack.bot_name,
            channel_label=await self.slack.channel_label(key),
            tool_names=self.tools.names,
            extra=self.settings.system_prompt_extra,
        )
        turn = TurnInput(
            system=system_prompt(prompt),
            tools=tool_definitions(
                self.settings.code_execution_tool, self.tools.definitions(self.settings.code_execution_tool)
            ),
            history=history,
            user_content=content,
            container_id=thread.container_id,
        )
        result = await self.conversation.run(turn, hooks)
        problems = await self._files_out(key, result, reply)
        if problems:
            result.message = "\n".join(filter(None, [*problems, result.message]))
        return result

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

    # --- files in ---------------------------------------------------------------------------------

    async def _take_files(
        self, key: ThreadKey, stored: tuple[StoredFile, ...], incoming: list[InboundFile], reply: ThreadReply
    ) -> _Files:
        out = _Files()
        problems: list[str] = []  # for people, shown before the answer
        known = {f.source_id: f for f in stored}
        taken_names = {f.name for f in known.values()}
        fresh: list[InboundFile] = []
        for f in incoming:
            if f.slack_file_id in known or any(x.slack_file_id == f.slack_file_id for x in fresh):
                continue  # already in the sandbox
            fresh.append(f)
        limit = self.settings.max_files_per_turn
        if len(fresh) > limit:
            skipped = ", ".join(f"`{f.name}`" for f in fresh[limit:])
            problems.append(
                f"I took in only the first {limit} files of this turn (the limit); left out: {skipped}."
            )
            out.notes.append(
                f"{len(fresh) - limit} more attached files were left out (over the per-turn limit)."
            )
            fresh = fresh[:limit]
        budget = self.settings.max_turn_bytes
        semaphore = asyncio.Semaphore(FILE_CONCURRENCY)
        reserved: list[int] = [0]

        async def one(f: InboundFile) -> SandboxFile | None:
            async with semaphore:
                try:
                    return await self._take_one(key, f, taken_names, reserved, budget)
                except FileRejected as exc:
                    problems.append(exc.user_message)
                    out.notes.append(f"The attachment {f.name!r} could not be taken in: {exc.user_message}")
                except ClaudeError as exc:
                    log.error("upload of %s to the Files API failed: %s", f.slack_file_id, exc)
                    problems.append(exc.user_message)
                return None

        results = await asyncio.gather(*(one(f) for f in fresh))
        out.blocks_files = [r for r in results if r is not None]
        if problems:
            await reply.handle([Notice(p) for p in problems])
        return out

    async def _take_one(
        self, key: ThreadKey, f: InboundFile, taken_names: set[str], reserved: list[int], budget: int
    ) -> SandboxFile:
        if f.stub:
            f = await self.slack.resolve_file(f)
        if f.size == 0 and not f.stub:
            raise FileRejected(f"`{f.name}` is empty (0 bytes), so I left it out.")
        if f.size and reserved[0] + f.size > budget:
            raise FileRejected(
                f"`{f.name}` would take this turn's attachments over {human_size(budget)}, so I left it out."
            )
        reserved[0] += f.size
        name = safe_name(f.name, taken_names)
        taken_names.add(name)
        async with (
            self.slack.open_file(f, max_bytes=self.settings.max_file_bytes) as download,
            Spool(self.settings.tmp_dir) as spool,
        ):
            if download.size == 0:
                raise FileRejected(f"`{f.name}` is empty (0 bytes), so I left it out.")
            info = await self._upload(download, spool, name, f.mimetype)
        if spool.size == 0:
            raise FileRejected(f"`{f.name}` is empty (0 bytes), so I left it out.")
        await self.store.record_file(
            key,
            StoredFile(
                origin="upload",
                source_id=f.slack_file_id,
                slack_file_id=f.slack_file_id,
                anthropic_file_id=info.file_id,
                name=name,
                mimetype=f.mimetype,
                size=spool.size,
                sha256=spool.sha256,
                created_at=time.time(),
            ),
        )
        return SandboxFile(info.file_id, name, f.mimetype, spool.size)

    async def _upload(self, download: Download, spool: Spool, name: str, mimetype: str) -> FileInfo:
        """Download, spool and upload at once; a failed upload is retried from the spooled copy."""
        stream = spool.tee(download.chunks)
        if download.size is not None:
            try:
                return await self.claude.upload_stream(stream, download.size, name, mimetype)
            except ClaudeError as exc:
                if not exc.retryable:
                    raise
                log.warning("streamed upload of %s failed (%s); retrying from the spooled copy", name, exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("streamed upload of %s failed (%r); retrying from the spooled copy", name, exc)
        await spool.drain(stream)
        if download.size is not None and spool.size != download.size:
            # Never let a partial copy into the sandbox as if it were the file.
            log.error("spooled %d of %d bytes of %s", spool.size, download.size, name)
            raise FileRejected(
                f"I couldn't take in `{download.file.name}` whole, so I left it out. Attach it again."
            )
        assert spool.path is not None
        return await self.claude.upload_file(spool.path, name, mimetype)

    async def reattach_blocks(self, key: ThreadKey) -> list[Block]:
        stored = [f for f in await self.store.thread_files(key) if f.anthropic_file_id]
        files = [SandboxFile(f.anthropic_file_id or "", f.name, f.mimetype, f.size) for f in stored]
        return file_blocks(files, images=False, pdfs=False)

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
        self, name: str, tool_input: dict[str, Any], key: ThreadKey, asker: str, reply: ThreadReply
    ) -> ToolOutput:
        async def messages(limit: int) -> list[dict[str, Any]]:
            return [m.to_json() for m in await self.slack.thread_messages(key, limit=limit)]

        ctx = ToolContext(key=key, user_id=asker, thread_messages=messages, post_note=reply.note)
        return await self.tools.run(name, tool_input, ctx)


class _Hooks:
    """The conversation's view of the engine for one turn."""

    def __init__(self, runner: TurnRunner, start: TurnStart, reply: ThreadReply) -> None:
        self.runner = runner
        self.start = start
        self.reply = reply
        self.saved = False
        self.usage = Usage()

    async def emit(self, events: list[TurnEvent]) -> None:
        await self.reply.handle(events)

    async def save(
        self,
        turn_messages: list[Message],
        *,
        container_id: str | None,
        container_expires_at: str | None,
        forget_container: bool,
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
        )
        self.saved = self.saved or bool(turn_messages)

    def count(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    async def run_tool(self, name: str, tool_input: dict[str, Any]) -> ToolOutput:
        asker = self.start.items[-1].user_id
        return await self.runner.run_tool(name, tool_input, self.start.thread.key, asker, self.reply)

    async def reattach_blocks(self) -> list[Block]:
        return await self.runner.reattach_blocks(self.start.thread.key)


def _crashed() -> TurnResult:
    """For an exception nothing else handled (called in its `except` block: the log gets the trace)."""
    log.exception("turn crashed")
    return TurnResult(
        TurnOutcome.FAILED, message="Something went wrong on my side (details are in the bot's log)."
    )
