"""Every channel's settings, held in memory and reloaded from the store every few seconds.

Reading them is on hot paths: whether a thread reply needs a mention is decided before the event is
acknowledged, and every turn reads its channel's assistant. So reads never wait on the database: they
see the last snapshot, taken at start and then every `reload_seconds` (one query for all channels).
A change made through this process is in its snapshot at once; one made through another replica
shows up at the next reload, so replicas agree within `reload_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.assistants.channel import ChannelAssistant

log = logging.getLogger(__name__)

LoadAll = Callable[[], Awaitable[dict[str, dict[str, Any]]]]


class ChannelConfigs:
    def __init__(self, load_all: LoadAll, *, reload_seconds: float) -> None:
        self._load_all = load_all
        self.reload_seconds = reload_seconds
        self._values: dict[str, dict[str, Any]] = {}
        self._loaded = False
        self._task: asyncio.Task[None] | None = None

    def values(self, channel_id: str) -> Mapping[str, Any]:
        return self._values.get(channel_id, {})

    def assistant(self, channel_id: str) -> ChannelAssistant:
        return ChannelAssistant.of(self.values(channel_id))

    def put(self, channel_id: str, values: Mapping[str, Any]) -> None:
        """The channel's settings as this process just stored them."""
        self._values[channel_id] = dict(values)

    async def reload(self) -> None:
        fresh = await self._load_all()
        if self._loaded:
            # Changes saved through another replica, now in effect here (one line per change).
            for channel_id in sorted(set(fresh) | set(self._values)):
                if fresh.get(channel_id) != self._values.get(channel_id):
                    log.info("the settings of channel %s changed; they apply from its next turn", channel_id)
        self._values, self._loaded = fresh, True

    async def start(self) -> None:
        """Load once (a failure is logged: channels run with the deployment's settings meanwhile),
        then keep reloading in the background."""
        try:
            await self.reload()
        except Exception:
            log.exception("could not load the channels' settings; retrying every %.0f s", self.reload_seconds)
        self._task = asyncio.create_task(self._run(), name="channel settings reload")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            try:
                await self.reload()
            except Exception:
                log.warning("reloading the channels' settings failed; the last ones are kept", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
