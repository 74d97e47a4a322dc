"""A file on its way from Slack to the Files API, kept on disk meanwhile.

The bytes stream through: each chunk downloaded from Slack is written to a temporary file (and hashed)
and handed to the upload at the same time, so a large attachment takes about as long as a plain copy
and never sits in memory. The temporary file is there for a retry: when the upload fails after the
download finished, it is sent again from disk instead of being fetched from Slack again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO


class Spool:
    def __init__(self, tmp_dir: Path | None) -> None:
        self.tmp_dir = tmp_dir
        self.path: Path | None = None
        self.size = 0
        self._digest = hashlib.sha256()
        self._handle: BinaryIO | None = None
        self.source_error: Exception | None = None

    async def __aenter__(self) -> Spool:
        fd, name = await asyncio.to_thread(tempfile.mkstemp, prefix="transfer-", dir=self.tmp_dir)
        self.path = Path(name)
        self._handle = os.fdopen(fd, "wb")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
        if self.path is not None:
            await asyncio.to_thread(self.path.unlink, True)

    async def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            await asyncio.to_thread(handle.close)

    async def tee(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Yield each chunk after it is written and hashed (both off the event loop). A failure of
        the source is kept: the upload reading this stream only sees its own connection fail."""
        try:
            async for chunk in chunks:
                await asyncio.to_thread(self._write, chunk)
                yield chunk
        except Exception as exc:
            self.source_error = exc
            raise

    async def drain(self, chunks: AsyncIterator[bytes]) -> None:
        """Spool whatever the stream still holds (to retry an upload that failed part-way). Raises
        the source's failure, if it had one: a stream that broke off has nothing more to give, and
        what was spooled is not the whole file."""
        if self.source_error is None:
            async for _ in self.tee(chunks):
                pass
        if self.source_error is not None:
            raise self.source_error
        await self.close()

    def _write(self, chunk: bytes) -> None:
        assert self._handle is not None
        self._handle.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()
