"""Tables of the store (SQLAlchemy Core). Alembic migrations in `migrations/` create exactly these.

Times are float epoch seconds: the same type on SQLite and PostgreSQL, cheap to compare in SQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are BIGINT elsewhere only.
BigId = BigInteger().with_variant(Integer(), "sqlite")

threads = Table(
    "threads",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    # Bumped by "New session": history, container and files of older generations are gone.
    Column("generation", Integer, nullable=False, default=0),
    Column("container_id", String(128)),
    Column("container_expires_at", String(64)),
    Column("context_loaded", Boolean, nullable=False, default=False),
    Column("trimmed_blocks", Integer, nullable=False, default=0),
    # The newest message the bot posted in a finished turn: any bot message newer than it belongs to
    # the turn in progress, which is how a crashed turn's visible output is recognised.
    Column("last_answer_ts", String(32)),
    Column("lease_owner", String(128)),
    Column("lease_expires", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_threads_lease_owner", threads.c.lease_owner)

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("thread_key", String(200), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("turn_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_messages_thread", messages.c.thread_key, messages.c.generation, messages.c.id)
Index("ix_messages_turn", messages.c.turn_id)

inbox = Table(
    "inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("thread_key", String(200), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("event_id", String(64)),
    Column("user_id", String(32), nullable=False),
    # The sender's own team: another organisation's for a Slack Connect user (None: the bot's).
    Column("user_team", String(32)),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("files", Text, nullable=False),
    Column("wants_context", Boolean, nullable=False, default=False),
    # Stored from an app_mention without files whose `message` twin may still bring some: the turn
    # waits for it (Store.settle_twins) until the twin clears this, or the turn does.
    Column("awaiting_twin", Boolean, nullable=False, default=False),
    # pending -> claimed (by a turn) -> done | failed
    Column("state", String(16), nullable=False),
    Column("turn_id", String(64)),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The app_mention and message twins of one mention, and every redelivery, share (channel, ts).
    UniqueConstraint("channel_id", "ts", name="uq_inbox_channel_ts"),
)
Index("ix_inbox_thread_state", inbox.c.thread_key, inbox.c.state)
Index("ix_inbox_state_received", inbox.c.state, inbox.c.received_at)
Index("ix_inbox_turn", inbox.c.turn_id)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("received_at", Float, nullable=False),
)
Index("ix_processed_events_received", processed_events.c.received_at)

files = Table(
    "files",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("thread_key", String(200), nullable=False),
    # "upload": a Slack attachment taken into the sandbox; "output": a file the sandbox produced.
    Column("origin", String(16), nullable=False),
    # Slack file id for uploads, Anthropic file id for outputs.
    Column("source_id", String(128), nullable=False),
    Column("slack_file_id", String(64)),
    Column("anthropic_file_id", String(128)),
    Column("name", String(300), nullable=False),
    Column("mimetype", String(200), nullable=False, default=""),
    Column("size", BigInteger, nullable=False, default=0),
    Column("sha256", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float),
    UniqueConstraint("thread_key", "origin", "source_id", name="uq_files_thread_source"),
)
Index("ix_files_thread", files.c.thread_key)

turns = Table(
    "turns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("thread_key", String(200), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("user_id", String(32), nullable=False, default=""),
    # running -> done | failed | stopped | interrupted; running -> suspended (a clean shutdown) ->
    # running again, under whichever process takes the thread next
    Column("state", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("posted_output", Boolean, nullable=False, default=False),
    # Set by whichever replica received the Stop button; the owner polls for it.
    Column("stop_requested_by", String(32)),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    # Why the turn's last saved model response stopped: where a resumed turn goes on from.
    Column("stop_reason", String(32)),
)
Index("ix_turns_thread_state", turns.c.thread_key, turns.c.state)
Index("ix_turns_state_started", turns.c.state, turns.c.started_at)

# Each running process, seen by its heartbeat. A peer (or a predecessor that stopped without saying
# goodbye) seen recently means deliveries may have died with it: see Engine._recover_lost_deliveries.
replicas = Table(
    "replicas",
    metadata,
    Column("owner", String(128), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
)

# `/claude <question>` commands, stored before they are acknowledged: Slack never sends a command
# again, so one acknowledged and then lost with the process would go unanswered for good.
# received -> posted (the question is in the channel, at `ts`) -> queued (in the inbox) | failed.
commands = Table(
    "commands",
    metadata,
    Column("trigger_id", String(128), primary_key=True),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("text", Text, nullable=False),
    # Where the person can be answered privately for 30 minutes (a capability URL: never logged).
    Column("response_url", Text),
    Column("state", String(16), nullable=False),
    Column("ts", String(32)),
    # The process completing it; another completes it once that one is gone (see Commands.orphaned).
    Column("owner", String(128)),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_commands_state", commands.c.state)

usage = Table(
    "usage",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("turn_id", String(64), nullable=False),
    Column("thread_key", String(200), nullable=False),
    Column("team_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("model", String(100), nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cache_read_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    # What the turn cost (bot/governance/pricing.py): the 1-hour part of its cache writes, its web
    # searches, the sandbox time billed for it, and the total in micro-dollars.
    Column("cache_write_1h_tokens", BigInteger, nullable=False, default=0),
    Column("web_search_requests", Integer, nullable=False, default=0),
    Column("container_seconds", Integer, nullable=False, default=0),
    Column("cost_micros", BigInteger, nullable=False, default=0),
    Column("outcome", String(16)),
)
Index("ix_usage_user_created", usage.c.user_id, usage.c.created_at)
Index("ix_usage_thread", usage.c.thread_key)
Index("ix_usage_channel_created", usage.c.channel_id, usage.c.created_at)
Index("ix_usage_created", usage.c.created_at)

# Who did what to which thread, and what admins changed: Stop, New session, Retry, access denied,
# budget changes, data queries. Kept for people to read (the Home tab) and for the operator.
audit = Table(
    "audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(32), nullable=False),  # a Slack user id, or "bot"
    Column("action", String(32), nullable=False),
    Column("thread_key", String(200)),
    Column("channel_id", String(32)),
    Column("detail", Text, nullable=False, default="{}"),  # JSON
)
Index("ix_audit_at", audit.c.at)
Index("ix_audit_thread", audit.c.thread_key)

# Per-channel settings an admin changed (budgets now; the channel's assistant later), as JSON.
channel_settings = Table(
    "channel_settings",
    metadata,
    Column("channel_id", String(32), primary_key=True),
    Column("values", Text, nullable=False),
    Column("updated_by", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)
