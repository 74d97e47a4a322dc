"""A turn's attachments into the sandbox: Slack download, spooled to disk, Files API upload, all streamed.

Each file is uploaded to Anthropic once per thread (recorded in the store); a file over a limit, empty,
or unreadable is left out with a line for the person and a note for Claude, and the turn goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import aiohttp

from bot import media
from bot.bounds import ByteRoom
from bot.claude import visuals
from bot.claude.api import ClaudeApi, FileInfo
from bot.claude.content import SandboxFile, file_blocks, safe_name
from bot.claude.errors import ClaudeError
from bot.claude.request import Block
from bot.config import Settings
from bot.engine.spool import Spool
from bot.model import InboundFile, Notice, ThreadKey
from bot.slack.files_in import Download, FileRejected, human_size
from bot.slack.reply import ThreadReply
from bot.slack.surface import SlackSurface
from bot.store import Store, StoredFile

log = logging.getLogger(__name__)

FILE_CONCURRENCY = 4


@dataclass
class TakenFiles:
    blocks_files: list[SandboxFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for Claude: what was left out and why


class FilesIn:
    def __init__(self, settings: Settings, store: Store, slack: SlackSurface, claude: ClaudeApi) -> None:
        self.settings = settings
        self.store = store
        self.slack = slack
        self.claude = claude
        self.spool_room = ByteRoom(int(settings.spool_max_mb * 1024 * 1024))

    async def take(
        self,
        key: ThreadKey,
        stored: tuple[StoredFile, ...],
        incoming: list[InboundFile],
        reply: ThreadReply,
        deadline: float | None,
        *,
        again: bool = False,
    ) -> TakenFiles:
        """Take `incoming` attachments into the sandbox (those in `stored` are there already).
        `again`: the turn runs again from its start after a restart, so its own files, uploaded by the
        first run whose request may never have reached Claude, are attached again."""
        out = TakenFiles()
        problems: list[str] = []  # for people, shown before the answer
        known = {f.source_id: f for f in stored}
        taken_names = {f.name for f in known.values()}
        fresh: list[InboundFile] = []
        for f in incoming:
            if f.slack_file_id in known or any(x.slack_file_id == f.slack_file_id for x in fresh):
                old = known.get(f.slack_file_id)
                if again and old is not None and old.anthropic_file_id:
                    out.blocks_files.append(
                        SandboxFile(old.anthropic_file_id, old.name, old.mimetype, old.size)
                    )
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
                    return await self._take_one(key, f, taken_names, reserved, budget, deadline)
                except FileRejected as exc:
                    problems.append(exc.user_message)
                    out.notes.append(f"The attachment {f.name!r} could not be taken in: {exc.user_message}")
                except ClaudeError as exc:
                    log.error("upload of %s to the Files API failed: %s", f.slack_file_id, exc)
                    problems.append(exc.user_message)
                return None

        results = await asyncio.gather(*(one(f) for f in fresh))
        out.blocks_files += [r for r in results if r is not None]
        if problems:
            await reply.handle([Notice(p) for p in problems])
        return out

    async def _take_one(
        self,
        key: ThreadKey,
        f: InboundFile,
        taken_names: set[str],
        reserved: list[int],
        budget: int,
        deadline: float | None,
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
            # Room on disk first (bot/bounds.py): its size when Slack says it, else the largest allowed.
            self.spool_room.reserve(f.size or self.settings.max_file_bytes),
            self.slack.open_file(f, max_bytes=self.settings.max_file_bytes) as download,
            Spool(self.settings.tmp_dir) as spool,
        ):
            if download.size == 0:
                raise FileRejected(f"`{f.name}` is empty (0 bytes), so I left it out.")
            info = await self._upload(download, spool, name, f.mimetype, deadline)
            await spool.close()
            assert spool.path is not None
            # What showing it to Claude depends on: its size in pixels, its pages (bot/media.py).
            facts = await asyncio.to_thread(
                media.read_facts, spool.path, f.mimetype, max_pdf_bytes=visuals.MAX_PDF_BLOCK_BYTES
            )
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
        return SandboxFile(info.file_id, name, f.mimetype, spool.size, facts.width, facts.height, facts.pages)

    async def _upload(
        self, download: Download, spool: Spool, name: str, mimetype: str, deadline: float | None
    ) -> FileInfo:
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
        return await self.claude.upload_file(spool.path, name, mimetype, deadline=deadline)

    async def reattach_blocks(self, key: ThreadKey) -> list[Block]:
        stored = [f for f in await self.store.thread_files(key) if f.anthropic_file_id]
        files = [SandboxFile(f.anthropic_file_id or "", f.name, f.mimetype, f.size) for f in stored]
        return file_blocks(files)
