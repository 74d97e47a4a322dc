"""Fidelity of the Files API: shapes, typed errors, pagination, limits, streaming of big bodies."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from emulators.anthropic import AnthropicEmulator, Bash, Script
from emulators.anthropic.testing import CODE_EXECUTION, MODEL, client


async def test_file_lifecycle(emu: AnthropicEmulator) -> None:
    c = client(emu)
    data = b"item,value\napple,30\nbanana,70\n"
    meta = await c.files.upload(file=("fruit.csv", data, "text/csv"))
    assert meta.id.startswith("file_011C") and meta.type == "file" and meta.size_bytes == len(data)
    assert meta.downloadable is False and meta.expires_at is None
    assert emu.files[meta.id].sha256 == hashlib.sha256(data).hexdigest()
    again = await c.files.retrieve_metadata(meta.id)
    assert again == meta
    with pytest.raises(anthropic.BadRequestError) as exc:
        await c.files.download(meta.id)
    assert type(exc.value).__name__ == "FileNotDownloadableError"
    assert exc.value.error_code == "file_not_downloadable"
    beta_meta = await c.beta.files.retrieve_metadata(meta.id)
    assert beta_meta.id == meta.id
    deleted = await c.files.delete(meta.id)
    assert deleted.id == meta.id and deleted.type == "file_deleted"
    with pytest.raises(anthropic.NotFoundError):
        await c.files.retrieve_metadata(meta.id)


async def test_list_pagination_newest_first(emu: AnthropicEmulator) -> None:
    c = client(emu)
    ids = [(await c.files.upload(file=(f"f{i}.txt", b"x", "text/plain"))).id for i in range(5)]
    page = await c.files.list(limit=2)
    assert [f.id for f in page.data] == ids[::-1][:2] and page.next_page is not None
    assert page.next_page.startswith("page_")
    assert [f.id async for f in c.files.list(limit=2)] == ids[::-1]
    chosen = await c.files.list(ids=[ids[0], ids[3]])
    assert {f.id for f in chosen.data} == {ids[0], ids[3]} and chosen.next_page is None
    legacy: Any = await c.beta.files.list(limit=2, betas=["files-api-2025-04-14"])
    assert legacy.has_more is True and legacy.first_id == ids[4] and legacy.last_id == ids[3]


async def test_generated_files_are_downloadable(emu: AnthropicEmulator) -> None:
    emu.model = Script([[Bash("printf 'a,b\\n1,2\\n' > \"$OUTPUT_DIR/out.csv\"")]])
    c = client(emu)
    reply: Any = await c.beta.messages.create(
        model=MODEL, max_tokens=200, tools=[CODE_EXECUTION], messages=[{"role": "user", "content": "x"}]
    )
    file_id = reply.content[1].content.content[0].file_id
    meta = await c.files.retrieve_metadata(file_id)
    assert meta.downloadable is True and meta.mime_type == "text/csv" and meta.filename == "out.csv"
    response = await c.files.download(file_id)
    assert await response.read() == b"a,b\n1,2\n"


async def test_upload_validation(emu: AnthropicEmulator) -> None:
    c = client(emu)
    with pytest.raises(anthropic.BadRequestError, match="filename"):
        await c.files.upload(file=("bad:name?.txt", b"x", "text/plain"))
    emu.max_file_bytes = 1000
    with pytest.raises(anthropic.APIStatusError) as exc:
        await c.files.upload(file=("big.bin", b"\0" * 5000, "application/octet-stream"))
    assert exc.value.status_code == 413 and str(exc.value.type) == "request_too_large"
    assert emu.files == {}
    timed = await c.files.upload(file=("t.txt", b"x", "text/plain"), expires_in_seconds=3600)
    assert timed.expires_at is not None and timed.expires_at.timestamp() == pytest.approx(
        time.time() + 3600, abs=60
    )
    with pytest.raises(anthropic.BadRequestError, match="expires_in_seconds"):
        await c.files.upload(file=("t.txt", b"x", "text/plain"), expires_in_seconds=5)


async def test_container_upload_of_unknown_file_is_400(emu: AnthropicEmulator) -> None:
    with pytest.raises(anthropic.BadRequestError, match="File not found: file_011Cnope"):
        await client(emu).beta.messages.create(
            model=MODEL,
            max_tokens=50,
            tools=[CODE_EXECUTION],
            messages=[
                {"role": "user", "content": [{"type": "container_upload", "file_id": "file_011Cnope"}]}
            ],
        )


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_large_upload_streams_through_disk(emu: AnthropicEmulator, tmp_path: Path) -> None:
    """200 MB goes to disk in chunks: the process's peak memory barely moves, the hash matches, and
    the bytes reach the container when attached."""
    size = 200 * 1024 * 1024
    src = tmp_path / "big.bin"
    with src.open("wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(size >> 20):
            fh.write(block)
    expected = hashlib.sha256()
    with src.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            expected.update(chunk)
    peak_before = _peak_rss_mb()
    async with aiohttp.ClientSession() as s:
        with src.open("rb") as fh:
            form = aiohttp.FormData()
            form.add_field("file", fh, filename="big.bin", content_type="application/octet-stream")
            async with s.post(
                f"{emu.base_url}/v1/files",
                data=form,
                headers={"x-api-key": emu.api_key, "anthropic-version": "2023-06-01"},
            ) as r:
                assert r.status == 200, await r.text()
                meta = await r.json()
    assert meta["size_bytes"] == size
    assert emu.files[meta["id"]].sha256 == expected.hexdigest()
    assert _peak_rss_mb() - peak_before < 100, "the upload was buffered in memory"
    emu.model = Script([[Bash('sha256sum "$INPUT_DIR/big.bin" | cut -c1-64')]])
    reply: Any = await client(emu).beta.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=[CODE_EXECUTION],
        messages=[{"role": "user", "content": [{"type": "container_upload", "file_id": meta["id"]}]}],
    )
    assert reply.content[1].content.stdout.strip() == expected.hexdigest()
