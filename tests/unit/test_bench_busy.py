"""The best a bot could do in a busy channel under the emulator's limits (bench/busy_channel.py)."""

from __future__ import annotations

import pytest

from bench.busy_channel import Limits, optimum


@pytest.mark.parametrize(
    ("answers", "wall"),
    [
        (1, 6.0),  # the model's floor
        (23, 6.0),  # 20 streams (Tier 2's burst) and 3 posts (the channel's burst)
        # Then a post a second and a stream every 3 s, from the first token on (2 s): 4/3 s a second.
        (50, 24.0),
        (200, 136.0),
    ],
)
def test_optimum_wall(answers: int, wall: float) -> None:
    assert optimum(answers, 2.0, 6.0, Limits())["wall_s"] == pytest.approx(wall, abs=0.05)


def test_signs_of_life_come_from_statuses_and_reactions() -> None:
    assert optimum(100, 2.0, 6.0, Limits())["first_visible_p95_s"] == 0.0  # 50 + 50 at once
    assert optimum(200, 2.0, 6.0, Limits())["first_visible_p95_s"] == pytest.approx(54.0, abs=0.6)
