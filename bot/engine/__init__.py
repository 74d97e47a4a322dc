"""Turn orchestration (inbox draining, per-thread leases, cancellation) and the turn itself."""

from __future__ import annotations

from bot.engine.control import TurnControl
from bot.engine.engine import Engine, new_owner_id
from bot.engine.turn import TurnRunner

__all__ = ["Engine", "TurnControl", "TurnRunner", "new_owner_id"]
