"""Prometheus metrics, served on `/metrics` by the HTTP server (HTTP mode, or Socket Mode with PORT)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

TURNS = Counter("bot_turns", "Turns by outcome", ["outcome"], registry=REGISTRY)
TURN_SECONDS = Histogram(
    "bot_turn_seconds",
    "Duration of a turn, from claiming its messages to the final post",
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900),
    registry=REGISTRY,
)
FIRST_FEEDBACK_SECONDS = Histogram(
    "bot_first_feedback_seconds",
    "Time from receiving a message to the first thing shown in its thread",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
TOKENS = Counter("bot_tokens", "Anthropic tokens by kind", ["kind"], registry=REGISTRY)
CONTAINER_RESETS = Counter(
    "bot_container_resets", "Sandboxes replaced because they expired", registry=REGISTRY
)
SLACK_ERRORS = Counter(
    "bot_slack_errors", "Failed Slack Web API calls", ["method", "error"], registry=REGISTRY
)
ANTHROPIC_ERRORS = Counter(
    "bot_anthropic_errors", "Failed Anthropic requests (each attempt)", ["status"], registry=REGISTRY
)
INBOX_DEPTH = Gauge(
    "bot_inbox_pending", "Messages stored and waiting for a turn (all replicas)", registry=REGISTRY
)
ACTIVE_TURNS = Gauge("bot_turns_active", "Turns running in this process", registry=REGISTRY)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
