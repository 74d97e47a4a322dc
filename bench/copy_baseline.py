"""The reference for the large-file benchmark: a plain aiohttp streaming copy from a Slack file URL to
the Files API, in a process of its own. Prints the seconds it took.

    python -m bench.copy_baseline <file url> <bot token> <anthropic base url> <api key>
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import aiohttp


async def copy(url: str, token: str, base_url: str, key: str) -> float:
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as download,
    ):
        download.raise_for_status()

        async def body() -> AsyncIterator[bytes]:
            async for chunk in download.content.iter_chunked(1 << 20):
                yield chunk

        form = aiohttp.FormData()
        form.add_field("file", body(), filename="ref.bin", content_type="application/octet-stream")
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        async with session.post(f"{base_url}/v1/files", data=form, headers=headers) as upload:
            upload.raise_for_status()
            await upload.read()
    return time.perf_counter() - started


def main() -> None:
    print(f"{asyncio.run(copy(*sys.argv[1:5])):.3f}")


if __name__ == "__main__":
    main()
