"""Governance: what each turn cost, an audit log, and per-channel settings.

Revision ID: 0004_governance
Revises: 0003_slack_inbox
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_governance"
down_revision = "0003_slack_inbox"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("usage") as batch:
        batch.add_column(
            sa.Column("cache_write_1h_tokens", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("web_search_requests", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("container_seconds", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("cost_micros", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("outcome", sa.String(16)))
    op.create_index("ix_usage_channel_created", "usage", ["channel_id", "created_at"])
    op.create_index("ix_usage_created", "usage", ["created_at"])
    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("thread_key", sa.String(200)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_thread", "audit", ["thread_key"])
    op.create_table(
        "channel_settings",
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("values", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_settings")
    op.drop_table("audit")
    op.drop_index("ix_usage_created", "usage")
    op.drop_index("ix_usage_channel_created", "usage")
    with op.batch_alter_table("usage") as batch:
        for column in (
            "outcome",
            "cost_micros",
            "container_seconds",
            "web_search_requests",
            "cache_write_1h_tokens",
        ):
            batch.drop_column(column)
