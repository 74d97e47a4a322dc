"""The soak's quick mode, strict: a few hundred messages under every fault at once, and not one of them
lost, answered twice, answered out of order, or ended in a failure without Retry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.anthropic.chaos import KINDS
from tests import postgres
from tests.chaos.soak import QUICK, run

EVERY_KIND = {
    *KINDS,
    "anthropic_429_long",
    "duplicate_delivery",
    "slack_429",
    "replica_sigkill",
    "pg_terminate_backend",
}


# Its own limit, above the suite's 120 s: a failing run waits out its settle timeouts, and must then
# report its figures rather than be cut short.
@pytest.mark.timeout(300)
async def test_quick_soak_answers_every_message_once_in_order_under_every_fault(tmp_path: Path) -> None:
    await postgres.require()
    figures = await run(QUICK, tmp_path)
    report = json.dumps(figures, indent=1)
    assert figures["sent"] == QUICK.messages + 1  # the Retry drill's
    assert figures["lost"] == 0, report
    assert figures["doubled"] == 0, report
    assert figures["out_of_order_threads"] == 0, report
    assert figures["answered_once"] == figures["sent"], report
    assert figures["silent_failures"] == 0, report
    # Retry works: the turn Anthropic's hour-long rate limit ended (soak.retry_drill) showed Retry,
    # it was pressed, and its message is among those answered once.
    assert figures["failures_with_retry"] >= 1 and figures["retries_pressed"] >= 1, report
    faults = figures["faults"]
    fired = {kind for kind, count in faults.items() if count}
    assert not EVERY_KIND - fired, report
    assert any(k.startswith("socket_") for k in faults) and (
        faults.get("slack_500") or faults.get("slack_503")
    )
    # Recovery times and latencies are figures (README), not asserted: this machine is shared.
