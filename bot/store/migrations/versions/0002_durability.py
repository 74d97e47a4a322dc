"""Durability: suspended turns' stop reason; slash commands stored before they are acknowledged.

Revision ID: 0002_durability
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_durability"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why the turn's last saved response stopped (`pause_turn`, `tool_use`, `end_turn`...): a turn
    # resumed after a restart goes on from there (run the tools, continue, or only finish).
    op.add_column("turns", sa.Column("stop_reason", sa.String(32)))
    op.create_table(
        "commands",
        sa.Column("trigger_id", sa.String(128), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("response_url", sa.Text),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ts", sa.String(32)),
        sa.Column("owner", sa.String(128)),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_commands_state", "commands", ["state"])


def downgrade() -> None:
    op.drop_table("commands")
    op.drop_column("turns", "stop_reason")
