"""Fixtures shared by the fidelity tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from emulators.anthropic import AnthropicEmulator
from emulators.slack import SlackEmulator


@pytest.fixture
async def emu() -> AsyncIterator[AnthropicEmulator]:
    """An Anthropic emulator that must have produced only responses the SDK's models accept."""
    async with AnthropicEmulator(api_key="sk-ant-test") as e:
        yield e
        assert e.validation_failures == []


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator
