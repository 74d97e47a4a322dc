"""Initial schema: threads, history, inbox, processed events, files, turns, usage.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("container_id", sa.String(128)),
        sa.Column("container_expires_at", sa.String(64)),
        sa.Column("context_loaded", sa.Boolean, nullable=False),
        sa.Column("trimmed_blocks", sa.Integer, nullable=False),
        sa.Column("last_answer_ts", sa.String(32)),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_threads_lease_owner", "threads", ["lease_owner"])

    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("thread_key", sa.String(200), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_messages_thread", "messages", ["thread_key", "generation", "id"])
    op.create_index("ix_messages_turn", "messages", ["turn_id"])

    op.create_table(
        "inbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("thread_key", sa.String(200), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64)),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("wants_context", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("turn_id", sa.String(64)),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("channel_id", "ts", name="uq_inbox_channel_ts"),
    )
    op.create_index("ix_inbox_thread_state", "inbox", ["thread_key", "state"])
    op.create_index("ix_inbox_state_received", "inbox", ["state", "received_at"])
    op.create_index("ix_inbox_turn", "inbox", ["turn_id"])

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index("ix_processed_events_received", "processed_events", ["received_at"])

    op.create_table(
        "files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("thread_key", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("slack_file_id", sa.String(64)),
        sa.Column("anthropic_file_id", sa.String(128)),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("mimetype", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float),
        sa.UniqueConstraint("thread_key", "origin", "source_id", name="uq_files_thread_source"),
    )
    op.create_index("ix_files_thread", "files", ["thread_key"])

    op.create_table(
        "turns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("thread_key", sa.String(200), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("posted_output", sa.Boolean, nullable=False),
        sa.Column("stop_requested_by", sa.String(32)),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
    )
    op.create_index("ix_turns_thread_state", "turns", ["thread_key", "state"])
    op.create_index("ix_turns_state_started", "turns", ["state", "started_at"])

    op.create_table(
        "replicas",
        sa.Column("owner", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )

    op.create_table(
        "usage",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("thread_key", sa.String(200), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_usage_user_created", "usage", ["user_id", "created_at"])
    op.create_index("ix_usage_thread", "usage", ["thread_key"])


def downgrade() -> None:
    for table in ("usage", "replicas", "turns", "files", "processed_events", "inbox", "messages", "threads"):
        op.drop_table(table)
